"""Linearisation of an optimiser's discrete map and of its limit flow (eq. (11)).

The map's Jacobian comes from :mod:`adadyn.discrete.map`; the flow's from the one
implementation of the flow fields in :mod:`adadyn.flows` (through
:func:`adadyn.analysis.maps.flow_jacobian`, which matches the state layouts and
takes the t -> infinity field).

At a stationary point x* of f the state (x*, m = 0, v = 0) is a fixed point of
the map (eqs. (1)-(3) of Ma, Wu & E) and an equilibrium of the limit flows
(7), (8). :func:`linearize` returns both Jacobians there (or at any state),
their spectra and a stability verdict. For RMSprop at a minimum the flow's
eigenvalues are -lambda_i/eps and -a (eq. (11)) and the map's are
1 - eta*lambda_i/eps and alpha, so the discrete fixed point is stable only for
eta < 2*eps/lambda_max (see :func:`adadyn.analysis.critical_learning_rate`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.analysis.maps import StateMap, flow_jacobian, hessian_at, state_map
from adadyn.discrete.trajectory import State

__all__ = ["Linearization", "linearize"]


def as_state_vector(F: StateMap, point, m=None, v=None, aux=None) -> np.ndarray:
    """z from x (missing blocks from m, v, aux or zero), a full z, or a State."""
    if isinstance(point, State):
        z = F.pack(point)
        if not np.all(np.isfinite(z)):
            raise ValueError("point must be finite: the State holds NaN or inf")
        return z
    try:
        p = np.asarray(point, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"point must be an array of numbers or a State, got {type(point).__name__}") from None
    if not np.all(np.isfinite(p)):
        raise ValueError(f"point must be finite, got NaN or inf at index {int(np.flatnonzero(~np.isfinite(p))[0])}")
    for name, blk in (("m", m), ("v", v), ("aux", aux)):
        if blk is not None and not np.all(np.isfinite(np.asarray(blk, dtype=np.float64))):
            raise ValueError(f"{name} must be finite, got NaN or inf")
    if p.shape[0] == F.size and (F.size != F.dim or (m is None and v is None)):
        return p.copy()
    if p.shape[0] == F.dim:
        return F.point(p, m, v, aux)
    raise ValueError(f"point must be x (length {F.dim}), a state vector (length {F.size}, "
                     f"blocks {F.blocks}) or a State; got length {p.shape[0]}")


def _eig(J):
    mu, V = np.linalg.eig(J)
    order = np.argsort(-np.abs(mu), kind="stable")
    return mu[order], V[:, order]


@dataclass(frozen=True, eq=False)
class Linearization:
    """Jacobians of the map and of the limit flow at one state, with spectra.

    Attributes
    ----------
    state : ndarray
        The state z = (x, [m,] v[, aux]) linearised at (layout ``blocks``).
    blocks : tuple of str
        Names of the blocks of z, each of length ``dim``.
    map_jacobian : ndarray (n, n)
        DF(z) of the discrete map (Adam: the t -> infinity autonomous map).
    map_eigenvalues, map_eigenvectors
        Sorted by decreasing modulus; eigenvectors are columns.
    spectral_radius : float
        max |mu|; the fixed point is linearly stable iff it is < 1 (``map_stable``).
    fixed_point_residual : float
        |F(z) - z|: 0 at a fixed point; otherwise the Jacobian is still correct
        but a stability verdict about z means nothing.
    flow_jacobian : ndarray (n, n) or None
        Jacobian of the limit flow (7)/(8) at z (per unit of continuous time
        t = eta*k), None when the optimiser has no such flow (SignGD, AMSGrad).
    flow_eigenvalues, flow_eigenvectors, spectral_abscissa, flow_stable
        Sorted by decreasing real part; stable iff max Re < 0.
    hessian, hessian_eigenvalues
        The Hessian of f at x and its ascending eigenvalues.
    accuracy : str
        How the Hessian was obtained (sympy-exact, compiled, or finite differences).
    """

    state: np.ndarray
    blocks: tuple
    dim: int
    map_jacobian: np.ndarray
    map_eigenvalues: np.ndarray
    map_eigenvectors: np.ndarray = field(repr=False)
    spectral_radius: float
    map_stable: bool
    fixed_point_residual: float
    flow_jacobian: np.ndarray | None
    flow_eigenvalues: np.ndarray | None
    flow_eigenvectors: np.ndarray | None = field(repr=False)
    spectral_abscissa: float | None
    flow_stable: bool | None
    hessian: np.ndarray = field(repr=False)
    hessian_eigenvalues: np.ndarray
    accuracy: str
    opt: object = field(repr=False)

    @property
    def x(self) -> np.ndarray:
        return self.state[: self.dim]

    def __repr__(self) -> str:
        flow = ("no limit flow" if self.flow_jacobian is None else
                f"flow abscissa={self.spectral_abscissa:.6g} ({'stable' if self.flow_stable else 'unstable'})")
        return (f"Linearization({getattr(self.opt, 'name', self.opt)}, blocks={self.blocks}, d={self.dim}, "
                f"map radius={self.spectral_radius:.6g} ({'stable' if self.map_stable else 'unstable'}), "
                f"{flow}, |F(z)-z|={self.fixed_point_residual:.1e}, Hessian: {self.accuracy})")


class NonStationaryWarning(UserWarning):
    """:func:`linearize` was called at a state that is not a fixed point of the map."""


#: |F(z) - z| / max(1, |z|) above which :func:`linearize` warns that z is not a fixed point.
FIXED_POINT_RTOL = 1e-8


def _warn_not_fixed(res: float, z: np.ndarray, stationary: bool, grad_norm: float | None) -> None:
    import warnings

    rel = res / max(1.0, float(np.linalg.norm(z)))
    if not rel > FIXED_POINT_RTOL:
        return
    assumed = (f" The gradient (|grad f(x)| = {grad_norm:.3g}) was treated as zero (stationary=True), so the "
               "Jacobian is that of a stationary point that is not there." if stationary and grad_norm else
               " The Jacobian is the map's derivative at this state.")
    warnings.warn(f"linearize: the state is not a fixed point of the map (|F(z) - z| = {res:.3g}, "
                  f"{rel:.3g} relative).{assumed} map_stable and flow_stable describe a fixed point: here "
                  "they only say whether small perturbations of this state grow over one step of the "
                  "linearised map, not whether the optimiser converges to or stays near it.",
                  NonStationaryWarning, stacklevel=3)


def linearize(opt, obj, point, *, m=None, v=None, aux=None, exact: bool | None = None,
              stationary: bool | None = None) -> Linearization:
    """Linearise the discrete map of ``opt`` on ``obj`` and its limit flow at a state.

    Parameters
    ----------
    opt : Optimizer
        GD, SignGD (away from zero gradients only), RMSprop, Adam (bias
        correction dropped: the t -> infinity autonomous map), AMSGrad, Adagrad, Family.
    obj : Objective
    point : array_like or State
        x* (then m = 0, v = 0 unless given: the fixed point at a stationary
        point), or a full state vector in the layout of
        :func:`adadyn.discrete.map.state_map`, or a :class:`State`.
    m, v, aux : array_like, optional
        The other blocks when ``point`` is x.
    exact : bool, optional
        Hessian by sympy (default for symbolic objectives), see
        :func:`adadyn.objectives.hessian.hessian_at`.
    stationary : bool, optional
        Treat x as an exact stationary point (grad f = 0 in the Jacobians; see
        :meth:`adadyn.discrete.map.StateMap.jacobian` for why this matters at
        v = 0). Default: True when ``point`` is x alone and m, v are not given.

    Returns
    -------
    Linearization

    Warns
    -----
    NonStationaryWarning
        When z is not a fixed point of the map (``fixed_point_residual`` above
        :data:`FIXED_POINT_RTOL` relative to max(1, |z|)): the stability verdicts are
        about a fixed point and do not say whether the optimiser converges near z.

    Notes
    -----
    At v = 0 the derivative of sqrt(v) is infinite but multiplies m' = 0 at a
    stationary point; the map is differentiable there and the limit is taken
    analytically (module docstring of :mod:`adadyn.analysis.maps`), which gives
    eq. (11) for the flow and I - (eta/eps) H, alpha I for the RMSprop map.
    """
    F = state_map(opt, obj, exact=exact)
    z = as_state_vector(F, point, m, v, aux)
    if stationary is None:
        stationary = (not isinstance(point, State) and np.size(point) == F.dim
                      and m is None and v is None and aux is None)
    g0 = np.zeros(F.dim) if stationary else None
    if F.moments and np.any(z[F.index("v")] < 0):
        raise ValueError("v must be >= 0")
    x = z[: F.dim]
    H, acc = hessian_at(obj, x, exact)
    J = F.jacobian(z, H, g0)
    mu, V = _eig(J)
    rho = float(np.max(np.abs(mu)))
    with np.errstate(all="ignore"):
        res = float(np.linalg.norm(F(z) - z))
    if not res == 0.0:
        gn = float(np.linalg.norm(obj.value_and_grad(x)[1])) if stationary else None
        _warn_not_fixed(res, z, stationary, gn)
    Jf = flow_jacobian(F, z, H, g0)
    if Jf is None:
        lam = Vf = absc = fstab = None
    else:
        lam, Vf = np.linalg.eig(Jf)
        order = np.argsort(-lam.real, kind="stable")
        lam, Vf = lam[order], Vf[:, order]
        absc = float(lam.real[0])
        fstab = absc < 0
    return Linearization(
        state=z, blocks=F.blocks, dim=F.dim, map_jacobian=J, map_eigenvalues=mu, map_eigenvectors=V,
        spectral_radius=rho, map_stable=rho < 1.0, fixed_point_residual=res, flow_jacobian=Jf,
        flow_eigenvalues=lam, flow_eigenvectors=Vf, spectral_abscissa=absc, flow_stable=fstab,
        hessian=H, hessian_eigenvalues=np.linalg.eigvalsh(0.5 * (H + H.T)), accuracy=acc, opt=opt,
    )
