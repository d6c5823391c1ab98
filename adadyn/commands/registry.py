"""The one table of named objectives and optimisers of the ``adadyn`` commands.

Every command (``run``, ``stability``, ``phase-diagram``, ``flow``, ``sweep``,
``demo``) reads its ``--objective`` and ``--optimizer`` here, so one word means
one objective everywhere (``docs/cli.md``):

==================  ===============================================  ==================
name                objective                                        options
==================  ===============================================  ==================
quadratic-1d        f(x) = lam x^2 / 2 (d = 1)                        --lam
random-quadratic    x^T A x / 2, A = U U^T, U d x d N(0, 1)           --dim, --seed
                    (Figure 5 of Ma, Wu & E)
rosenbrock          sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2         --dim
cosine-bowl         1 - cos(x1^2 + x2^2) (Bae, Ryu & Shin)
expr                a formula, parsed safely (``Objective.from_expr``) --expr
==================  ===============================================  ==================

``cosine`` is kept as another spelling of ``cosine-bowl``. The 0.1 spelling
``quadratic`` meant ``quadratic-1d`` in ``run``/``stability`` and
``random-quadratic`` in ``phase-diagram``; it is accepted only when its options
say which one is meant (``--lam``: quadratic-1d; ``--dim``/``--seed``:
random-quadratic) and refused otherwise.

Optimisers are built as ``Class(eta, factors...)`` and then
``spec.with_rates(a=, b=)`` (the one a/b <-> beta conversion). An option the
chosen optimiser does not take, or a factor given together with the rate that
sets it (``--beta2`` with ``--a``), is refused, never ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import adadyn as ad
from adadyn.commands.errors import CLIError
from adadyn.validation import check_int, check_positive, check_real

#: largest --dim (the random quadratic and the linearisations hold d x d matrices)
MAX_DIM = 2000
#: objective options and their defaults
OBJECTIVE_DEFAULTS = {"lam": 1.0, "dim": 10, "seed": 0, "expr": None}


@dataclass(frozen=True)
class ObjectiveEntry:
    """A named objective: its builder, the options it reads and its default start."""

    name: str
    help: str
    options: tuple[str, ...]
    build: Callable[[dict], "ad.Objective"]
    start: Callable[["ad.Objective"], np.ndarray]


def _dim(o, lo=1):
    return check_int("--dim", o["dim"], lo, MAX_DIM)


def _rosenbrock(o):
    return ad.objectives.rosenbrock(_dim(o, 2))


def _expr(o):
    if not o["expr"]:
        raise CLIError("--objective expr needs --expr TEXT")
    return ad.Objective.from_expr(o["expr"])


def _quadratic_1d(o):
    lam = check_real("--lam", o["lam"])
    return ad.objectives.quadratic([[lam]], name=f"{lam:g} x^2/2")


def _random_quadratic(o):
    return ad.objectives.random_quadratic(_dim(o), seed=check_int("--seed", o["seed"], 0, 2 ** 63 - 1))


OBJECTIVES: dict[str, ObjectiveEntry] = {e.name: e for e in (
    ObjectiveEntry("quadratic-1d", "f = lam x^2/2 (d = 1)", ("lam",), _quadratic_1d, lambda obj: np.array([0.3])),
    ObjectiveEntry("random-quadratic", "x^T A x/2, A = U U^T, U d x d normal (Figure 5)", ("dim", "seed"),
                   _random_quadratic, lambda obj: np.full(obj.dim, 0.1)),
    ObjectiveEntry("rosenbrock", "d-dimensional Rosenbrock", ("dim",), _rosenbrock,
                   lambda obj: np.full(obj.dim, 0.9)),
    ObjectiveEntry("cosine-bowl", "1 - cos(x1^2 + x2^2)", (), lambda o: ad.objectives.cosine_bowl(),
                   lambda obj: np.array([0.3, 0.2])),
    ObjectiveEntry("expr", "the formula of --expr", ("expr",), _expr, lambda obj: np.full(obj.dim, 0.1)),
)}
#: other spellings that always meant the same objective
ALIASES = {"cosine": "cosine-bowl"}
OBJECTIVE_CHOICES = (*OBJECTIVES, *ALIASES, "quadratic")


@dataclass(frozen=True)
class OptimizerEntry:
    """A named optimiser: its spec class, the options it takes and the commands' defaults."""

    name: str
    cls: type
    defaults: dict = field(default_factory=dict)   # eps and factors, as the commands default them
    rates: dict = field(default_factory=dict)      # memory rate -> the factor it sets
    bias_correction: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """Every hyperparameter option it takes (besides --eta)."""
        return (*self.defaults, *self.rates)


_ADAM = dict(defaults={"eps": 1e-8, "beta1": 0.9, "beta2": 0.999}, rates={"a": "beta2", "b": "beta1"},
             bias_correction=True)
OPTIMIZERS: dict[str, OptimizerEntry] = {e.name: e for e in (
    OptimizerEntry("gd", ad.GD),
    OptimizerEntry("signgd", ad.SignGD),
    OptimizerEntry("rmsprop", ad.RMSprop, {"eps": 1e-8, "alpha": 0.9}, {"a": "alpha"}),
    OptimizerEntry("adam", ad.Adam, **_ADAM),
    OptimizerEntry("amsgrad", ad.AMSGrad, **_ADAM),
    OptimizerEntry("adafix", ad.AdaFix, **_ADAM),
    OptimizerEntry("adagrad", ad.Adagrad, {"eps": 1e-8}),
    OptimizerEntry("lion", ad.Lion, {"beta1": 0.9, "beta2": 0.99}),
)}
HYPERPARAMETERS = ("eta", "eps", "alpha", "beta1", "beta2", "a", "b")


# ---------------------------------------------------------------- argparse groups
def add_objective_args(p, default: str = "random-quadratic", dim_aliases: tuple[str, ...] = ()) -> None:
    """``--objective``, ``--expr``, ``--dim``, ``--seed``, ``--lam`` (defaults resolved by
    :func:`build_objective`, so that an option the objective does not read is refused)."""
    names = ", ".join(f"{k}: {e.help}" for k, e in OBJECTIVES.items())
    p.add_argument("--objective", choices=OBJECTIVE_CHOICES, default=None,
                   help=f"{names} (default: {default}; see docs/cli.md)")
    p.set_defaults(objective_default=default)
    p.add_argument("--expr", default=None, help="formula such as '1 - cos(x1**2 + x2**2)' (parsed safely; "
                                                "implies --objective expr)")
    p.add_argument("--dim", *dim_aliases, dest="dim", type=int, default=None, help=f"dimension (random-quadratic, rosenbrock; default 10, "
                                                         f"at most {MAX_DIM})")
    p.add_argument("--seed", type=int, default=None, help="seed of the random quadratic (default 0)")
    p.add_argument("--lam", type=float, default=None, help="curvature of quadratic-1d (default 1)")


def add_optimizer_args(p, choices=tuple(OPTIMIZERS), default: str = "rmsprop", eta: float = 0.01) -> None:
    """``--optimizer``, ``--eta`` and the hyperparameter options (refused where they do not apply)."""
    p.add_argument("--optimizer", choices=choices, default=default)
    p.add_argument("--eta", type=float, default=eta, help=f"step size (default {eta:g})")
    p.add_argument("--eps", type=float, default=None, help="denominator epsilon (default 1e-8)")
    p.add_argument("--alpha", type=float, default=None, help="RMSprop second-moment factor (default 0.9)")
    p.add_argument("--beta1", type=float, default=None, help="first-moment factor (default 0.9)")
    p.add_argument("--beta2", type=float, default=None,
                   help="second-moment factor (default 0.999; Lion 0.99)")
    p.add_argument("--a", type=float, default=None, help="memory rate: beta2 (alpha) = 1 - a*eta")
    p.add_argument("--b", type=float, default=None, help="memory rate: beta1 = 1 - b*eta")


def add_start_args(p, point: str = "--x0") -> None:
    """``--x0`` (comma-separated start) and ``--x0-seed`` (a standard-normal start)."""
    p.add_argument(point, default=None, help="start point, comma-separated (default per objective)")
    p.add_argument("--x0-seed", type=int, default=None, help="start at a standard normal point with this seed")


# ---------------------------------------------------------------- builders
def objective_entry(args, *, uses: tuple[str, ...] = ()) -> ObjectiveEntry:
    """The entry ``--objective`` names; refuses options it would ignore (``uses``: objective
    options the command reads for another purpose)."""
    given = {k for k in OBJECTIVE_DEFAULTS if getattr(args, k, None) is not None}
    name = getattr(args, "objective", None)
    if name is None:
        name = "expr" if "expr" in given else getattr(args, "objective_default", "random-quadratic")
    name = ALIASES.get(name, name)
    if name == "quadratic":
        if "lam" in given and not given & {"dim", "seed"}:
            name = "quadratic-1d"
        elif given & {"dim", "seed"} and "lam" not in given:
            name = "random-quadratic"
        else:
            raise CLIError("--objective quadratic is ambiguous: use quadratic-1d (lam x^2/2) or "
                           "random-quadratic (the Figure 5 problem)")
    if name not in OBJECTIVES:
        raise CLIError(f"--objective must be one of {', '.join(OBJECTIVE_CHOICES)}, got {name!r}")
    entry = OBJECTIVES[name]
    stray = sorted(given - set(entry.options) - set(uses))
    if stray:
        reads = ", ".join("--" + o for o in entry.options) or "no options"
        raise CLIError(f"--{stray[0]} does not apply to --objective {name} (it reads {reads})")
    return entry


def build_objective(args, *, uses: tuple[str, ...] = ()):
    """``(objective, default start)`` from :func:`add_objective_args`' options."""
    entry = objective_entry(args, uses=uses)
    opts = {k: (getattr(args, k, None) if getattr(args, k, None) is not None else v)
            for k, v in OBJECTIVE_DEFAULTS.items()}
    obj = entry.build(opts)
    return obj, entry.start(obj)


def start_point(args, obj, default: np.ndarray, point: str = "x0") -> np.ndarray:
    """The start: ``--x0`` (or ``point``), else a normal point from ``--x0-seed``, else ``default``."""
    text = getattr(args, point, None)
    seed = getattr(args, "x0_seed", None)
    if text and seed is not None:
        raise CLIError(f"give --{point.replace('_', '-')} or --x0-seed, not both")
    if text:
        x = parse_vector(text, "--" + point.replace("_", "-"))
        if x.shape != (obj.dim,):
            raise CLIError(f"--{point.replace('_', '-')} has {x.size} numbers, the objective has d = {obj.dim}")
        return x
    if seed is not None:
        return np.random.default_rng(check_int("--x0-seed", seed, 0, 2 ** 63 - 1)).standard_normal(obj.dim)
    return np.asarray(default, dtype=float)


def parse_vector(text: str, name: str) -> np.ndarray:
    """Comma-separated finite numbers."""
    try:
        x = np.array([float(s) for s in text.split(",")])
    except ValueError:
        raise CLIError(f"{name} must be comma-separated numbers, got {text[:60]!r}") from None
    if not np.all(np.isfinite(x)):
        raise CLIError(f"{name} must be finite numbers, got {text[:60]!r}")
    return x


def optimizer_entry(name: str) -> OptimizerEntry:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise CLIError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}") from None


def given_hyperparameters(args) -> dict:
    """The hyperparameter options given on the command line (other than --eta)."""
    return {k: getattr(args, k) for k in HYPERPARAMETERS[1:] if getattr(args, k, None) is not None}


def check_applicable(entry: OptimizerEntry, names, how: str = "--{}") -> None:
    """Refuse hyperparameters ``entry`` does not take and a factor given with its rate."""
    names = list(names)
    for k in names:
        if k != "eta" and k not in entry.options:
            takes = ", ".join(how.format(o) for o in ("eta", *entry.options))
            raise CLIError(f"{how.format(k)} does not apply to {entry.name} (it takes {takes})")
    for rate, factor in entry.rates.items():
        if rate in names and factor in names:
            raise CLIError(f"give {how.format(rate)} or {how.format(factor)}, not both "
                           f"({factor} = 1 - {rate}*eta)")


def build_optimizer(args, *, name: str | None = None, bias_correction: bool = True, extra: dict | None = None):
    """The spec ``Class(eta, factors).with_rates(a=, b=)`` from :func:`add_optimizer_args`' options.

    ``extra`` holds hyperparameters given another way (a sweep's axes: checked for
    applicability with the options, not applied here).
    """
    entry = optimizer_entry(name or args.optimizer)
    given = given_hyperparameters(args)
    check_applicable(entry, [*given, *(extra or {})])
    eta = check_positive("eta", getattr(args, "eta", None))  # the library's wording, before any spec
    kw = {k: given.get(k, v) for k, v in entry.defaults.items()}
    if entry.bias_correction:
        kw["bias_correction"] = bias_correction
    spec = entry.cls(eta, **kw)
    a, b = given.get("a"), given.get("b")
    return spec.with_rates(a=a, b=b) if (a is not None or b is not None) else spec
