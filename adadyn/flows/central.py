"""Central flows: time-averaged flows through the edge of stability.

Cohen, Damian, Talwalkar, Kolter & Lee, "Understanding Optimization in Deep Learning
with Central Flows" (ICLR 2025). Derivation in adadyn's notation: ``docs/central-flows.md``.

Write the optimiser as x_{k+1} = x_k - eta M^{-1} grad f(x_k), M = M(state) the
preconditioner without the step size (GD: I; RMSProp: diag(sqrt(v) + eps); Scalar
RMSProp: (sqrt(nu) + eps) I), in adadyn's continuous time t = eta k. A direction is
stable while 2 M / eta - H >= 0: the preconditioned sharpness
S = lambda_max(M^{-1/2} H M^{-1/2}) stays below the threshold 2/eta. At the edge
the run oscillates along the top generalised eigenvectors U (H U = M U diag(mu),
U^T M U = I) with covariance Sigma = U X U^T, X >= 0 (k x k); averaged over the
oscillation, to second order in its size,

    x' = -M^{-1} (grad f(x) + (1/2) grad <H(x), Sigma>)
    v' = r (g^2 + diag(H Sigma H) - v)             (RMSProp; Scalar RMSProp:
    nu' = r (|g|^2 + tr(H Sigma H) - nu)            the trace)

with r = (1 - alpha) / (alpha eta) (the rate of the update-first map, module
:func:`central`), and X the solution of the complementarity problem that keeps the
preconditioned sharpness at the threshold: X >= 0, U^T (2M/eta - H) U >= 0 and
their inner product 0. The constraint is imposed one solver step h ahead,
U^T (A + h A') U >= 0 with A = 2M/eta - H and A' affine in X (as the authors'
discretisation does); the SDCP is solved by :func:`adadyn.flows.sdcp.solve_sdcp`.
For GD with one eigenvalue at the edge this is sigma^2 = X = max(0, -2 <grad S,
grad f>/|grad S|^2) on the surface S = 2/eta (plus the step-ahead correction of the
residual), x' = -(grad f + (1/2) sigma^2 grad S).

The objective is used only through ``value(x)``, ``grad(x)``, ``hessian(x)`` (d <=
``dense_max``) or ``hvp(x, u)`` (Lanczos), and ``hessian_form_grad(x, u)``; so a
network objective with those methods works as a formula does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from adadyn.flows.sdcp import solve_sdcp
from adadyn.flows.solution import FlowSolution
from adadyn.status import Status

__all__ = ["CentralFlow", "CentralSolution", "central", "solve_central"]

KINDS = ("gd", "rmsprop", "scalar_rmsprop")


@dataclass(frozen=True)
class CentralFlow:
    """The central flow of a discrete optimiser (module doc); build with :func:`central`.

    Attributes
    ----------
    opt : Optimizer
        The discrete spec (``GD`` or ``RMSprop``, constant step, eps outside the root).
    kind : {"gd", "rmsprop", "scalar_rmsprop"}
    eta, eps, alpha : float
        Step size, epsilon and the second-moment factor (0 for GD).
    n_eig : int
        Top eigenpairs computed at each step; when all of them are at the edge, the step
        computes twice as many (up to d) until one is below it.
    crit : float
        Eigenvalues mu >= crit * 2/eta enter the complementarity problem (the others
        are far from the edge; the step-ahead constraint would give them X = 0).
    """

    opt: object
    kind: str
    eta: float
    eps: float = 0.0
    alpha: float = 0.0
    n_eig: int = 2
    crit: float = 0.95
    has_m: ClassVar[bool] = False
    filippov: ClassVar[bool] = False
    central: ClassVar[bool] = True

    @property
    def has_v(self) -> bool:
        return self.kind != "gd"

    @property
    def name(self) -> str:
        return {"gd": "GD", "rmsprop": "RMSProp", "scalar_rmsprop": "Scalar RMSProp"}[self.kind] + " central flow"

    @property
    def threshold(self) -> float:
        """2/eta: the largest stable preconditioned sharpness."""
        return 2.0 / self.eta

    @property
    def rate(self) -> float:
        """r = (1 - alpha) / (alpha eta): v_{k+1} - v_k = (1 - alpha)/alpha (g_k^2 - v_{k+1})
        in terms of the v_{k+1} that step k divides by (0 for GD)."""
        return 0.0 if self.kind == "gd" else (1.0 - self.alpha) / (self.alpha * self.eta)

    def n_state(self, d: int) -> int:
        return d + {"gd": 0, "rmsprop": d, "scalar_rmsprop": 1}[self.kind]

    def split(self, y, d: int):
        """``(x, None, v)`` views of a state (v has length 1 for Scalar RMSProp)."""
        return y[:d], None, (y[d:] if self.has_v else None)

    def matches(self, opt) -> bool:
        """True when ``opt`` is the discrete optimiser this flow averages."""
        return self.kind != "scalar_rmsprop" and opt == self.opt

    def __repr__(self) -> str:
        extra = "" if self.kind == "gd" else f", alpha={self.alpha:g}, eps={self.eps:g}"
        return f"CentralFlow({self.name!r}, eta={self.eta:g}{extra}, n_eig={self.n_eig})"


def central(opt, *, scalar: bool = False, n_eig: int = 2, crit: float = 0.95) -> CentralFlow:
    """The central flow of ``opt`` (Cohen et al., ICLR 2025): GD, RMSProp, Scalar RMSProp.

    Parameters
    ----------
    opt : GD or RMSprop
        Constant step size; RMSprop with eps outside the root (PyTorch's update,
        v first, then x <- x - eta g / (sqrt(v) + eps)).
    scalar : bool
        With ``RMSprop``: the Scalar RMSProp of the paper, nu <- alpha nu + (1 - alpha)|g|^2,
        x <- x - eta g / (sqrt(nu) + eps) (no discrete spec in adadyn; the flow only).
    n_eig : int
        Top eigenpairs followed (>= 1); doubled at a step where all are at the edge.
    crit : float
        Fraction of the threshold 2/eta from which an eigenvalue counts as at the edge.

    Returns
    -------
    CentralFlow
        Solve it with :func:`adadyn.flows.solve` (which calls :func:`solve_central`).
    """
    from adadyn.discrete.schedules import Constant

    if not isinstance(n_eig, (int, np.integer)) or n_eig < 1:
        raise ValueError(f"n_eig must be an int >= 1, got {n_eig!r}")
    if not (isinstance(crit, (int, float)) and 0.0 < crit <= 1.0):
        raise ValueError(f"crit must be in (0, 1], got {crit!r}")
    c = getattr(opt, "coefficients", None)
    if c is None:
        raise ValueError(f"opt must be an adadyn optimiser spec (GD or RMSprop), got {type(opt).__name__}")
    c = c()
    if not isinstance(c.schedule, (Constant, type(None))):
        raise ValueError(f"central flows need a constant step size; {opt.name} has schedule {c.schedule!r}")
    if c.method == "gd":
        if scalar:
            raise ValueError("scalar=True applies to RMSprop (Scalar RMSProp); GD has no second moment")
        return CentralFlow(opt, "gd", float(c.eta), n_eig=int(n_eig), crit=float(crit))
    rms = c.method == "moment" and c.r == 0.0 and c.h == 1.0 and not c.bias_correction and c.amsgrad == "none"
    if not rms or c.q >= 1.0 or abs(c.p - (1.0 - c.q)) > 1e-15:
        raise ValueError(f"central flows exist for GD, RMSProp and Scalar RMSProp; got {opt.name} "
                         "(Adam's momentum needs another model: see docs/central-flows.md)")
    if c.eps_inside:
        raise ValueError("central flows take RMSprop with eps outside the root (eps_inside=False)")
    return CentralFlow(opt, "scalar_rmsprop" if scalar else "rmsprop", float(c.eta), float(c.eps),
                       float(c.q), n_eig=int(n_eig), crit=float(crit))


@dataclass(frozen=True, eq=False)
class CentralSolution(FlowSolution):
    """A solved central flow: a :class:`FlowSolution` plus the oscillation model.

    Extra attributes (one row per output time ``t``)
    ----------------------------------------------
    sharpness : ndarray (n,)
        Preconditioned sharpness mu_1 = lambda_max(M^{-1/2} H M^{-1/2}) along the flow.
    threshold : float
        2/eta.
    sigma2 : ndarray (n, w)
        With w = min(d, max(4, 2 n_eig)): eigenvalues of Sigma = U X U^T (variances of the
        oscillation along its principal axes, in x units), largest first, zero-padded;
        sqrt(sigma2[:, 0]) is the predicted amplitude of the period-2 oscillation along the
        top eigenvector.
    X : ndarray (n, w, w)
        The complementarity solution in the basis U (zero-padded; its leading w x w block).
    n_edge : ndarray (n,)
        Number of eigenvalues at the edge (entering the SDCP).
    predicted_loss : ndarray (n,)
        f(x) + (1/2) <H, Sigma> = f(x) + (1/2) sum_a mu_a X_aa: the predicted time-averaged loss.
    costs : dict
        Counts: ``rhs`` (right-hand-side evaluations = solver steps), ``grad``, ``hessian``
        (dense), ``hvp``, ``third`` (``hessian_form_grad`` calls), ``sdcp_iterations``.
    """

    sharpness: np.ndarray = field(default=None, repr=False)
    threshold: float = 0.0
    sigma2: np.ndarray = field(default=None, repr=False)
    X: np.ndarray = field(default=None, repr=False)
    n_edge: np.ndarray = field(default=None, repr=False)
    predicted_loss: np.ndarray = field(default=None, repr=False)
    costs: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        at = int(np.sum(self.sigma2[:, 0] > 0))
        return (f"CentralSolution({self.flow!r}, status={str(self.status)!r}, t_end={self.t_end:.6g}, "
                f"points={len(self.t)}, oscillating {at}/{len(self.t)}, "
                f"max sigma={np.sqrt(np.max(self.sigma2)):.4g}, "
                f"final loss={self.loss[-1]:.4g}, rhs={self.costs.get('rhs')}, third={self.costs.get('third')})")


# ---------------------------------------------------------------------- one right-hand side
class _Field:
    """The central-flow field on one objective, with evaluation counts."""

    def __init__(self, flow: CentralFlow, obj, dense_max: int, d: int):
        self.flow, self.obj = flow, obj
        self.d = int(d)
        self.dense = self.d <= dense_max and hasattr(obj, "hessian")
        self.costs = dict(rhs=0, grad=0, hessian=0, hvp=0, third=0, sdcp_iterations=0)
        self.v_top = None

    def precond(self, v):
        f = self.flow
        if f.kind == "gd":
            return np.ones(self.d)
        root = np.sqrt(np.maximum(v, 0.0)) + f.eps
        return root if f.kind == "rmsprop" else np.full(self.d, float(root[0]))

    def eig(self, x, m, n):
        """Top n eigenpairs (mu descending, U with U^T M U = I)."""
        s = 1.0 / np.sqrt(m)
        n = min(n, self.d)
        if self.dense:
            self.costs["hessian"] += 1
            H = np.asarray(self.obj.hessian(x), dtype=np.float64)
            w, W = np.linalg.eigh(s[:, None] * H * s[None, :])
            w, W = w[::-1][:n], W[:, ::-1][:, :n]
        else:
            from scipy.sparse.linalg import LinearOperator, eigsh

            def mv(u):
                self.costs["hvp"] += 1
                return s * np.asarray(self.obj.hvp(x, s * np.ravel(u)), dtype=np.float64)

            op = LinearOperator((self.d, self.d), matvec=mv, dtype=np.float64)
            v0 = self.v_top if self.v_top is not None else np.ones(self.d) / math.sqrt(self.d)
            w, W = eigsh(op, k=n, which="LA", tol=1e-10, v0=v0)
            o = np.argsort(w)[::-1]
            w, W = w[o], W[:, o]
            self.v_top = W[:, 0].copy()
        return w, s[:, None] * W

    def form_grads(self, x, U):
        """G[a, b] = grad_x (u_a^T H u_b), by polarisation of hessian_form_grad."""
        k = U.shape[1]
        G = np.empty((k, k, self.d))
        hfg = self.obj.hessian_form_grad
        for a in range(k):
            G[a, a] = hfg(x, U[:, a])
            self.costs["third"] += 1
            for b in range(a):
                G[a, b] = G[b, a] = 0.25 * (hfg(x, U[:, a] + U[:, b]) - hfg(x, U[:, a] - U[:, b]))
                self.costs["third"] += 2
        return G

    def __call__(self, x, v, h, prev):
        """(x', v', info) at (x, v), with the SDCP imposed one step h ahead."""
        f = self.flow
        self.costs["rhs"] += 1
        self.costs["grad"] += 1
        g = np.asarray(self.obj.grad(x), dtype=np.float64)
        m = self.precond(v)
        thr = f.threshold
        n = f.n_eig
        mu, U = self.eig(x, m, n)
        while n < self.d and mu[-1] >= f.crit * thr:   # every followed eigenvalue is at the edge:
            n = min(2 * n, self.d)                     # follow more (the next may be there too)
            mu, U = self.eig(x, m, n)
        xdot = -g / m
        vdot = None
        if f.has_v:
            g2 = g * g if f.kind == "rmsprop" else np.array([g @ g])
            vdot = f.rate * (g2 - v)
        k = int(np.sum(mu >= f.crit * thr))
        info = dict(mu=mu, U=U, k=k, X=np.zeros((0, 0)), g=g)
        if k == 0:
            return xdot, vdot, info
        Uk, muk = U[:, :k], mu[:k]
        G = self.form_grads(x, Uk)
        C = np.diag(thr - muk)
        alpha0 = -np.einsum("abi,i->ab", G, xdot)
        Bop = 0.5 * np.einsum("abi,cdi->abcd", G, G / m)
        if f.has_v:
            HU = m[:, None] * Uk * muk[None, :]          # H U = M U diag(mu)
            root = np.sqrt(np.maximum(v, 1e-300))
            if f.kind == "rmsprop":
                mdot0 = vdot / (2.0 * root)
                alpha0 += (2.0 / f.eta) * np.einsum("ia,ib,i->ab", Uk, Uk, mdot0)
                vX = f.rate * np.einsum("ic,id->cdi", HU, HU)
                Bop += (2.0 / f.eta) * np.einsum("ia,ib,cdi->abcd", Uk, Uk, vX / (2.0 * root[None, None, :]))
            else:
                UtU = Uk.T @ Uk
                alpha0 += (2.0 / f.eta) * (vdot[0] / (2.0 * root[0])) * UtU
                vX = f.rate * (HU.T @ HU)
                Bop += (2.0 / f.eta) * np.einsum("ab,cd->abcd", UtU, vX / (2.0 * root[0]))
        X0 = None
        if prev is not None and prev[1].size:          # warm start: X0 = U^T M Sigma_prev M U
            W = (m[:, None] * Uk).T @ prev[0]
            X0 = W @ prev[1] @ W.T
        X, its = solve_sdcp(C + h * alpha0, h * Bop, X0)
        self.costs["sdcp_iterations"] += its
        if f.has_v:                                    # M = sqrt(v) + eps is concave in v: correct
            for _ in range(3):                         # the linearised step-ahead M by its defect
                vX_X = np.einsum("cd,cdi->i", X, vX) if f.kind == "rmsprop" else np.array([np.sum(X * vX)])
                vn = np.maximum(v + h * (vdot + vX_X), 0.0)
                dm_true = self.precond(vn) - m
                dm_lin = h * (vdot + vX_X) / (2.0 * root) if f.kind == "rmsprop" else \
                    np.full(self.d, h * (vdot[0] + vX_X[0]) / (2.0 * root[0]))
                defect = (2.0 / f.eta) * np.einsum("ia,ib,i->ab", Uk, Uk, dm_true - dm_lin)
                X, its = solve_sdcp(C + h * alpha0 + defect, h * Bop, X)
                self.costs["sdcp_iterations"] += its
        xdot = xdot - 0.5 * np.einsum("cd,cdi->i", X, G) / m
        if f.has_v:
            vdot = vdot + (np.einsum("cd,cdi->i", X, vX) if f.kind == "rmsprop" else np.array([np.sum(X * vX)]))
        info["X"] = X
        return xdot, vdot, info


# ---------------------------------------------------------------------- the solve
class _Linear:
    """Dense output: piecewise-linear interpolation of the states on the solver grid."""

    def __init__(self, T, Y):
        self.T, self.Y = T, Y

    def __call__(self, t):
        t = np.asarray(t, dtype=np.float64)
        out = np.stack([np.interp(np.atleast_1d(t), self.T, row) for row in self.Y])
        return out[:, 0] if t.ndim == 0 else out


def _sigma_eigs(U, X, n):
    """Eigenvalues of Sigma = U X U^T (largest first, padded to n)."""
    out = np.zeros(n)
    k = X.shape[0]
    if k:
        L = np.linalg.cholesky(U.T @ U)
        out[:k] = np.sort(np.linalg.eigvalsh(L.T @ X @ L))[::-1]
    return out


def solve_central(flow: CentralFlow, obj, x0, t_final: float, *, v0=None, substeps: int = 4,
                  max_steps: int = 5_000_000, max_norm: float = 1e12, dense_max: int = 400) -> CentralSolution:
    """Integrate a central flow on [0, t_final] (continuous time t = eta * steps).

    Explicit Euler with step h = eta / ``substeps`` (the authors' discretisation): at
    each step the SDCP is solved with the constraint imposed at t + h, so the
    preconditioned sharpness is held at 2/eta to O(h^2) and any drift is corrected at
    the next step. The flow is stiff only through the constraint, which this handles.

    Parameters
    ----------
    flow : CentralFlow
    obj : objective
        Anything with ``value(x)``, ``grad(x)``, ``hessian_form_grad(x, u)`` and
        ``hessian(x)`` (d <= ``dense_max``) or ``hvp(x, u)`` (Lanczos, d > ``dense_max``).
    x0 : array_like (d,)
    t_final : float
    v0 : array_like, optional
        RMSProp: the discrete run's initial second moment (default 0). The flow starts
        from the v the first discrete step divides by, alpha v0 + (1 - alpha) g(x0)^2
        (a scalar |g|^2 for Scalar RMSProp; then v0 is a scalar).
    substeps : int
        Solver steps per discrete step (h = eta / substeps).
    max_steps, max_norm :
        Refuse more solver steps than ``max_steps``; stop with status ``diverged``
        once max|y| >= max_norm or the state is not finite.
    dense_max : int
        Dense Hessians (and ``eigh``) up to this dimension, Lanczos on ``hvp`` above.

    Returns
    -------
    CentralSolution
    """
    if not isinstance(flow, CentralFlow):
        raise ValueError(f"flow must be a CentralFlow (flows.central(opt)), got {type(flow).__name__}")
    if not (isinstance(substeps, (int, np.integer)) and substeps >= 1):
        raise ValueError(f"substeps must be an int >= 1, got {substeps!r}")
    if not (isinstance(t_final, (int, float)) and math.isfinite(t_final) and t_final > 0):
        raise ValueError(f"t_final must be a finite number > 0, got {t_final!r}")
    x = np.array(x0, dtype=np.float64).reshape(-1)
    d = int(getattr(obj, "dim", x.shape[0]))
    if x.shape != (d,):
        raise ValueError(f"x0 must have shape ({d},), got {x.shape}")
    n = int(math.ceil(t_final / (flow.eta / substeps) - 1e-9))
    if n > max_steps:
        raise ValueError(f"t_final={t_final!r} needs {n} solver steps at h = eta/{substeps}, above "
                         f"max_steps={max_steps}")
    h = t_final / n
    fld = _Field(flow, obj, dense_max, d)
    v = None
    if flow.has_v:
        g0 = np.asarray(obj.grad(x), dtype=np.float64)
        nv = d if flow.kind == "rmsprop" else 1
        v0a = np.zeros(nv) if v0 is None else np.broadcast_to(np.asarray(v0, dtype=np.float64), (nv,)).copy()
        if np.any(v0a < 0) or not np.all(np.isfinite(v0a)):
            raise ValueError("v0 must be finite and >= 0")
        g2 = g0 * g0 if flow.kind == "rmsprop" else np.array([g0 @ g0])
        v = flow.alpha * v0a + (1.0 - flow.alpha) * g2
        if flow.eps == 0 and np.any(v == 0):
            raise ValueError("eps = 0 with a zero second moment: the preconditioner is singular at the start")
    width = min(d, max(4, 2 * flow.n_eig))
    rows = _Rows(n + 1, flow.n_state(d), width)
    status, message, prev = Status.OK, f"reached t={t_final:g}", None
    for i in range(n + 1):
        last = i == n
        xd, vd, info = fld(x, v, h, prev)
        rows.put(i, i * h, x, v, info, obj, width)
        if last:
            break
        x = x + h * xd
        if v is not None:
            v = np.maximum(v + h * vd, 0.0)
        prev = (info["U"][:, :info["k"]], info["X"])
        y_max = float(np.max(np.abs(x))) if v is None else max(float(np.max(np.abs(x))), float(np.max(v)))
        if not np.isfinite(y_max) or y_max >= max_norm:
            status = Status.DIVERGED
            message = f"state left max_norm={max_norm:g} (or non-finite) at t={(i + 1) * h:.6g}"
            rows.trim(i + 1)
            break
    return rows.package(flow, obj, status, message, fld.costs, d)


class _Rows:
    """Per-step records of a central solve."""

    def __init__(self, n, n_state, n_eig):
        self.n = n
        self.T, self.Y = np.empty(n), np.empty((n, n_state))
        self.loss, self.gn, self.mu = np.empty(n), np.empty(n), np.empty(n)
        self.s2, self.X = np.zeros((n, n_eig)), np.zeros((n, n_eig, n_eig))
        self.k, self.pl = np.zeros(n, dtype=np.int64), np.empty(n)

    def put(self, i, t, x, v, info, obj, n_eig):
        d = x.shape[0]
        self.T[i] = t
        self.Y[i, :d] = x
        if v is not None:
            self.Y[i, d:] = v
        self.loss[i] = float(obj.value(x))
        self.gn[i] = float(np.linalg.norm(info["g"]))
        self.mu[i] = info["mu"][0]
        k, X = info["k"], info["X"]
        self.k[i] = k
        kk = min(k, n_eig)
        self.X[i, :kk, :kk] = X[:kk, :kk]
        self.s2[i] = _sigma_eigs(info["U"][:, :k], X, max(k, n_eig))[:n_eig]
        self.pl[i] = self.loss[i] + 0.5 * float(np.sum(info["mu"][:k] * np.diag(X))) if k else self.loss[i]

    def trim(self, n):
        self.n = n

    def package(self, flow, obj, status, message, costs, d):
        n = self.n
        T, Y = self.T[:n].copy(), self.Y[:n].copy()
        x = Y[:, :d]
        v = Y[:, d:] if flow.has_v else None
        return CentralSolution(
            flow=flow, t=T, x=x, m=None, v=v, loss=self.loss[:n].copy(), grad_norm=self.gn[:n].copy(),
            status=status, message=message, stop_time=None if status == Status.OK else float(T[-1]),
            t_end=float(T[-1]), nfev=int(costs["rhs"]), njev=0, nlu=0, n_steps=n - 1, method="euler-sdcp",
            sol=_Linear(T, Y.T.copy()), objective=obj, events={"substep": float(T[1] - T[0]) if n > 1 else 0.0},
            sharpness=self.mu[:n].copy(), threshold=flow.threshold, sigma2=self.s2[:n].copy(),
            X=self.X[:n].copy(), n_edge=self.k[:n].copy(), predicted_loss=self.pl[:n].copy(), costs=dict(costs))
