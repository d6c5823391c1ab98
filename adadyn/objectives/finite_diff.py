"""Finite-difference Hessians from the gradient.

Central differences of the gradient, ``H[:, j] = (g(x + h_j e_j) - g(x - h_j e_j)) / (2 h_j)``
with ``h_j = FD_REL_STEP * max(1, |x_j|)`` and ``FD_REL_STEP = eps_mach**(1/3) ~ 6e-6``,
then symmetrised. The truncation error is ``h^2/6 * |d^3 g|`` and the rounding
error about ``eps_mach * |g| / h``; both are ~1e-10 relative to the scale of the
gradient and its derivatives for smooth objectives, and quadratics are
differentiated exactly up to that rounding. ``tests/test_objectives.py``
checks these bounds.
"""
from __future__ import annotations

import numpy as np

from adadyn._jit import VALUE_GRAD_T, f8, lazy, mat, vec
from numba import types

FD_REL_STEP = float(np.finfo(float).eps ** (1.0 / 3.0))


@lazy(types.none(VALUE_GRAD_T, vec, f8, vec, f8, mat))
def fd_hessian(vg, x, t, data, rel, H):
    d = x.shape[0]
    xp = x.copy()
    gp = np.empty(d)
    gm = np.empty(d)
    for j in range(d):
        h = rel * max(1.0, abs(x[j]))
        xj = x[j]
        xp[j] = xj + h
        h_up = xp[j] - xj  # the step actually representable
        vg(xp, t, data, gp)
        xp[j] = xj - h
        h_dn = xj - xp[j]
        vg(xp, t, data, gm)
        xp[j] = xj
        for i in range(d):
            H[i, j] = (gp[i] - gm[i]) / (h_up + h_dn)
    for i in range(d):
        for j in range(i + 1, d):
            s = 0.5 * (H[i, j] + H[j, i])
            H[i, j] = s
            H[j, i] = s


@lazy(types.none(VALUE_GRAD_T, vec, f8, vec, vec, vec))
def fd_hvp(vg, x, t, data, u, out):
    d = x.shape[0]
    nu = 0.0
    nx = 0.0
    for i in range(d):
        nu += u[i] * u[i]
        nx += x[i] * x[i]
    nu = np.sqrt(nu)
    if nu == 0.0:
        out[:] = 0.0
        return
    h = 6.0e-6 * max(1.0, np.sqrt(nx)) / nu
    xp = np.empty(d)
    xm = np.empty(d)
    for i in range(d):
        xp[i] = x[i] + h * u[i]
        xm[i] = x[i] - h * u[i]
    gm = np.empty(d)
    vg(xp, t, data, out)
    vg(xm, t, data, gm)
    for i in range(d):
        out[i] = (out[i] - gm[i]) / (2.0 * h)
