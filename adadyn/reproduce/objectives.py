"""Objectives the reproductions need beyond :mod:`adadyn.objectives.library`.

Library-style: exact gradients compiled with Numba through :mod:`adadyn._jit`
(cached on disk), numbers in the flat ``data`` array (layout stated per
constructor), and a recorded constructor call so that each objective pickles
and has a stable :meth:`~adadyn.objectives.Objective.identity`.

Randomness inside a kernel (the stochastic problem of Reddi et al.'s Theorem 3,
gradient noise on the AdaFix example) is a counter-based hash of (seed, step):
step t always sees the same draw, whatever the record stride, the thread or the
process, and :func:`uniform01` reproduces the draws in NumPy.
"""
from __future__ import annotations

import math

import numpy as np

from adadyn._jit import HESSIAN_SIG, VALUE_GRAD_SIG, jit, lazy
from adadyn.objectives.base import Objective, recorded
from adadyn.validation import check_int, check_nonnegative, check_positive, check_real

__all__ = ["periodic_linear", "stochastic_linear", "noisy_cosine_bowl", "logistic_regression",
           "digits_logistic", "uniform01"]

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@jit
def _hash01(seed, counter):
    """SplitMix64 of (seed, counter) mapped to a double in [0, 1)."""
    z = np.uint64(seed) * _M1 + np.uint64(counter) * _M2 + _M3
    z = (z ^ (z >> np.uint64(30))) * _M2
    z = (z ^ (z >> np.uint64(27))) * _M3
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def uniform01(seed: int, counters) -> np.ndarray:
    """NumPy mirror of the kernels' draws: the uniform in [0, 1) for each counter."""
    c = np.asarray(counters, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) * _M1 + c * _M2 + _M3
        z = (z ^ (z >> np.uint64(30))) * _M2
        z = (z ^ (z >> np.uint64(27))) * _M3
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


@lazy(HESSIAN_SIG)
def _zero_hess(x, t, data, H):
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            H[i, j] = 0.0


# ---------------------------------------------------------------- periodic linear (online)
# data = [big, small, period]
@lazy(VALUE_GRAD_SIG)
def _periodic_vg(x, t, data, g):
    c = data[0] if int(t) % int(data[2]) == 1 else data[1]
    g[0] = c
    return c * x[0]


@recorded
def periodic_linear(big: float = 3.0, small: float = -1.0, period: int = 3) -> Objective:
    """Online linear losses on [-1, 1]: f_t(x) = big * x if t mod period == 1, else small * x.

    Reddi, Kale & Kumar's Theorem 1 problem is ``periodic_linear(C, -1, 3)``
    (C > 2); their Section 5 synthetic problem is ``periodic_linear(1010, -10, 101)``.
    Steps are t = 1, 2, ...; when big + (period - 1) * small > 0 the regret-optimal
    point is x = -1.
    """
    big, small = check_real("big", big), check_real("small", small)
    period = check_int("period", period, lo=2)
    return Objective(1, _periodic_vg, _zero_hess, np.array([big, small, float(period)]),
                     name=f"periodic linear ({big:g} x every {period}, else {small:g} x)",
                     bounds=(-1.0, 1.0), time_dependent=True,
                     minimizer=np.array([-1.0 if big + (period - 1) * small > 0 else 1.0]))


# ---------------------------------------------------------------- stochastic linear
# data = [C, p, seed]
@lazy(VALUE_GRAD_SIG)
def _stoch_vg(x, t, data, g):
    c = data[0] if _hash01(int(data[2]), int(t)) < data[1] else -1.0
    g[0] = c
    return c * x[0]


@recorded
def stochastic_linear(C: float = 101.0, p: float = 0.01, seed: int = 0) -> Objective:
    """Reddi, Kale & Kumar's Theorem 3 problem on [-1, 1]: f_t(x) = C x with probability p,
    -x otherwise, drawn independently at every step t (reproducibly from ``seed``).

    E f_t(x) = (p (C + 1) - 1) x: for p > 1/(C + 1) the optimum is x = -1. With
    C = 101, p = 0.01 it is their Section 5 stochastic problem (1010 x w.p. 0.01,
    else -10 x) divided by 10, which Adam does not see (it is scale invariant up to eps).
    """
    C = check_positive("C", C)
    p = float(p)
    if not (0.0 < p < 1.0):
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    seed = check_int("seed", seed, lo=0, hi=2**52)
    mean = p * (C + 1.0) - 1.0
    return Objective(1, _stoch_vg, _zero_hess, np.array([C, p, float(seed)]),
                     name=f"stochastic linear (C={C:g} w.p. {p:g}, else -1)", bounds=(-1.0, 1.0),
                     time_dependent=True, minimizer=np.array([-1.0 if mean > 0 else 1.0]))


# ---------------------------------------------------------------- 1 - cos(|x|^2) with noisy gradients
# data = [sigma, seed]
@lazy(VALUE_GRAD_SIG)
def _noisy_bowl_vg(x, t, data, g):
    s = x[0] * x[0] + x[1] * x[1]
    sn = math.sin(s)
    sigma = data[0]
    z0 = 0.0
    z1 = 0.0
    if sigma > 0.0:
        seed = int(data[1])
        u1 = 1.0 - _hash01(seed, 2 * int(t))  # (0, 1]
        u2 = _hash01(seed, 2 * int(t) + 1)
        r = math.sqrt(-2.0 * math.log(u1))
        z0 = r * math.cos(2.0 * math.pi * u2)
        z1 = r * math.sin(2.0 * math.pi * u2)
    g[0] = 2.0 * x[0] * sn + sigma * z0
    g[1] = 2.0 * x[1] * sn + sigma * z1
    return 1.0 - math.cos(s)


@lazy(HESSIAN_SIG)
def _bowl_hess(x, t, data, H):
    s = x[0] * x[0] + x[1] * x[1]
    sn = math.sin(s)
    cs = math.cos(s)
    for i in range(2):
        for j in range(2):
            H[i, j] = 4.0 * x[i] * x[j] * cs + (2.0 * sn if i == j else 0.0)


@recorded
def noisy_cosine_bowl(sigma: float = 0.0, seed: int = 0) -> Objective:
    """f(x) = 1 - cos(x1^2 + x2^2) (Bae, Ryu & Shin's example) whose gradient oracle adds
    independent N(0, sigma^2) noise to each coordinate at each step t (a stand-in for
    minibatch noise); ``sigma = 0`` is the exact gradient. The loss is the exact f.
    """
    sigma = check_nonnegative("sigma", sigma)
    seed = check_int("seed", seed, lo=0, hi=2**50)
    return Objective(2, _noisy_bowl_vg, _bowl_hess, np.array([sigma, float(seed)]),
                     name=f"1 - cos(x1^2 + x2^2), gradient noise sigma={sigma:g}",
                     time_dependent=sigma > 0, minimizer=np.zeros(2), min_value=0.0)


# ---------------------------------------------------------------- multinomial logistic regression
# data = [n, p, k, lam, X (n*p row-major), labels (n)]; w = W (k*p row-major)
@lazy(VALUE_GRAD_SIG)
def _logreg_vg(w, t, data, g):
    n = int(data[0])
    p = int(data[1])
    k = int(data[2])
    lam = data[3]
    xo = 4
    yo = 4 + n * p
    z = np.empty(k)
    for j in range(k * p):
        g[j] = 0.0
    f = 0.0
    for s in range(n):
        row = xo + s * p
        zmax = -np.inf
        for c in range(k):
            acc = 0.0
            wc = c * p
            for i in range(p):
                acc += w[wc + i] * data[row + i]
            z[c] = acc
            zmax = max(zmax, acc)
        tot = 0.0
        for c in range(k):
            z[c] = math.exp(z[c] - zmax)
            tot += z[c]
        y = int(data[yo + s])
        f += math.log(tot) + zmax
        for c in range(k):
            pc = z[c] / tot
            if c == y:
                pc -= 1.0
            wc = c * p
            for i in range(p):
                g[wc + i] += pc * data[row + i]
        # subtract the true-class logit
        acc = 0.0
        for i in range(p):
            acc += w[y * p + i] * data[row + i]
        f -= acc
    inv = 1.0 / n
    reg = 0.0
    for j in range(k * p):
        g[j] = g[j] * inv + lam * w[j]
        reg += w[j] * w[j]
    return f * inv + 0.5 * lam * reg


@recorded
def logistic_regression(X, labels, n_classes: int | None = None, lam: float = 1e-3) -> Objective:
    """Mean multinomial (softmax) cross-entropy of a linear model W (k x p, flattened row-major)
    plus lam |W|^2 / 2, with exact gradient.

    Its gradient is K-Lipschitz (Mazumder et al.'s Definition 1) with
    K = lambda_max(X^T X / n) / 2 + lam (the softmax Hessian diag(pi) - pi pi^T has
    norm <= 1/2); see :func:`smoothness_constant`.
    """
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    y = np.asarray(labels).reshape(-1)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, p), got shape {X.shape}")
    n, p = X.shape
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    if np.any(y < 0) or np.any(y != np.round(y)):
        raise ValueError("labels must be integers >= 0")
    k = int(y.max()) + 1 if n_classes is None else check_int("n_classes", n_classes, lo=2)
    if y.max() >= k:
        raise ValueError(f"labels must be < n_classes = {k}")
    lam = check_nonnegative("lam", lam)
    data = np.concatenate([[n, p, k, lam], X.ravel(), y.astype(np.float64)])
    obj = Objective(k * p, _logreg_vg, None, data, name=f"logistic regression (n={n}, p={p}, k={k})")
    return obj


def smoothness_constant(obj: Objective) -> float:
    """K = lambda_max(X^T X / n) / 2 + lam for a :func:`logistic_regression` objective."""
    n, p, k = (int(v) for v in obj.data[:3])
    X = obj.data[4:4 + n * p].reshape(n, p)
    return float(np.linalg.eigvalsh(X.T @ X / n)[-1]) / 2.0 + float(obj.data[3])


def _digits_split(n_train: int | None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = X.std(axis=0) > 0              # 3 pixels are 0 in every image: no gradient there
    X = np.hstack([X[:, keep] / 16.0, np.ones((X.shape[0], 1))])   # pixels in [0, 1], bias column
    perm = np.random.default_rng(0).permutation(X.shape[0])
    n_tr = 1347 if n_train is None else int(n_train)
    tr, va = perm[:n_tr], perm[1347:]
    return X[tr], y[tr], X[va], y[va]


@recorded
def digits_logistic(n_train: int | None = None, lam: float = 1e-3) -> Objective:
    """Softmax regression on scikit-learn's bundled digits (8x8 images, 10 classes): pixels / 16,
    constant pixels dropped, a bias column; the first ``n_train`` (default 1347 = 3/4) of a
    fixed permutation train, the last 450 validate (:func:`digits_validation`)."""
    Xtr, ytr, _, _ = _digits_split(n_train)
    obj = logistic_regression(Xtr, ytr, 10, lam)
    obj.name = f"digits softmax regression (n={Xtr.shape[0]}, lam={lam:g})"
    return obj


def digits_validation(n_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The validation images and labels of :func:`digits_logistic` (the last 450 of the permutation)."""
    _, _, Xva, yva = _digits_split(n_train)
    return Xva, yva
