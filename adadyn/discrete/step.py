"""The optimiser step, written once: per-coordinate update functions inlined into
every kernel that steps an optimiser.

:func:`adadyn.discrete.kernels.run_core` (one run), the structure-of-arrays grid
kernel (:mod:`adadyn.discrete.kernels_soa`) and the autonomous map used by the
linearisation (:func:`adadyn.discrete.kernels.map_step`) all call these functions, so the arithmetic of
eq. (1) of Ma, Wu & E exists in one place. They are compiled with
``inline="always"``: the caller's loop sees the operations themselves, so
literal flags (``eps_in=False``, ``ams=0.0``) fold away and the common loop
stays branch-free and vectorises, with the same bits as the general path.

Per step, before the coordinate loop, the bias-correction powers r^k, q^k are
advanced and :func:`bias_factors` gives the step ``stp = eta_t / c1`` and
c2 = sqrt(1 - q^k) (with its reciprocal); the x update is then arranged as
PyTorch arranges it, x -= stp * m / (sqrt(v) / c2 + eps), with the division by
c2 done as one reciprocal per step.
"""
from __future__ import annotations

import numpy as np

from adadyn._jit import jit

AMS_NONE, AMS_RAW, AMS_HAT = 0.0, 1.0, 2.0


@jit(inline="always")
def bias_factors(eta, p1, p2, bias_correction):
    """``(stp, c2, ic2)`` of a step whose powers are p1 = r^k, p2 = q^k:
    stp = eta / (1 - r^k), c2 = sqrt(1 - q^k), ic2 = 1 / c2 (1, 1 without bias correction)."""
    if bias_correction:
        c2 = np.sqrt(1.0 - p2)
        return eta / (1.0 - p1), c2, 1.0 / c2
    return eta, 1.0, 1.0


@jit(inline="always")
def moment_coord(gi, mi, vi, ai, h, r, p, q, eps, stp, c2, ic2, eps_in, ams, update_v):
    """One coordinate of eq. (1): returns ``(dx, m, v, aux)`` with x <- x - dx.

    m <- r m + h g; v <- q v + p g^2 (kept when ``update_v`` is False: AdaFix);
    w = v, or AMSGrad's running max aux <- max(aux, v) (``ams`` = 1, PyTorch) or
    aux <- max(aux, v / c2^2) with w = aux c2^2 (``ams`` = 2, optax);
    dx = stp m / (sqrt(w)/c2 + eps), or stp m / sqrt(w/c2^2 + eps) with ``eps_in``.
    """
    mi = r * mi + h * gi
    if update_v:
        vi = q * vi + p * (gi * gi)
    if ams == AMS_RAW:
        ai = max(ai, vi)
        w = ai
    elif ams == AMS_HAT:
        ai = max(ai, vi / (c2 * c2))
        w = ai * (c2 * c2)
    else:
        w = vi
    if eps_in:
        den = np.sqrt(w / (c2 * c2) + eps)
    else:
        den = np.sqrt(w) * ic2 + eps
    return stp * mi / den, mi, vi, ai


@jit(inline="always")
def sign(u):
    """sign(u) with sign(0) = 0."""
    return 1.0 if u > 0.0 else (-1.0 if u < 0.0 else 0.0)


@jit(inline="always")
def lion_coord(gi, mi, mix, h, r, eta):
    """One coordinate of Lion (Chen et al. 2023): ``(dx, m)`` with
    dx = eta sign(mix m + (1 - mix) g), then m <- r m + h g (r = beta2, h = 1 - beta2)."""
    dx = eta * sign(mix * mi + (1.0 - mix) * gi)
    return dx, r * mi + h * gi


@jit(inline="always")
def scaled_norm(g, gn2):
    """|g| given gn2 = sum g_i^2, without overflow: when gn2 overflowed but every g_i is
    finite the norm is recomputed as max|g_i| * sqrt(sum (g_i / max|g_i|)^2); a non-finite
    component gives NaN (a blow-up)."""
    if np.isfinite(gn2):
        return np.sqrt(gn2)
    gmax = 0.0
    for i in range(g.shape[0]):
        if not np.isfinite(g[i]):
            return np.nan
        gmax = max(gmax, abs(g[i]))
    acc = 0.0
    for i in range(g.shape[0]):
        acc += (g[i] / gmax) * (g[i] / gmax)
    return gmax * np.sqrt(acc)
