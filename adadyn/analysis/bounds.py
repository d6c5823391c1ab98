"""Bounds from Ma, Wu & E on the continuous flows (Props. 3 and 4).

* Prop. 4: on a function satisfying the Polyak-Lojasiewicz condition
  ||grad f(x)||_2^2 >= mu (f(x) - f*), the signGD flow (5) obeys
  f(x(t)) - f* <= (sqrt(f(x0) - f*) - sqrt(mu) t / 2)^2 and stops by
  T = 2 sqrt((f(x0) - f*) / mu). For f = x^T A x / 2 (A positive definite),
  ||A x||^2 >= lambda_min x^T A x gives mu = 2 lambda_min(A). For f = c x^2,
  mu = 4c and the bound is 2 sqrt(c x0^2 / (4c)) = |x0|, the exact stop time for
  every c; the paper's remark after Prop. 4 (bound x0/sqrt(c), "exact only at
  c = 1") takes f(x0) = x0^2 instead of c x0^2.
* Prop. 3: early-time velocity of the Adam flow (8) with eps = 0,
  |x'(tau) + sign(grad f(x(tau)))| < 54 M^3 L sqrt(d) tau / c^4 for
  tau < c^3 / (32 M^2 L sqrt(d)).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["pl_constant", "signgd_stop_time_bound", "signgd_loss_bound", "adam_early_velocity_bound"]


def pl_constant(obj) -> float:
    """PL constant mu of a strongly convex quadratic f = (x - c)^T A (x - c) / 2:
    mu = 2 lambda_min(A) (with the paper's convention ||grad f||^2 >= mu (f - f*)).

    Reads the declared structure: ``obj.A`` (a quadratic) or ``obj.diagonal`` (a
    diagonal quadratic, A = diag(h)). Raises ValueError for other objectives
    (pass ``mu`` explicitly to the bounds then).
    """
    if obj.A is not None:
        lam = float(np.linalg.eigvalsh(obj.A)[0])
    elif obj.diagonal is not None:
        lam = float(np.min(obj.diagonal))
    else:
        raise ValueError("pl_constant needs a declared quadratic objective (adadyn.objectives.quadratic "
                         "or diagonal_quadratic); give mu explicitly for other objectives")
    if lam <= 0:
        raise ValueError(f"A must be positive definite for a PL constant, lambda_min = {lam:g}")
    return 2.0 * lam


def _gap0(obj, x0, f_star):
    f_star = obj.min_value if f_star is None else float(f_star)
    if f_star is None:
        raise ValueError("the objective has no known minimum value; pass f_star")
    gap = obj.value(np.asarray(x0, dtype=np.float64)) - f_star
    if gap < 0:
        raise ValueError(f"f(x0) - f* must be >= 0, got {gap:g}")
    return gap


def _mu(obj, mu):
    mu = pl_constant(obj) if mu is None else float(mu)
    if not (math.isfinite(mu) and mu > 0):
        raise ValueError(f"mu must be a finite number > 0, got {mu!r}")
    return mu


def signgd_stop_time_bound(obj, x0, mu: float | None = None, f_star: float | None = None) -> float:
    """Prop. 4 of Ma, Wu & E: the signGD flow from x0 stops by T = 2 sqrt((f(x0) - f*)/mu).

    Parameters
    ----------
    obj : Objective
    x0 : array_like (d,)
    mu : float, optional
        PL constant (||grad f||_2^2 >= mu (f - f*)); default :func:`pl_constant` for quadratics.
    f_star : float, optional
        Minimum value; default ``obj.min_value``.
    """
    return 2.0 * math.sqrt(_gap0(obj, x0, f_star) / _mu(obj, mu))


def signgd_loss_bound(obj, x0, t, mu: float | None = None, f_star: float | None = None) -> np.ndarray:
    """Prop. 4: f(x(t)) - f* <= (sqrt(f(x0) - f*) - sqrt(mu) t / 2)_+^2 along the signGD flow."""
    t = np.asarray(t, dtype=np.float64)
    r = math.sqrt(_gap0(obj, x0, f_star)) - 0.5 * math.sqrt(_mu(obj, mu)) * t
    return np.maximum(r, 0.0) ** 2


def adam_early_velocity_bound(tau, c: float, M: float, L: float, d: int) -> np.ndarray:
    """Prop. 3 (eq. (10)): bound 54 M^3 L sqrt(d) tau / c^4 on |x'(tau) + sign(grad f(x(tau)))|
    for the Adam flow with eps = 0; NaN where tau >= c^3 / (32 M^2 L sqrt(d)) (outside its range).

    c: lower bound of |[grad f(x0)]_i|; M: bound of |grad f|; L: Lipschitz constant of grad f.
    """
    for name, val in (("c", c), ("M", M), ("L", L)):
        if not (math.isfinite(val) and val > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {val!r}")
    tau = np.asarray(tau, dtype=np.float64)
    sd = math.sqrt(int(d))
    valid = tau < c**3 / (32.0 * M**2 * L * sd)
    return np.where(valid, 54.0 * M**3 * L * sd * tau / c**4, np.nan)
