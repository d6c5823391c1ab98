"""Stationary points of an objective: safeguarded Newton on grad f = 0.

Every stationary point x* of f gives the fixed point (x*, m = 0, v = 0) of
the optimisers' maps (eqs. (2), (3) of Ma, Wu & E), at which they are
linearised (eq. (11)); see :func:`adadyn.analysis.linearize`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adadyn.objectives.hessian import hessian_at
from adadyn.objectives.base import Objective
from adadyn.validation import check_int, check_nonnegative, check_positive

__all__ = ["StationaryPoint", "StationaryPoints", "stationary_points", "classify_hessian"]

KINDS = ("minimum", "saddle", "maximum", "degenerate")


def classify_hessian(eigenvalues, rtol: float = 1e-8) -> str:
    """'minimum' | 'saddle' | 'maximum' | 'degenerate' from Hessian eigenvalues.

    An eigenvalue with |lambda| <= rtol * max(1, max |lambda|) counts as zero
    and makes the point 'degenerate' (the second-order test is inconclusive).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    tol = rtol * max(1.0, float(np.max(np.abs(lam))) if lam.size else 1.0)
    if np.any(np.abs(lam) <= tol):
        return "degenerate"
    if np.all(lam > 0):
        return "minimum"
    if np.all(lam < 0):
        return "maximum"
    return "saddle"


@dataclass(frozen=True, eq=False)
class StationaryPoint:
    """One stationary point: ``point`` x*, ``value`` f(x*), ``grad_norm`` |grad f(x*)|,
    ``hessian`` and its ascending ``eigenvalues``, ``kind`` and the Hessian's ``accuracy``."""

    point: np.ndarray
    value: float
    grad_norm: float
    hessian: np.ndarray
    eigenvalues: np.ndarray
    kind: str
    accuracy: str

    def __repr__(self) -> str:
        with np.printoptions(precision=6, suppress=False, threshold=8):
            return (f"StationaryPoint({self.kind}, x={self.point}, f={self.value:.6g}, "
                    f"|g|={self.grad_norm:.1e}, eig={self.eigenvalues})")


@dataclass(frozen=True, eq=False)
class StationaryPoints:
    """The distinct stationary points found (sorted by value), with the guesses that failed.

    Iterate over it or index it for :class:`StationaryPoint` objects; ``points``
    (n, d), ``values``, ``kinds`` give the table at once. ``n_failed`` guesses
    did not converge within ``max_iter`` Newton steps.
    """

    items: tuple
    n_failed: int

    @property
    def points(self) -> np.ndarray:
        return np.array([p.point for p in self.items]).reshape(len(self.items), -1)

    @property
    def values(self) -> np.ndarray:
        return np.array([p.value for p in self.items])

    @property
    def kinds(self) -> tuple:
        return tuple(p.kind for p in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, i) -> StationaryPoint:
        return self.items[i]

    def __repr__(self) -> str:
        lines = [f"StationaryPoints({len(self)} found, {self.n_failed} guesses failed)"]
        lines += ["  " + repr(p) for p in self.items]
        return "\n".join(lines)


def _plain_newton(obj, x, gtol, max_iter):
    for _ in range(max_iter):
        g = obj.grad(x)
        if not np.all(np.isfinite(g)):
            return x, False
        if np.linalg.norm(g) <= gtol:
            return x, True
        x = x + np.linalg.lstsq(obj.hessian(x), -g, rcond=None)[0]
    return x, bool(np.linalg.norm(obj.grad(x)) <= gtol)


def _polish(obj, x, max_steps=200):
    """Newton steps while |g| keeps decreasing: at a degenerate stationary point
    Newton converges only linearly, and the gradient test stops far from it
    (|x - x*| ~ gtol^(1/3) for a cubic gradient); polishing lets duplicates merge."""
    g = obj.grad(x)
    gn = np.linalg.norm(g)
    for _ in range(max_steps):
        if gn == 0.0:
            break
        step = np.linalg.lstsq(obj.hessian(x), -g, rcond=None)[0]
        xn = x + step
        g2 = obj.grad(xn)
        g2n = np.linalg.norm(g2)
        if not (np.isfinite(g2n) and g2n < gn):
            break
        x, g, gn = xn, g2, g2n
        if np.linalg.norm(step) <= 1e-15 * max(1.0, np.linalg.norm(x)):
            break
    return x


def _newton(obj, x, gtol, max_iter):
    """Plain Newton first (|g| need not decrease monotonically: Rosenbrock's
    classic start converges in 7 steps that way); if that fails, Newton on g(x) = 0 with a backtracking line search on |g|^2/2 and a
    Levenberg-Marquardt shift when the Newton step fails to reduce it (singular H)."""
    xp, ok = _plain_newton(obj, x.copy(), gtol, max(1, max_iter // 2))
    if ok:
        return xp, True
    g = obj.grad(x)
    phi = 0.5 * g @ g
    mu = 0.0
    for _ in range(max_iter):
        if np.sqrt(2 * phi) <= gtol:
            return x, True
        H = obj.hessian(x)
        accepted = False
        for _try in range(30):
            if mu == 0.0:
                step = np.linalg.lstsq(H, -g, rcond=None)[0]
            else:
                step = np.linalg.solve(H.T @ H + mu * np.eye(len(x)), -H.T @ g)
            t = 1.0
            for _ls in range(20):
                xn = x + t * step
                gn = obj.grad(xn)
                phin = 0.5 * gn @ gn
                if np.isfinite(phin) and phin <= (1.0 - 1e-4 * t) * phi:
                    accepted = True
                    break
                t *= 0.5
            if accepted:
                break
            scale = max(1e-12, float(np.max(np.abs(np.diag(H.T @ H)))))
            mu = scale * 1e-6 if mu == 0.0 else mu * 10.0
        if not accepted:
            return x, bool(np.sqrt(2 * phi) <= gtol)
        x, g, phi = xn, gn, phin
        mu = 0.0
    return x, bool(np.sqrt(2 * phi) <= gtol)


def stationary_points(obj: Objective, guesses, *, gtol: float = 1e-10, max_iter: int = 100,
                      merge_tol: float = 1e-6, exact: bool | None = None,
                      rtol_degenerate: float = 1e-6) -> StationaryPoints:
    """Find stationary points of ``obj`` from starting guesses and classify them.

    Parameters
    ----------
    obj : Objective
    guesses : array_like, shape (d,) or (n, d)
        Starting points for Newton's method on grad f = 0.
    gtol : float
        Convergence when |grad f| <= gtol * max(1, |grad f(guess)|).
    max_iter : int
        Newton steps per guess.
    merge_tol : float
        Points closer than merge_tol * max(1, |x|) are merged (the one with the
        smaller gradient is kept).
    exact : bool, optional
        Hessian for the classification: sympy for symbolic objectives (default),
        see :func:`adadyn.objectives.hessian.hessian_at`.
    rtol_degenerate : float
        Relative size under which a Hessian eigenvalue counts as zero.

    Returns
    -------
    StationaryPoints
        Distinct points sorted by f, each with kind 'minimum', 'saddle',
        'maximum' or 'degenerate' (a zero Hessian eigenvalue).

    Notes
    -----
    Newton's method on grad f = 0 finds saddles and maxima as well as minima; the
    merit function |grad f|^2/2 is decreased by a backtracking line search, and
    a Levenberg-Marquardt shift handles singular Hessians (where convergence is
    only linear, e.g. at the degenerate minimum of 1 - cos(x1^2 + x2^2)).
    """
    try:
        G = np.atleast_2d(np.asarray(guesses, dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"guesses must be an array of shape (n, {obj.dim}) or ({obj.dim},) of numbers, "
                         f"got {type(guesses).__name__}") from None
    if G.ndim != 2 or G.shape[1] != obj.dim:
        raise ValueError(f"guesses must have shape (n, {obj.dim}) or ({obj.dim},), got {np.shape(guesses)}")
    if not np.all(np.isfinite(G)):
        raise ValueError(f"guesses must be finite (no NaN or inf), got {G}")
    gtol = check_positive("gtol", gtol)
    merge_tol = check_positive("merge_tol", merge_tol)
    max_iter = check_int("max_iter", max_iter, lo=1)
    rtol_degenerate = check_nonnegative("rtol_degenerate", rtol_degenerate)
    found = []
    failed = 0
    for x0 in G:
        g0 = np.linalg.norm(obj.grad(x0))
        x, ok = _newton(obj, x0.copy(), gtol * max(1.0, g0), int(max_iter))
        if not ok:
            failed += 1
            continue
        x = _polish(obj, x)
        gn = float(np.linalg.norm(obj.grad(x)))
        dup = None
        for j, (y, gy) in enumerate(found):
            if np.linalg.norm(x - y) <= merge_tol * max(1.0, np.linalg.norm(y)):
                dup = j
                break
        if dup is None:
            found.append((x, gn))
        elif gn < found[dup][1]:
            found[dup] = (x, gn)
    items = []
    for x, gn in found:
        H, acc = hessian_at(obj, x, exact)
        lam = np.linalg.eigvalsh(0.5 * (H + H.T))
        items.append(StationaryPoint(x, obj.value(x), gn, H, lam,
                                     classify_hessian(lam, rtol_degenerate), acc))
    items.sort(key=lambda p: p.value)
    return StationaryPoints(tuple(items), failed)
