"""Periodic orbits of an optimiser's discrete map: Newton on F^k(z) - z.

Past the critical learning rate the fixed point (x*, 0, 0) is unstable and
the iterates settle on oscillations instead (section 3 of Ma, Wu & E). For
RMSprop (eq. (2)) on f = lambda x^2 / 2 the attractor is the 2-cycle
x -> -x: the step must send x to -x, so eta lambda / (sqrt(v) + eps) = 2;
|g| = lambda |x| is the same at both points, so v is the fixed point of
v = alpha v + (1 - alpha) g^2, v = lambda^2 x^2. Hence::

    x = +-(eta/2 - eps/lambda),   v = (lambda c)^2,   c = eta/2 - eps/lambda,

which exists iff eta > 2 eps/lambda, the point where the fixed point loses
stability (a period-doubling bifurcation); with eps ~ 0 it is the paper's
+-eta/2 (Figure 6). Along this cycle det DF = -alpha at each point, so the
product of the two Floquet multipliers is alpha^2.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.analysis.linearization import as_state_vector
from adadyn.discrete.map import StateMap, state_map
from adadyn.discrete.trajectory import State
from adadyn.validation import check_int, check_nonnegative, check_positive

__all__ = ["PeriodicOrbit", "periodic_orbit", "newton_orbit"]


@dataclass(frozen=True, eq=False)
class PeriodicOrbit:
    """A period-k orbit of the discrete map.

    Attributes
    ----------
    found : bool
        True when Newton converged to an orbit whose minimal period is ``period``.
    message : str
        Why not, when not found (no convergence, or convergence to an orbit of a
        smaller period such as the fixed point).
    period : int
    minimal_period : int
        Smallest p dividing ``period`` with F^p(z) = z (to the tolerance).
    points : ndarray (period, n)
        The states z_0, ..., z_{k-1} along the orbit (layout ``blocks``).
    x : ndarray (period, d)
        Their x parts.
    monodromy : ndarray (n, n)
        DF(z_{k-1}) ... DF(z_0), the Jacobian of F^k at z_0.
    multipliers : ndarray (n,)
        Floquet multipliers (eigenvalues of the monodromy), decreasing modulus.
    stable : bool
        All multipliers inside the unit circle.
    residual : float
        |F^k(z_0) - z_0|.
    iterations : int
        Newton iterations used.
    """

    found: bool
    message: str
    period: int
    minimal_period: int
    points: np.ndarray
    blocks: tuple
    monodromy: np.ndarray = field(repr=False)
    multipliers: np.ndarray
    stable: bool
    residual: float
    iterations: int

    @property
    def x(self) -> np.ndarray:
        d = self.points.shape[1] // len(self.blocks)
        return self.points[:, :d]

    def block(self, name: str) -> np.ndarray:
        """The ``name`` block ('x', 'm', 'v', 'aux') of every point, shape (period, d)."""
        d = self.points.shape[1] // len(self.blocks)
        i = self.blocks.index(name)
        return self.points[:, i * d:(i + 1) * d]

    def __repr__(self) -> str:
        if not self.found:
            return f"PeriodicOrbit(found=False, period={self.period}: {self.message})"
        with np.printoptions(precision=6, threshold=6):
            return (f"PeriodicOrbit(period={self.period}, {'stable' if self.stable else 'unstable'}, "
                    f"|multiplier|max={np.max(np.abs(self.multipliers)):.6g}, x={self.x.ravel()}, "
                    f"residual={self.residual:.1e})")


def _project(F: StateMap, z):
    # v and AMSGrad's running max are >= 0 by construction; Newton may overshoot
    for b in ("v", "aux"):
        if b in F.blocks:
            sl = F.index(b)
            z[sl] = np.maximum(z[sl], 0.0)
    return z


def _block_ok(F: StateMap, z, r, tol: float, atol: float) -> bool:
    """|r_b| <= atol + tol |z_b| for every block b (x, m, v, aux) of the state.

    Per block, so that a large second moment (v ~ g^2) cannot hide an error in
    x; absolute and relative, so that blocks near 0 (a fixed point) can pass.
    A non-finite residual or state never passes.
    """
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(z))):
        return False
    for b in F.blocks:
        sl = F.index(b)
        if not np.linalg.norm(r[sl]) <= atol + tol * np.linalg.norm(z[sl]):
            return False
    return True


def newton_orbit(F: StateMap, z0, period: int, *, tol: float = 1e-12, max_iter: int = 50,
                 atol: float | None = None):
    """Damped Newton on G(z) = F^k(z) - z with DG = M(z) - I, M the chain-rule
    Jacobian of F^k. Converged when every block b of the state satisfies
    |G_b(z)| <= atol + tol |z_b| (``atol`` defaults to ``tol``); then up to three
    more Newton steps are taken while |G| keeps falling (to rounding level).
    Returns (z, converged, iterations, residual |G(z)|)."""
    atol = tol if atol is None else float(atol)
    z = _project(F, np.asarray(z0, dtype=np.float64).copy())
    n = F.size

    def resid(z):
        with np.errstate(all="ignore"):
            r = F.iterate(z, period) - z
        return r, float(np.linalg.norm(r)) if np.all(np.isfinite(r)) else np.inf

    def polish(z, r, nr):
        # a few full Newton steps while |G| keeps falling: the absolute part of the
        # tolerance would otherwise leave a small-scale orbit accurate to atol only
        for _ in range(3):
            try:
                M = F.orbit_jacobian(z, period)[1]
            except ValueError:
                break
            if nr == 0.0 or not np.all(np.isfinite(M)):
                break
            zn = _project(F, z + np.linalg.lstsq(M - np.eye(n), -r, rcond=None)[0])
            rn, nrn = resid(zn)
            if not nrn < nr:
                break
            z, r, nr = zn, rn, nrn
        return z, nr

    r, nr = resid(z)
    it = 0
    for it in range(1, max_iter + 1):
        if _block_ok(F, z, r, tol, atol):
            z, nr = polish(z, r, nr)
            return z, True, it - 1, nr
        if not np.isfinite(nr):
            return z, False, it - 1, nr
        try:
            _, M = F.orbit_jacobian(z, period)
        except ValueError:
            return z, False, it, nr
        if not np.all(np.isfinite(M)):
            return z, False, it, nr
        dz = np.linalg.lstsq(M - np.eye(n), -r, rcond=None)[0]
        t = 1.0
        ok = False
        for _ in range(30):
            zn = _project(F, z + t * dz)
            rn, nrn = resid(zn)
            if nrn < nr or _block_ok(F, zn, rn, tol, atol):
                ok = True
                break
            t *= 0.5
        if not ok:
            return z, False, it, nr
        z, r, nr = zn, rn, nrn
    if _block_ok(F, z, r, tol, atol):
        z, nr = polish(z, r, nr)
        return z, True, it, nr
    return z, False, it, nr


def periodic_orbit(opt, obj, period: int, guess, *, tol: float = 1e-12, max_iter: int = 50,
                   exact: bool | None = None, atol: float | None = None) -> PeriodicOrbit:
    """Find a period-``period`` orbit of the discrete map of ``opt`` on ``obj``.

    Parameters
    ----------
    opt : Optimizer
        See :func:`adadyn.discrete.map.state_map` (Adam: t -> infinity map).
    obj : Objective
    period : int
        k >= 1 (k = 1: a fixed point).
    guess : array_like or State
        A state vector in the map's layout (best), a :class:`State`, or x alone;
        then m = 0 and v = p g(x)^2 / (1 - q), the value v settles at when |g| is
        the same at every point of the orbit (exact for the symmetric 2-cycles
        of even objectives). Must be finite, and so must the state built from it.
    tol : float
        Relative tolerance, per block: Newton has converged when every block b
        (x, m, v, aux) of the residual satisfies
        |F^k(z)_b - z_b| <= atol + tol |z_b|.
    max_iter : int
        Newton iterations at most; not converged by then gives ``found=False``.
    exact : bool, optional
        Sympy Hessians for symbolic objectives.
    atol : float, optional
        Absolute tolerance per block (default ``tol``). Lower it for problems
        whose state is much smaller than 1.

    Returns
    -------
    PeriodicOrbit
        ``found=False`` with a message when Newton fails or lands on an orbit
        of smaller period (e.g. the fixed point when no 2-cycle exists).

    Raises
    ------
    ValueError
        For a non-finite guess (or one whose derived second moment overflows),
        period < 1, max_iter < 1, or tolerances that are not finite and > 0
        (atol >= 0).
    """
    period = check_int("period", period, lo=1)
    max_iter = check_int("max_iter", max_iter, lo=1)
    tol = check_positive("tol", tol)
    atol = tol if atol is None else check_nonnegative("atol", atol)
    F = state_map(opt, obj, exact=exact)
    if isinstance(guess, State):
        z0 = as_state_vector(F, guess)
    else:
        try:
            g = np.asarray(guess, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"guess must be an array of numbers or a State, got {type(guess).__name__}") from None
        if not np.all(np.isfinite(g)):
            raise ValueError(f"guess must be finite (no NaN or inf), got {g}")
        if g.size == F.dim and F.moments:
            with np.errstate(over="ignore", invalid="ignore"):
                gr = obj.grad(g)
                v = F.p * gr * gr / (1.0 - F.q) if F.q < 1.0 else gr * gr
            z0 = F.point(g, None, v, v if F.amsgrad else None)
        else:
            z0 = as_state_vector(F, g)
    if not np.all(np.isfinite(z0)):
        raise ValueError("guess gives a non-finite state (the gradient or the second moment "
                         "p g^2 / (1 - q) built from it overflows); give a smaller guess or a full state")
    z, ok, its, res = newton_orbit(F, z0, period, tol=tol, max_iter=max_iter, atol=atol)
    n = F.size
    if not ok:
        return PeriodicOrbit(False, f"Newton did not converge (|F^k(z) - z| = {res:.3g} after {its} "
                             "iterations)", period, 0, np.empty((0, n)), F.blocks, np.empty((n, n)),
                             np.empty(0, complex), False, res, its)
    pmin = period
    for p in range(1, period):
        if period % p == 0 and _block_ok(F, z, F.iterate(z, p) - z, 10.0 * tol, 10.0 * atol):
            pmin = p
            break
    try:
        pts, M = F.orbit_jacobian(z, period)
    except ValueError as exc:
        return PeriodicOrbit(False, f"orbit found but the map is not differentiable on it: {exc}", period,
                             pmin, F.iterate(z, 0)[None, :], F.blocks, np.empty((n, n)),
                             np.empty(0, complex), False, res, its)
    mu = np.linalg.eigvals(M)
    mu = mu[np.argsort(-np.abs(mu), kind="stable")]
    found = pmin == period
    msg = "ok" if found else (f"Newton converged to an orbit of minimal period {pmin} "
                              f"(no genuine period-{period} orbit near the guess)")
    return PeriodicOrbit(found, msg, period, pmin, pts, F.blocks, M, mu,
                         bool(np.max(np.abs(mu)) < 1.0), res, its)
