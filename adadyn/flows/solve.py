"""The continuous front door: :func:`solve` a flow on an objective.

Near a stationary point the adaptive flows are stiff: the RMSprop flow linearised
at (x*, v = 0) has eigenvalues -lambda/eps (eq. (11) of Ma, Wu & E), so an
explicit method's step is capped at about 2 eps/lambda_max. The default method is
therefore implicit, fed the analytic Jacobian of :mod:`adadyn.flows.kernels`
(see :func:`default_method`); any ``solve_ivp`` method can be chosen.

The solve reads as a sequence of named steps: check the arguments, find the
start (:func:`adadyn.flows.start.initial_state`, which removes the singular
starts), choose the method and the Jacobian's form (:func:`_plan_method`),
estimate and bound the memory (:func:`adadyn.flows.budget.storage_plan`), build
the callbacks (:class:`_Callbacks`, which account evaluations and time in a
:class:`~adadyn.flows.budget.Budget`), integrate, read the outcome
(:func:`_outcome`) and package the :class:`FlowSolution` (:func:`_package`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from adadyn.flows import kernels as FK
from adadyn.flows.budget import Budget, BudgetExceeded, StoragePlan, lu_seconds, storage_plan
from adadyn.flows.fields import AdamFlow, Flow
from adadyn.flows.krylov import DENSE_JAC_MAX_STATE, KrylovBDF, jacobian_operator
from adadyn.flows.solution import FlowSolution
from adadyn.flows.start import Dense, initial_state
from adadyn.objectives.base import Objective
from adadyn.status import Status
from adadyn.validation import check_int, check_nonnegative, check_objective, check_positive

__all__ = ["solve", "default_method", "initial_state", "METHODS", "SPARSE_MIN_STATE"]

IMPLICIT = ("LSODA", "BDF", "Radau")
METHODS = ("LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853")
#: From this state length on, a separable objective's flow gets a sparse Jacobian
#: (BDF, or Radau for the Adam flow: LSODA takes dense Jacobians only).
SPARSE_MIN_STATE = 600


def default_method(flow: Flow) -> str:
    """The default solver for a flow: Radau for the Adam flow, LSODA otherwise.

    Near a minimum the Adam flow is a stiff *oscillator*: with x' = -m/eps and
    m' = b (H x - m) its eigenvalues are -b/2 +- i sqrt(b lambda/eps), close to the
    imaginary axis, where BDF of order >= 3 (and so LSODA's stiff mode) is
    unstable and crawls (on the 10-d quadratic with a = 100, b = 1000 LSODA and
    BDF spent 2 million evaluations short of t = 5; Radau, A-stable, took 18,500).
    The RMSprop and eps-sign flows have real stiff eigenvalues -lambda/eps (eq. (11)),
    where LSODA with the analytic Jacobian is cheapest. For separable objectives
    with a state of at least :data:`SPARSE_MIN_STATE` entries, BDF replaces LSODA
    so that the Jacobian can be sparse (see :func:`solve`).
    """
    own = getattr(flow, "preferred_method", None)      # order-2 flows (flows/modified.py)
    return own or ("Radau" if isinstance(flow, AdamFlow) else "LSODA")


# ---------------------------------------------------------------------- argument checks
def _check_args(flow, obj, t_final, rtol, atol, gtol, max_norm, max_nfev, time_limit):
    if not isinstance(flow, Flow):
        raise ValueError(f"flow must be a Flow spec (GDFlow(), AdamFlow(a, b, eps), ...), got {type(flow).__name__}")
    check_objective(obj)
    if obj.time_dependent:
        raise ValueError("flows need a time-independent objective; obj is online (time dependent)")
    check_positive("t_final", t_final)
    check_positive("rtol", rtol)
    if not np.all(np.asarray(atol, dtype=np.float64) > 0):
        raise ValueError(f"atol must be > 0, got {atol!r}")
    if gtol is not None:
        check_nonnegative("gtol", gtol)
    if not (isinstance(max_norm, (int, float)) and max_norm > 0):
        raise ValueError(f"max_norm must be a number > 0, got {max_norm!r}")
    if max_nfev is not None:
        check_int("max_nfev", max_nfev, lo=1)
    if time_limit is not None:
        check_positive("time_limit", time_limit)


def _atol_array(flow, atol, n, d):
    """Per-component atol: a scalar applies to x and m, its square to v."""
    atol_arr = np.asarray(atol, dtype=np.float64)
    if atol_arr.ndim == 0:
        atol_arr = np.full(n, float(atol))
        if flow.has_v:
            atol_arr[n - d:] = float(atol) ** 2
    elif atol_arr.shape != (n,):
        raise ValueError(f"atol must be a scalar or have shape ({n},), got {atol_arr.shape}")
    return atol_arr


def _t_eval_array(t_eval, t_final):
    if t_eval is None:
        return None
    t_ev = np.asarray(t_eval, dtype=np.float64)
    if t_ev.ndim != 1 or t_ev.size == 0 or np.any(np.diff(t_ev) <= 0) or t_ev[0] < 0 or t_ev[-1] > t_final:
        raise ValueError("t_eval must be a non-empty increasing array inside [0, t_final]")
    return t_ev


# ---------------------------------------------------------------------- method and Jacobian
@dataclass(frozen=True)
class _MethodPlan:
    method: object          # str or OdeSolver class
    name: str
    implicit: bool
    sparse: bool            # separable objective: sparse Jacobian
    matrix_free: bool = False   # Python objective, long state: BDF with GMRES on J-products


def _plan_method(flow, obj, method, jac, n) -> _MethodPlan:
    """The method, whether it is implicit, and whether its Jacobian is sparse."""
    if isinstance(method, str) and method != "auto" and method not in METHODS:
        raise ValueError(f"method must be 'auto', one of {METHODS} or an OdeSolver class, got {method!r}")
    big_separable = obj.separable and n >= SPARSE_MIN_STATE
    if jac and (method is KrylovBDF or (not getattr(obj, "numba_backed", True) and n > DENSE_JAC_MAX_STATE)):
        return _matrix_free_plan(method, n)
    if method == "auto":
        method = default_method(flow)
        if big_separable and method == "LSODA":
            method = "BDF"
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    implicit = name in IMPLICIT
    sparse = bool(jac and implicit and big_separable and name != "LSODA"
                  and not getattr(flow, "evaluates_itself", False))
    return _MethodPlan(method, name, implicit, sparse)


def _matrix_free_plan(method, n) -> _MethodPlan:
    """A Python objective (a network) with a state longer than DENSE_JAC_MAX_STATE: implicit
    solves are matrix-free (BDF with Newton-Krylov, :class:`adadyn.flows.krylov.KrylovBDF`)."""
    if method in ("auto", "BDF") or method is KrylovBDF:
        return _MethodPlan(KrylovBDF, "BDF (Newton-Krylov)", True, False, True)
    name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
    if name in ("LSODA", "Radau"):
        raise ValueError(f"method={name!r} needs a dense Jacobian, formed for a network objective only up to a "
                         f"state of {DENSE_JAC_MAX_STATE} (DENSE_JAC_MAX_STATE); this state has {n}: use 'BDF' "
                         "(matrix-free Newton-Krylov) or an explicit method ('RK45', 'DOP853')")
    return _MethodPlan(method, name, name in IMPLICIT, False)


class _Callbacks:
    """The right-hand side, Jacobian and events handed to solve_ivp; each call is
    accounted in the :class:`Budget` (evaluations, accepted steps, time)."""

    def __init__(self, flow, obj, budget: Budget, plan: _MethodPlan):
        self.flow, self.obj, self.budget, self.plan = flow, obj, budget, plan
        d = obj.dim
        self.kind, self.p, self.data = flow.kernel_kind, flow.params(), obj.data
        self.numba = getattr(obj, "numba_backed", True)   # else: a Python objective (a network)
        self.rhs_c, self.jac_c = FK.specialised(obj.value_grad_fn, obj.hessian_fn) if self.numba else (None, None)
        self.xs, self.gs = np.empty(d), np.empty(d)
        self.Hs = None if (plan.sparse or not self.numba) else np.empty((d, d))
        self.hvps = [0]
        if plan.sparse:
            k = len(flow.blocks)
            self.k = k
            rows, cols = FK.separable_pattern(d, k)
            n = k * d
            self._coo = (rows, cols)
            self._shape = (n, n)
            self._nz = np.empty(rows.size)

    def fun(self, t, y):
        self.budget.rhs(t, y)
        if getattr(self.flow, "evaluates_itself", False):
            return self.flow.rhs(self.obj, t, y)
        if not self.numba:
            return self.flow.field(y, self.obj.grad(y[:self.obj.dim]), t)
        return self.rhs_c(self.kind, self.p, t, y if y.flags.c_contiguous else np.ascontiguousarray(y),
                          self.data, self.xs, self.gs)

    def jac(self, t, y):
        self.budget.jac()
        y = np.ascontiguousarray(y)
        if self.plan.sparse:
            return self._sparse_jac(t, y)
        if self.plan.matrix_free and not getattr(self.flow, "evaluates_itself", False):
            return jacobian_operator(self.flow, self.obj, t, y, self.hvps)
        if self.jac_c is not None and not getattr(self.flow, "evaluates_itself", False):
            return self.jac_c(self.kind, self.p, t, y, self.data, self.xs, self.gs, self.Hs)
        return self.flow.jacobian(self.obj, t, y)

    def _hessian_diagonal(self, x):
        """diag H(x) of a separable objective: declared, or H 1 by central differences."""
        if self.obj.diagonal is not None:
            return np.ascontiguousarray(self.obj.diagonal, dtype=np.float64)
        h = 1e-6 * max(1.0, float(np.max(np.abs(x))))
        one = np.ones_like(x)
        return (self.obj.grad(x + h * one) - self.obj.grad(x - h * one)) / (2.0 * h)

    def _sparse_jac(self, t, y):
        d = self.obj.dim
        x = y[:d].copy()
        g = self.obj.grad(x)
        FK.jac_separable(self.kind, self.p, float(t), y, g, self._hessian_diagonal(x), self.k, self._nz)
        return sp.csc_matrix((self._nz, self._coo), shape=self._shape)

    def events(self, gtol, max_norm):
        """The divergence event (also the per-step accounting) and the gtol event."""
        budget, obj, d = self.budget, self.obj, self.obj.dim

        def diverge(t, y):
            budget.step(t, y)
            return max_norm - float(np.max(np.abs(y))) if np.all(np.isfinite(y)) else -1.0

        diverge.terminal = True
        out = [diverge]
        if gtol is not None:
            def stationary(t, y):
                g = obj.grad(y[:d].copy())
                return math.sqrt(float(g @ g)) - gtol

            stationary.terminal = True
            stationary.direction = -1
            out.append(stationary)
        return out


# ---------------------------------------------------------------------- outcome and result
@dataclass
class _Raw:
    """What the integration produced, before packaging."""

    T: np.ndarray
    Y: np.ndarray
    dense: Dense
    status: Status
    message: str
    stop_time: float | None
    t_end: float
    n_steps: int
    nlu: int


def _from_budget(exc: BudgetExceeded, budget: Budget, y_zero, t0) -> _Raw:
    """Keep where a solve stopped by a budget got to: the start and the last accepted state."""
    t_last, y_last = budget.t, budget.y
    T = np.array([0.0, t_last]) if t_last > 0 else np.array([0.0])
    Y = np.stack([y_zero, y_last], axis=1)[:, : T.size]
    return _Raw(T, Y, Dense(max(t_last, t0), y_zero, y_last, None), Status.FAILED,
                f"{exc.reason} reached at t={t_last:.6g}", None, t_last, budget.steps, 0)


def _zero_over_zero(flow, obj, y) -> str | None:
    """The message for a solve stopped by a non-finite Jacobian because the field is 0/0, else
    None: eps = 0 and, in some coordinate, the gradient and v (the last ``dim`` entries of the
    state) are exactly 0, so the preconditioned field m / sqrt(v) (or g / sqrt(v)) is undefined.
    The same condition as the discrete run's (:func:`adadyn.discrete.run`)."""
    if getattr(flow, "eps", None) != 0.0 or not getattr(flow, "has_v", False):
        return None
    d = obj.dim
    x, v = np.asarray(y[:d], dtype=float), np.asarray(y[-d:], dtype=float)
    if not np.all(np.isfinite(x)):
        return None
    with np.errstate(all="ignore"):
        zero = (v == 0.0) & (np.asarray(obj.grad(x)) == 0.0)
    if not np.any(zero):
        return None
    return (f"0/0: eps = 0 and, in {int(zero.sum())} of {d} coordinates, the gradient and v are exactly 0 "
            "(x is stationary there), so the field is undefined. Not a divergence: the state stayed finite. "
            "Use eps > 0, or start away from the stationary point.")


def _outcome(res, t_eval, t0, y_zero, y0, gtol, max_norm) -> _Raw:
    """Status, message and the output grid of a finished solve_ivp call."""
    n = y0.shape[0]
    T, Y = res.t, res.y
    dense = Dense(t0, y_zero, y0, res.sol)
    early = np.array([0.0]) if t_eval is None else t_eval
    early = early[early < t0]
    if early.size:                      # the true start t = 0 when the solve began at t0 > 0
        T = np.concatenate([early, T])
        Y = np.concatenate([dense(early).reshape(n, -1), Y], axis=1)
    status, stop_time, message = Status.OK, None, res.message
    if res.status == 1:
        if res.t_events[0].size:
            status, stop_time = Status.DIVERGED, float(res.t_events[0][0])
            message = f"max|y| reached max_norm={max_norm:g} at t={stop_time:.6g}"
        else:
            status, stop_time = Status.CONVERGED, float(res.t_events[1][0])
            message = f"|grad f| reached gtol={gtol:g} at t={stop_time:.6g}"
    elif res.status < 0:
        status = Status.FAILED
    finite = np.all(np.isfinite(Y), axis=0)
    if not np.all(finite):
        status = Status.DIVERGED if status == Status.OK else status
        keep = np.cumprod(finite).astype(bool)
        T, Y = T[keep], Y[:, keep]
        message = "non-finite state (" + message + ")"
    t_end = float(T[-1]) if T.size else t0
    if T.size == 0:
        T, Y = np.array([0.0]), y_zero[:, None]
    return _Raw(T, Y, dense, status, message, stop_time, t_end, res.t.size - 1, res.nlu)


def _losses(obj, X):
    loss = np.empty(X.shape[0])
    gn = np.empty(X.shape[0])
    for k in range(X.shape[0]):
        f, g = obj.value_and_grad(X[k])
        loss[k] = f
        gn[k] = math.sqrt(float(g @ g))
    return loss, gn


def _package(flow, obj, raw: _Raw, budget: Budget, mplan: _MethodPlan, t0: float,
             splan: StoragePlan) -> FlowSolution:
    x, m, v = flow.split(raw.Y, obj.dim)
    m_hat = v_hat = None
    if flow.has_m and getattr(flow, "bias_correction", False):
        m_hat, v_hat = m.T.copy(), v.T.copy()
        m, v = flow.raw_moments(raw.T, m, v)
    loss, gn = _losses(obj, x.T)
    return FlowSolution(
        flow=flow, t=raw.T.copy(), x=x.T.copy(), m=None if m is None else m.T.copy(),
        v=None if v is None else v.T.copy(), loss=loss, grad_norm=gn, status=raw.status,
        message=raw.message, stop_time=raw.stop_time, t_end=raw.t_end, nfev=budget.nfev,
        njev=budget.njev, nlu=int(raw.nlu), n_steps=int(raw.n_steps), method=mplan.name, sol=raw.dense,
        m_hat=m_hat, v_hat=v_hat, objective=obj,
        events={"t0": t0, "sparse_jacobian": mplan.sparse, "elapsed": budget.elapsed(),
                "estimated_bytes": splan.fixed + budget.steps * splan.per_step},
    )


# ---------------------------------------------------------------------- the front door
def solve(flow: Flow, obj: Objective, x0, t_final: float, *, m0=None, v0=None, method="auto",
          rtol: float = 1e-8, atol: float = 1e-10, jac: bool = True, t_eval=None,
          gtol: float | None = None, max_norm: float = 1e12, max_step: float = np.inf,
          max_nfev: int | None = 2_000_000, time_limit: float | None = None,
          max_bytes: int | None = None, **options) -> FlowSolution:
    """Integrate a flow on ``obj`` from ``x0`` over [0, t_final].

    Parameters
    ----------
    flow : Flow
        ``GDFlow()``, ``SignGDFlow()``, ``EpsSignFlow(eps)``, ``RMSpropFlow(a, eps)``,
        ``AdamFlow(a, b, eps)``, e.g. from :func:`adadyn.flows.limit`; or a
        :class:`~adadyn.flows.central.CentralFlow` from :func:`adadyn.flows.central`,
        solved by :func:`~adadyn.flows.central.solve_central` (which takes ``v0`` and
        its own options through ``**options``: ``substeps``, ``max_steps``,
        ``dense_max``; the solve_ivp options here do not apply).
    obj : Objective
        Time-independent objective. Its Hessian (exact, or finite differences when
        it has none) gives the analytic Jacobian of the field.
    x0 : array_like (d,)
        Start point; m0, v0 default to 0 (v0 only for the RMSprop flow and Adam
        without bias correction).
    t_final : float
        End time (continuous time, t = eta * steps).
    method : str or scipy OdeSolver class
        Any ``solve_ivp`` method, or ``"auto"`` (default: :func:`default_method`,
        Radau for the Adam flow and LSODA otherwise; BDF instead of LSODA for a
        separable objective with a state of at least :data:`SPARSE_MIN_STATE`
        entries). Implicit methods ("LSODA", "BDF", "Radau") get the analytic
        Jacobian unless ``jac=False``; for a separable objective (declared
        ``obj.separable``) with a large state, BDF and Radau get it as a sparse
        matrix (k^2 d nonzeros for k state blocks), so no dense n x n matrix is
        built. Ignored for the signGD flow, which is solved as a Filippov system
        (:func:`adadyn.flows.filippov.solve_signgd`). For an objective with
        ``numba_backed = False`` (a network, :func:`adadyn.nn.objective`) the field and
        the dense Jacobian come from its Python methods, and above a state of
        :data:`adadyn.flows.krylov.DENSE_JAC_MAX_STATE` the implicit solve is
        matrix-free: BDF with GMRES on Jacobian-vector products
        (:class:`adadyn.flows.krylov.KrylovBDF`, also selectable as ``method``).
    rtol, atol : float
        Solver tolerances. A scalar ``atol`` applies to x and m; the v block gets
        ``atol**2``: v ~ g^2 enters the field through 1/sqrt(v), so it needs
        relative accuracy down to v ~ atol^2. An array of length ``n_state`` is
        used as given.
    t_eval : array_like, optional
        Output times (default: the solver's steps). Dense output is always kept.
    gtol : float, optional
        Stop with status ``'converged'`` once |grad f(x)| <= gtol (event).
    max_norm : float
        Stop with status ``'diverged'`` once max|y| >= max_norm (event).
    max_step : float
        Largest step the solver may take.
    max_nfev, time_limit : int, float, optional
        Give up (status ``'failed'``, keeping the last accepted state) after this
        many right-hand-side evaluations or seconds; None for no limit. Both are
        checked inside every right-hand-side and Jacobian call. The time check is
        also predictive (:class:`adadyn.flows.budget.Budget`): the solve stops
        when the elapsed time plus the longest stretch between two callbacks
        seen so far would pass the limit, so the overrun is at most one stretch
        longer than every earlier one (for a dense implicit method, in practice
        the first LU factorisation; measured margins in ``docs/flows.md``).
    max_bytes : int, optional
        Memory limit (default :data:`adadyn.flows.budget.MAX_BYTES`, 2 GiB): the
        dense matrices of an implicit method and the ``t_eval`` output are
        estimated first and the solve is refused (ValueError with the estimate
        and what fits) above it, with a ResourceWarning above 1/8 of it; the
        dense output of the solver's steps is capped at run time (status
        ``'failed'``). See :mod:`adadyn.flows.budget`.
    **options
        Passed to ``solve_ivp`` (``first_step``, ``min_step``, ...).

    Returns
    -------
    FlowSolution
    """
    if getattr(flow, "central", False):            # central flows: adadyn.flows.central
        from adadyn.flows.central import solve_central

        return solve_central(flow, obj, x0, t_final, v0=v0, **options)
    _check_args(flow, obj, t_final, rtol, atol, gtol, max_norm, max_nfev, time_limit)
    t_final = float(t_final)
    t_ev = _t_eval_array(t_eval, t_final)
    if flow.filippov:
        from adadyn.flows.filippov import solve_signgd

        return solve_signgd(obj, x0, t_final, gtol=gtol, t_eval=t_ev, time_limit=time_limit,
                            max_bytes=max_bytes)
    t0, y0, y_zero = initial_state(flow, obj, x0, m0, v0, t_final)
    n, d = y0.shape[0], obj.dim
    mplan = _plan_method(flow, obj, method, jac, n)
    splan = storage_plan(n, d, mplan.name, dense_jacobian=bool(jac and mplan.implicit and not mplan.sparse
                                                              and not mplan.matrix_free),
                         n_t_eval=None if t_ev is None else t_ev.size, max_bytes=max_bytes)
    budget = Budget(max_nfev, time_limit, splan, t0, y0)
    if splan.matrices:                  # an optimistic first-factorisation time (see budget.FLOP_RATE)
        budget.expect_gap(lu_seconds(n, mplan.name))
    cb = _Callbacks(flow, obj, budget, mplan)
    kw = dict(options)
    if jac and mplan.implicit:
        kw["jac"] = cb.jac
    try:
        with np.errstate(all="ignore"):
            res = solve_ivp(cb.fun, (t0, t_final), y0, method=mplan.method, rtol=rtol,
                            atol=_atol_array(flow, atol, n, d), dense_output=True,
                            t_eval=None if t_ev is None else t_ev[t_ev >= t0],
                            events=cb.events(gtol, max_norm), max_step=max_step, **kw)
    except BudgetExceeded as exc:
        raw = _from_budget(exc, budget, y_zero, t0)
    except ValueError as exc:           # a non-finite Jacobian reached the solver's LU
        if "inf" not in str(exc).lower() and "nan" not in str(exc).lower():
            raise
        raw = _from_budget(BudgetExceeded(f"non-finite Jacobian ({exc})"), budget, y_zero, t0)
        why = _zero_over_zero(flow, obj, raw.Y[:, -1])
        raw.status, raw.message = (Status.FAILED, why) if why else (Status.DIVERGED, raw.message)
    else:
        raw = _outcome(res, t_ev, t0, y_zero, y0, gtol, max_norm)
    sol = _package(flow, obj, raw, budget, mplan, t0, splan)
    if mplan.matrix_free:
        sol.events["hvps"] = cb.hvps[0]     # Hessian-vector products of the GMRES iterations
    return sol
