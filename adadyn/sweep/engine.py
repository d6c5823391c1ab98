"""The sweep engine: a task over a grid, in chunks, on any executor, resumable."""
from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adadyn.status import STATUS_CODES, Status
from adadyn.sweep.executors import Runner
from adadyn.sweep.grid import Grid
from adadyn.sweep.progress import NoProgress, as_progress
from adadyn.sweep.store import MANIFEST, SweepError, SweepStore, _parse_manifest, sweep_key
from adadyn.sweep.task import Task, check_output
from adadyn._result_io import ResultIO

__all__ = ["run_sweep", "SweepResult", "SweepInterrupted", "MEMORY_BUDGET"]

#: Transient memory (bytes) the engine lets a task use at once: above it the grid
#: runs in chunks even in-process (:meth:`Task.point_bytes`).
MEMORY_BUDGET = 256 * 2**20

_NAMES = np.array([str(s) for s in sorted(STATUS_CODES, key=STATUS_CODES.get)])


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep; finished chunks are kept in the store."""


@dataclass(frozen=True, eq=False)
class SweepResult(ResultIO):
    """A finished sweep: the grid and every kept output, shaped like the grid.

    Attributes
    ----------
    grid : Grid
    data : dict of str to ndarray
        Each output of the task kept in memory, shape ``grid.shape + trailing``.
    status : ndarray of str
        Each point's :class:`~adadyn.status.Status` value ("ok" when the task
        reports none).
    success : bool
        No point failed (a diverged point is a result, not a failure).
    message : str
        Counts of the statuses and where the chunks came from.
    computed, loaded : int
        Chunks computed by this call and chunks read back from ``path``.
    path : Path or None
        The store directory.
    """

    _html = "sweep_html"  # adadyn.export's view (ResultIO._repr_html_)

    grid: Grid
    data: dict = field(repr=False)
    status: np.ndarray = field(repr=False)
    success: bool
    message: str
    computed: int
    loaded: int
    path: Path | None = None
    key: str = field(default="", repr=False)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    @property
    def shape(self) -> tuple:
        return self.grid.shape

    def to_xarray(self):
        """An ``xarray.Dataset``: one dimension per grid dimension, named after its axis,
        every kept output and ``status`` as variables. Needs xarray (the ``export`` extra)."""
        from adadyn.export import sweep_dataset

        return sweep_dataset(self)

    def load(self, name: str) -> np.ndarray:
        """An output kept only in the store (``Task.store_only``), read back chunk by chunk."""
        if self.path is None:
            raise ValueError(f"{name!r} is not kept in memory and this sweep has no store (out=None)")
        man = _parse_manifest(self.path / MANIFEST)
        if man["key"] != self.key:
            raise SweepError(f"{self.path} now holds another sweep")
        G, cs = man["n_points"], man["chunk_size"]
        out = None
        for i in range(-(-G // cs)):
            with np.load(self.path / f"chunk_{i:05d}.npz", allow_pickle=False) as z:
                if name not in z.files:
                    raise KeyError(f"the store holds no output {name!r}")
                part = z[name]
            if out is None:
                out = np.empty((G,) + part.shape[1:], part.dtype)
            out[i * cs:i * cs + part.shape[0]] = part
        return out.reshape(self.grid.shape + out.shape[1:])


def _default_chunk(G: int, point_bytes: int) -> int:
    cs = max(4, -(-G // 64))
    if point_bytes > 0:
        cs = min(cs, max(1, MEMORY_BUDGET // point_bytes))
    return cs


class _Assembler:
    """Kept outputs of every point, filled chunk by chunk."""

    def __init__(self, task, G):
        self.task, self.G = task, G
        self.kept = [k for k in task.keys if k not in task.store_only]
        self.arrays: dict = {}
        self.template: dict | None = None

    def check(self, part, n):
        return check_output(self.task, part, n, self.template)

    def put(self, idx, part):
        if self.template is None:
            self.template = {k: v[:0] for k, v in part.items()}
            for k in self.kept:
                self.arrays[k] = np.empty((self.G,) + part[k].shape[1:], part[k].dtype)
        for k in self.kept:
            self.arrays[k][idx] = part[k]


def _key(task, grid):
    parts = {f"task.{k}": v for k, v in task.identity().items()}
    parts.update(grid.identity())
    parts["task.class"] = f"{type(task).__module__}.{type(task).__qualname__}"
    parts["task.keys"] = repr(tuple(task.keys))
    return sweep_key(parts)


class _Terminate:
    """SIGTERM raises SweepInterrupted in the main thread while a sweep runs."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            def handler(signum, frame):
                raise SweepInterrupted("SIGTERM")
            try:
                self.old = signal.signal(signal.SIGTERM, handler)
            except (ValueError, OSError):
                self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def run_sweep(task: Task, grid: Grid, *, executor=None, out=None, progress=None,
              chunk_size: int | None = None) -> SweepResult:
    """Run ``task`` at every point of ``grid``.

    Parameters
    ----------
    task : Task
        What to compute at each point (the contract is :class:`Task`'s docstring).
    grid : Grid
        The points.
    executor : None, concurrent.futures.Executor, dask.distributed.Client or str
        Where chunks run: None in this process (the task's :meth:`Task.run_all`
        fast path); a pool or a dask client (or scheduler address) gets chunks
        through :meth:`Task.run_chunk`. Results are bit-identical either way.
    out : path-like, optional
        Store directory (:class:`SweepStore`): each finished chunk is saved at once,
        and rerunning the same sweep loads finished chunks instead of computing them.
    progress : Progress, bool, callable or None
        A meter (:mod:`adadyn.sweep.progress`); None: a bar only when stderr is a terminal.
    chunk_size : int, optional
        Points per chunk (default: about 64 chunks, at least 4 points, within the
        memory budget). A resumed store keeps its own layout.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepInterrupted
        (a KeyboardInterrupt) on Ctrl-C or SIGTERM: pending chunks are cancelled,
        a process pool's workers are stopped, finished chunks stay in ``out``.
    SweepError
        For an output directory that cannot be used.
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an adadyn.sweep.Task, got {type(task).__name__}")
    if not isinstance(grid, Grid) or grid.ndim == 0:
        raise TypeError("grid must be an adadyn.sweep.Grid with at least one axis")
    if task.store_only and out is None:
        raise ValueError(f"the task writes {list(task.store_only)} only to a store: give out=")
    G = grid.size
    pb = int(task.point_bytes())
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
        chunk_size = int(chunk_size)
    meter = as_progress(progress)
    runner = None if executor is None else Runner(executor, task)
    store = None
    try:
        if out is not None:
            key = _key(task, grid)
            desc = {"task": task.describe(), "grid": grid.describe()}
            store = SweepStore(out, key, desc, G, chunk_size or _default_chunk(G, pb))
            cs = store.chunk_size
        else:
            key = ""
            whole = runner is None and isinstance(meter, NoProgress) and G * pb <= MEMORY_BUDGET
            cs = chunk_size or (G if whole else _default_chunk(G, pb))
        return _run(task, grid, runner, store, meter, cs, key)
    finally:
        if store is not None:
            store.close()
        if runner is not None:
            runner.close()


def _run(task, grid, runner, store, meter, cs, key):
    G = grid.size
    n_chunks = -(-G // cs)
    span = lambda i: np.arange(i * cs, min((i + 1) * cs, G))  # noqa: E731
    acc = _Assembler(task, G)
    done = set()
    if store is not None:
        for i in store.finished():
            part = store.load(i, task.keys)
            if part is None:
                continue
            try:
                part = acc.check(part, span(i).size)
            except (ValueError, TypeError) as exc:
                store._bad(store._file(i), str(exc))
                continue
            acc.put(span(i), part)
            done.add(i)
    todo = [i for i in range(n_chunks) if i not in done]
    loaded = len(done)
    meter.start(G, G - sum(span(i).size for i in todo), desc=type(task).__name__)
    computed = 0

    def finish(i, part):
        nonlocal computed
        idx = span(i)
        part = acc.check(part, idx.size)
        acc.put(idx, part)
        if store is not None:
            store.save(i, part)
        computed += 1
        meter.update(idx.size)

    try:
        with _Terminate():
            try:
                if runner is None:
                    for i in todo:
                        finish(i, task.run_all(grid.take(span(i))))
                else:
                    for i in todo:
                        runner.submit(i, grid.take(span(i)))
                    for i, part in runner.completed():
                        finish(i, part)
            except KeyboardInterrupt:
                if runner is not None:
                    runner.abort()
                where = (f"{computed + loaded} of {n_chunks} chunks saved in {store.path}; rerun to resume"
                         if store is not None else "no out= directory, nothing kept")
                raise SweepInterrupted(f"sweep interrupted: {where}") from None
            except BaseException:
                if runner is not None:
                    runner.cancel()
                raise
    finally:
        meter.close()
    return _result(task, grid, acc, computed, loaded, store, key)


def _result(task, grid, acc, computed, loaded, store, key):
    shape = grid.shape
    data = {k: v.reshape(shape + v.shape[1:]) for k, v in acc.arrays.items()}
    sk = task.status_key
    if sk is not None and sk in acc.arrays:
        codes = acc.arrays[sk]
        if codes.dtype.kind not in "iu" or codes.size and (codes.min() < 0 or codes.max() >= _NAMES.size):
            raise ValueError(f"{type(task).__name__} output {sk!r} must hold status codes 0..{_NAMES.size - 1}")
        status = _NAMES[codes].reshape(shape)
    else:
        status = np.full(shape, str(Status.OK))
    names, counts = np.unique(status, return_counts=True)
    msg = f"{grid.size} points: " + ", ".join(f"{c} {n}" for n, c in zip(names, counts))
    if store is not None:
        msg += f" ({loaded} chunks loaded from {store.path}, {computed} computed)"
    return SweepResult(grid=grid, data=data, status=status, success=bool(np.all(status != str(Status.FAILED))),
                       message=msg, computed=computed, loaded=loaded,
                       path=None if store is None else store.path, key=key)
