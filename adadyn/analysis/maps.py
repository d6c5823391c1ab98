"""Limit-flow fields in the discrete map's state layout (eqs. (7), (8), (11) of Ma, Wu & E).

The discrete map F(z) and its Jacobian live in :mod:`adadyn.discrete.map`
(re-exported here); the Hessian helper in :mod:`adadyn.objectives.hessian`. The
flow fields themselves are written once, in :mod:`adadyn.flows.kernels`; this
module only matches a map's state layout to a flow's (:func:`limit_flow`) and
evaluates that flow at t -> infinity with the map's gradient and Hessian.
"""
from __future__ import annotations

import numpy as np

from adadyn.discrete.map import StateMap, state_map
from adadyn.flows.fields import Flow
from adadyn.flows.limit import NoFlowError, flow_of
from adadyn.objectives.hessian import FD_ACCURACY, hessian_at

__all__ = ["StateMap", "state_map", "hessian_at", "flow_field", "flow_jacobian", "limit_flow", "FD_ACCURACY"]


def limit_flow(F: StateMap) -> Flow | None:
    """The smooth limit flow (Prop. 2 scaling) whose state layout is the map's, or None.

    GD -> the gradient flow (x); RMSprop (r = 0, h = 1, p = 1 - q) -> eq. (7) on
    (x, v); Adam and Family with h = 1 - r, p = 1 - q -> eq. (8) on (x, m, v),
    evaluated at t -> infinity (the map drops the bias correction the same way).
    eps inside the root gives the same flows with sqrt(v + eps). None for SignGD
    and Lion (discontinuous), AMSGrad, Adagrad, AdaFix and other Family
    coefficients (no flow of that form).
    """
    try:
        flow = flow_of(F.coef, "rates", name=F.opt.name, eps_inside_ok=True)
    except NoFlowError:
        return None
    if flow.filippov or flow.blocks != tuple(F.blocks):
        return None
    return flow


def flow_field(F: StateMap, z) -> np.ndarray:
    """The limit-flow vector field at z (same state layout as the map), per unit
    of continuous time t = eta*k: GD x' = -g; RMSprop eq. (7); Adam eq. (8) for
    t -> infinity (a = (1 - beta2)/eta, b = (1 - beta1)/eta, Prop. 2 scaling).
    Raises ValueError when the optimiser has no such flow."""
    flow = limit_flow(F)
    if flow is None:
        raise ValueError(f"no limit flow of the form (7)/(8) for {F.opt!r}")
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    return flow.field(z, F._grad(F.split(z)["x"]))


def flow_jacobian(F: StateMap, z, H: np.ndarray | None = None, g=None) -> np.ndarray | None:
    """Jacobian of :func:`flow_field` at z, with the v = 0 limit of eq. (11)
    (:meth:`adadyn.flows.Flow.check_differentiable`); at (x*, 0, 0) it is eq. (11)
    for RMSprop. None when the optimiser has no limit flow of that form (SignGD,
    AMSGrad, general Family). ``H`` and ``g`` override the Hessian and gradient
    (``g=0``: exact stationary point)."""
    flow = limit_flow(F)
    if flow is None:
        return None
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    x = F.split(z)["x"]
    g = F._grad(x) if g is None else np.broadcast_to(np.asarray(g, dtype=np.float64), (F.dim,))
    if H is None:
        H = hessian_at(F.obj, x, F.hessian_exact)[0]
    flow.check_differentiable(z, g)
    return flow.jacobian_at(z, g, H)
