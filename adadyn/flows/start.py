"""Where a flow solve starts: the two singular starts, removed analytically.

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

On [0, t0] the dense output (:class:`Dense`) interpolates linearly between the two states.
"""
from __future__ import annotations

import math

import numpy as np

from adadyn.flows.fields import AdamFlow, Flow, RMSpropFlow
from adadyn.objectives.base import Objective
from adadyn.validation import check_vector, check_x0

__all__ = ["initial_state", "Dense"]


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


#: Above this dimension H(x0) u is taken by central differences of the gradient
#: instead of forming the d x d Hessian.
DENSE_HESSIAN_MAX_DIM = 1000


def hessian_times(obj: Objective, x, u) -> np.ndarray:
    """H(x) u: from the declared diagonal, the Hessian (d <= DENSE_HESSIAN_MAX_DIM),
    or central differences of the gradient along u (no d x d matrix)."""
    if obj.diagonal is not None:
        return obj.diagonal * u
    if obj.dim <= DENSE_HESSIAN_MAX_DIM:
        return obj.hessian(x) @ u
    nu = float(np.linalg.norm(u))
    if nu == 0.0:
        return np.zeros_like(u)
    h = 1e-6 * max(1.0, float(np.linalg.norm(x))) / nu
    return (obj.grad(x + h * u) - obj.grad(x - h * u)) / (2.0 * h)


def _adam_raw_eps0_start(flow, obj, x0, y_zero, t_final):
    """Adam without bias correction, eps = 0: where m_i = v_i = 0 and g_i != 0,
    x_i' = -m_i/sqrt(v_i) is 0/0 at t = 0 and its Jacobian infinite. With g frozen
    on [0, delta]: m = g0 (1 - e^{-bt}), v = g0^2 (1 - e^{-at}), and
    x = x0 - sign(g0) int_0^delta (1 - e^{-bs}) / sqrt(1 - e^{-as}) ds
      = x0 - sign(g0) (2 b / (3 sqrt(a))) delta^{3/2} (1 + O(delta))."""
    d = obj.dim
    m0, v0 = y_zero[d:2 * d], y_zero[2 * d:]
    g0 = obj.grad(x0)
    bad = (v0 == 0) & (m0 != 0)
    if np.any(bad):
        raise ValueError("with eps = 0, v0_i = 0 and m0_i != 0 make x_i' infinite at t = 0; "
                         "give v0 > 0 there or eps > 0")
    sing = (v0 == 0) & (m0 == 0) & (g0 != 0)
    if not np.any(sing):
        return 0.0, y_zero.copy(), y_zero
    a, b = flow.a, flow.b
    delta = 1e-9 * min(1.0, 1.0 / a, 1.0 / b, t_final)
    eb, ea = -math.expm1(-b * delta), -math.expm1(-a * delta)
    m_d = m0 * (1.0 - eb) + eb * g0
    v_d = v0 * (1.0 - ea) + ea * g0 * g0
    # components with v0 > 0 move at -m/sqrt(v) (finite): first order in delta
    x_d = x0 - delta * np.where(v0 > 0, m0 / np.sqrt(np.where(v0 > 0, v0, 1.0)), 0.0)
    x_d = np.where(sing, x0 - np.sign(g0) * (2.0 * b / (3.0 * math.sqrt(a))) * delta ** 1.5, x_d)
    return delta, np.concatenate([x_d, m_d, v_d]), y_zero


def initial_state(flow: Flow, obj: Objective, x0, m0=None, v0=None, t_final: float = 1.0):
    """Where the numerical solve starts: ``(t0, y0, y_zero)``.

    ``y_zero`` is the state at t = 0 in the integrated variables (for the Adam flow
    with bias correction: x0, m_hat(0+) = g0, v_hat(0+) = g0^2); ``y0`` the state at
    ``t0``, which is 0 except for the two singular starts described in
    :mod:`adadyn.flows.start`, where it is a tiny delta with the exact small-time
    values.
    """
    d = obj.dim
    x0 = check_x0(x0, d)
    m0 = None if m0 is None else check_vector("m0", m0, d)
    v0 = None if v0 is None else check_vector("v0", v0, d)
    if m0 is not None and not flow.has_m:
        raise ValueError(f"m0 given but {flow.name} has no first moment")
    if v0 is not None and not flow.has_v:
        raise ValueError(f"v0 given but {flow.name} has no second moment")
    if v0 is not None and np.any(v0 < 0):
        raise ValueError("v0 must be >= 0 componentwise")
    if getattr(flow, "evaluates_itself", False):          # order-2 flows (flows/modified.py)
        return flow.initial_state(obj, x0, m0, v0, t_final)
    if isinstance(flow, AdamFlow) and flow.bias_correction:
        if (m0 is not None and np.any(m0 != 0)) or (v0 is not None and np.any(v0 != 0)):
            raise ValueError("the bias-corrected Adam flow (8) starts from m = v = 0; "
                             "pass bias_correction=False to start from other m0, v0")
        eps, a, b = flow.eps, flow.a, flow.b
        delta = 1e-9 * min(1.0, 1.0 / a, 1.0 / b, t_final)
        g0 = obj.grad(x0)
        # den(v_hat) at v_hat = g0^2 and its derivative in v_hat (eps outside or inside the root)
        if flow.eps_inside:
            den = np.sqrt(g0 * g0 + eps)
            num = eps / den            # den - g0^2 den'(g0^2) = eps / den
        else:
            den = np.abs(g0) + eps
            num = np.full(d, eps)      # den - g0^2 den' = |g0| + eps - |g0|
        safe = den > 0
        u0 = np.where(safe, -g0 / np.where(safe, den, 1.0), 0.0)
        gdot = hessian_times(obj, x0, u0)
        # x''(0) = -(m_hat' den - m_hat den' v_hat') / den^2 with m_hat' = g0'/2, v_hat' = g0 g0'
        xdd = np.where(safe, -0.5 * gdot * num / np.where(safe, den, 1.0) ** 2, 0.0)
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
    if isinstance(flow, AdamFlow) and flow.eps == 0:
        return _adam_raw_eps0_start(flow, obj, x0, y_zero, t_final)
    if isinstance(flow, RMSpropFlow) and not (flow.eps_inside and flow.eps > 0):
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


class Dense:
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
