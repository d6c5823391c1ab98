"""Limit-flow fields in the discrete map's state layout (eqs. (7), (8), (11) of Ma, Wu & E).

The discrete map F(z) and its Jacobian live in :mod:`adadyn.discrete.map`
(re-exported here); the Hessian helper in :mod:`adadyn.objectives.hessian`.
"""
from __future__ import annotations

import numpy as np

from adadyn.discrete.map import StateMap, state_map
from adadyn.objectives.hessian import FD_ACCURACY, hessian_at

__all__ = ["StateMap", "state_map", "hessian_at", "flow_field", "flow_jacobian"]


# ---------------------------------------------------------------------- limit flows
def _flow_rates(F: StateMap):
    """(a, b) of the limit flow, or None when the coefficients have no such scaling."""
    if not F.moments:
        return (None, None) if not F.sign else None
    if F.amsgrad or F.q >= 1.0 or abs(F.p - (1.0 - F.q)) > 1e-15:
        return None
    a = (1.0 - F.q) / F.eta
    if F.r == 0.0 and F.h == 1.0:
        return a, None
    if abs(F.h - (1.0 - F.r)) <= 1e-15:
        return a, (1.0 - F.r) / F.eta
    return None


def flow_field(F: StateMap, z) -> np.ndarray:
    """The limit-flow vector field at z (same state layout as the map).

    GD: x' = -g. RMSprop, eq. (7): x' = -g/(sqrt(v) + eps), v' = a (g^2 - v).
    Adam, eq. (8) for t -> infinity (the factors 1 - e^{-at}, 1 - e^{-bt} -> 1):
    x' = -m/(sqrt(v) + eps), m' = b (g - m), v' = a (g^2 - v); a = (1 - beta2)/eta,
    b = (1 - beta1)/eta (Prop. 2 scaling). Units: per unit of continuous time t = eta*k.
    """
    rates = _flow_rates(F)
    if rates is None:
        raise ValueError(f"no limit flow of the form (7)/(8) for {F.opt!r}")
    a, b = rates
    s = F.split(z)
    g = F._grad(s["x"])
    if a is None:
        return -g
    v = s["v"]
    den = np.sqrt(v + F.eps) if F.eps_inside else np.sqrt(v) + F.eps
    out = {"v": a * (g * g - v)}
    if b is None:
        out["x"] = -g / den
    else:
        out["x"] = -s["m"] / den
        out["m"] = b * (g - s["m"])
    return np.concatenate([out[bk] for bk in F.blocks])


def flow_jacobian(F: StateMap, z, H: np.ndarray | None = None, g=None) -> np.ndarray | None:
    """Jacobian of :func:`flow_field` at z, with the v = 0 limit of the module
    docstring; at (x*, 0, 0) it is eq. (11) for RMSprop. None when the optimiser
    has no limit flow of that form (SignGD, AMSGrad, general Family). ``H``
    and ``g`` override the Hessian and gradient (``g=0``: exact stationary point)."""
    rates = _flow_rates(F)
    if rates is None:
        return None
    a, b = rates
    s = F.split(z)
    d = F.dim
    x = s["x"]
    g = F._grad(x) if g is None else np.broadcast_to(np.asarray(g, dtype=np.float64), (d,))
    if H is None:
        H = hessian_at(F.obj, x, F.hessian_exact)[0]
    n = F.size
    J = np.zeros((n, n))
    ix = F.index("x")
    if a is None:
        J[ix, ix] = -H
        return J
    iv = F.index("v")
    v = s["v"]
    if F.eps_inside:
        den = np.sqrt(v + F.eps)
        dden = 0.5 / den
    else:
        den = np.sqrt(v) + F.eps
        dden = np.zeros(d)
        pos = v > 0
        dden[pos] = 0.5 / np.sqrt(v[pos])
    if np.any(den == 0.0):
        raise ValueError("sqrt(v) + eps = 0 (eps = 0 at v = 0): the flow is singular there")
    num = g if b is None else s["m"]
    if not F.eps_inside and np.any((v <= 0) & (num != 0)):
        raise ValueError("the flow has no derivative where v = 0 but its numerator is not 0")
    J[ix, iv] = np.diag(num * dden / den ** 2)
    J[iv, ix] = 2.0 * a * g[:, None] * H
    J[iv, iv] = -a * np.eye(d)
    if b is None:
        J[ix, ix] = -H / den[:, None]
    else:
        im = F.index("m")
        J[ix, im] = -np.diag(1.0 / den)
        J[im, ix] = b * H
        J[im, im] = -b * np.eye(d)
    return J
