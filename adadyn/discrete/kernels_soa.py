"""Grid sweeps vectorised across grid points (structure of arrays).

For objectives with a batched ``value_grad`` (:data:`adadyn._jit.VALUE_GRAD_BATCH_SIG`),
a chunk of grid points ("lanes") advances together: the state is stored
coordinate-major, ``X[i, lane]``, so every loop over lanes is a SIMD loop.
Each lane performs exactly the operations of :func:`adadyn.discrete.kernels.run_core`
in the same order (both step through :mod:`adadyn.discrete.step`), so results are bit-identical to running each point alone
(tests/test_discrete.py checks this). Supports GD, signGD and the moment
methods without AMSGrad's max and with eps outside the root (RMSprop, Adam,
Adagrad, Family); :func:`adadyn.discrete.run_grid` falls back to one run per
point for the rest.
"""
from __future__ import annotations

import numpy as np
from numba import types

from adadyn._jit import VALUE_GRAD_BATCH_T, Lazy, i8, mat, vec
from adadyn.discrete.kernels import (
    HP_BC, HP_EPS, HP_ETA, HP_H, HP_P, HP_Q, HP_R, KIND_GD, KIND_SIGN, STATUS_DIVERGED, STATUS_OK,
    sched_factor,
)
from adadyn.discrete.step import bias_factors, moment_coord, scaled_norm, sign

#: lanes per chunk: enough for full SIMD width, small enough for the chunk's
#: state (4 arrays of d x LANES) to stay in cache.
LANES = 64


def soa_supported(kind: int, hp: np.ndarray) -> bool:
    from adadyn.discrete import kernels as K

    if kind in (K.KIND_GD, K.KIND_SIGN):
        return True
    return kind == K.KIND_MOMENT and hp[K.HP_AMS] == 0.0 and hp[K.HP_EPS_IN] == 0.0


def _chunk(kind, HP, skind, sp, vgb, data, X, steps, every, window, loss, gnr, fx, st, nd, stats):
    d, L = X.shape
    # every work array is one np.empty of one of two shapes, filled by loops: each distinct
    # NumPy allocation (zeros, ones, full, another dtype) is a compile of its own
    m = np.empty((d, L))
    v = np.empty((d, L))
    Gr = np.empty((d, L))
    for i in range(d):
        for k in range(L):
            m[i, k] = 0.0
            v[i, k] = 0.0
    F = np.empty(L)
    gn2 = np.empty(L)
    eta0 = np.empty(L)
    h = np.empty(L)
    r = np.empty(L)
    p = np.empty(L)
    q = np.empty(L)
    eps = np.empty(L)
    bc = np.empty(L)
    p1 = np.empty(L)
    p2 = np.empty(L)
    stp = np.empty(L)
    c2 = np.empty(L)
    ic2 = np.empty(L)
    active = np.empty(L)  # 1.0 while the lane runs
    sl = np.empty(L)
    sl2 = np.empty(L)
    lmin = np.empty(L)
    lmax = np.empty(L)
    nw = np.empty(L)
    last = np.empty(L)
    for k in range(L):
        eta0[k] = HP[k, HP_ETA]
        h[k] = HP[k, HP_H]
        r[k] = HP[k, HP_R]
        p[k] = HP[k, HP_P]
        q[k] = HP[k, HP_Q]
        eps[k] = HP[k, HP_EPS]
        bc[k] = HP[k, HP_BC]
        p1[k] = 1.0
        p2[k] = 1.0
        active[k] = 1.0
        sl[k] = 0.0
        sl2[k] = 0.0
        lmin[k] = np.inf
        lmax[k] = -np.inf
        nw[k] = 0.0
        last[k] = np.nan
    nrec = 0
    cnt = 1
    w0 = steps - window + 1
    n_active = L
    for k in range(L):
        st[k] = STATUS_OK
        nd[k] = steps
    n = 0
    while True:
        t = float(n + 1)
        vgb(X, t, data, Gr, F)
        for k in range(L):
            gn2[k] = 0.0
        for i in range(d):
            for k in range(L):
                gn2[k] += Gr[i, k] * Gr[i, k]
        for k in range(L):
            if active[k] != 0.0:
                last[k] = F[k]
                if not (np.isfinite(F[k]) and np.isfinite(scaled_norm(Gr[:, k], gn2[k]))):
                    active[k] = 0.0
                    n_active -= 1
                    st[k] = STATUS_DIVERGED
                    nd[k] = n
                    for i in range(d):
                        fx[k, i] = X[i, k]
                elif n >= w0:
                    lf = np.log10(max(abs(F[k]), 1e-300))
                    sl[k] += lf
                    sl2[k] += lf * lf
                    lmin[k] = min(lmin[k], F[k])
                    lmax[k] = max(lmax[k], F[k])
                    nw[k] += 1.0
        cnt -= 1
        if cnt == 0 and nrec < loss.shape[1]:
            cnt = every
            for k in range(L):
                if active[k] != 0.0:
                    loss[k, nrec] = F[k]
                    gnr[k, nrec] = scaled_norm(Gr[:, k], gn2[k])
                else:
                    loss[k, nrec] = np.nan
                    gnr[k, nrec] = np.nan
            nrec += 1
        if n == steps or n_active == 0:
            break
        ef = sched_factor(skind, sp, t)
        if kind == KIND_GD:
            for i in range(d):
                for k in range(L):
                    X[i, k] -= (eta0[k] * ef) * Gr[i, k]
        elif kind == KIND_SIGN:
            for i in range(d):
                for k in range(L):
                    X[i, k] -= (eta0[k] * ef) * sign(Gr[i, k])
        else:
            for k in range(L):
                p1[k] *= r[k]
                p2[k] *= q[k]
                stp[k], c2[k], ic2[k] = bias_factors(eta0[k] * ef, p1[k], p2[k], bc[k] != 0.0)
            for i in range(d):
                for k in range(L):
                    dx, m[i, k], v[i, k], _ = moment_coord(Gr[i, k], m[i, k], v[i, k], 0.0, h[k], r[k], p[k],
                                                           q[k], eps[k], stp[k], c2[k], ic2[k], False, 0.0, True)
                    X[i, k] -= dx
        n += 1
    for j in range(nrec, loss.shape[1]):
        for k in range(L):
            loss[k, j] = np.nan
            gnr[k, j] = np.nan
    for k in range(L):
        if active[k] != 0.0:
            for i in range(d):
                fx[k, i] = X[i, k]
        if nw[k] > 0:
            mu = sl[k] / nw[k]
            stats[k, 0] = mu
            stats[k, 1] = np.sqrt(max(sl2[k] / nw[k] - mu * mu, 0.0))
        else:
            stats[k, 0] = np.nan
            stats[k, 1] = np.nan
        stats[k, 2] = lmin[k]
        stats[k, 3] = lmax[k]
        stats[k, 4] = nw[k]
        stats[k, 5] = last[k]


CHUNK_SIG = types.none(
    i8, mat, i8, vec, VALUE_GRAD_BATCH_T, vec, mat, i8, i8, i8,
    mat, mat, mat, types.int64[::1], types.int64[::1], mat,
)
#: One chunk of at most LANES grid points, serial and without the GIL: run_grid spreads
#: the chunks over Python threads (no parallel-runtime compile, no OpenMP in workers).
chunk_kernel = Lazy(_chunk, CHUNK_SIG, nogil=True)
