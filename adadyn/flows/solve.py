"""The continuous front door: :func:`solve` a flow on an objective.

Near a stationary point the adaptive flows are stiff: the RMSprop flow linearised
at (x*, v = 0) has eigenvalues -lambda/eps (eq. (11) of Ma, Wu & E), so an
explicit method's step is capped at about 2 eps/lambda_max. The default method is
therefore implicit, fed the analytic Jacobian of :mod:`adadyn.flows.kernels`:
LSODA (switches between Adams and BDF on its own) for the RMSprop, eps-sign and
gradient flows, Radau for the Adam flow (see :func:`default_method`); any
``solve_ivp`` method can be chosen.

Two starts are singular and are removed analytically (:func:`initial_state`):

* Adam with bias correction from m = v = 0: eq. (8) is 0/0 at t = 0. The
  bias-corrected moments m_hat, v_hat tend to g0 = grad f(x0) and g0^2, and
  their equations m_hat' = b (g - m_hat)/(1 - e^{-bt}) have a 1/t coefficient
  multiplying a difference that is O(t). The solve starts at t0 = delta (tiny)
  from the Taylor values m_hat = g0 + delta g0'/2, v_hat = g0^2 + delta g0 g0',
  x = x0 + delta u0 + delta^2 x''(0)/2 with u0 = -g0/(|g0| + eps),
  g0' = H(x0) u0 and x''(0) = -(g0'/2) eps/(|g0| + eps)^2 (componentwise).
  Errors in m_hat, v_hat at t0 decay like t0/t along the flow (the homogeneous
  part of m_hat' = -m_hat/t); the error left in x is O(delta^3).
* RMSprop from v_i = 0 with g_i != 0: x_i' ~ -sign(g_i)/sqrt(a t) as t -> 0, an
  integrable singularity. The solve starts at t0 = delta with the gradient frozen
  on [0, delta], where v and x have closed forms (error O(L delta / (a |g|))).

On [0, t0] the dense output interpolates linearly between the two states.
"""
from __future__ import annotations

import math
import time

import numpy as np
from scipy.integrate import solve_ivp

from adadyn.discrete.run import check_x0
from adadyn.flows import kernels as FK
from adadyn.flows.fields import AdamFlow, Flow, RMSpropFlow
from adadyn.flows.solution import FlowSolution
from adadyn.objectives.base import Objective

IMPLICIT = ("LSODA", "BDF", "Radau")
METHODS = ("LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853")


def _check_common(flow, obj, t_final):
    if not isinstance(flow, Flow):
        raise ValueError(f"flow must be a Flow spec (GDFlow(), AdamFlow(a, b, eps), ...), got {type(flow).__name__}")
    if not isinstance(obj, Objective):
        raise ValueError(f"obj must be an adadyn Objective, got {type(obj).__name__}")
    if obj.time_dependent:
        raise ValueError("flows need a time-independent objective; obj is online (time dependent)")
    if not (isinstance(t_final, (int, float, np.floating)) and math.isfinite(t_final) and t_final > 0):
        raise ValueError(f"t_final must be a finite number > 0, got {t_final!r}")


def _rmsprop_x_integral(g, v0, eps, a, delta):
    """int_0^delta dt / (sqrt(v(t)) + eps) with v(t) = v0 e^{-at} + (1 - e^{-at}) g^2,
    closed form for v0 = 0 (using 1 - e^{-at} ~ a t, valid for a*delta << 1), first
    order in delta otherwise."""
    den = np.sqrt(v0) + eps
    out = np.where(den > 0, delta / np.where(den > 0, den, 1.0), 0.0)
    zero = (v0 == 0) & (g != 0)
    if np.any(zero):
        c = np.sqrt(a) * np.abs(g[zero])
        sd = math.sqrt(delta)
        if eps == 0:
            val = 2.0 * sd / c
        else:
            z = c * sd / eps
            # (2 eps/c^2)(z - log1p z), by its series where z - log1p(z) cancels
            small = z < 1e-3
            zs = np.where(small, z, 0.0)
            series = (eps / c**2) * 2.0 * (zs**2 / 2 - zs**3 / 3 + zs**4 / 4 - zs**5 / 5)
            zl = np.where(small, 1.0, z)
            direct = 2.0 * sd / c - (2.0 * eps / c**2) * np.log1p(zl)
            val = np.where(small, series, direct)
        out[zero] = val
    return out


def initial_state(flow: Flow, obj: Objective, x0, m0=None, v0=None, t_final: float = 1.0):
    """Where the numerical solve starts: ``(t0, y0, y_zero)``.

    ``y_zero`` is the state at t = 0 in the integrated variables (for the Adam flow
    with bias correction: x0, m_hat(0+) = g0, v_hat(0+) = g0^2); ``y0`` the state at
    ``t0``, which is 0 except for the two singular starts described in
    :mod:`adadyn.flows.solve`, where it is a tiny delta with the exact small-time
    values.
    """
    d = obj.dim
    x0 = check_x0(x0, d)
    m0 = None if m0 is None else check_x0(m0, d, "m0")
    v0 = None if v0 is None else check_x0(v0, d, "v0")
    if m0 is not None and not flow.has_m:
        raise ValueError(f"m0 given but {flow.name} has no first moment")
    if v0 is not None and not flow.has_v:
        raise ValueError(f"v0 given but {flow.name} has no second moment")
    if v0 is not None and np.any(v0 < 0):
        raise ValueError("v0 must be >= 0 componentwise")
    if isinstance(flow, AdamFlow) and flow.bias_correction:
        if (m0 is not None and np.any(m0 != 0)) or (v0 is not None and np.any(v0 != 0)):
            raise ValueError("the bias-corrected Adam flow (8) starts from m = v = 0; "
                             "pass bias_correction=False to start from other m0, v0")
        eps, a, b = flow.eps, flow.a, flow.b
        delta = 1e-9 * min(1.0, 1.0 / a, 1.0 / b, t_final)
        g0 = obj.grad(x0)
        H0 = obj.hessian(x0)
        den = np.abs(g0) + eps
        safe = den > 0
        u0 = np.where(safe, -g0 / np.where(safe, den, 1.0), 0.0)
        gdot = H0 @ u0
        xdd = np.where(safe, -0.5 * gdot * eps / np.where(safe, den, 1.0) ** 2, 0.0)
        y_zero = np.concatenate([x0, g0, g0 * g0])
        y0 = np.concatenate([x0 + delta * u0 + 0.5 * delta**2 * xdd,
                             g0 + 0.5 * delta * gdot, g0 * g0 + delta * g0 * gdot])
        return delta, y0, y_zero
    parts = [x0]
    if flow.has_m:
        parts.append(np.zeros(d) if m0 is None else m0)
    if flow.has_v:
        parts.append(np.zeros(d) if v0 is None else v0)
    y_zero = np.concatenate(parts)
    if isinstance(flow, RMSpropFlow):
        vv = np.zeros(d) if v0 is None else v0
        g0 = obj.grad(x0)
        if np.any((vv == 0) & (g0 != 0)):
            a, eps = flow.a, flow.eps
            delta = 1e-12 * min(1.0, 1.0 / a, t_final)
            ea = -math.expm1(-a * delta)
            v_d = vv * (1.0 - ea) + ea * g0 * g0
            x_d = x0 - g0 * _rmsprop_x_integral(g0, vv, eps, a, delta)
            return delta, np.concatenate([x_d, v_d]), y_zero
    return 0.0, y_zero.copy(), y_zero


class _Dense:
    """Dense output on [0, t_end]: the solver's interpolant on [t0, t_end], a line on [0, t0]."""

    def __init__(self, t0, y_zero, y0, ode_sol):
        self.t0, self.y_zero, self.y0, self.ode_sol = t0, y_zero, y0, ode_sol

    def __call__(self, t):
        t = np.asarray(t, dtype=np.float64)
        scalar = t.ndim == 0
        ta = np.atleast_1d(t)
        out = np.empty((self.y0.shape[0], ta.shape[0]))
        early = ta < self.t0
        if np.any(early):
            w = ta[early] / self.t0
            out[:, early] = self.y_zero[:, None] * (1 - w) + self.y0[:, None] * w
        if np.any(~early):
            out[:, ~early] = self.ode_sol(ta[~early]) if self.ode_sol is not None else self.y0[:, None]
        return out[:, 0] if scalar else out


def _losses(obj, X):
    loss = np.empty(X.shape[0])
    gn = np.empty(X.shape[0])
    for k in range(X.shape[0]):
        f, g = obj.value_and_grad(X[k])
        loss[k] = f
        gn[k] = math.sqrt(float(g @ g))
    return loss, gn


def default_method(flow: Flow) -> str:
    """The default solver for a flow: Radau for the Adam flow, LSODA otherwise.

    Near a minimum the Adam flow is a stiff *oscillator*: with x' = -m/eps and
    m' = b (H x - m) its eigenvalues are -b/2 +- i sqrt(b lambda/eps), close to the
    imaginary axis, where BDF of order >= 3 (and so LSODA's stiff mode) is
    unstable and crawls (on the 10-d quadratic with a = 100, b = 1000 LSODA and
    BDF spent 2 million evaluations short of t = 5; Radau, A-stable, took 18,500).
    The RMSprop and eps-sign flows have real stiff eigenvalues -lambda/eps (eq. (11)),
    where LSODA with the analytic Jacobian is cheapest.
    """
    return "Radau" if isinstance(flow, AdamFlow) else "LSODA"


def solve(flow: Flow, obj: Objective, x0, t_final: float, *, m0=None, v0=None, method="auto",
          rtol: float = 1e-8, atol: float = 1e-10, jac: bool = True, t_eval=None,
          gtol: float | None = None, max_norm: float = 1e12, max_step: float = np.inf,
          max_nfev: int | None = 2_000_000, time_limit: float | None = None, **options) -> FlowSolution:
    """Integrate a flow on ``obj`` from ``x0`` over [0, t_final].

    Parameters
    ----------
    flow : Flow
        ``GDFlow()``, ``SignGDFlow()``, ``EpsSignFlow(eps)``, ``RMSpropFlow(a, eps)``,
        ``AdamFlow(a, b, eps)``, e.g. from :func:`adadyn.flows.limit`.
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
        Radau for the Adam flow and LSODA otherwise). Implicit methods ("LSODA",
        "BDF", "Radau") get the analytic Jacobian unless ``jac=False``. Ignored for
        the signGD flow, which is solved as a Filippov system
        (:func:`adadyn.flows.filippov.solve_signgd`).
    rtol, atol : float
        Solver tolerances. A scalar ``atol`` applies to x and m; the v block gets
        ``atol**2``: v ~ g^2 enters the field through 1/sqrt(v), so it needs
        relative accuracy down to v ~ atol^2 (with the same atol, error control of v
        switches off once |g| < sqrt(atol), near every minimum). An array of length
        ``n_state`` is used as given.
    t_eval : array_like, optional
        Output times (default: the solver's steps). Dense output is always kept.
    gtol : float, optional
        Stop with status ``'stationary'`` once |grad f(x)| <= gtol (event).
    max_norm : float
        Stop with status ``'diverged'`` once max|y| >= max_norm (event).
    max_step : float
        Largest step the solver may take.
    max_nfev, time_limit : int, float, optional
        Give up (status ``'failed'``, keeping the last state reached) after this many
        right-hand-side evaluations or seconds; None for no limit. An explicit
        method on a stiff flow, or LSODA asked for rtol near 1e-12, can otherwise
        crawl for hours.
    **options
        Passed to ``solve_ivp`` (``first_step``, ``min_step``, ...).

    Returns
    -------
    FlowSolution
    """
    _check_common(flow, obj, t_final)
    if not (rtol > 0 and np.all(np.asarray(atol) > 0)):
        raise ValueError(f"rtol and atol must be > 0, got rtol={rtol!r}, atol={atol!r}")
    if gtol is not None and not (math.isfinite(gtol) and gtol >= 0):
        raise ValueError(f"gtol must be a finite number >= 0, got {gtol!r}")
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
    if flow.filippov:
        from adadyn.flows.filippov import solve_signgd

        return solve_signgd(obj, x0, float(t_final), gtol=gtol, t_eval=t_eval)
    if method == "auto":
        method = default_method(flow)
    if isinstance(method, str) and method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} or an OdeSolver class, got {method!r}")

    t_final = float(t_final)
    d = obj.dim
    t0, y0, y_zero = initial_state(flow, obj, x0, m0, v0, t_final)
    kind, p = flow.kernel_kind, flow.params()
    data = obj.data
    rhs_c, jac_c = FK.specialised(obj.value_grad_fn, obj.hessian_fn)
    xs, gs, Hs = np.empty(d), np.empty(d), np.empty((d, d))
    n = y0.shape[0]

    budget = {"n": 0, "t": t0, "y": y0}
    clock = time.perf_counter()

    def fun(t, y):
        out = rhs_c(kind, p, t, y if y.flags.c_contiguous else np.ascontiguousarray(y), data, xs, gs)
        budget["n"] += 1
        if budget["n"] % 256 == 0:
            budget["t"], budget["y"] = t, y.copy()
            if (max_nfev is not None and budget["n"] >= max_nfev) or (
                    time_limit is not None and time.perf_counter() - clock > time_limit):
                raise _Budget()
        return out

    if jac_c is not None:
        def jac_fn(t, y):
            return jac_c(kind, p, t, np.ascontiguousarray(y), data, xs, gs, Hs)
    else:
        def jac_fn(t, y):
            return flow.jacobian(obj, t, y)

    events = []

    def diverge(t, y):
        return max_norm - float(np.max(np.abs(y))) if np.all(np.isfinite(y)) else -1.0

    diverge.terminal = True
    events.append(diverge)
    if gtol is not None:
        def stationary(t, y):
            g = obj.grad(y[:d].copy())
            return math.sqrt(float(g @ g)) - gtol

        stationary.terminal = True
        stationary.direction = -1
        events.append(stationary)

    atol_arr = np.asarray(atol, dtype=np.float64)
    if atol_arr.ndim == 0:
        atol_arr = np.full(n, float(atol))
        if flow.has_v:
            atol_arr[n - d:] = float(atol) ** 2
    elif atol_arr.shape != (n,):
        raise ValueError(f"atol must be a scalar or have shape ({n},), got {atol_arr.shape}")
    kw = dict(options)
    implicit = method in IMPLICIT if isinstance(method, str) else getattr(method, "__name__", "") in IMPLICIT
    if jac and implicit:
        kw["jac"] = jac_fn
    t_ev = None
    if t_eval is not None:
        t_ev = np.asarray(t_eval, dtype=np.float64)
        if t_ev.ndim != 1 or np.any(np.diff(t_ev) <= 0) or t_ev[0] < 0 or t_ev[-1] > t_final:
            raise ValueError("t_eval must be increasing and inside [0, t_final]")
        t_ev = t_ev[t_ev >= t0]
    try:
        with np.errstate(all="ignore"):
            res = solve_ivp(fun, (t0, t_final), y0, method=method, rtol=rtol, atol=atol_arr, t_eval=t_ev,
                            dense_output=True, events=events, max_step=max_step, **kw)
    except _Budget:
        # keep where it got to: the start and the last state the solver evaluated
        t_last, y_last = float(budget["t"]), np.asarray(budget["y"])
        T = np.array([0.0, t_last]) if t_last > 0 else np.array([0.0])
        Y = np.stack([y_zero, y_last], axis=1)[:, : T.size]
        why = f"max_nfev={max_nfev}" if max_nfev is not None and budget["n"] >= max_nfev else f"time_limit={time_limit}s"
        return _package(flow, obj, T, Y, _Dense(t_last, y_zero, y_last, None), "failed",
                        f"{why} reached at t={t_last:.6g}", None, t_last, budget["n"], 0, 0,
                        0, method, t0)

    T, Y = res.t, res.y
    dense = _Dense(t0, y_zero, y0, res.sol)
    # the true start t = 0 when the numerical solve began at t0 > 0
    early = np.array([0.0]) if t_eval is None else np.asarray(t_eval, dtype=np.float64)
    early = early[early < t0]
    if early.size:
        T = np.concatenate([early, T])
        Y = np.concatenate([dense(early).reshape(n, -1), Y], axis=1)
    finite = np.all(np.isfinite(Y), axis=0)
    status, stop_time, message = "ok", None, res.message
    if res.status == 1:
        if res.t_events[0].size:
            status, stop_time = "diverged", float(res.t_events[0][0])
            message = f"max|y| reached max_norm={max_norm:g} at t={stop_time:.6g}"
        else:
            status, stop_time = "stationary", float(res.t_events[1][0])
            message = f"|grad f| reached gtol={gtol:g} at t={stop_time:.6g}"
    elif res.status < 0:
        status = "failed"
    if not np.all(finite):
        status = "diverged" if status == "ok" else status
        keep = np.cumprod(finite).astype(bool)
        T, Y = T[keep], Y[:, keep]
        message = "non-finite state (" + message + ")"
    t_end = float(T[-1]) if T.size else t0
    if T.size == 0:
        T, Y = np.array([0.0]), y_zero[:, None]
    return _package(flow, obj, T, Y, dense, status, message, stop_time, t_end, res.nfev, res.njev,
                    res.nlu, res.t.size - 1, method, t0)


class _Budget(Exception):
    pass


def _package(flow, obj, T, Y, dense, status, message, stop_time, t_end, nfev, njev, nlu, n_steps,
             method, t0):
    d = obj.dim
    x, m, v = flow.split(Y, d)
    m_hat = v_hat = None
    if isinstance(flow, AdamFlow) and flow.bias_correction:
        m_hat, v_hat = m.T.copy(), v.T.copy()
        m, v = flow.raw_moments(T, m, v)
    loss, gn = _losses(obj, x.T)
    return FlowSolution(
        flow=flow, t=T.copy(), x=x.T.copy(), m=None if m is None else m.T.copy(),
        v=None if v is None else v.T.copy(), loss=loss, grad_norm=gn, status=status, message=message,
        stop_time=stop_time, t_end=t_end, nfev=int(nfev), njev=int(njev), nlu=int(nlu),
        n_steps=int(n_steps), method=method if isinstance(method, str) else method.__name__,
        sol=dense, m_hat=m_hat, v_hat=v_hat, events={"t0": t0}, objective=obj,
    )
