"""The signGD flow x' = -sign(grad f(x)) (eq. (5) of Ma, Wu & E) as a Filippov system.

The field jumps on the switching surfaces {g_i = 0}. Integrating it as an ODE
chatters: each time a component crosses zero the solver shrinks its step until
it gives up, and the flow never "stops". Here it is solved as a Filippov system
with the sliding motion given by the equivalent control:

* the components are split into an active set S (g_i = 0, held there) and the
  rest N, where u_i = -sign(g_i);
* on S the velocity u_S in [-1, 1]^|S| keeps the gradient on the surfaces,
  d/dt g_S = H_SS u_S + H_SN u_N = 0 (the equivalent control);
* which of the components with g_i = 0 slide and which cross is decided
  jointly: u on the zero set solves a box-constrained QP whose KKT conditions
  are Filippov's (see :func:`_control`); a crossing component gets u_j = +-1
  and g_j leaves zero with the sign -u_j, consistent with u_j = -sign(g_j);
* a component of N joins S when its g_i reaches zero (an event, located by the
  solver or, for quadratics, in closed form); the flow stops when S holds every
  component (then grad f = 0) or |grad f| <= gtol.

The event "a component reaches its surface" watches the margins h_j = -u_j g_j
(> 0 while g_j has the sign u_j pushes against). A component that has just left
its surface starts with h_j = 0 up to rounding, possibly -1e-16: a single event
function min_j h_j would then start negative and miss the next true crossing
whenever the solver steps over it in one step (it did, depending on the
platform's rounding). The margins of the components that just left are
therefore offset by 2 zero_tol (:func:`_margins`), so the event function is
strictly positive at the start of every segment and its first zero is the
first real arrival; a component that leaves and comes back within one segment
is caught within zero_tol of its surface and snapped onto it.

For a quadratic objective the Hessian is constant, so between events the
velocity is constant, x is piecewise linear and every event time is found in
closed form: on f = c x^2 the flow stops at exactly T = x0 after one segment.
Otherwise each segment is integrated with DOP853 (the field is smooth between
events), with the equivalent control recomputed from the Hessian at every
evaluation and an event when a sliding component saturates (|u_i| = 1).
At each event the state is snapped back onto {g_S = 0} by a Newton step on the
S components, so drift along the surfaces does not accumulate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import lsq_linear

from adadyn.flows.budget import Budget, BudgetExceeded, storage_plan
from adadyn.flows.solution import FlowSolution
from adadyn.status import Status
from adadyn.validation import check_x0

_U_TOL = 1e-9


def _control(H, g, Z):
    """Filippov velocity at a point whose zero set (g_i = 0) is ``Z``.

    Off Z, u_i = -sign(g_i). On Z the velocity solves the box-constrained QP
    min_{u_Z in [-1, 1]^|Z|} u^T H u / 2 (u_N fixed), whose KKT conditions are
    exactly Filippov's: (H u)_i = 0 where |u_i| < 1 (the component slides,
    d/dt g_i = 0: the equivalent control), and u_i (H u)_i <= 0 where |u_i| = 1
    (the component leaves the surface towards the side where -sign(g_i) = u_i).
    With H_ZZ positive definite (Cholesky H_ZZ = L L^T) it is the bounded least
    squares problem min |L^T u_Z + L^{-1} H_ZN u_N| solved exactly by BVLS.

    Returns (u, S, left): the sliding set S (subset of Z) and the leaving set Z \\ S.
    """
    d = g.shape[0]
    u = np.zeros(d)
    N = ~Z
    u[N] = -np.sign(g[N])
    if not Z.any():
        return u, Z.copy(), np.zeros(d, dtype=bool)
    HZZ = H[np.ix_(Z, Z)]
    c = H[np.ix_(Z, N)] @ u[N] if N.any() else np.zeros(int(Z.sum()))
    try:
        Lc = np.linalg.cholesky(HZZ)
        b = -np.linalg.solve(Lc, c)
        uZ = np.clip(lsq_linear(Lc.T, b, bounds=(-1.0, 1.0), method="bvls", tol=1e-14).x, -1.0, 1.0)
    except np.linalg.LinAlgError:
        # indefinite H_ZZ (non-convex f): equivalent control, saturating components dropped one by one
        S = Z.copy()
        while S.any():
            idx = np.flatnonzero(S)
            uS = np.linalg.lstsq(H[np.ix_(S, S)], -H[np.ix_(S, ~S)] @ u[~S], rcond=None)[0]
            if np.abs(uS).max() <= 1.0 + _U_TOL:
                u[S] = np.clip(uS, -1.0, 1.0)
                break
            j = int(np.argmax(np.abs(uS)))
            u[idx[j]] = math.copysign(1.0, uS[j])
            S[idx[j]] = False
        uZ = u[Z]
    u[Z] = uZ
    rate = H @ u
    scale = max(1.0, float(np.abs(H).max()))
    S = Z & ((np.abs(u) < 1.0 - _U_TOL) | (np.abs(rate) <= 1e-9 * scale))
    return u, S, Z & ~S


def _snap(obj, x, S, H=None):
    """Newton step on the S components putting g_S back to 0 (exact for quadratics,
    whose constant Hessian is passed as ``H``)."""
    if not S.any():
        return x
    g = obj.grad(x)
    H = H if H is not None else obj.hessian(x)
    HSS = H[np.ix_(S, S)]
    try:
        dx = np.linalg.solve(HSS, -g[S])
    except np.linalg.LinAlgError:
        dx = np.linalg.lstsq(HSS, -g[S], rcond=None)[0]
    x = x.copy()
    x[S] += dx
    return x


class _PiecewiseDense:
    """Dense output of the Filippov solution: linear pieces (quadratics) or the
    segments' own interpolants, constant after the stop time."""

    def __init__(self, breaks, states, segments=None):
        self.breaks = np.asarray(breaks)
        self.states = np.asarray(states)          # (n_breaks, d)
        self.segments = segments                  # list of OdeSolution or None (linear)

    def __call__(self, t):
        t = np.asarray(t, dtype=np.float64)
        scalar = t.ndim == 0
        ta = np.atleast_1d(t)
        d = self.states.shape[1]
        out = np.empty((d, ta.shape[0]))
        nb = self.breaks.shape[0]
        k = np.clip(np.searchsorted(self.breaks, ta, side="right") - 1, 0, nb - 1)
        last = k >= nb - 1
        out[:, last] = self.states[-1][:, None]
        for seg in np.unique(k[~last]):
            sel = (k == seg) & ~last
            t0, t1 = self.breaks[seg], self.breaks[seg + 1]
            if self.segments is not None and self.segments[seg] is not None:
                out[:, sel] = self.segments[seg](ta[sel])
            else:
                w = (ta[sel] - t0) / (t1 - t0) if t1 > t0 else np.zeros(sel.sum())
                out[:, sel] = self.states[seg][:, None] * (1 - w) + self.states[seg + 1][:, None] * w
        return out[:, 0] if scalar else out


def _margins(g, u, S, left, ztol):
    """Event margins of the components off the sliding set (see the module doc):
    h_j = -u_j g_j, offset by 2 ztol for the components that just left their
    surface; +inf on S."""
    h = np.where(S, np.inf, -u * g)
    return np.where(left & ~S, h + 2.0 * ztol, h)


def _constant_hessian(obj):
    """The Hessian of a declared quadratic (matrix or diagonal), else None."""
    if obj.A is not None:
        return np.asarray(obj.A, dtype=np.float64)
    if obj.diagonal is not None:
        return np.diag(np.asarray(obj.diagonal, dtype=np.float64))
    return None


@dataclass
class _Walk:
    """The solution so far: segment break times, states, per-segment interpolants."""

    obj: object
    t_final: float
    ztol: float
    A: np.ndarray | None
    budget: Budget
    t: float = 0.0
    x: np.ndarray = None
    S: np.ndarray = None
    breaks: list = dc_field(default_factory=list)
    states: list = dc_field(default_factory=list)
    segs: list = dc_field(default_factory=list)
    switches: list = dc_field(default_factory=list)
    n_seg: int = 0

    def hessian(self, x):
        self.budget.jac()
        return self.A if self.A is not None else self.obj.hessian(x)

    def close(self, seg):
        """End a segment at (t, x) with interpolant ``seg`` (None: linear)."""
        self.segs.append(seg)
        self.breaks.append(self.t)
        self.states.append(self.x.copy())
        self.budget.step(self.t, self.x)


def _quadratic_segment(w: _Walk, g, u, left):
    """Closed-form segment of a quadratic: constant velocity u until the first
    component off S reaches its surface (h_j(t) = h_j + t hd_j = 0) or t_final."""
    A, S = w.A, w.S
    N = ~S
    hd = -u * (A @ u)
    h0 = -u * g
    s = np.full(g.shape[0], np.inf)
    cand = N & (hd < 0)
    s[cand] = np.maximum(h0[cand], 0.0) / -hd[cand]
    s[left & (s <= 0)] = np.inf           # just left, h ~ 0: only a later return counts
    j = int(np.argmin(s))
    dt = min(float(s[j]), w.t_final - w.t)
    w.x = w.x + dt * u
    w.t += dt
    if dt == float(s[j]) and np.isfinite(s[j]):
        w.S[j] = True
        w.switches.append(w.t)
        w.x = _snap(w.obj, w.x, w.S, A)
    w.close(None)


def _sliding_velocity(w: _Walk, S, uN):
    """x' on a smooth segment: u_N fixed, u_S the equivalent control
    H_SS u_S = -H_SN u_N recomputed from the Hessian at every evaluation."""
    d = S.shape[0]

    def vel(tt, xx):
        w.budget.rhs(tt, xx)
        uu = np.empty(d)
        uu[~S] = uN
        if S.any():
            HH = w.hessian(xx)
            rhs = -HH[np.ix_(S, ~S)] @ uN
            try:
                uu[S] = np.linalg.solve(HH[np.ix_(S, S)], rhs)
            except np.linalg.LinAlgError:
                uu[S] = np.linalg.lstsq(HH[np.ix_(S, S)], rhs, rcond=None)[0]
        return uu

    return vel


def _smooth_segment(w: _Walk, u, left, rtol, atol):
    """One segment of a non-quadratic objective, integrated with DOP853 until a
    component reaches its surface (event on :func:`_margins`), a sliding
    component saturates (|u_i| = 1) or t_final. Returns solve_ivp's message on failure."""
    S, obj, ztol = w.S.copy(), w.obj, w.ztol
    vel = _sliding_velocity(w, S, u[~S].copy())
    u0, lft = u.copy(), left.copy()

    def hit(tt, xx):
        return float(np.min(_margins(obj.grad(xx), u0, S, lft, ztol))) if (~S).any() else 1.0

    def saturate(tt, xx):
        return 1.0 + _U_TOL - float(np.max(np.abs(vel(tt, xx)[S]))) if S.any() else 1.0

    hit.terminal, hit.direction = True, -1
    saturate.terminal, saturate.direction = True, -1
    res = solve_ivp(vel, (w.t, w.t_final), w.x, method="DOP853", rtol=rtol, atol=atol,
                    events=[hit, saturate], dense_output=True)
    if res.status < 0:
        return res.message
    w.x, w.t = res.y[:, -1].copy(), float(res.t[-1])
    if res.status == 1:
        w.switches.append(w.t)
        if res.t_events[0].size:
            w.S[int(np.argmin(_margins(obj.grad(w.x), u0, S, lft, ztol)))] = True
        w.x = _snap(obj, w.x, w.S)
    w.close(res.sol)
    return None


def _stop_reason(w: _Walk, g, gtol, u, max_events):
    """Status and message if the walk ends here, else None."""
    gn = float(np.linalg.norm(g))
    if gtol is not None and gn <= gtol:
        return Status.CONVERGED, f"|grad f| <= gtol={gtol:g} at t={w.t:.12g}"
    if w.S.all() or not np.any(u):
        return Status.CONVERGED, f"stationary point reached at t={w.t:.12g} (|grad f| = {gn:.3g})"
    if w.t >= w.t_final:
        return Status.OK, f"reached t_final={w.t_final:g}"
    if w.n_seg >= max_events:
        return Status.FAILED, f"more than max_events={max_events} switching events before t_final"
    return None


def _walk(w: _Walk, gtol, max_events, rtol, atol):
    """Segments until a stop: returns (status, message, stop_time)."""
    while True:
        g = w.obj.grad(w.x)
        Z = w.S | (np.abs(g) <= w.ztol)
        if gtol is not None and float(np.linalg.norm(g)) <= gtol:
            return Status.CONVERGED, f"|grad f| <= gtol={gtol:g} at t={w.t:.12g}", w.t
        u, w.S, left = _control(w.hessian(w.x), g, Z)
        w.budget.rhs(w.t, w.x)
        if left.any():
            w.switches.append(w.t)
        stop = _stop_reason(w, g, gtol, u, max_events)
        if stop is not None:
            return stop[0], stop[1], (w.t if stop[0] == Status.CONVERGED else None)
        w.n_seg += 1
        if w.A is not None:
            _quadratic_segment(w, g, u, left)
        else:
            failure = _smooth_segment(w, u, left, rtol, atol)
            if failure is not None:
                return Status.FAILED, failure, None


def _package(w: _Walk, status, message, stop_time, t_eval) -> FlowSolution:
    from adadyn.flows.fields import SignGDFlow

    if w.breaks[-1] < w.t_final and status != Status.FAILED:
        w.breaks.append(w.t_final)
        w.states.append(w.x.copy())
        w.segs.append(None)
    dense = _PiecewiseDense(w.breaks, w.states, w.segs if w.A is None else None)
    T = np.asarray(w.breaks)
    if t_eval is not None:
        T = np.unique(np.concatenate([T, t_eval]))
    X = dense(T).T
    loss, gnorm = np.empty(T.size), np.empty(T.size)
    for k in range(T.size):
        f, gg = w.obj.value_and_grad(X[k])
        loss[k], gnorm[k] = f, float(np.linalg.norm(gg))
    return FlowSolution(
        flow=SignGDFlow(), t=T, x=X, m=None, v=None, loss=loss, grad_norm=gnorm, status=status,
        message=message, stop_time=stop_time, t_end=float(w.breaks[-1]), nfev=w.budget.nfev,
        njev=w.budget.njev, nlu=0, n_steps=w.n_seg, method="filippov", sol=dense,
        events={"switch_times": np.asarray(w.switches), "exact": w.A is not None,
                "elapsed": w.budget.elapsed()}, objective=w.obj,
    )


def solve_signgd(obj, x0, t_final: float, *, gtol: float | None = None, t_eval=None,
                 zero_tol: float = 1e-12, max_events: int | None = None, rtol: float = 1e-12,
                 atol: float = 1e-14, time_limit: float | None = None,
                 max_bytes: int | None = None) -> FlowSolution:
    """Solve the signGD flow (5) on [0, t_final] as a Filippov system (see module doc).

    Parameters
    ----------
    obj : Objective
        Time-independent objective; declared quadratics (``obj.A`` or
        ``obj.diagonal``) take the exact piecewise-linear path.
    x0 : array_like (d,)
    t_final : float
    gtol : float, optional
        Also stop once |grad f| <= gtol.
    t_eval : array_like, optional
        Extra output times (the event times are always included).
    zero_tol : float
        A gradient component with |g_i| <= zero_tol * max(1, |g(x0)|_inf) counts as zero.
    max_events : int, optional
        Give up (status ``'failed'``) after this many segments; default 50 d + 50.
    rtol, atol : float
        Tolerances of the per-segment DOP853 solves (non-quadratic objectives).
    time_limit : float, optional
        Give up (status ``'failed'``) after this many seconds, checked in every
        velocity evaluation and between segments.
    max_bytes : int, optional
        Memory limit for ``t_eval`` and the stored segments (see :mod:`adadyn.flows.budget`).

    Returns
    -------
    FlowSolution
        ``stop_time`` is the finite time at which the flow reached a stationary
        point (None if it did not within t_final); ``events['switch_times']``
        the times a component joined or left the sliding set.
    """
    d = obj.dim
    x = check_x0(x0, d)
    t_final = float(t_final)
    max_events = 50 * d + 50 if max_events is None else int(max_events)
    te = None
    if t_eval is not None:
        te = np.asarray(t_eval, dtype=np.float64)
        if te.ndim != 1 or np.any(te < 0) or np.any(te > t_final):
            raise ValueError("t_eval must be a 1-D array of times inside [0, t_final]")
    plan = storage_plan(d, d, "DOP853", dense_jacobian=False, n_t_eval=None if te is None else te.size,
                        max_bytes=max_bytes)
    g = obj.grad(x)
    ztol = zero_tol * max(1.0, float(np.max(np.abs(g))))
    w = _Walk(obj, t_final, ztol, _constant_hessian(obj), Budget(None, time_limit, plan, 0.0, x),
              x=x, S=np.abs(g) <= ztol, breaks=[0.0], states=[x.copy()])
    try:
        status, message, stop_time = _walk(w, gtol, max_events, rtol, atol)
    except BudgetExceeded as exc:
        status, message, stop_time = Status.FAILED, f"{exc.reason} reached at t={w.t:.6g}", None
    return _package(w, status, message, stop_time, te)
