"""The small semidefinite complementarity problem of the central flows.

Find a symmetric k x k matrix X with

    X >= 0,    R(X) = A + B[X] >= 0,    <X, R(X)> = 0            (SDCP(A, B))

(">= 0": positive semidefinite), where A is symmetric k x k and B is a linear map on
symmetric matrices given as a (k, k, k, k) array, B[X]_ab = sum_cd B_abcd X_cd. In
the central flows (:mod:`adadyn.flows.central`) A is the stability margin
U^T (2P - H) U one solver step ahead without oscillation and B[X] how the
oscillation's covariance X raises it; B is monotone (<X, B[X]> > 0 for X != 0),
and for GD symmetric positive definite, when SDCP(A, B) is the optimality condition
of the convex problem min_{X >= 0} <A, X> + <X, B[X]>/2.

Method: k = 1 is closed form, X = max(0, -A/B). For k > 1, projected fixed-point
iteration X <- Pi(X - tau R(X)) (Pi the projection onto the PSD cone by clipping
eigenvalues; tau = 1/||B||, ||B|| the spectral norm of B as a k^2 x k^2 matrix) with
Nesterov extrapolation and adaptive restart, from a warm start, until the step is
below ``tol`` relative. It converges for monotone B (the projected-gradient method
of the convex problem when B is symmetric); the complementarity residuals are
returned so that callers and tests can check the answer.
"""
from __future__ import annotations

import numpy as np

__all__ = ["solve_sdcp", "psd_project", "sdcp_residuals"]


def psd_project(X: np.ndarray) -> np.ndarray:
    """The nearest PSD matrix (Frobenius norm): symmetrise, clip eigenvalues at 0."""
    w, V = np.linalg.eigh(0.5 * (X + X.T))
    return (V * np.maximum(w, 0.0)) @ V.T


def _apply(B, X):
    return np.einsum("abcd,cd->ab", B, X)


def sdcp_residuals(A, B, X) -> tuple[float, float, float]:
    """(min eigenvalue of X, min eigenvalue of R = A + B[X], <X, R>) for a candidate X."""
    R = A + _apply(B, X)
    R = 0.5 * (R + R.T)
    return (float(np.linalg.eigvalsh(X)[0]), float(np.linalg.eigvalsh(R)[0]), float(np.sum(X * R)))


def solve_sdcp(A, B, X0=None, *, tol: float = 1e-12, max_iter: int = 20000) -> tuple[np.ndarray, int]:
    """Solve SDCP(A, B) (module doc). Returns ``(X, iterations)``.

    Parameters
    ----------
    A : ndarray (k, k)
        Symmetric.
    B : ndarray (k, k, k, k)
        The linear map; must be monotone (positive on the diagonal for k = 1).
    X0 : ndarray (k, k), optional
        Warm start (projected onto the PSD cone first).
    tol : float
        Stop when the iteration's step is below ``tol * (1 + |X|)``.
    max_iter : int
        Iteration cap (k > 1); the last iterate is returned.
    """
    A = 0.5 * (np.asarray(A, dtype=np.float64) + np.asarray(A, dtype=np.float64).T)
    B = np.asarray(B, dtype=np.float64)
    k = A.shape[0]
    if B.shape != (k, k, k, k):
        raise ValueError(f"B must have shape ({k}, {k}, {k}, {k}), got {B.shape}")
    if k == 0:
        return np.zeros((0, 0)), 0
    if k == 1:
        b = float(B[0, 0, 0, 0])
        if b <= 0:
            raise ValueError(f"SDCP: B must be positive (the oscillation must raise the margin), got {b!r}")
        return np.array([[max(0.0, -float(A[0, 0]) / b)]]), 0
    if np.linalg.eigvalsh(A)[0] >= 0:
        return np.zeros((k, k)), 0
    Bm = B.reshape(k * k, k * k)
    L = float(np.linalg.norm(Bm, 2))
    if not np.isfinite(L) or L <= 0:
        raise ValueError("SDCP: B must be a nonzero finite map")
    tau = 1.0 / L
    X = np.zeros((k, k)) if X0 is None else psd_project(np.asarray(X0, dtype=np.float64))
    Y, theta = X.copy(), 1.0
    for it in range(1, max_iter + 1):
        Xn = psd_project(Y - tau * (A + _apply(B, Y)))
        step = float(np.linalg.norm(Xn - X))
        theta_n = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * theta * theta))
        if np.sum((Y - Xn) * (Xn - X)) > 0:        # adaptive restart (O'Donoghue & Candes)
            theta_n, Y = 1.0, Xn.copy()
        else:
            Y = Xn + ((theta - 1.0) / theta_n) * (Xn - X)
        X, theta = Xn, theta_n
        if step <= tol * (1.0 + float(np.linalg.norm(X))):
            return X, it
    return X, max_iter
