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

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import lsq_linear

from adadyn.discrete.run import check_x0
from adadyn.flows.solution import FlowSolution

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


def _snap(obj, x, S, quad_A=None):
    """Newton step on the S components putting g_S back to 0 (exact for quadratics)."""
    if not S.any():
        return x
    g = obj.grad(x)
    H = quad_A if quad_A is not None else obj.hessian(x)
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


def solve_signgd(obj, x0, t_final: float, *, gtol: float | None = None, t_eval=None,
                 zero_tol: float = 1e-12, max_events: int | None = None, rtol: float = 1e-12,
                 atol: float = 1e-14) -> FlowSolution:
    """Solve the signGD flow (5) on [0, t_final] as a Filippov system (see module doc).

    Parameters
    ----------
    obj : Objective
        Time-independent objective; quadratics (``adadyn.objectives.quadratic``)
        take the exact piecewise-linear path.
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

    Returns
    -------
    FlowSolution
        ``stop_time`` is the finite time at which the flow reached a stationary
        point (None if it did not within t_final); ``events['switch_times']``
        the times a component joined or left the sliding set.
    """
    from adadyn.flows.fields import SignGDFlow

    d = obj.dim
    x = check_x0(x0, d)
    t_final = float(t_final)
    max_events = 50 * d + 50 if max_events is None else int(max_events)
    A = getattr(obj, "A", None)
    quad = A is not None and obj.has_hessian
    g = obj.grad(x)
    ztol = zero_tol * max(1.0, float(np.max(np.abs(g))))
    S = np.abs(g) <= ztol
    t = 0.0
    breaks, states, segs, switches = [0.0], [x.copy()], [], []
    nfev = 0
    status, message, stop_time = "ok", f"reached t_final={t_final:g}", None
    n_seg = 0
    while True:
        g = obj.grad(x)
        gn = float(np.linalg.norm(g))
        if gtol is not None and gn <= gtol:
            status, stop_time, message = "stationary", t, f"|grad f| <= gtol={gtol:g} at t={t:.12g}"
            break
        Z = S | (np.abs(g) <= ztol)
        H = A if quad else obj.hessian(x)
        u, S, left = _control(H, g, Z)
        nfev += 1
        if left.any():
            switches.append(t)
        if S.all() or not np.any(u):
            status, stop_time = "stationary", t
            message = f"stationary point reached at t={t:.12g} (|grad f| = {gn:.3g})"
            break
        if t >= t_final:
            break
        if n_seg >= max_events:
            status, message = "failed", f"more than max_events={max_events} switching events before t_final"
            break
        n_seg += 1
        N = ~S
        if quad:
            r = A @ u
            # h_i = -u_i g_i >= 0 off S; it reaches zero where -u_i r_i < 0
            h0 = -u * g
            hd = -u * r
            cand = N & (hd < 0)
            s = np.full(d, np.inf)
            s[cand] = np.maximum(h0[cand], 0.0) / -hd[cand]
            # components that just left sit at h ~ 0: only a later return counts
            s[left & (s <= 0)] = np.inf
            j = int(np.argmin(s))
            dt = min(float(s[j]), t_final - t)
            x = x + dt * u
            t += dt
            segs.append(None)
            if dt == float(s[j]) and np.isfinite(s[j]):
                S[j] = True
                switches.append(t)
                x = _snap(obj, x, S, A)
        else:
            Sf, uN = S.copy(), u[~S].copy()

            def vel(tt, xx, Sf=Sf, uN=uN):
                nonlocal nfev
                nfev += 1
                uu = np.empty(d)
                uu[~Sf] = uN
                if Sf.any():
                    HH = obj.hessian(xx)
                    rhs = -HH[np.ix_(Sf, ~Sf)] @ uN
                    try:
                        uu[Sf] = np.linalg.solve(HH[np.ix_(Sf, Sf)], rhs)
                    except np.linalg.LinAlgError:
                        uu[Sf] = np.linalg.lstsq(HH[np.ix_(Sf, Sf)], rhs, rcond=None)[0]
                return uu

            def hit(tt, xx, Sf=Sf, u0=u.copy()):
                gg = obj.grad(xx)
                h = -u0[~Sf] * gg[~Sf]
                return float(np.min(h)) if h.size else 1.0

            hit.terminal, hit.direction = True, -1

            def saturate(tt, xx, Sf=Sf):
                if not Sf.any():
                    return 1.0
                return 1.0 + _U_TOL - float(np.max(np.abs(vel(tt, xx)[Sf])))

            saturate.terminal, saturate.direction = True, -1
            res = solve_ivp(vel, (t, t_final), x, method="DOP853", rtol=rtol, atol=atol,
                            events=[hit, saturate], dense_output=True)
            segs.append(res.sol)
            x = res.y[:, -1].copy()
            t = float(res.t[-1])
            if res.status == 1:
                switches.append(t)
                if res.t_events[0].size:
                    gg = obj.grad(x)
                    hval = np.where(~S, -u * gg, np.inf)
                    S[int(np.argmin(hval))] = True
                x = _snap(obj, x, S)
            elif res.status < 0:
                status, message = "failed", res.message
                break
        breaks.append(t)
        states.append(x.copy())
    if breaks[-1] < t_final and status != "failed":
        breaks.append(t_final)
        states.append(x.copy())
        segs.append(None)
    dense = _PiecewiseDense(breaks, states, segs if not quad else None)
    T = np.asarray(breaks)
    if t_eval is not None:
        te = np.asarray(t_eval, dtype=np.float64)
        if te.ndim != 1 or np.any(te < 0) or np.any(te > t_final):
            raise ValueError("t_eval must be a 1-D array of times inside [0, t_final]")
        T = np.unique(np.concatenate([T, te]))
    X = dense(T).T
    loss = np.empty(T.size)
    gnorm = np.empty(T.size)
    for k in range(T.size):
        f, gg = obj.value_and_grad(X[k])
        loss[k], gnorm[k] = f, float(np.linalg.norm(gg))
    return FlowSolution(
        flow=SignGDFlow(), t=T, x=X, m=None, v=None, loss=loss, grad_norm=gnorm, status=status,
        message=message, stop_time=stop_time, t_end=float(breaks[-1]), nfev=nfev, njev=0, nlu=0,
        n_steps=n_seg, method="filippov", sol=dense,
        events={"switch_times": np.asarray(switches), "exact": quad}, objective=obj,
    )
