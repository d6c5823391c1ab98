"""Curvature of a network's loss: Hessian-vector products by double backward and Lanczos.

* :func:`preconditioned_sharpness`: lambda_max(P^{1/2} H P^{1/2}),
  P = diag(1 / (sqrt(v_hat) + eps)) from an optimiser's second moment, the
  quantity whose crossing of (2 + 2 beta1) / ((1 - beta1) eta) is the adaptive
  edge of stability of Cohen et al. 2022 (see :mod:`adadyn.analysis.sharpness`
  for the derivation from the Adam map, eq. (3) of Ma, Wu & E);
* :func:`top_hessian_eigenvalue` and :func:`critical_learning_rate` at a
  trained point (eta_c = 2 (1 + r) / (h lambda_max(P H)), the formula of
  :mod:`adadyn.analysis.critical`);
* :func:`edge_of_stability`: the sharpness recorded along a run
  (``train(..., sharpness_every=k)``) against the threshold, and whether loss
  spikes follow its upward crossings.

The Hessian is never formed: scipy's Lanczos (``eigsh``) runs on a
LinearOperator whose products are ``torch.autograd.grad`` of the gradient
(built with ``create_graph=True``) against a vector.
"""
from __future__ import annotations

import numpy as np
import torch

from adadyn.analysis.critical import CriticalLearningRate
from adadyn.analysis.regimes import classify
from adadyn.analysis.sharpness import Sharpness, stability_threshold

__all__ = ["preconditioned_sharpness", "top_hessian_eigenvalue", "critical_learning_rate",
           "edge_of_stability", "hvp_operator", "sharpness_at"]


def hvp_operator(model, problem, scale: np.ndarray | None = None):
    """The full-batch Hessian of ``problem.loss(model)`` at the model's parameters as a
    scipy LinearOperator u -> S H S u, S = diag(scale) (identity when None)."""
    from scipy.sparse.linalg import LinearOperator

    params = [p for p in model.parameters() if p.requires_grad]
    ref = params[0]
    prob = problem.to(ref.device, ref.dtype)
    with torch.enable_grad():
        loss = prob.loss(model)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        flat = torch.cat([g.reshape(-1) for g in grads])
    d = flat.shape[0]
    s = None if scale is None else torch.as_tensor(scale, dtype=ref.dtype, device=ref.device)

    def mv(u):
        ut = torch.as_tensor(np.ravel(u), dtype=ref.dtype).to(ref.device)
        if s is not None:
            ut = ut * s
        hv = torch.autograd.grad(flat, params, grad_outputs=ut, retain_graph=True)
        hv = torch.cat([h.reshape(-1) for h in hv])
        if s is not None:
            hv = hv * s
        return hv.detach().to("cpu", torch.float64).numpy()

    return LinearOperator((d, d), matvec=mv, dtype=np.float64)


class SharpnessWarning(RuntimeWarning):
    """A sharpness that could not be computed (recorded as NaN; training goes on)."""


def _lambda_max(op, tol: float, seed: int = 0) -> float:
    """The largest eigenvalue of the symmetric operator ``op`` by Lanczos, or NaN with a
    :class:`SharpnessWarning` when the operator is not finite (an infinite preconditioner:
    a second moment of 0 with eps = 0, where the gradient vanished) or Lanczos fails."""
    import warnings

    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, eigsh

    d = op.shape[0]
    v0 = np.ones(1) if d == 1 else np.random.default_rng(seed).standard_normal(d)
    with np.errstate(all="ignore"):
        w = op.matvec(v0)
    if not np.all(np.isfinite(w)):
        warnings.warn("sharpness recorded as NaN: the preconditioned Hessian is not finite (a second moment "
                      "of 0 with eps = 0, where the gradient vanished, makes P infinite)",
                      SharpnessWarning, stacklevel=3)
        return float("nan")
    if d == 1:
        return float(w[0])
    try:
        return float(eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)[0])
    except (ArpackError, ArpackNoConvergence) as exc:
        warnings.warn(f"sharpness recorded as NaN: Lanczos failed ({type(exc).__name__}: {str(exc)[:120]})",
                      SharpnessWarning, stacklevel=3)
        return float("nan")


def _precond(spec, v: np.ndarray, k: int | None) -> np.ndarray:
    """P = 1/(sqrt(v_hat) + eps) (or 1/sqrt(v_hat + eps)); v_hat = v / (1 - q^k) under bias
    correction when the step count k is given, else v itself (the frozen v* of critical.py)."""
    c = spec.coefficients()
    if c.method == "gd":
        return np.ones_like(v)
    if not c.has_v or c.amsgrad != "none":
        raise ValueError(f"the preconditioner comes from v: {spec.name} (signGD, Lion, AMSGrad's running max) "
                         "has no preconditioned sharpness")
    vh = v / (1.0 - c.q ** k) if (c.bias_correction and k) else v
    with np.errstate(divide="ignore"):  # v = 0 with eps = 0: P = inf, reported by _lambda_max
        return 1.0 / np.sqrt(vh + c.eps) if c.eps_inside else 1.0 / (np.sqrt(vh) + c.eps)


def sharpness_at(model, problem, opt, tol: float = 1e-6) -> float:
    """lambda_max(P^{1/2} H P^{1/2}) with P from the live state of ``opt``
    (an :func:`adadyn.nn.optimizer`) after ``opt.steps_taken`` steps."""
    k = opt.steps_taken
    _, vs = opt.moments()
    c = opt.coefficients
    d = sum(p.numel() for g in opt.param_groups for p in g["params"])
    if c.method == "gd":
        v = np.ones(d)
    elif vs is None:
        v = np.full(d, c.v0)
    else:
        v = torch.cat([t.detach().reshape(-1) for t in vs]).to("cpu", torch.float64).numpy()
    return _lambda_max(hvp_operator(model, problem, np.sqrt(_precond(opt.spec, v, k))), tol)


def preconditioned_sharpness(spec, model, problem, v, k: int, *, tol: float = 1e-8) -> float:
    """lambda_max(P^{1/2} H P^{1/2}), P = diag(1 / (sqrt(v_hat) + eps)), v_hat = v / (1 - beta2^k).

    Parameters
    ----------
    spec : Optimizer
        GD (P = I), RMSprop, Adam, Adagrad, Family or AdaFix.
    model : torch.nn.Module
    problem : Problem
        H is the Hessian of its full-batch loss.
    v : array_like, shape (d,)
        The second moment (e.g. ``traj.final_state.v``).
    k : int
        Steps taken (for the bias correction).
    tol : float
        Lanczos relative tolerance.
    """
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    return _lambda_max(hvp_operator(model, problem, np.sqrt(_precond(spec, v, int(k)))), tol)


def top_hessian_eigenvalue(model, problem, *, tol: float = 1e-8) -> float:
    """lambda_max of the Hessian of the full-batch loss at the model's parameters (Lanczos)."""
    return _lambda_max(hvp_operator(model, problem), tol)


def critical_learning_rate(spec, model, problem, *, v=None, tol: float = 1e-8) -> CriticalLearningRate:
    """The largest eta for which the model's point is linearly stable for ``spec`` with
    the second moment frozen at ``v`` (see :mod:`adadyn.analysis.critical`):
    eta_c = 2 (1 + r) / (h lambda_max(P H)), P = diag(1/(sqrt(v) + eps)); GD 2 / lambda_max(H).

    The point should be (near) a minimum; a non-positive lambda_max gives eta_c = 0.
    """
    c = spec.coefficients()
    if c.method in ("sign", "lion"):
        raise ValueError(f"{spec.name}'s map is not differentiable at a stationary point: no critical learning rate")
    if c.method == "gd":
        lam = top_hessian_eigenvalue(model, problem, tol=tol)
        return CriticalLearningRate(2.0 / lam if lam > 0 else 0.0, lam, float("nan"), "2 / lambda_max",
                                    "lanczos", False)
    d = sum(p.numel() for p in model.parameters() if p.requires_grad)
    vs = np.zeros(d) if v is None else np.broadcast_to(np.asarray(v, dtype=np.float64), (d,)).copy()
    if np.any(vs < 0) or not np.all(np.isfinite(vs)):
        raise ValueError("v must be finite and >= 0")
    if c.eps == 0.0 and np.any(vs == 0):
        raise ValueError("eps = 0 with a zero v: the preconditioner is infinite")
    den = np.sqrt(vs + c.eps) if c.eps_inside else np.sqrt(vs) + c.eps
    lam = _lambda_max(hvp_operator(model, problem, np.sqrt(1.0 / den)), tol)
    eta_c = 2.0 * (1.0 + c.r) / (c.h * lam) if lam > 0 else 0.0
    return CriticalLearningRate(float(eta_c), lam, float("nan"), "2 (1 + r) / (h lambda_max(P H))", "lanczos",
                                bool(np.any(vs > 0)))


def edge_of_stability(traj, *, classify_kw: dict | None = None) -> Sharpness:
    """The recorded preconditioned sharpness of a network run against the threshold
    (2 + 2 beta1) / ((1 - beta1) eta_k) (:func:`adadyn.analysis.sharpness.stability_threshold`),
    with the spikes of the loss (:func:`adadyn.analysis.classify`, default the last half)
    and whether each spike followed an upward crossing of ratio 1.

    Parameters
    ----------
    traj : Trajectory
        From :func:`adadyn.nn.train` with ``sharpness_every`` set.
    """
    if "sharpness" not in traj.extras:
        raise ValueError("traj has no sharpness series: train with sharpness_every=k")
    sh = np.asarray(traj.extras["sharpness"])
    rows = np.flatnonzero(np.isfinite(sh))
    if rows.size < 2:
        raise ValueError("fewer than two sharpness values were recorded")
    steps = np.asarray(traj.step)[rows]
    sharp = sh[rows]
    thr = np.array([stability_threshold(traj.opt, int(k)) for k in steps])
    kw = {"window": 0.5}
    kw.update(classify_kw or {})
    # spikes from the full-resolution loss; crossings from the sharpness rows
    reg = classify(np.asarray(traj.loss), np.asarray(traj.step), f_star=0.0, f_star_known=False, **kw)
    return Sharpness.from_series(steps, np.asarray(traj.time)[rows], sharp, thr, np.asarray(traj.loss)[rows], reg)
