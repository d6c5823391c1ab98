"""Objectives from the papers, with exact gradients and Hessians in Numba.

Each kernel reads its numbers from the flat ``data`` array; the layout is
stated next to each constructor.
"""
from __future__ import annotations

import numpy as np

from numba import prange

from adadyn._jit import HESSIAN_SIG, VALUE_GRAD_BATCH_SIG, VALUE_GRAD_SIG, Lazy, jit, lazy
from adadyn.objectives.base import Objective, Structure, recorded


# ---------------------------------------------------------------- quadratic
# data = [c (d), A c (d), A (d*d, row-major, symmetric)]; g = A x - A c keeps the
# inner loop a plain dot product.
@lazy(VALUE_GRAD_SIG)
def _quad_vg(x, t, data, g):
    d = x.shape[0]
    f = 0.0
    for i in range(d):
        s = -data[d + i]
        row = 2 * d + i * d
        for j in range(d):
            s += data[row + j] * x[j]
        g[i] = s
        f += (x[i] - data[i]) * s
    return 0.5 * f


@lazy(VALUE_GRAD_BATCH_SIG)
def _quad_vg_batch(X, t, data, G, F):
    # lane by lane the operations of _quad_vg, in the same order (same bits)
    d, L = X.shape
    for k in range(L):
        F[k] = 0.0
    for i in range(d):
        row = 2 * d + i * d
        for k in range(L):
            G[i, k] = -data[d + i]
        for j in range(d):
            a = data[row + j]
            for k in range(L):
                G[i, k] += a * X[j, k]
        for k in range(L):
            F[k] += (X[i, k] - data[i]) * G[i, k]
    for k in range(L):
        F[k] = 0.5 * F[k]


@lazy(HESSIAN_SIG)
def _quad_hess(x, t, data, H):
    d = x.shape[0]
    for i in range(d):
        for j in range(d):
            H[i, j] = data[2 * d + i * d + j]


@recorded
def quadratic(A, center=None, *, name: str = "quadratic") -> Objective:
    """f(x) = (x - c)^T A (x - c) / 2.

    The objective of Figure 5 of Ma, Wu & E (with A = U U^T, c = 0). A is
    symmetrised; when it is positive definite the minimiser c and f* = 0 are
    recorded.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError("A must be finite")
    d = A.shape[0]
    A = 0.5 * (A + A.T)
    c = np.zeros(d) if center is None else np.asarray(center, dtype=np.float64).reshape(-1)
    if c.shape != (d,):
        raise ValueError(f"center must have shape ({d},), got {c.shape}")
    pd = bool(np.linalg.eigvalsh(A)[0] > 0)
    obj = Objective(
        d, _quad_vg, _quad_hess, np.concatenate([c, A @ c, A.ravel()]), name=name,
        minimizer=c if pd else None, min_value=0.0 if pd else None, value_grad_batch=_quad_vg_batch,
        structure=Structure("quadratic", matrix=A, center=c),
    )
    return obj


@recorded
def random_quadratic(d: int = 10, seed: int = 0) -> Objective:
    """The paper's Figure 5 problem: A = U U^T, U d x d standard normal (fixed seed)."""
    U = np.random.default_rng(seed).standard_normal((d, d))
    return quadratic(U @ U.T, name=f"random quadratic (d={d}, seed={seed})")


# ---------------------------------------------------------------- diagonal quadratic
# data = [h (d), c (d)]. Offsets into data are unsigned (np.uint64): a signed index
# d + i makes Numba emit the negative-index wraparound check, which stops the loop
# from vectorising and doubles the time of the fused d = 10^6 step.
@lazy(VALUE_GRAD_SIG)
def _diag_vg(x, t, data, g):
    d = x.shape[0]
    f = 0.0
    for i in range(d):
        r = x[i] - data[np.uint64(d + i)]
        g[i] = data[i] * r
        f += g[i] * r
    return 0.5 * f


def _diag_vg_prange(x, t, data, g):
    d = x.shape[0]
    f = 0.0
    for i in prange(d):
        r = x[i] - data[np.uint64(d + i)]
        gi = data[i] * r
        g[i] = gi
        f += gi * r
    return 0.5 * f


# For large d: all cores, and reassociation allowed for the loss sum only, so the
# loop vectorises; the gradient is bit-identical, f may differ in its last bits.
_diag_vg_parallel = Lazy(_diag_vg_prange, VALUE_GRAD_SIG, tag="parallel", parallel=True,
                         fastmath={"reassoc", "nsz"})


@jit(inline="always")
def _diag_coord(xi, i, t, data):
    # one coordinate of _diag_vg: (h_i r_i^2 / 2, h_i r_i) with r_i = x_i - c_i
    r = xi - data[np.uint64(data.shape[0] // 2 + i)]
    gi = data[np.uint64(i)] * r
    return 0.5 * (gi * r), gi


@lazy(HESSIAN_SIG)
def _diag_hess(x, t, data, H):
    d = x.shape[0]
    H[:, :] = 0.0
    for i in range(d):
        H[i, i] = data[i]


@recorded
def diagonal_quadratic(h, center=None, *, parallel: bool | None = None) -> Objective:
    """f(x) = sum_i h_i (x_i - c_i)^2 / 2, O(d) memory (for very large d).

    ``parallel`` (default: d >= 50,000) evaluates it on all cores, summing the
    loss with reassociation allowed (last-bit differences in f only).
    """
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    d = h.shape[0]
    c = np.zeros(d) if center is None else np.asarray(center, dtype=np.float64).reshape(d)
    pd = bool(np.all(h > 0))
    if parallel is None:
        parallel = d >= 50_000
    vg = _diag_vg_parallel if parallel else _diag_vg
    return Objective(d, vg, _diag_hess, np.concatenate([h, c]), name="diagonal quadratic",
                     minimizer=c if pd else None, min_value=0.0 if pd else None,
                     structure=Structure("diagonal", diagonal=h, center=c, coord=_diag_coord))


# ---------------------------------------------------------------- Rosenbrock
@lazy(VALUE_GRAD_SIG)
def _rosen_vg(x, t, data, g):
    d = x.shape[0]
    f = 0.0
    for i in range(d):
        g[i] = 0.0
    for i in range(d - 1):
        u = x[i + 1] - x[i] * x[i]
        w = 1.0 - x[i]
        f += 100.0 * u * u + w * w
        g[i] += -400.0 * x[i] * u - 2.0 * w
        g[i + 1] += 200.0 * u
    return f


@lazy(HESSIAN_SIG)
def _rosen_hess(x, t, data, H):
    d = x.shape[0]
    H[:, :] = 0.0
    for i in range(d - 1):
        H[i, i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0
        H[i, i + 1] += -400.0 * x[i]
        H[i + 1, i] += -400.0 * x[i]
        H[i + 1, i + 1] += 200.0


@recorded
def rosenbrock(d: int = 2) -> Objective:
    """f(x) = sum_{i<d} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum 0 at (1, ..., 1)."""
    if int(d) < 2:
        raise ValueError(f"d must be >= 2 for rosenbrock, got {d}")
    d = int(d)
    return Objective(d, _rosen_vg, _rosen_hess, None, name=f"rosenbrock (d={d})",
                     minimizer=np.ones(d), min_value=0.0)


# ---------------------------------------------------------------- 1 - cos(|x|^2)
@lazy(VALUE_GRAD_SIG)
def _cosbowl_vg(x, t, data, g):
    s = x[0] * x[0] + x[1] * x[1]
    sn = np.sin(s)
    g[0] = 2.0 * x[0] * sn
    g[1] = 2.0 * x[1] * sn
    return 1.0 - np.cos(s)


@lazy(HESSIAN_SIG)
def _cosbowl_hess(x, t, data, H):
    s = x[0] * x[0] + x[1] * x[1]
    sn = np.sin(s)
    cs = np.cos(s)
    for i in range(2):
        for j in range(2):
            H[i, j] = 4.0 * x[i] * x[j] * cs + (2.0 * sn if i == j else 0.0)


@recorded
def cosine_bowl() -> Objective:
    """f(x) = 1 - cos(x1^2 + x2^2), the non-convex example of Bae, Ryu & Shin (AdaFix).

    The global minimum 0 is attained at x = 0 and on every circle
    x1^2 + x2^2 = 2 pi k; the gradient points away from 0
    (<grad f(x), x> = 2 |x|^2 sin |x|^2 > 0) only inside x1^2 + x2^2 < pi.
    """
    return Objective(2, _cosbowl_vg, _cosbowl_hess, None, name="1 - cos(x1^2 + x2^2)",
                     minimizer=np.zeros(2), min_value=0.0)


# ---------------------------------------------------------------- least squares
# data = [n, X (n*d row-major), y (n)]
@lazy(VALUE_GRAD_SIG)
def _lsq_vg(x, t, data, g):
    d = x.shape[0]
    n = int(data[0])
    for j in range(d):
        g[j] = 0.0
    f = 0.0
    for k in range(n):
        row = 1 + k * d
        r = -data[1 + n * d + k]
        for j in range(d):
            r += data[row + j] * x[j]
        f += r * r
        for j in range(d):
            g[j] += data[row + j] * r
    for j in range(d):
        g[j] /= n
    return 0.5 * f / n


@lazy(HESSIAN_SIG)
def _lsq_hess(x, t, data, H):
    d = x.shape[0]
    n = int(data[0])
    H[:, :] = 0.0
    for k in range(n):
        row = 1 + k * d
        for i in range(d):
            for j in range(d):
                H[i, j] += data[row + i] * data[row + j]
    for i in range(d):
        for j in range(d):
            H[i, j] /= n


@recorded
def least_squares(X, y) -> Objective:
    """f(w) = ||X w - y||^2 / (2 n) for n samples (rows of X)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
    n, d = X.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = X @ w - y
    return Objective(d, _lsq_vg, _lsq_hess, np.concatenate([[n], X.ravel(), y]), name="least squares",
                     minimizer=w, min_value=0.5 * float(r @ r) / n)


# ---------------------------------------------------------------- Reddi et al. online problem
# data = [C]
@lazy(VALUE_GRAD_SIG)
def _reddi_vg(x, t, data, g):
    if int(t) % 3 == 1:
        g[0] = data[0]
        return data[0] * x[0]
    g[0] = -1.0
    return -x[0]


@lazy(HESSIAN_SIG)
def _reddi_hess(x, t, data, H):
    H[0, 0] = 0.0


@recorded
def reddi_online(C: float = 3.0) -> Objective:
    """Online problem of Reddi, Kale & Kumar (2018): f_t(x) = C x if t mod 3 == 1
    else -x, on the feasible set [-1, 1], steps t = 1, 2, ....

    For C > 2 the regret-optimal point is x = -1; Adam with beta1 = 0 and
    beta2 = 1/(1 + C^2) drifts to +1 (their Theorem 1) while AMSGrad does not.
    """
    C = float(C)
    if not np.isfinite(C) or C <= 0:
        raise ValueError(f"C must be finite and > 0, got {C}")
    return Objective(1, _reddi_vg, _reddi_hess, np.array([C]), name=f"reddi online (C={C:g})",
                     minimizer=np.array([-1.0]), bounds=(-1.0, 1.0), time_dependent=True)
