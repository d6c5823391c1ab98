"""(a, b) phase diagrams of Adam's late phase (Ma, Wu & E, Figure 8).

:func:`phase_diagram` runs Adam (eq. (3)) with beta2 = 1 - a*eta and
beta1 = 1 - b*eta at every point of an (a, b) grid, classifies each point from
its recorded loss history (:func:`~adadyn.analysis.classify`) and returns a
:class:`PhaseDiagram` of arrays indexed ``[i, j]`` by ``a[i]`` and ``b[j]``.

It is the (a, b) case of :func:`~adadyn.analysis.hyperparameter_sweep`: an
:class:`~adadyn.sweep.OptimizerTask` run by :func:`~adadyn.sweep.run_sweep`
(in-process Numba-parallel, or chunks on a process pool or a dask cluster,
bit-identical; a resumable store with ``out=``), classified chunk by chunk
(:func:`_classify_all`) and packaged here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from adadyn.analysis.hyper import RESULT_BUDGET, _run
from adadyn.analysis.regimes import REGIMES, Regime
from adadyn._result_io import ResultIO

__all__ = ["PhaseDiagram", "phase_diagram", "objective_recipe", "objective_from_recipe"]


# ---------------------------------------------------------------- objectives across processes
def objective_recipe(obj) -> tuple:
    """The objective's own recipe (:attr:`adadyn.Objective.recipe`) and identity.

    Kept for compatibility: objectives pickle through their recipe themselves.
    """
    if obj.recipe is None:
        raise ValueError(f"objective {obj.name!r} cannot be sent to worker processes: it has no recipe "
                         "(it was built from process-local functions). Use a library objective, "
                         "Objective.from_expr or Objective.from_sympy.")
    return ("recipe", obj.recipe, obj.identity())


def objective_from_recipe(recipe):
    """Inverse of :func:`objective_recipe`."""
    from adadyn.objectives.base import _rebuild

    return _rebuild(*recipe[1])


# ---------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class PhaseDiagram(ResultIO):
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
        Last loss, last iterate, recorded loss histories (``loss[i, j, k]`` at
        ``step[k]``; thinned when ``history`` was given or the full histories did not
        fit in ``memory_budget``).
    regimes : ndarray of Regime
        Computed on first use from the full histories.
    opt : Optimizer
        Template spec (its beta1, beta2 are replaced per point).
    objective : str
        Name of the objective.
    sweep : HyperSweep
        The underlying general sweep (success, message, store).
    grad_norm : ndarray or None
        |grad f| at the recorded steps (like ``loss``) when f* is known and the labels
        used the gradient rules; else None.
    """

    _html = "phase_html"  # adadyn.export's view (ResultIO._repr_html_)

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
    opt: object = field(repr=False)
    objective: str = ""
    sweep: object = field(default=None, repr=False)
    grad_norm: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple:
        return self.regime.shape

    @property
    def success(self) -> bool:
        return self.sweep.success

    @property
    def message(self) -> str:
        return self.sweep.message

    @cached_property
    def regimes(self) -> np.ndarray:
        return self.sweep.regimes

    def index(self, a: float, b: float) -> tuple[int, int]:
        """Grid index of the point nearest to (a, b) in log scale."""
        i = int(np.argmin(np.abs(np.log(self.a) - math.log(a))))
        j = int(np.argmin(np.abs(np.log(self.b) - math.log(b))))
        return i, j

    def at(self, a: float, b: float) -> Regime:
        """The :class:`Regime` of the grid point nearest to (a, b)."""
        return self.sweep.regime_at(self.index(a, b))

    def counts(self) -> dict:
        """Number of grid points per regime."""
        return {r: int(np.sum(self.regime == r)) for r in REGIMES}

    def to_npz(self, path) -> None:
        """Save the arrays (not the Regime objects) to ``path`` (.npz); :meth:`save`
        writes a file that :func:`adadyn.load` reads back."""
        np.savez_compressed(
            path, a=self.a, b=self.b, eta=self.eta, steps=self.steps, record_every=self.record_every,
            window=self.window, regime=self.regime.astype("U11"), regime_code=self.regime_code,
            regime_names=np.array(REGIMES), late_mean_log10_loss=self.late_mean_log10_loss,
            late_std_log10_loss=self.late_std_log10_loss, spike_count=self.spike_count,
            osc_amplitude=self.osc_amplitude, level=self.level, trend=self.trend,
            status=self.status.astype("U9"), final_loss=self.final_loss, final_x=self.final_x,
            loss=self.loss, step=self.step, objective=self.objective,
            **({} if self.grad_norm is None else {"grad_norm": self.grad_norm}))

    def to_xarray(self):
        """An ``xarray.Dataset`` with dimensions ``a`` and ``b`` (and ``step`` of the kept
        loss records, ``coordinate`` of ``final_x``): labels, features and statistics as
        variables, eta, steps and the optimiser as attributes. Needs xarray (the ``export`` extra)."""
        from adadyn.export import phase_dataset

        return phase_dataset(self)

    def __repr__(self) -> str:
        return (f"PhaseDiagram({self.objective!r}, {self.a.size}x{self.b.size} (a, b) in "
                f"[{self.a.min():.3g}, {self.a.max():.3g}] x [{self.b.min():.3g}, {self.b.max():.3g}], "
                f"eta={self.eta:g}, steps={self.steps}, regimes={self.counts()})")


# ---------------------------------------------------------------- the front door, in steps
def _grid_axis(name, vals, eta):
    arr = np.atleast_1d(np.asarray(vals, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of memory rates, got shape {arr.shape}")
    if not np.all(np.isfinite(arr) & (arr > 0) & (arr * eta <= 1.0)):
        raise ValueError(f"{name} must hold finite values in (0, 1/eta] = (0, {1 / eta:g}], got {arr}")
    return arr


def _adam(opt, eta):
    from adadyn.discrete.specs import Adam
    from adadyn.validation import check_positive

    eta = check_positive("eta", eta)
    opt = Adam(eta=eta) if opt is None else opt.replace(eta=eta)
    if not isinstance(opt, Adam):
        raise ValueError(f"opt must be Adam-like (beta1 and beta2), got {opt.name}")
    return opt, eta


def _package(sw, a, b, eta) -> PhaseDiagram:
    return PhaseDiagram(
        a=a, b=b, eta=eta, steps=sw.steps, record_every=sw.record_every, window=sw.window,
        regime=sw.regime.astype(str), regime_code=sw.regime_code,
        late_mean_log10_loss=sw.late_mean_log10_loss, late_std_log10_loss=sw.late_std_log10_loss,
        spike_count=sw.spike_count, osc_amplitude=sw.osc_amplitude, level=sw.level, trend=sw.trend,
        status=sw.status, final_loss=sw.final_loss, final_x=sw.final_x, loss=sw.loss, step=sw.step,
        opt=sw.opt, objective=sw.objective, sweep=sw, grad_norm=sw.grad_norm)


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
    history: int | None = None,
    full_history: bool = False,
    memory_budget: int | None = RESULT_BUDGET,
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
        the same sweep resumes from it (:class:`~adadyn.sweep.SweepStore`).
    progress : Progress, bool or callable, optional
        A meter of :mod:`adadyn.sweep.progress`; True: a bar (``tqdm.auto`` if
        installed, else a stderr counter); None: only when stderr is a terminal.
        A callable is called as ``progress(done, total)``.
    classify_kw : dict, optional
        Options for :func:`~adadyn.analysis.classify` (``window`` also sets the
        late window of the ``late_*`` statistics).
    history : int, optional
        Keep only this many records of each loss history in memory (big grids in
        bounded memory); labels and features still come from the full histories.
        None: decided by ``memory_budget``.
    full_history : bool
        Also stream the full histories to ``out`` (read back with
        ``pd.sweep.sweep.load("loss_full")``).
    memory_budget : int or None
        Bytes the kept results may take (default
        :data:`~adadyn.analysis.hyper.RESULT_BUDGET`, 1 GiB). When every history
        would not fit (a 256 x 256 grid of 20,000 steps holds 2.1 GB of loss and
        |grad f| records) and ``history`` is None, the histories are thinned evenly
        to fit; the labels and features are the same (computed from the full
        histories). ``memory_budget=None`` keeps every record.

    Returns
    -------
    PhaseDiagram
    """
    from adadyn.analysis.hyper import RESULT_BUDGET, _run
    from adadyn.sweep import Grid

    opt, eta = _adam(opt, eta)
    a = _grid_axis("a", a, eta)
    b = _grid_axis("b", b, eta)
    sw = _run(opt, obj, x0, steps, Grid(a=a, b=b), record_every=record_every, executor=executor, out=out,
              progress=progress, chunk_size=chunk_size, classify_kw=classify_kw, history=history,
              full_history=full_history, memory_budget=memory_budget)
    return _package(sw, a, b, eta)
