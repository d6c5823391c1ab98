"""Argument groups shared by the ``adadyn`` subcommands: an objective and an optimiser."""
from __future__ import annotations

import numpy as np

import adadyn as ad

OBJECTIVES = ("quadratic", "random-quadratic", "rosenbrock", "cosine", "expr")
OPTIMIZERS = ("gd", "signgd", "rmsprop", "adam", "amsgrad", "adagrad", "adafix")


def add_objective_args(p, default: str = "quadratic") -> None:
    p.add_argument("--objective", choices=OBJECTIVES, default=default,
                   help="quadratic: lam*x^2/2 (1-d); random-quadratic: the Figure 5 problem "
                        "(A = U U^T, U d x d normal); cosine: 1 - cos(x1^2 + x2^2); expr: --expr")
    p.add_argument("--expr", default=None, help="formula such as '1 - cos(x1**2 + x2**2)' (parsed safely)")
    p.add_argument("--dim", type=int, default=10, help="dimension (random-quadratic, rosenbrock)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random quadratic")
    p.add_argument("--lam", type=float, default=1.0, help="curvature of the 1-d quadratic")


def build_objective(args):
    """``(objective, default start)`` from :func:`add_objective_args`' options."""
    if args.objective == "quadratic":
        return ad.objectives.quadratic([[args.lam]], name=f"{args.lam:g} x^2/2"), np.array([0.3])
    if args.objective == "random-quadratic":
        return ad.objectives.random_quadratic(args.dim, seed=args.seed), np.full(args.dim, 0.1)
    if args.objective == "rosenbrock":
        return ad.objectives.rosenbrock(args.dim), np.full(args.dim, 0.9)
    if args.objective == "cosine":
        return ad.objectives.cosine_bowl(), np.array([0.3, 0.2])
    if not args.expr:
        raise ValueError("--objective expr needs --expr TEXT")
    obj = ad.Objective.from_expr(args.expr)
    return obj, np.full(obj.dim, 0.1)


def parse_vector(text: str, name: str) -> np.ndarray:
    try:
        return np.array([float(s) for s in text.split(",")])
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None


def add_optimizer_args(p, choices=OPTIMIZERS, default: str = "rmsprop", eta: float = 0.01) -> None:
    p.add_argument("--optimizer", choices=choices, default=default)
    p.add_argument("--eta", type=float, default=eta)
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--alpha", type=float, default=0.9, help="RMSprop second-moment factor")
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.999)
    p.add_argument("--a", type=float, default=None, help="memory rate: beta2 (alpha) = 1 - a*eta")
    p.add_argument("--b", type=float, default=None, help="memory rate: beta1 = 1 - b*eta")


def build_optimizer(args, *, bias_correction: bool = True):
    """The optimiser spec; ``--a``/``--b`` override the factors (beta2 = 1 - a*eta, ...)."""
    name, eta, eps = args.optimizer, args.eta, args.eps
    beta1 = 1.0 - args.b * eta if args.b is not None else args.beta1
    beta2 = 1.0 - args.a * eta if args.a is not None else args.beta2
    alpha = 1.0 - args.a * eta if args.a is not None else args.alpha
    if name == "gd":
        return ad.GD(eta)
    if name == "signgd":
        return ad.SignGD(eta)
    if name == "rmsprop":
        return ad.RMSprop(eta, alpha=alpha, eps=eps)
    if name == "adagrad":
        return ad.Adagrad(eta, eps=eps)
    cls = {"adam": ad.Adam, "amsgrad": ad.AMSGrad, "adafix": ad.AdaFix}[name]
    return cls(eta, beta1=beta1, beta2=beta2, eps=eps, bias_correction=bias_correction)
