"""(a, b) phase diagrams of Adam's late phase (Ma, Wu & E, Figure 8).

:func:`phase_diagram` runs Adam (eq. (3)) with beta2 = 1 - a*eta and
beta1 = 1 - b*eta at every point of an (a, b) grid, classifies each point from
its recorded loss history (:func:`~adadyn.analysis.classify`) and returns a
:class:`PhaseDiagram` of arrays indexed ``[i, j]`` by ``a[i]`` and ``b[j]``.

Three ways to run the grid, all bit-identical point by point:

* default: :func:`adadyn.discrete.run_grid`, a Numba ``prange`` over grid points;
* ``executor=``: a ``concurrent.futures`` executor or a ``dask.distributed``
  ``Client`` gets chunks of the grid; each chunk runs serially (one thread per
  worker, the NUMBA_NUM_THREADS=1 discipline, and no OpenMP in forked workers);
* ``out=``: either way, every finished chunk is saved at once
  (:mod:`adadyn.analysis.persistence`) and a rerun resumes.

Workers receive the objective as a picklable recipe (:func:`objective_recipe`),
because an :class:`~adadyn.Objective` holds compiled Numba functions that the
standard pickle cannot serialise.
"""
from __future__ import annotations

import math
import sys
from concurrent.futures import as_completed as _cf_as_completed
from dataclasses import dataclass, field

import numpy as np

from adadyn.analysis.persistence import SweepStore, sweep_key
from adadyn.analysis.regimes import REGIMES, Regime, classify

__all__ = ["PhaseDiagram", "phase_diagram", "objective_recipe", "objective_from_recipe"]

_KEYS = ("loss", "final_x", "status", "steps_done", "late_mean_log10_loss", "late_std_log10_loss",
         "late_min_loss", "late_max_loss", "final_loss")
_STATUS = ("ok", "diverged", "converged")


# ---------------------------------------------------------------- objectives across processes
def objective_recipe(obj) -> tuple:
    """The objective's own recipe (:attr:`adadyn.Objective.recipe`), as workers rebuild it."""
    if obj.recipe is None:
        raise ValueError(f"objective {obj.name!r} cannot be sent to worker processes: it has no recipe "
                         "(it was built from process-local functions). Use a library objective, "
                         "Objective.from_expr or Objective.from_sympy.")
    return ("recipe", obj.recipe, obj.identity())


def objective_from_recipe(recipe):
    """Inverse of :func:`objective_recipe`."""
    from adadyn.objectives.base import _rebuild

    return _rebuild(*recipe[1])


def _identity(recipe):
    """The objective's identity for the sweep key."""
    return recipe[2], np.zeros(0), None


# ---------------------------------------------------------------- running chunks
def _run_chunk(recipe, opt, x0, steps, record_every, window, a, b):
    """Run grid points (a[i], b[i]) one after another on one thread.

    Mirrors the body of the grid kernel of :func:`adadyn.discrete.run_grid`
    (same ``run_core``, same initial state), so results are bit-identical to it,
    but never starts Numba's parallel (OpenMP) runtime: safe in forked workers.
    """
    from adadyn.discrete import kernels as K
    from adadyn.discrete.grid import with_params
    from adadyn.validation import box_arrays as _box
    from adadyn.discrete.trajectory import State

    obj = objective_from_recipe(recipe)
    n, d = a.shape[0], obj.dim
    nrec = steps // record_every + 1
    out = {"loss": np.full((n, nrec), np.nan), "final_x": np.empty((n, d)),
           "status": np.empty(n, dtype=np.int64), "steps_done": np.empty(n, dtype=np.int64)}
    stats = np.empty((n, K.N_STATS))
    lo, hi, has_box = _box(obj)
    sched = opt.schedule
    e = np.empty((0, d))
    for i in range(n):
        o = with_params(opt, a=a[i], b=b[i])
        kind, hp = o.kernel_params()
        st = State.initial(o, x0)
        gn, tm = np.empty(nrec), np.empty(nrec)
        status, done, _ = K.run_kernel(
            kind, hp, sched.kind, sched.params(), obj.value_grad_fn, obj.data, lo, hi, has_box,
            st.x, st.m, st.v, st.aux, st.scalars, 0, steps, record_every, 0.0,
            e, e, e, out["loss"][i], gn, tm, False, window, stats[i])
        out["final_x"][i] = st.x
        out["status"][i] = status
        out["steps_done"][i] = done
    _stats_into(out, stats)
    return out


def _stats_into(out, stats):
    out["late_mean_log10_loss"] = stats[:, 0].copy()
    out["late_std_log10_loss"] = stats[:, 1].copy()
    out["late_min_loss"] = stats[:, 2].copy()
    out["late_max_loss"] = stats[:, 3].copy()
    out["final_loss"] = stats[:, 5].copy()


def _run_local(obj, opt, x0, steps, record_every, window, a, b):
    from adadyn.discrete.grid import run_grid

    n = a.shape[0]
    # x0 given per point: run_grid broadcasts a shared x0 into a read-only view.
    X0 = np.ascontiguousarray(np.tile(x0, (n, 1)))
    gr = run_grid(opt, obj, X0, steps, record_every=record_every, window=window, a=a, b=b)
    return {"loss": gr.loss, "final_x": gr.final_x,
            "status": np.array([_STATUS.index(s) for s in gr.status], dtype=np.int64),
            "steps_done": gr.steps_done, "late_mean_log10_loss": gr.late_mean_log10_loss,
            "late_std_log10_loss": gr.late_std_log10_loss, "late_min_loss": gr.late_min_loss,
            "late_max_loss": gr.late_max_loss, "final_loss": gr.final_loss}


def _is_dask(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


class _Progress:
    def __init__(self, progress, total):
        self.fn, self.bar, self.n, self.total = None, None, 0, total
        if callable(progress):
            self.fn = progress
        elif progress or (progress is None and sys.stderr.isatty()):
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc="phase diagram", unit="pt", disable=None if progress is None else False)
            except ImportError:
                self.fn = self._print

    def _print(self, done, total):
        sys.stderr.write(f"\rphase diagram: {done}/{total} points")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    @property
    def active(self) -> bool:
        return self.fn is not None or self.bar is not None

    def update(self, k):
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
        if self.fn is not None:
            self.fn(self.n, self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """Late-phase behaviour of Adam over an (a, b) grid; arrays are indexed [i, j] = (a[i], b[j]).

    Attributes
    ----------
    a, b : ndarray
        Memory rates of beta2 = 1 - a*eta and beta1 = 1 - b*eta.
    eta, steps, record_every, window : float, int, int, int
        Step size, steps per run, stride of ``loss``, late window (steps) of
        the ``late_*`` statistics.
    regime : ndarray of str
        Labels from :data:`~adadyn.analysis.regimes.REGIMES`.
    regime_code : ndarray of int
        Index of the label in ``REGIMES``.
    late_mean_log10_loss, late_std_log10_loss : ndarray
        Mean and standard deviation of log10 f over the last ``window`` steps
        (every step; the left panel of Figure 8).
    spike_count, osc_amplitude, level, trend : ndarray
        Features of :class:`~adadyn.analysis.regimes.Regime`.
    status : ndarray of str
        Run status ('ok' or 'diverged').
    final_loss, final_x, loss, step : ndarray
        Last loss, last iterate, recorded loss histories (``loss[i, j, k]`` at ``step[k]``).
    regimes : ndarray of Regime
    opt : Optimizer
        Template spec (its beta1, beta2 are replaced per point).
    objective : str
        Name of the objective.
    """

    a: np.ndarray
    b: np.ndarray
    eta: float
    steps: int
    record_every: int
    window: int
    regime: np.ndarray
    regime_code: np.ndarray
    late_mean_log10_loss: np.ndarray
    late_std_log10_loss: np.ndarray
    spike_count: np.ndarray
    osc_amplitude: np.ndarray
    level: np.ndarray
    trend: np.ndarray
    status: np.ndarray
    final_loss: np.ndarray
    final_x: np.ndarray = field(repr=False)
    loss: np.ndarray = field(repr=False)
    step: np.ndarray = field(repr=False)
    regimes: np.ndarray = field(repr=False)
    opt: object = field(repr=False)
    objective: str = ""

    @property
    def shape(self) -> tuple:
        return self.regime.shape

    def index(self, a: float, b: float) -> tuple[int, int]:
        """Grid index of the point nearest to (a, b) in log scale."""
        i = int(np.argmin(np.abs(np.log(self.a) - math.log(a))))
        j = int(np.argmin(np.abs(np.log(self.b) - math.log(b))))
        return i, j

    def at(self, a: float, b: float) -> Regime:
        """The :class:`Regime` of the grid point nearest to (a, b)."""
        return self.regimes[self.index(a, b)]

    def counts(self) -> dict:
        """Number of grid points per regime."""
        return {r: int(np.sum(self.regime == r)) for r in REGIMES}

    def to_npz(self, path) -> None:
        """Save the arrays (not the Regime objects) to ``path`` (.npz)."""
        np.savez_compressed(
            path, a=self.a, b=self.b, eta=self.eta, steps=self.steps, record_every=self.record_every,
            window=self.window, regime=self.regime.astype("U11"), regime_code=self.regime_code,
            regime_names=np.array(REGIMES), late_mean_log10_loss=self.late_mean_log10_loss,
            late_std_log10_loss=self.late_std_log10_loss, spike_count=self.spike_count,
            osc_amplitude=self.osc_amplitude, level=self.level, trend=self.trend,
            status=self.status.astype("U9"), final_loss=self.final_loss, final_x=self.final_x,
            loss=self.loss, step=self.step, objective=self.objective)

    def __repr__(self) -> str:
        return (f"PhaseDiagram({self.objective!r}, {self.a.size}x{self.b.size} (a, b) in "
                f"[{self.a.min():.3g}, {self.a.max():.3g}] x [{self.b.min():.3g}, {self.b.max():.3g}], "
                f"eta={self.eta:g}, steps={self.steps}, regimes={self.counts()})")


def _grid_axis(name, vals, eta):
    arr = np.atleast_1d(np.asarray(vals, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of memory rates, got shape {arr.shape}")
    if not np.all(np.isfinite(arr) & (arr > 0) & (arr * eta <= 1.0)):
        raise ValueError(f"{name} must hold finite values in (0, 1/eta] = (0, {1 / eta:g}], got {arr}")
    return arr


def phase_diagram(
    obj,
    x0,
    a,
    b,
    eta: float = 1e-3,
    steps: int = 20_000,
    *,
    opt=None,
    record_every: int | None = None,
    executor=None,
    chunk_size: int | None = None,
    out=None,
    progress=None,
    classify_kw: dict | None = None,
) -> PhaseDiagram:
    """Classify Adam's late phase over an (a, b) grid (Figure 8 of Ma, Wu & E).

    Parameters
    ----------
    obj : Objective
    x0 : array_like, shape (d,)
        Common start (m = v = 0).
    a, b : array_like, 1-D
        Memory rates; the grid is their outer product, beta2 = 1 - a*eta,
        beta1 = 1 - b*eta (Prop. 2's scaling). Values must lie in (0, 1/eta].
    eta : float
        Step size.
    steps : int
        Steps per grid point.
    opt : Adam, optional
        Template (eps, bias correction, schedule); default ``Adam(eta, eps=1e-8)``.
    record_every : int, optional
        Stride of the recorded loss histories that :func:`classify` reads;
        default ``max(1, steps // 2000)``.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Spread chunks of the grid over its workers (processes or machines).
        Default: the local Numba-parallel path.
    chunk_size : int, optional
        Grid points per chunk (default: about 64 chunks, at least 4 points each).
    out : path-like, optional
        Directory where each finished chunk is saved as it completes; rerunning
        the same sweep resumes from it (:class:`~adadyn.analysis.persistence.SweepStore`).
    progress : bool or callable, optional
        Progress bar (``tqdm.auto`` if installed, else a stderr counter); None:
        only when stderr is a terminal. A callable is called as ``progress(done, total)``.
    classify_kw : dict, optional
        Options for :func:`~adadyn.analysis.classify` (``window`` also sets the
        late window of the ``late_*`` statistics).

    Returns
    -------
    PhaseDiagram
    """
    from adadyn.discrete.run import _check_args
    from adadyn.validation import check_x0
    from adadyn.discrete.specs import Adam

    eta = float(eta)
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")
    opt = Adam(eta=eta) if opt is None else opt.replace(eta=eta)
    if not hasattr(opt, "beta1"):
        raise ValueError(f"opt must be Adam-like (beta1 and beta2), got {opt.name}")
    _check_args(opt, obj)
    a = _grid_axis("a", a, eta)
    b = _grid_axis("b", b, eta)
    steps = int(steps)
    if steps < 10:
        raise ValueError(f"steps must be >= 10, got {steps}")
    record_every = max(1, steps // 2000) if record_every is None else int(record_every)
    if not (1 <= record_every <= steps // 4):
        raise ValueError(f"record_every must be in [1, steps/4] = [1, {steps // 4}], got {record_every}")
    x0 = check_x0(x0, obj.dim)
    ckw = dict(classify_kw or {})
    window = max(1, int(round(ckw.get("window", 0.25) * steps)))

    A, B = np.meshgrid(a, b, indexing="ij")
    fa, fb = A.ravel(), B.ravel()
    G = fa.size
    if chunk_size is None:
        chunk_size = max(4, -(-G // 64))
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    recipe = None
    if executor is not None or out is not None:
        try:
            recipe = objective_recipe(obj)
        except ValueError as exc:
            if executor is not None:
                raise
            raise ValueError(f"out= needs an objective with a stable identity to resume a sweep; {exc}") from None
    store = None
    if out is not None:
        ident, data, bounds = _identity(recipe)
        kind, hp = opt.kernel_params()
        parts = {"objective": ident, "data": data, "bounds": repr(bounds), "opt": type(opt).__name__,
                 "hp": hp, "schedule": repr(opt.schedule), "a": a, "b": b, "x0": x0, "steps": steps,
                 "record_every": record_every, "window": window}
        desc = {"objective": obj.name, "optimizer": repr(opt), "a": [float(a.min()), float(a.max()), a.size],
                "b": [float(b.min()), float(b.max()), b.size], "steps": steps, "record_every": record_every}
        store = SweepStore(out, sweep_key(parts), desc, G, chunk_size)
        chunk_size = store.chunk_size
    n_chunks = -(-G // chunk_size)
    chunks = [np.arange(i * chunk_size, min((i + 1) * chunk_size, G)) for i in range(n_chunks)]

    nrec = steps // record_every + 1
    res = {"loss": np.full((G, nrec), np.nan), "final_x": np.empty((G, obj.dim)),
           "status": np.empty(G, dtype=np.int64), "steps_done": np.empty(G, dtype=np.int64)}
    for k in _KEYS[4:]:
        res[k] = np.empty(G)

    def put(i, part):
        for k in _KEYS:
            res[k][chunks[i]] = part[k]

    todo = list(range(n_chunks))
    if store is not None:
        done = store.finished()
        for i in done:
            put(i, store.load(i, _KEYS))
        todo = [i for i in todo if i not in set(done)]
    bar = _Progress(progress, G)
    bar.update(G - sum(chunks[i].size for i in todo))

    def finish(i, part):
        put(i, part)
        if store is not None:
            store.save(i, part)
        bar.update(chunks[i].size)

    try:
        if executor is None:
            if store is None and not bar.active:
                if todo:
                    part = _run_local(obj, opt, x0, steps, record_every, window, fa, fb)
                    for k in _KEYS:
                        res[k][:] = part[k]
            else:
                for i in todo:
                    c = chunks[i]
                    finish(i, _run_local(obj, opt, x0, steps, record_every, window, fa[c], fb[c]))
        else:
            futs = {}
            for i in todo:
                c = chunks[i]
                f = executor.submit(_run_chunk, recipe, opt, x0, steps, record_every, window, fa[c], fb[c])
                futs[f] = i
            if _is_dask(executor):
                from distributed import as_completed
            else:
                as_completed = _cf_as_completed
            for f in as_completed(list(futs)):
                finish(futs[f], f.result())
    finally:
        bar.close()

    step = record_every * np.arange(nrec)
    shape = A.shape
    regs = np.empty(G, dtype=object)
    for g in range(G):
        regs[g] = classify(res["loss"][g], step, f_star=obj.min_value, diverged=bool(res["status"][g] == 1), **ckw)
    feat = lambda name, dt=float: np.array([getattr(r, name) for r in regs], dtype=dt).reshape(shape)  # noqa: E731
    return PhaseDiagram(
        a=a, b=b, eta=eta, steps=steps, record_every=record_every, window=window,
        regime=feat("label", object).astype(str), regime_code=feat("code", np.int64),
        late_mean_log10_loss=res["late_mean_log10_loss"].reshape(shape),
        late_std_log10_loss=res["late_std_log10_loss"].reshape(shape),
        spike_count=feat("spike_count", np.int64), osc_amplitude=feat("osc_amplitude"),
        level=feat("level"), trend=feat("trend"),
        status=np.array(_STATUS)[res["status"]].reshape(shape), final_loss=res["final_loss"].reshape(shape),
        final_x=res["final_x"].reshape(shape + (obj.dim,)), loss=res["loss"].reshape(shape + (nrec,)),
        step=step, regimes=regs.reshape(shape), opt=opt, objective=obj.name,
    )
