"""Discrete runs against their continuous-time limits (Props. 1 and 2 of Ma, Wu & E).

:func:`compare` measures the sup-norm gap of eqs. (6) and (9) between the
piecewise-constant path X^eta(t) = x_k on [k eta, (k+1) eta) and the flow x(t);
:func:`convergence_order` fits how that gap shrinks with eta.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from adadyn.validation import check_positive

__all__ = ["compare", "Comparison", "convergence_order", "ConvergenceOrder", "scaled_optimizer"]


def _same_objective(a, b) -> bool:
    """Same objective: the same object, or equal recipes (``identity()``) when both have one."""
    if a is b:
        return True
    if a is None or b is None:
        return True                      # nothing to compare against (solution built by hand)
    same = getattr(b, "same_objective", None)     # a network objective vs the Problem nn.train records
    if same is not None:
        return bool(same(a))
    try:
        return a.identity() == b.identity()
    except ValueError:                   # no recipe: only object identity can tell
        return False


def _same_flow(f1, f2, rtol: float = 1e-9) -> bool:
    """Equal flow specs up to the rounding of a = (1 - beta2)/eta at different eta."""
    if type(f1) is not type(f2):
        return False
    for k, v1 in vars(f1).items():
        v2 = vars(f2)[k]
        if isinstance(v1, (bool, np.bool_)) or isinstance(v2, (bool, np.bool_)):
            if bool(v1) != bool(v2):
                return False
        elif not math.isclose(float(v1), float(v2), rel_tol=rtol, abs_tol=0.0):
            return False
    return True


def _check_pair(traj, sol, scaling):
    """Refuse a run and a flow solution that do not belong together: different
    objectives, or a flow that is not ``flows.limit`` of the run's optimiser."""
    from adadyn.flows.limit import HOLDS, NoFlowError, limit

    if not _same_objective(traj.objective, sol.objective):
        raise ValueError("traj and sol were computed on different objectives "
                         f"({traj.objective!r} vs {sol.objective!r})")
    if getattr(sol.flow, "central", False):
        if not sol.flow.matches(traj.opt):
            raise ValueError(f"sol solves {sol.flow!r}, the central flow of another optimiser than "
                             f"the run's {traj.opt!r}")
        return
    holds = HOLDS if scaling is None else (scaling,)
    if scaling is not None and scaling not in HOLDS:
        raise ValueError(f"scaling must be one of {HOLDS} or None, got {scaling!r}")
    try:
        flows = [limit(traj.opt, hold=h) for h in holds]
    except NoFlowError as exc:
        raise ValueError(f"traj's optimiser has no flow to compare with: {exc}") from None
    if not any(_same_flow(f, sol.flow) for f in flows):
        want = " or ".join(repr(f) for f in flows)
        raise ValueError(f"sol solves {sol.flow!r}, but the run's optimiser {traj.opt!r} tends to {want} "
                         f"(flows.limit, scaling {' or '.join(holds)})")


@dataclass(frozen=True, eq=False)
class Comparison:
    """Gap between a discrete trajectory and a flow solution on [0, T].

    Attributes
    ----------
    T : float
        End of the compared interval (the common time span).
    gap_x : float
        sup_{t in [0, T]} |X^eta(t) - x(t)| (Euclidean norm), eqs. (6)/(9).
    gap_m, gap_v : float or None
        The same for the moments m, v (raw, as the discrete run stores them), when
        both sides have them.
    t_worst : float
        Time at which the x gap is attained (on the evaluation grid).
    gap_x_nodes : float
        max_k |x_k - x(t_k)|, the gap at the step times only: free of the O(eta)
        that the piecewise-constant interpolation alone contributes (|x'| eta).
    gap_x_t, times : ndarray
        The x gap sup'ed over each step interval [t_k, t_{k+1}], and the t_k.
    samples : int
        Evaluation points per step interval (both ends included).
    exact_steps : bool
        True when the run recorded every step (then X^eta is known everywhere);
        otherwise the gap is taken at the recorded times only (a lower bound).
    """

    T: float
    gap_x: float
    gap_m: float | None
    gap_v: float | None
    t_worst: float
    gap_x_nodes: float
    gap_x_t: np.ndarray = field(repr=False)
    times: np.ndarray = field(repr=False)
    samples: int = 3
    exact_steps: bool = True
    average: int | None = None

    def gap_over(self, t0: float, t1: float | None = None) -> float:
        """max of :attr:`gap_x_t` over the times in [t0, t1] (e.g. an edge-of-stability phase)."""
        sel = (self.times >= t0) & (self.times <= (np.inf if t1 is None else t1))
        if not np.any(sel):
            raise ValueError(f"no compared time in [{t0!r}, {t1!r}]")
        return float(self.gap_x_t[sel].max())

    def __repr__(self) -> str:
        parts = [f"T={self.T:.6g}", f"gap_x={self.gap_x:.3e}", f"gap_x_nodes={self.gap_x_nodes:.3e}"]
        if self.gap_m is not None:
            parts.append(f"gap_m={self.gap_m:.3e}")
        if self.gap_v is not None:
            parts.append(f"gap_v={self.gap_v:.3e}")
        parts.append(f"t_worst={self.t_worst:.4g}")
        if self.average:
            parts.append(f"average={self.average}")
        if not self.exact_steps:
            parts.append("at records only")
        return "Comparison(" + ", ".join(parts) + ")"


def compare(traj, sol, *, T: float | None = None, samples: int = 3,
            scaling: str | None = None, average: int | None = None) -> Comparison:
    """Sup-norm gap between a discrete run and a flow (eqs. (6) and (9) of Ma, Wu & E).

    Parameters
    ----------
    traj : Trajectory
        A run of :func:`adadyn.run` (constant step, ideally ``record_every=1``).
    sol : FlowSolution
        A solve of the matching flow (e.g. ``flows.solve(flows.limit(opt), ...)``).
    T : float, optional
        Compare on [0, T]; default the common span of both.
    samples : int
        Points per step interval [t_k, t_{k+1}] at which the flow's dense output is
        evaluated (both ends included, >= 2): X^eta is constant there and x(t)
        moves by O(eta), so the ends carry the sup up to O(eta^2).
    scaling : {"rates", "factors"}, optional
        The scaling under which ``sol.flow`` is the limit of ``traj.opt``
        (:func:`adadyn.flows.limit`'s ``hold``); default: either.
    average : int, optional
        Time-averaged comparison (for central flows, :mod:`adadyn.flows.central`): the
        run is replaced by its centred moving average over ``average`` consecutive
        recorded states, xbar_j = mean(x_j, ..., x_{j+w-1}), placed at the centre of
        its window, (t_j + t_{j+w-1})/2, and compared there with the flow's x; v is
        averaged and compared alike when both sides have it (``gap_v``; ``gap_m`` is
        None). An even window removes
        a period-2 oscillation exactly (x_k = p(t_k) + (-1)^k a averages over w = 2 to
        p at the midpoint up to O(eta^2 p'')). ``gap_x_t`` and ``times`` hold the gap
        at each window centre; ``samples`` is unused. Needs ``record_every=1``.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        When ``traj`` and ``sol`` are on different objectives (``identity()``,
        else object identity), when ``sol.flow`` is not ``flows.limit(traj.opt)``
        under the scaling, or when they start from different points.

    Notes
    -----
    A solution of an order-2 flow (``flows.limit(opt, order=2)``) is compared by
    :func:`adadyn.flows.modified_compare.compare`, which checks it against the run's
    optimiser *and* step size.
    """
    if getattr(getattr(sol, "flow", None), "order", 1) == 2 and average is None:
        # the order-2 flow depends on eta: checked against limit(traj.opt, order=2) there
        from adadyn.flows.modified_compare import compare as compare_modified

        return compare_modified(traj, sol, T=T, samples=samples)
    samples = int(samples)
    if samples < 2:
        raise ValueError(f"samples must be >= 2 (both ends of each step interval), got {samples}")
    if traj.x.shape[0] == 0:
        raise ValueError("traj has no recorded states; run with record_state=True")
    if traj.x.shape[1] != sol.dim:
        raise ValueError(f"traj has dimension {traj.x.shape[1]}, sol {sol.dim}")
    _check_pair(traj, sol, scaling)
    if traj.time[0] != 0:
        raise ValueError(f"traj must start at t = 0 like the flow (it starts at t = {traj.time[0]:g})")
    if not np.allclose(traj.x[0], sol.x[0], rtol=1e-12, atol=1e-12):
        raise ValueError("traj and sol start from different points x0")
    times = np.asarray(traj.time, dtype=np.float64)
    for name, obj, span in (("traj", traj, times[-1]), ("sol", sol, sol.t_end)):
        if not span > 0:
            why = f" (status {obj.status.value}: {obj.message})" if getattr(obj, "message", "") else ""
            raise ValueError(f"{name} covers no time after t = 0, nothing to compare{why}")
    t_hi = min(times[-1], sol.t_end) if T is None else float(T)
    if T is not None and not (0 < T <= min(times[-1], sol.t_end) * (1 + 1e-12)):
        raise ValueError(f"T must be in (0, {min(times[-1], sol.t_end)!r}] (covered by both), got {T!r}")
    if average is not None:
        return _compare_averaged(traj, sol, times, t_hi, average)
    # intervals [t_k, t_{k+1}) with t_k < t_hi; X = x_k there
    k_last = int(np.searchsorted(times, t_hi, side="left"))
    k_last = min(max(k_last, 1), times.shape[0] - 1)
    t_lo = times[:k_last]
    t_up = np.minimum(times[1:k_last + 1], t_hi)
    w = np.linspace(0.0, 1.0, samples)
    grid = t_lo[:, None] + (t_up - t_lo)[:, None] * w[None, :]
    # the piece ends at t_{k+1} from the left: the flow's value there is the limit
    flat = np.minimum(grid.ravel(), sol.t_end)
    xs = sol.x_at(flat).reshape(k_last, samples, -1)
    dx = np.linalg.norm(xs - traj.x[:k_last, None, :], axis=2)
    gap_t = dx.max(axis=1)
    kw, jw = np.unravel_index(int(np.argmax(dx)), dx.shape)
    gap_m = gap_v = None
    if sol.m is not None and traj.m.shape[0]:
        ms = sol.m_at(flat).reshape(k_last, samples, -1)
        gap_m = float(np.linalg.norm(ms - traj.m[:k_last, None, :], axis=2).max())
    if sol.v is not None and traj.v.shape[0]:
        vs = sol.v_at(flat).reshape(k_last, samples, -1)
        gap_v = float(np.linalg.norm(vs - traj.v[:k_last, None, :], axis=2).max())
    return Comparison(T=float(t_hi), gap_x=float(gap_t.max()), gap_m=gap_m, gap_v=gap_v,
                      t_worst=float(grid[kw, jw]), gap_x_nodes=float(dx[:, 0].max()), gap_x_t=gap_t, times=t_lo.copy(), samples=samples,
                      exact_steps=int(getattr(traj, "record_every", 1)) == 1)


def _compare_averaged(traj, sol, times, t_hi, w) -> Comparison:
    """The ``average=w`` mode of :func:`compare` (centred moving average of the run)."""
    if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
        raise ValueError(f"average must be an int >= 1 (steps in the window), got {w!r}")
    if int(getattr(traj, "record_every", 1)) != 1:
        raise ValueError("average needs a run recorded at every step (record_every=1)")
    n = int(np.searchsorted(times, t_hi * (1 + 1e-12), side="right"))
    if n < w:
        raise ValueError(f"average={w} needs at least {w} recorded states in [0, T], got {n}")
    cs = np.cumsum(np.vstack([np.zeros((1, traj.x.shape[1])), traj.x[:n]]), axis=0)
    xbar = (cs[w:] - cs[:-w]) / w
    tc = 0.5 * (times[:n - w + 1] + times[w - 1:n])
    tq = np.minimum(tc, sol.t_end)
    gaps = np.linalg.norm(xbar - sol.x_at(tq), axis=1)
    gap_v = None
    if sol.v is not None and traj.v.shape[0] and sol.v.shape[1] == traj.v.shape[1]:
        cv = np.cumsum(np.vstack([np.zeros((1, traj.v.shape[1])), traj.v[:n]]), axis=0)
        gap_v = float(np.linalg.norm((cv[w:] - cv[:-w]) / w - sol.v_at(tq), axis=1).max())
    j = int(np.argmax(gaps))
    return Comparison(T=float(t_hi), gap_x=float(gaps[j]), gap_m=None, gap_v=gap_v, t_worst=float(tc[j]),
                      gap_x_nodes=float(gaps[j]), gap_x_t=gaps, times=tc, samples=1, exact_steps=True,
                      average=int(w))


def scaled_optimizer(opt, eta: float, scaling: str = "rates"):
    """``opt`` at learning rate ``eta`` with either the memory rates a, b held
    (alpha = 1 - a*eta, beta = 1 - b*eta; Prop. 2) or the factors alpha, beta held
    (Prop. 1)."""
    if scaling not in ("rates", "factors"):
        raise ValueError(f"scaling must be 'rates' or 'factors', got {scaling!r}")
    a, b = opt.coefficients().rates
    if scaling == "factors" or (a is None and b is None):
        return opt.replace(eta=float(eta))
    return opt.with_rates(a=a, b=b, eta=float(eta))


@dataclass(frozen=True, eq=False)
class ConvergenceOrder:
    """Gaps between a discrete optimiser and its flow at several eta, and the fitted order.

    ``order`` is the least-squares slope of log(gap_x) against log(eta) (1 for
    O(eta), Prop. 2); ``constant`` is exp(intercept), so gap ~ constant * eta^order.
    ``gaps_m``/``gaps_v`` are None when the flow has no moments; ``gaps_x_nodes``
    and ``order_nodes`` are the same at the step times only.
    """

    etas: np.ndarray
    gaps_x: np.ndarray
    gaps_x_nodes: np.ndarray
    order_nodes: float
    gaps_m: np.ndarray | None
    gaps_v: np.ndarray | None
    order: float
    constant: float
    scaling: str
    T: float
    flow: object
    comparisons: tuple = field(repr=False, default=())
    flow_solution: object = field(repr=False, default=None)

    def __repr__(self) -> str:
        gs = ", ".join(f"{g:.3e}" for g in self.gaps_x)
        return (f"ConvergenceOrder({self.flow!r}, scaling={self.scaling!r}, T={self.T:g}, "
                f"etas={np.array2string(self.etas, precision=3)}, gaps_x=[{gs}], order={self.order:.3f}, "
                f"order_nodes={self.order_nodes:.3f})")


def _check_etas(etas) -> np.ndarray:
    try:
        arr = np.asarray(etas, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"etas must be a sequence of learning rates, got {etas!r}") from None
    if arr.ndim != 1 or np.any(~np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"etas must be a 1-D sequence of finite learning rates > 0, got {etas!r}")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"etas must be distinct (a repeated step size adds no information to the fit), got {etas!r}")
    if arr.size < 3:
        raise ValueError(f"etas must hold at least 3 distinct learning rates to fit an order, got {arr.size}")
    return np.sort(arr)[::-1]


def _check_memory(d, T, etas, samples, max_bytes):
    """Refuse (or warn about) runs whose recording and comparison grid are too large."""
    import warnings

    from adadyn.flows.budget import MAX_BYTES, WARN_FRACTION, fmt_bytes

    limit = MAX_BYTES if max_bytes is None else int(max_bytes)
    per_step = 8.0 * ((3 * d + 4) + 4 * int(samples) * d)
    steps = T / float(etas.min())
    est = per_step * (steps + 1)
    if est > limit:
        raise ValueError(f"convergence_order would hold ~{fmt_bytes(est)} for the run at eta={etas.min():g} "
                         f"({steps:.3g} steps recorded at d={d}), above max_bytes={fmt_bytes(limit)}; "
                         f"T <= {limit / per_step * float(etas.min()):.4g} fits at these etas")
    if est > WARN_FRACTION * limit:
        warnings.warn(f"convergence_order will hold ~{fmt_bytes(est)} of max_bytes={fmt_bytes(limit)}",
                      ResourceWarning, stacklevel=3)


def _fit(etas, gaps):
    ok = gaps > 0
    if ok.sum() < 2:
        return math.nan, math.nan
    slope, icpt = np.polyfit(np.log(etas[ok]), np.log(gaps[ok]), 1)
    return float(slope), float(math.exp(icpt))


def convergence_order(opt, obj, x0, T: float, etas, *, scaling: str = "rates", rtol: float = 1e-12,
                      atol: float = 1e-14, samples: int = 3, method: str = "DOP853",
                      v0=None, max_bytes: int | None = None) -> ConvergenceOrder:
    """Run ``opt`` at each eta in ``etas`` and fit the order of the gap to its flow.

    With ``scaling="rates"`` the memory rates a = (1 - alpha)/eta, b = (1 - beta)/eta
    of ``opt`` are held as eta changes, and the gap is measured to the RMSprop /
    Adam flow (7)/(8); Prop. 2 gives gap -> 0, and for a smooth start (Adam with
    bias correction, or RMSprop from v0 > 0) the gap is O(eta): order ~ 1. With
    ``scaling="factors"`` alpha, beta are held and the gap is to the eps-sign flow
    (4) (Prop. 1).

    The flow is solved once, at tight tolerance (``rtol=1e-12`` by default, with
    DOP853: on the transient compared here the flows are not stiff, and LSODA
    stalls at rtol = 1e-12; pass ``method="Radau"`` for a stiff stretch), with
    dense output; each run records every step so the sup over [0, T] is exact up to
    the ``samples`` per step.

    Parameters
    ----------
    opt : Optimizer
        Template spec (its eta only sets a, b for ``"rates"``).
    obj : Objective
    x0 : array_like (d,)
    T : float
        Compare on [0, T]; each eta must divide T into an integer number of steps
        (up to rounding, steps = round(T / eta)).
    etas : sequence of float
        At least three distinct learning rates (an order fitted to two points, or
        to repeated ones, is not a measurement).
    v0 : array_like (d,), optional
        Start value of the second moment for RMSprop (both the runs and the flow);
        default 0, as in Prop. 2.
    max_bytes : int, optional
        Memory limit (default :data:`adadyn.flows.budget.MAX_BYTES`, 2 GiB) for one
        run recorded at every step plus its comparison grid: T / min(etas) steps
        of (3 d + 4) recorded numbers and ``samples`` flow evaluations of 4 d.
        Refused above it, with the estimate and the largest T that fits.

    Notes
    -----
    The O(eta) constant grows like the flow's Lipschitz constant: like L/eps for
    the eps-sign flow, and like L/sqrt(v) for the RMSprop/Adam flows, which is large
    once v has decayed near a minimum. Pick T inside the transient (before the
    flow reaches the minimum's O(eps) neighbourhood) to see the asymptotic order at
    practical eta. RMSprop started from v = 0 with small eps moves like
    -sign(g)/sqrt(a t) at first, which a step of size eta resolves only to
    O(sqrt(eta)): its fitted order is then near 1/2, not 1 (Prop. 2 only claims
    the gap vanishes).
    """
    from adadyn.discrete.run import run
    from adadyn.discrete.trajectory import State
    from adadyn.flows import limit, solve

    etas = _check_etas(etas)
    check_positive("T", T)
    _check_memory(obj.dim, T, etas, samples, max_bytes)
    hold = "rates" if scaling == "rates" else "factors"
    opts = [scaled_optimizer(opt, e, scaling) for e in etas]
    flow = limit(opts[0], hold=hold)
    sol = solve(flow, obj, x0, T, rtol=rtol, atol=atol, method=method, v0=v0)
    comps = []
    for o, e in zip(opts, etas):
        steps = int(round(T / e))
        if v0 is None:
            tr = run(o, obj, x0, steps)
        else:
            tr = run(o, obj, steps=steps, state=State.initial(o, x0, v0=v0))
        comps.append(compare(tr, sol, samples=samples, scaling=hold))
    gx = np.array([c.gap_x for c in comps])
    gm = None if comps[0].gap_m is None else np.array([c.gap_m for c in comps])
    gv = None if comps[0].gap_v is None else np.array([c.gap_v for c in comps])
    gn = np.array([c.gap_x_nodes for c in comps])
    order, const = _fit(etas, gx)
    return ConvergenceOrder(etas=etas, gaps_x=gx, gaps_x_nodes=gn, order_nodes=_fit(etas, gn)[0], gaps_m=gm, gaps_v=gv, order=order, constant=const,
                            scaling=scaling, T=float(T), flow=flow, comparisons=tuple(comps),
                            flow_solution=sol)
