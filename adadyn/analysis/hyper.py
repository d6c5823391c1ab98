"""Hyperparameter sweeps of any optimiser on any objective, classified.

:func:`hyperparameter_sweep` runs ``opt.replace(**point)`` at every point of a
grid of named axes (``eta``, ``eps``, ``beta1``, the memory rates ``a``, ``b``
of beta2 = 1 - a*eta, beta1 = 1 - b*eta, ...) through the sweep engine
(:mod:`adadyn.sweep`: executors, resumable store, progress), and classifies each
point's late phase (:func:`~adadyn.analysis.classify`, Ma, Wu & E section 4).
:func:`~adadyn.analysis.phase_diagram` is its (a, b) case for Adam.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from adadyn.analysis.sweep_features import _classify_all, _Features
from adadyn._result_io import ResultIO

__all__ = ["HyperSweep", "hyperparameter_sweep", "RESULT_BUDGET"]

#: Default memory budget (bytes) of what a sweep keeps in memory: 1 GiB. A grid whose
#: full loss histories would exceed it keeps evenly thinned histories instead (labels
#: and features still come from the full histories); ``memory_budget=None`` keeps all.
RESULT_BUDGET = 2**30


@dataclass(frozen=True, eq=False)
class HyperSweep(ResultIO):
    """A classified hyperparameter sweep; arrays have the grid's shape first.

    Attributes
    ----------
    grid : adadyn.sweep.Grid
        The points (``grid.axes`` gives each axis's values).
    loss, step : ndarray
        Recorded loss histories, ``loss[..., k]`` at ``step[k]`` (thinned to
        ``history`` records when asked or to fit ``memory_budget``; NaN after a divergence).
    final_x, final_loss, steps_done : ndarray
        Last iterate, last loss, steps taken.
    status : ndarray of str
        Each point's :class:`~adadyn.status.Status` ("ok", "diverged", ...).
    late_mean_log10_loss, late_std_log10_loss, late_min_loss, late_max_loss : ndarray
        Statistics over the last ``window`` steps (every step).
    regime, regime_code : ndarray
        Late-phase label of :func:`~adadyn.analysis.classify` and its index in ``REGIMES``.
    spike_count, osc_amplitude, level, trend : ndarray
        The classification's features (from the full history, before thinning).
    opt, objective, steps, record_every, window, f_star, classify_kw
        The settings.
    success, message : bool, str
        From the sweep (:class:`~adadyn.sweep.SweepResult`).
    grad_norm : ndarray or None
        |grad f| at the recorded steps (like ``loss``) when the labels used the
        gradient rules (f* known), else None; :attr:`regimes` and :meth:`regime_at`
        classify with it, so their labels are ``regime``'s.
    """

    _html = "hyper_html"  # adadyn.export's view (ResultIO._repr_html_)

    grid: object
    loss: np.ndarray = field(repr=False)
    step: np.ndarray = field(repr=False)
    final_x: np.ndarray = field(repr=False)
    final_loss: np.ndarray = field(repr=False)
    steps_done: np.ndarray = field(repr=False)
    status: np.ndarray = field(repr=False)
    late_mean_log10_loss: np.ndarray = field(repr=False)
    late_std_log10_loss: np.ndarray = field(repr=False)
    late_min_loss: np.ndarray = field(repr=False)
    late_max_loss: np.ndarray = field(repr=False)
    regime: np.ndarray = field(repr=False)
    regime_code: np.ndarray = field(repr=False)
    spike_count: np.ndarray = field(repr=False)
    osc_amplitude: np.ndarray = field(repr=False)
    level: np.ndarray = field(repr=False)
    trend: np.ndarray = field(repr=False)
    opt: object = field(repr=False)
    objective: str
    steps: int
    record_every: int
    window: int
    f_star: float = field(repr=False)
    classify_kw: dict = field(repr=False)
    full_history: bool = field(repr=False)
    success: bool = True
    message: str = ""
    sweep: object = field(default=None, repr=False)
    grad_norm: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple:
        return self.grid.shape

    @property
    def axes(self) -> dict:
        return self.grid.axes

    def counts(self) -> dict:
        """Number of grid points per regime."""
        from adadyn.analysis.regimes import REGIMES

        return {r: int(np.sum(self.regime == r)) for r in REGIMES}

    def regime_at(self, index) -> "object":
        """The :class:`~adadyn.analysis.Regime` of the point at grid ``index``."""
        self._need_full()
        loss = self.loss[index]
        if loss.ndim != 1:
            raise IndexError(f"index must select one point of the {self.shape} grid")
        flat = int(np.arange(self.grid.size).reshape(self.shape)[index])
        r = _classify_all(loss[None], self.step, self.f_star, np.array([self.status[index] == "diverged"]),
                          self._gradient_kw(np.array([flat])))
        return r.regimes[0]

    @cached_property
    def regimes(self) -> np.ndarray:
        """Every point's :class:`~adadyn.analysis.Regime` (computed on first use)."""
        self._need_full()
        G = int(np.prod(self.shape))
        r = _classify_all(self.loss.reshape(G, -1), self.step, self.f_star,
                          (self.status == "diverged").reshape(G), self._gradient_kw(np.arange(G)))
        out = np.empty(G, dtype=object)
        out[:] = list(r.regimes)
        return out.reshape(self.shape)

    def _gradient_kw(self, flat) -> dict:
        """classify options for the points ``flat`` (flat grid indices): the sweep's own,
        plus |grad f| and eta per point when the labels used the gradient rules (as
        :class:`~adadyn.analysis.phase._Features` passed them)."""
        from adadyn.analysis.regimes import ETA_STEP_OPTIMIZERS

        kw = dict(self.classify_kw)
        if self.grad_norm is None or self.opt.name not in ETA_STEP_OPTIMIZERS:
            return kw
        pts = self.grid.points()
        eta = np.asarray(pts["eta"], dtype=np.float64)[flat] if "eta" in pts else np.full(flat.size, float(self.opt.eta))
        kw.update(grad_norm=self.grad_norm.reshape(-1, self.grad_norm.shape[-1])[flat], step_size=eta)
        return kw

    def _need_full(self):
        if not self.full_history:
            raise ValueError("Regime objects need the full loss histories; this sweep kept a thinned "
                             "history (history=...). The regime labels and features are in .regime, "
                             ".spike_count, .osc_amplitude, .level and .trend.")

    def to_xarray(self):
        """An ``xarray.Dataset`` with one dimension per grid dimension, named after its axis
        (``eta``, ``a``, ...), plus ``step`` and ``coordinate``: labels, features and
        statistics as variables, the settings as attributes. Needs xarray (the ``export`` extra)."""
        from adadyn.export import hyper_dataset

        return hyper_dataset(self)

    def __repr__(self) -> str:
        return (f"HyperSweep({self.objective!r}, {type(self.opt).__name__}, {self.grid!r}, steps={self.steps}, "
                f"regimes={self.counts()})")


def _corners(grid):
    """Flat indices of the extreme points of every axis (for early validation)."""
    per_dim = []
    for names in grid.dims:
        idx = set()
        for n in names:
            a = grid.axes[n]
            idx.update((int(np.argmin(a)), int(np.argmax(a))))
        per_dim.append(sorted(idx))
    return [int(np.ravel_multi_index(c, grid.shape)) for c in itertools.product(*per_dim)]


def _settings(opt, obj, x0, steps, record_every, classify_kw):
    from adadyn.validation import check_int, check_objective, check_optimizer, check_x0

    check_optimizer(opt)
    check_objective(obj)
    steps = check_int("steps", steps, 10)
    record_every = max(1, steps // 2000) if record_every is None else record_every
    if isinstance(record_every, bool) or not isinstance(record_every, (int, np.integer)) \
            or not 1 <= record_every <= steps // 4:
        raise ValueError(f"record_every must be an integer in [1, steps/4] = [1, {steps // 4}], got {record_every!r}")
    if classify_kw is not None and not isinstance(classify_kw, dict):
        raise TypeError(f"classify_kw must be a dict of classify() options, got {type(classify_kw).__name__}")
    ckw = dict(classify_kw or {})
    wf = ckw.get("window", 0.25)
    if not (isinstance(wf, (int, float)) and math.isfinite(wf) and 0 < wf <= 1):
        raise ValueError(f"classify_kw['window'] must be in (0, 1], got {wf!r}")
    window = max(1, int(round(wf * steps)))
    return steps, int(record_every), ckw, window, check_x0(x0, obj.dim)


def _budget_history(history, memory_budget, n_points: int, nrec: int, dim: int, with_gradient: bool):
    """Records per kept loss history: ``history`` when given; else all of them when the
    results fit in ``memory_budget`` bytes (None: no budget), else as many evenly spaced
    records as fit (at least 2, the first and the last)."""
    from adadyn.validation import check_int

    if history is not None or memory_budget is None:
        return history
    budget = check_int("memory_budget", memory_budget, 1)
    series = 2 if with_gradient else 1           # loss, and |grad f| when the labels use it
    fixed = 8 * (dim + 16)                       # final x, statistics, features, status per point
    if n_points * (fixed + 8 * series * nrec) <= budget:
        return None
    return int(max(2, (budget - n_points * fixed) // (n_points * 8 * series)))


def _run(opt, obj, x0, steps, grid, *, record_every, executor, out, progress, chunk_size, classify_kw,
         history, full_history, memory_budget=RESULT_BUDGET) -> HyperSweep:
    """The shared body of :func:`hyperparameter_sweep` and :func:`phase_diagram`."""
    from adadyn.sweep import OptimizerTask, run_sweep

    steps, record_every, ckw, window, x0 = _settings(opt, obj, x0, steps, record_every, classify_kw)
    known = sorted({f.name for f in dataclasses.fields(opt) if f.name != "schedule"} | set(opt._RATE_FIELDS))
    unknown = [n for n in grid.names if n not in known]
    if unknown:
        raise ValueError(f"unknown hyperparameter axis {unknown[0]!r} for {opt.name}; known: {known}")
    for i in _corners(grid):
        opt.replace(**grid.point(i))  # a clear error from the spec before anything runs
    f_star = 0.0 if obj.min_value is None else obj.min_value
    feats = _Features(obj.min_value, ckw)
    history = _budget_history(history, memory_budget, grid.size, steps // record_every + 1, obj.dim,
                              feats.wants_gradient)
    task = OptimizerTask(opt, obj, x0, steps, record_every=record_every, window=window, history=history,
                         full_history=full_history, features=feats)
    res = run_sweep(task, grid, executor=executor, out=out, progress=progress, chunk_size=chunk_size)
    return _from_result(res, step=task.step, opt=opt, objective=obj.name, steps=steps, record_every=record_every,
                        window=window, f_star=f_star, classify_kw=ckw,
                        full_history=task.kept.size == task.full_step.size)


def _from_result(res, *, step, opt, objective, steps, record_every, window, f_star, classify_kw,
                 full_history) -> HyperSweep:
    """A :class:`HyperSweep` from the sweep engine's result and the settings (also
    used by :func:`adadyn.load`)."""
    from adadyn.analysis.regimes import REGIMES

    d = res.data
    code = d["regime_code"]
    return HyperSweep(
        grid=res.grid, loss=d["loss"], step=step, final_x=d["final_x"], final_loss=d["final_loss"],
        steps_done=d["steps_done"], status=res.status, late_mean_log10_loss=d["late_mean_log10_loss"],
        late_std_log10_loss=d["late_std_log10_loss"], late_min_loss=d["late_min_loss"],
        late_max_loss=d["late_max_loss"], regime=np.asarray(REGIMES)[code], regime_code=code,
        spike_count=d["spike_count"], osc_amplitude=d["osc_amplitude"], level=d["level"], trend=d["trend"],
        opt=opt, objective=objective, steps=steps, record_every=record_every, window=window, f_star=f_star,
        classify_kw=classify_kw, full_history=bool(full_history), success=res.success,
        message=res.message, sweep=res, grad_norm=d.get("grad_norm"))


def hyperparameter_sweep(opt, obj, x0, steps: int, axes: dict, *, record_every: int | None = None,
                         executor=None, out=None, progress=None, classify_kw: dict | None = None,
                         zip_axes: bool = False, chunk_size: int | None = None, history: int | None = None,
                         full_history: bool = False, memory_budget: int | None = RESULT_BUDGET) -> HyperSweep:
    """Run and classify ``opt`` on ``obj`` over a grid of hyperparameters.

    Parameters
    ----------
    opt : Optimizer
        Template spec; each point is ``opt.replace(**point)``.
    obj : Objective
    x0 : array_like, shape (d,)
        Common start (zero moments).
    steps : int
        Steps per point (>= 10).
    axes : dict of str to 1-D array_like
        Axis name -> values: any field of the spec (``eta``, ``eps``, ``alpha``,
        ``beta1``, ...) or the memory rates ``a``, ``b`` (applied at the point's eta).
        The grid is their product, e.g. ``{"eta": [...], "a": [...]}`` for RMSprop.
    record_every : int, optional
        Stride of the recorded loss (default ``max(1, steps // 2000)``, at most steps/4).
    executor, out, progress, chunk_size
        As in :func:`adadyn.sweep.run_sweep` (pools or dask; a resumable store
        directory; a progress meter; points per chunk).
    classify_kw : dict, optional
        Options of :func:`~adadyn.analysis.classify`; its ``window`` fraction also
        sets the late window of the ``late_*`` statistics.
    zip_axes : bool
        Take the axes together (one dimension, equal lengths) instead of their product.
    history : int, optional
        Keep this many evenly spaced records per loss history in memory (bounded
        memory for big grids); features use the full history. None: decided by
        ``memory_budget``.
    full_history : bool
        Stream every record to the store (``out`` required) as ``loss_full``;
        read it back with ``result.sweep.load("loss_full")``.
    memory_budget : int or None
        Bytes the kept results may take (default :data:`RESULT_BUDGET`, 1 GiB): when
        the full histories would not fit (and ``history`` is None), they are thinned
        evenly to fit; the labels and features do not change (they are computed from
        the full histories in each chunk). ``None`` keeps every record.

    Returns
    -------
    HyperSweep
    """
    from adadyn.sweep import Grid

    if not isinstance(axes, dict) or not axes:
        raise ValueError("axes must be a non-empty dict of axis name -> 1-D array of values")
    grid = Grid.zip(axes) if zip_axes else Grid(axes)
    return _run(opt, obj, x0, steps, grid, record_every=record_every, executor=executor, out=out,
                progress=progress, chunk_size=chunk_size, classify_kw=classify_kw, history=history,
                full_history=full_history, memory_budget=memory_budget)
