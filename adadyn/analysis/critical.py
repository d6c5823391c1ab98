"""Critical learning rates: the largest eta for which a minimum is linearly stable.

For the moment family (eq. (1) of Ma, Wu & E) with the second moment at v*
(v* = 0 at the fixed point; v* > 0 "frozen", the quasi-static view of the
adaptive edge of stability of Cohen et al. 2022), the map restricted to
(x, m) near x* is, in each eigendirection of the preconditioned Hessian
P H with P = diag(1/(sqrt(v*) + eps)) and eigenvalue lambda::

    x' = x - eta (r m + h lambda x) ,   m' = r m + h lambda x ,

a 2 x 2 matrix with trace 1 + r - eta h lambda and determinant r. The Jury
conditions give stability iff eta * h * lambda < 2 (1 + r), i.e.::

    eta_c = 2 (1 + r) / (h lambda_max(P H)).

Special cases: GD 2/lambda_max; RMSprop (h = 1, r = 0) 2 eps/lambda_max
(eq. (11) and Remark 5); Adam (h = 1 - beta1, r = beta1)
(2 + 2 beta1) eps / ((1 - beta1) lambda_max); eps inside the root replaces eps
by sqrt(v* + eps) (2 sqrt(eps)/lambda_max for RMSprop at v* = 0). The v block
contributes the multiplier q = alpha (or beta2) < 1, independent of eta. The
threshold is taken with every other hyperparameter (beta1, beta2/alpha, eps)
held fixed as eta varies.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adadyn.discrete.map import state_map
from adadyn.objectives.hessian import hessian_at
from adadyn.validation import check_vector

__all__ = ["CriticalLearningRate", "critical_learning_rate", "top_eigenvalue"]


@dataclass(frozen=True)
class CriticalLearningRate:
    """Result of :func:`critical_learning_rate`; ``float(result)`` is ``eta_c``.

    Attributes
    ----------
    eta_c : float
        The largest stable learning rate (0.0 when the Hessian has a negative
        eigenvalue: unstable for every eta). Zero-curvature directions
        (degenerate minima) are marginal for every eta and are not counted, so a
        zero Hessian gives ``inf`` (no curvature bounds eta).
    lambda_max : float
        Largest eigenvalue of the (preconditioned, if v* given) Hessian.
    lambda_min : float
        Smallest eigenvalue (negative at a saddle: then ``eta_c`` is 0).
    formula : str
        The threshold formula used, in the paper's symbols.
    method : str
        'dense' (eigvalsh of the d x d matrix) or 'lanczos' (scipy eigsh on
        Hessian-vector products).
    preconditioned : bool
        True when v* > 0 enters through P = diag(1/(sqrt(v*) + eps)).
    """

    eta_c: float
    lambda_max: float
    lambda_min: float
    formula: str
    method: str
    preconditioned: bool

    def __float__(self) -> float:
        return float(self.eta_c)

    def __repr__(self) -> str:
        return (f"CriticalLearningRate(eta_c={self.eta_c:.6g}, lambda_max={self.lambda_max:.6g}, "
                f"formula={self.formula!r}, method={self.method!r})")


def top_eigenvalue(obj, x, precond=None, *, method: str = "auto", tol: float = 1e-10,
                   exact: bool | None = None) -> tuple[float, float, str]:
    """Largest and smallest eigenvalue of P^(1/2) H P^(1/2), P = diag(precond).

    ``method='lanczos'`` never forms H: scipy.sparse.linalg.eigsh on a
    LinearOperator of Hessian-vector products (``obj.hvp``), lambda_min to a
    relative accuracy of max(tol, 1e-3) (its sign marks a saddle). 'auto' picks
    dense for d <= 500. Returns (lambda_max, lambda_min, method).
    """
    x = np.asarray(x, dtype=np.float64)
    d = obj.dim
    s = np.ones(d) if precond is None else np.sqrt(np.asarray(precond, dtype=np.float64))
    if method == "auto":
        method = "dense" if d <= 500 else "lanczos"
    if method == "dense":
        H = hessian_at(obj, x, exact)[0]
        lam = np.linalg.eigvalsh(0.5 * (H + H.T) * s[:, None] * s[None, :])
        return float(lam[-1]), float(lam[0]), "dense"
    if method != "lanczos":
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    from scipy.sparse.linalg import LinearOperator, eigsh

    op = LinearOperator((d, d), matvec=lambda u: s * obj.hvp(x, s * np.ravel(u)), dtype=np.float64)
    if d <= 2:  # eigsh needs k < d: two products give the whole matrix
        B = np.column_stack([op.matvec(e) for e in np.eye(d)])
        lam = np.linalg.eigvalsh(0.5 * (B + B.T))
        return float(lam[-1]), float(lam[0]), "lanczos"
    v0 = np.ones(d) / np.sqrt(d)
    top = eigsh(op, k=1, which="LA", tol=tol, return_eigenvectors=False, v0=v0)
    # the smallest tells a saddle (negative curvature) from a minimum; only its sign is
    # used, so a relative accuracy of 1e-3 is enough (the low end is often clustered,
    # where Lanczos converges slowly)
    low = eigsh(op, k=1, which="SA", tol=max(tol, 1e-3), return_eigenvectors=False, v0=v0)
    return float(top[0]), float(low[0]), "lanczos"


def critical_learning_rate(opt, obj, point, *, v=None, method: str = "auto",
                           exact: bool | None = None) -> CriticalLearningRate:
    """The largest eta for which the fixed point at ``point`` is linearly stable.

    Parameters
    ----------
    opt : Optimizer
        GD, RMSprop, Adam / AMSGrad (t -> infinity map), Adagrad or Family; its
        eta is ignored, the other hyperparameters are kept.
    obj : Objective
    point : array_like, shape (d,)
        A stationary point x* (see :func:`adadyn.analysis.stationary_points`);
        finite (a NaN or inf raises ValueError).
    v : array_like or float, optional
        Second moment v* >= 0 held frozen (the adaptive edge of stability:
        lambda_max of diag(1/(sqrt(v*) + eps)) H). Default 0, the fixed point.
    method : {'auto', 'dense', 'lanczos'}
        How lambda_max is computed (Lanczos for models too large for a dense Hessian).
    exact : bool, optional
        Sympy Hessian for symbolic objectives (dense method only).

    Returns
    -------
    CriticalLearningRate
        ``float(result)`` is eta_c; see the module docstring for the formulas.
    """
    F = state_map(opt, obj)
    try:
        x = np.asarray(point, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"point must be an array of {obj.dim} numbers, got {type(point).__name__}") from None
    x = check_vector("point", x, obj.dim)
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    if F.sign:
        raise ValueError("signGD's map is not differentiable at a stationary point: no critical learning rate")
    if not F.moments:
        lmax, lmin, meth = top_eigenvalue(obj, x, None, method=method, exact=exact)
        if lmin < -1e-12 * abs(lmax):
            eta_c = 0.0  # negative curvature: unstable for every eta
        else:
            eta_c = 2.0 / lmax if lmax > 0 else np.inf  # a zero Hessian bounds no eta
        return CriticalLearningRate(eta_c, lmax, lmin, "2 / lambda_max", meth, False)
    if v is None:
        vs = np.zeros(obj.dim)
    else:
        try:
            vs = np.broadcast_to(np.asarray(v, dtype=np.float64), (obj.dim,))
        except (TypeError, ValueError):
            raise ValueError(f"v must be a number or an array of {obj.dim} numbers >= 0, got {v!r}") from None
    if not np.all(np.isfinite(vs)) or np.any(vs < 0):
        raise ValueError(f"v must be finite and >= 0, got {v!r}")
    if np.any(vs == 0) and F.eps == 0.0:
        raise ValueError("eps = 0 with v* = 0: the map is singular at the fixed point (eta_c = 0)")
    den = np.sqrt(vs + F.eps) if F.eps_inside else np.sqrt(vs) + F.eps
    pre = bool(np.any(vs > 0))
    lmax, lmin, meth = top_eigenvalue(obj, x, 1.0 / den, method=method, exact=exact)
    h, r = F.h, F.r
    # no positive curvature and none negative (a zero Hessian): no eta is bounded by it
    eta_c = 2.0 * (1.0 + r) / (h * lmax) if lmax > 0 else np.inf
    if not pre:
        # P = I/eps (or I/sqrt(eps)): report the eigenvalues of H itself
        lmax, lmin = lmax * den[0], lmin * den[0]
    if lmin < -1e-12 * abs(lmax):
        eta_c = 0.0  # a direction of negative curvature is unstable for every eta
    D = "sqrt(v* + eps)" if F.eps_inside else "(sqrt(v*) + eps)"
    if not pre:
        D = "sqrt(eps)" if F.eps_inside else "eps"
    lam = "lambda_max(diag(1/" + ("sqrt(v* + eps)" if F.eps_inside else "(sqrt(v*) + eps)") + ") H)"
    if r == 0.0 and h == 1.0:
        formula = f"2 {D} / lambda_max(H)" if not pre else f"2 / {lam}"
    elif not F.amsgrad and abs(h - (1.0 - r)) < 1e-15:
        formula = (f"(2 + 2 beta1) {D} / ((1 - beta1) lambda_max(H))" if not pre
                   else f"(2 + 2 beta1) / ((1 - beta1) {lam})")
    else:
        formula = f"2 (1 + r) {D} / (h lambda_max(H))" if not pre else f"2 (1 + r) / (h {lam})"
    return CriticalLearningRate(float(eta_c), lmax, lmin, formula, meth, pre)
