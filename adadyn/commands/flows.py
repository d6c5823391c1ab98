"""``adadyn demo`` section: discrete Adam / RMSprop against their flows (Prop. 2)."""
from __future__ import annotations

import pathlib

import numpy as np

ETAS = (1e-2, 5e-3, 2.5e-3)
T_FINAL = 2.0


def _panel(out_dir: pathlib.Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import adadyn as ad
    from adadyn.analysis.discrete_vs_flow import convergence_order
    from adadyn.plotting.flows import plot_flow_vs_discrete, plot_gap_vs_eta

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    specs = [ad.Adam.from_ab(ETAS[0], a=1.0, b=10.0, eps=1e-8), ad.RMSprop.from_a(ETAS[0], a=1.0, eps=1e-8)]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    results = []
    for row, opt in enumerate(specs):
        res = convergence_order(opt, obj, x0, T_FINAL, ETAS)
        results.append((opt, res))
        trajs = [ad.run(ad.analysis.scaled_optimizer(opt, e), obj, x0, int(round(T_FINAL / e))) for e in ETAS]
        plot_flow_vs_discrete(res.flow_solution, trajs, ax=axes[row, 0])
        axes[row, 0].set_title(f"{opt.name} (a={opt.a:g}" + (f", b={opt.b:g}" if opt.coefficients().has_m else "")
                               + ", eps=1e-8) vs its flow", fontsize="medium")
        plot_gap_vs_eta(res, ax=axes[row, 1])
    fig.suptitle("Discrete optimisers vs their eta -> 0 flows (Ma, Wu & E, Prop. 2), "
                 "random 10-d quadratic", fontsize="medium")
    fig.tight_layout()
    path = out_dir / "flows_vs_discrete.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, results


def demo(out_dir: pathlib.Path) -> str:
    """Adam (a=1, b=10) and RMSprop (a=1), eps=1e-8, at three learning rates against the
    Adam / RMSprop flows (7), (8) on the paper's Figure 5 quadratic; writes
    ``flows_vs_discrete.png`` and returns the table of measured gaps."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path, results = _panel(out_dir)
    lines = [f"Discrete vs flow on [0, {T_FINAL:g}], random_quadratic(10, seed=0), x0 ~ N(0, I) (seed 1)",
             f"{'optimiser':<28}{'eta':>9}{'sup|X-x|':>12}{'at steps':>12}{'sup|V-v|':>12}"]
    for opt, res in results:
        name = f"{opt.name} a={opt.a:g}" + (f" b={opt.b:g}" if opt.coefficients().has_m else "")
        for k, e in enumerate(res.etas):
            gv = res.gaps_v[k] if res.gaps_v is not None else float("nan")
            lines.append(f"{name:<28}{e:>9.4g}{res.gaps_x[k]:>12.3e}{res.gaps_x_nodes[k]:>12.3e}{gv:>12.3e}")
        lines.append(f"{'':<28}{'order':>9}{res.order:>12.2f}{res.order_nodes:>12.2f}")
    lines.append("Adam (bias-corrected flow) converges at order 1; RMSprop from v0 = 0 at order ~1/2:")
    lines.append("its flow starts like -sign(g)/sqrt(a t), which steps of size eta resolve to O(sqrt(eta)).")
    lines.append(f"figure: {path.name}")
    return "\n".join(lines)


#: optimisers with an eta -> 0 flow, and their memory-rate defaults
FLOW_OPTIMIZERS = {"adam": {"a": 1.0, "b": 10.0}, "rmsprop": {"a": 1.0}, "gd": {}, "signgd": {}}
#: fewest and most step sizes in one comparison (an order is fitted across them)
MIN_ETAS, MAX_ETAS = 3, 20
#: flow evaluations per step interval in the comparison (convergence_order's ``samples``)
SAMPLES = 3
PROG = "adadyn flow"


def register(subparsers) -> None:
    """``adadyn flow``: gaps between a discrete optimiser and its eta -> 0 flow."""
    from adadyn.commands import registry as R

    p = subparsers.add_parser(
        "flow", help="discrete optimiser vs its continuous-time flow (Props. 1, 2)",
        description="Run an optimiser at several learning rates on an objective (default: "
                    "random_quadratic(d, seed)), solve its eta -> 0 flow once at tight tolerance, print the "
                    "sup-norm gaps (eqs. (6), (9)) and their fitted order. Each run records every step: "
                    "T / min(etas) steps, with the flow sampled 3 times per step, must fit the 256 MiB "
                    "record limit (docs/cli.md).")
    p.add_argument("--optimizer", choices=tuple(FLOW_OPTIMIZERS), default="adam")
    p.add_argument("--a", type=float, default=None, help="second-moment rate, beta2 = 1 - a*eta (default 1)")
    p.add_argument("--b", type=float, default=None, help="first-moment rate, beta1 = 1 - b*eta (default 10)")
    p.add_argument("--eps", type=float, default=None, help="epsilon (default 1e-8)")
    p.add_argument("--hold", choices=("rates", "factors"), default="rates",
                   help="hold a, b (Prop. 2) or alpha, beta (Prop. 1) as eta changes")
    p.add_argument("--etas", type=float, nargs="+", default=list(ETAS),
                   help=f"{MIN_ETAS} to {MAX_ETAS} distinct step sizes")
    p.add_argument("--T", type=float, default=T_FINAL, help="compare on [0, T]")
    R.add_objective_args(p, default="random-quadratic", dim_aliases=("--d",))
    R.add_start_args(p)
    p.add_argument("--out", default=None,
                   help="save a figure to this file: the runs beside their flow, and the gaps against eta (log-log)")
    p.set_defaults(func=_run_flow)


def check_etas(etas) -> np.ndarray:
    """:data:`MIN_ETAS` to :data:`MAX_ETAS` distinct finite step sizes > 0."""
    from adadyn.commands.errors import CLIError

    e = np.asarray(etas, dtype=float)
    if not np.all(np.isfinite(e) & (e > 0)):
        raise CLIError(f"--etas must be finite numbers > 0, got {list(etas)}")
    if np.unique(e).size != e.size:
        raise CLIError(f"--etas must be distinct (an order is fitted across them), got {list(etas)}")
    if e.size < MIN_ETAS or e.size > MAX_ETAS:
        raise CLIError(f"--etas needs {MIN_ETAS} to {MAX_ETAS} step sizes, got {e.size}")
    return e


def check_horizon(T, etas: np.ndarray, dim: int) -> int:
    """Refuse a horizon whose finest run would record more than the limit; returns its steps."""
    from adadyn.commands.errors import CLIError
    from adadyn.commands.limits import check_record_size, human, refuse_bytes
    import math

    from adadyn.validation import check_positive

    T = check_positive("--T", T)
    per_record = 8.0 * ((3 * dim + 4) + 4 * SAMPLES * dim)  # a recorded step and its SAMPLES flow points
    steps = T / float(etas.min())
    limit = refuse_bytes()
    if (steps + 1) * per_record > limit or not steps < 2 ** 62:
        t_max = (limit / per_record - 1) * float(etas.min())
        t_max = math.floor(t_max / 10 ** (math.floor(math.log10(t_max)) - 2)) * 10 ** (math.floor(math.log10(t_max)) - 2)
        raise CLIError(f"--T {T:g} with eta = {etas.min():g} is {steps:.3g} steps recorded at every step "
                       f"({human((steps + 1) * per_record)}, limit {human(limit)}); use --T <= {t_max:.3g} "
                       f"or larger --etas")
    steps = int(round(steps))
    check_record_size(PROG, f"the run at eta = {etas.min():g} ({steps} steps)", steps, 1, per_record,
                      stride_option=None)
    return steps


def build_flow_optimizer(args, eta: float):
    """The template spec at the largest eta (``--a``/``--b``/``--eps`` only where the optimiser has them)."""
    import argparse

    from adadyn.commands import registry as R
    from adadyn.commands.errors import CLIError

    defaults = FLOW_OPTIMIZERS[args.optimizer]
    takes = (*defaults, "eps") if defaults else ()
    for k in ("a", "b", "eps"):
        if getattr(args, k) is not None and k not in takes:
            raise CLIError(f"--{k} does not apply to {args.optimizer}")
    rates = {k: (getattr(args, k) if getattr(args, k) is not None else defaults.get(k)) for k in ("a", "b")}
    return R.build_optimizer(argparse.Namespace(optimizer=args.optimizer, eta=eta, eps=args.eps, **rates))


def _run_flow(args) -> int:
    from adadyn.commands.errors import guarded

    return guarded(PROG)(_flow)(args)


def _flow(args) -> int:
    from adadyn.analysis.discrete_vs_flow import convergence_order
    from adadyn.commands import registry as R
    from adadyn.commands.limits import refuse_bytes

    etas = check_etas(args.etas)
    opt = build_flow_optimizer(args, float(etas.max()))
    obj, _ = R.build_objective(args, uses=("seed",))
    seed = args.seed if args.seed is not None else 0
    if args.x0 is None and args.x0_seed is None:
        args.x0_seed = seed + 1  # 0.1's start: a standard normal point, seed + 1
    x0 = R.start_point(args, obj, np.zeros(obj.dim))
    check_horizon(args.T, etas, obj.dim)
    out = None
    if args.out is not None:
        from adadyn.commands.resources import prepare_out_file

        out = prepare_out_file(args.out)  # (OutputDir, name), checked before any work
    res = convergence_order(opt, obj, x0, args.T, etas, scaling=args.hold, samples=SAMPLES,
                            max_bytes=refuse_bytes())
    print(f"{res.flow!r} on {obj.name}, [0, {args.T:g}]")
    print(f"{'eta':>10}{'sup|X-x|':>12}{'at steps':>12}")
    for e, g, gn in zip(res.etas, res.gaps_x, res.gaps_x_nodes):
        print(f"{e:>10.4g}{g:>12.3e}{gn:>12.3e}")
    print(f"fitted order {res.order:.3f} (at steps {res.order_nodes:.3f})")
    if args.out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        import adadyn as ad
        from adadyn.analysis.discrete_vs_flow import scaled_optimizer
        from adadyn.plotting.flows import plot_flow_comparison

        steps = [int(round(args.T / e)) for e in res.etas]   # <= 2000 records each: a picture, not a comparison
        trajs = [ad.run(scaled_optimizer(opt, e, args.hold), obj, x0, n, record_every=max(1, n // 2000))
                 for e, n in zip(res.etas, steps)]
        axes = plot_flow_comparison(res, trajs)
        out[0].savefig(axes[0].figure, out[1], dpi=110)
        plt.close(axes[0].figure)
    return 0
