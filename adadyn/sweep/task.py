"""The contract between the sweep engine and the work it runs."""
from __future__ import annotations

import numpy as np

__all__ = ["Task"]


class Task:
    """Work to do at every point of a :class:`~adadyn.sweep.Grid`.

    A task is what :func:`~adadyn.sweep.run_sweep` runs; the engine does the
    chunking, the executors, the store, the progress and the interrupts. A
    subclass provides:

    ``keys`` : tuple of str
        Names of the arrays :meth:`run_chunk` returns (all of them, always).
    ``store_only`` : tuple of str
        Names among ``keys`` written to the store but not kept in memory (bulky
        outputs such as full loss histories); read them back with
        :meth:`~adadyn.sweep.SweepResult.load`.
    ``status_key`` : str or None
        Name of the output holding each point's status code
        (:data:`adadyn.status.STATUS_CODES`); None: every point is "ok".
    :meth:`identity` -> dict
        Everything that determines the outputs apart from the grid: the resume
        key is a hash of it and of the grid. Values are str, numbers or ndarrays.
        Two tasks with equal identities must give bit-identical outputs.
    :meth:`run_chunk` (points) -> dict of ndarray
        ``points`` maps each axis name to an array of n values; return every
        name of ``keys`` with leading dimension n, the same trailing shape and
        dtype for every chunk. It runs in worker processes, so it must not start
        thread pools that a forked process cannot own (Numba's parallel runtime)
        and must give the bits :meth:`run_all` gives.
    :meth:`run_all` (points) -> dict of ndarray, optional
        Fast path in the calling process, for the whole grid or for one chunk
        (when a store, a progress meter or the memory bound needs chunks); may
        use threads. Default: :meth:`run_chunk`.
    :meth:`point_bytes` -> int, optional
        Transient memory one point needs while its chunk runs; the engine keeps
        ``chunk_size * point_bytes()`` under its memory budget.
    :meth:`describe` -> dict
        A JSON-serialisable summary for the store's manifest (for humans).

    The task must pickle (it travels to worker processes and dask workers):
    keep only picklable state (objectives pickle through their recipe).
    ``docs/sweeps.md`` shows how to write one.
    """

    keys: tuple = ()
    store_only: tuple = ()
    status_key: str | None = "status"

    def identity(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define identity()")

    def run_chunk(self, points: dict) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define run_chunk(points)")

    def run_all(self, points: dict) -> dict:
        return self.run_chunk(points)

    def point_bytes(self) -> int:
        return 0

    def describe(self) -> dict:
        return {"task": type(self).__name__}


def check_output(task: Task, out, n: int, template: dict | None = None) -> dict:
    """The chunk output of ``task`` as a dict of ndarrays, checked against the
    contract (every key, leading dimension n, same layout as ``template``)."""
    if not isinstance(out, dict):
        raise TypeError(f"{type(task).__name__}.run_chunk must return a dict of arrays, got {type(out).__name__}")
    missing = [k for k in task.keys if k not in out]
    if missing:
        raise ValueError(f"{type(task).__name__}.run_chunk did not return {missing}")
    res = {}
    for k in task.keys:
        arr = np.asarray(out[k])
        if arr.ndim == 0 or arr.shape[0] != n:
            raise ValueError(f"{type(task).__name__} output {k!r} must have leading dimension {n} "
                             f"(one row per point), got shape {arr.shape}")
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"{type(task).__name__} output {k!r} must be a numeric or string array, "
                             f"got dtype {arr.dtype}")
        if template is not None and k in template:
            t = template[k]
            if t.shape[1:] != arr.shape[1:] or t.dtype != arr.dtype:
                raise ValueError(f"{type(task).__name__} output {k!r} changed layout between chunks: "
                                 f"{t.dtype}{t.shape[1:]} then {arr.dtype}{arr.shape[1:]}")
        res[k] = arr
    return res
