"""``adadyn nn-train`` and ``adadyn nn-phase``: the torch back end from the shell.

This module imports without torch; the commands report a missing torch as a
one-line error (exit code 2) naming the extra to install.
"""
from __future__ import annotations


from adadyn.commands.errors import CLIError, guarded

PROBLEMS = ("sine", "digits2", "digits10", "poisson-square", "poisson-disc", "cifar10", "fashion-mnist")
#: the networks of Ma, Wu & E for each problem (widths, activation)
DEFAULT_NETS = {
    "sine": ("5,100,100,1", "relu"), "digits2": ("64,64,64,2", "relu"), "digits10": ("64,64,64,10", "relu"),
    "poisson-square": ("4,200,200,1", "tanh"), "poisson-disc": ("2,10,10,10,1", "gelu"),
    "cifar10": ("3072,256,256,128,2", "relu"), "fashion-mnist": ("784,500,500,500,500,500,500,10", "relu"),
}


def _widths(text: str, problem) -> list:
    try:
        w = [int(s) for s in text.split(",")]
    except ValueError:
        raise CLIError(f"--widths must be comma-separated integers, got {text!r}") from None
    if len(w) < 2 or min(w) < 1:
        raise CLIError(f"--widths needs at least two widths, each >= 1, got {text!r}")
    if w[0] != problem.in_dim or w[-1] != problem.out_dim:
        raise CLIError(f"--widths {text} does not fit {problem.name}: it needs {problem.in_dim} inputs "
                         f"and {problem.out_dim} outputs")
    return w


def _problem(args):
    from adadyn import nn

    name = args.problem
    if args.data_seed < 0:
        raise CLIError(f"--data-seed must be an integer >= 0, got {args.data_seed}")
    if name == "sine":
        return nn.sine_regression(args.points, 5, n_test=args.test_points, seed=args.data_seed)
    if name in ("digits2", "digits10"):
        return nn.digits(2 if name == "digits2" else 10, seed=args.data_seed)
    if name == "poisson-square":
        return nn.poisson_square(args.points, args.points, n_test=max(1, args.test_points), seed=args.data_seed)
    if name == "poisson-disc":
        return nn.poisson_disc(args.points, args.points, n_test=max(1, args.test_points), seed=args.data_seed)
    if not args.data:
        raise CLIError(f"--problem {name} reads local files: give --data DIR (nothing is downloaded)")
    try:
        classes = [int(c) for c in args.classes.split(",")] if args.classes else None
    except ValueError:
        raise CLIError(f"--classes must be comma-separated class numbers such as 0,1, got {args.classes!r}") from None
    if name == "cifar10":
        return nn.cifar10(args.data, classes=classes or (0, 1), per_class=args.per_class)
    return nn.fashion_mnist(args.data, classes=classes or tuple(range(10)), per_class=args.per_class)


def _common(p) -> None:
    p.add_argument("--problem", choices=PROBLEMS, default="sine",
                   help="sine: f* = sum sin(2 pi x_k) on [0,1]^5 (Figure 1 right); digits2/10: scikit-learn digits; "
                        "poisson-square/-disc: DGM problems of section 4.2; cifar10/fashion-mnist: local files")
    p.add_argument("--data", default=None, help="directory of the CIFAR-10 / Fashion-MNIST files")
    p.add_argument("--classes", default=None, help="class subset, e.g. 0,1")
    p.add_argument("--per-class", type=int, default=1000, help="training images per class")
    p.add_argument("--points", type=int, default=2000, help="training points (sine, poisson: each part)")
    p.add_argument("--test-points", type=int, default=0, help="test points (sine; poisson default 10000)")
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--widths", default=None, help="network widths, e.g. 5,100,100,1 (default: the paper's)")
    p.add_argument("--activation", choices=("relu", "tanh", "gelu"), default=None)
    p.add_argument("--seed", type=int, default=0, help="initial weights")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: 1 unless the network is large and cores are idle; "
                        "the summary says what was chosen)")
    p.add_argument("--out", default="adadyn_nn", help="output directory")


def register(subparsers) -> None:
    """Add ``nn-train`` and ``nn-phase`` to the ``adadyn`` command."""
    from adadyn.commands.common import add_optimizer_args

    t = subparsers.add_parser("nn-train", help="train a network with one optimiser (torch back end)")
    _common(t)
    add_optimizer_args(t, default="adam", eta=1e-3)
    t.add_argument("--batch-size", type=int, default=None, help="minibatch size (default: full batch)")
    t.add_argument("--record-every", type=int, default=1)
    t.add_argument("--sharpness-every", type=int, default=None,
                   help="record the preconditioned sharpness every k steps (Lanczos on Hessian-vector products)")
    t.set_defaults(func=_command("nn-train", _train_body))
    ph = subparsers.add_parser("nn-phase", help="Adam's (a, b) phase diagram for a network (Figure 8)")
    _common(ph)
    ph.add_argument("--eta", type=float, default=1e-3)
    ph.add_argument("--a", dest="a_range", default="0.1:100:4", help="memory rates a: lo:hi:n (log-spaced)")
    ph.add_argument("--b", dest="b_range", default="0.1:100:4", help="memory rates b: lo:hi:n (log-spaced)")
    ph.add_argument("--record-every", type=int, default=1)
    ph.add_argument("--chunk-size", type=int, default=16, help="networks trained together (batched)")
    ph.set_defaults(func=_command("nn-phase", _phase_body))


def _out_dir(args):
    """``--out`` as an :class:`adadyn._safe_io.OutputDir`, checked before any data is read or trained."""
    from adadyn.commands.resources import prepare_out_dir

    return prepare_out_dir(args.out)


def check_threads(threads):
    """``--threads`` within 1 .. :func:`~adadyn.commands.limits.max_parallel` (or None)."""
    from adadyn.commands.limits import max_parallel
    from adadyn.validation import check_int

    return None if threads is None else check_int("--threads", threads, 1, max_parallel())


def network_bytes(widths, n: int, itemsize: int, batch_size=None, models: int = 1) -> int:
    """Estimated memory of training ``models`` networks of these widths on ``n`` points:
    parameters, gradients and the optimiser's two moments (4 copies of the parameters),
    and the activations of one full forward and backward pass (3 per unit and point)."""
    params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    rows = n if batch_size is None else min(n, batch_size)
    acts = rows * sum(widths[1:])
    return int(models * itemsize * (4 * params + 3 * acts))


def check_network_memory(widths, n: int, itemsize: int, batch_size=None, models: int = 1) -> int:
    """Refuse (:class:`CLIError`) a network whose estimate exceeds the memory available now."""
    from adadyn.commands.limits import available_memory, human

    est = network_bytes(widths, n, itemsize, batch_size, models)
    avail = available_memory()
    if avail is not None and est > 0.8 * avail:
        raise CLIError(f"--widths {','.join(map(str, widths))}: training would need about {human(est)} "
                       f"(parameters, gradients, optimiser state and activations for {n} points"
                       f"{f', {models} networks at once' if models > 1 else ''}); {human(avail)} is available")
    return est


def _setup(args, models: int = 1):
    threads = check_threads(args.threads)
    from adadyn import nn

    if threads is not None:
        nn.set_num_threads(threads)
    prob = _problem(args)
    widths_text, act = DEFAULT_NETS[args.problem]
    if args.widths is None and args.problem in ("cifar10", "fashion-mnist"):
        widths_text = ",".join([str(prob.in_dim)] + widths_text.split(",")[1:-1] + [str(prob.out_dim)])
    widths = _widths(args.widths or widths_text, prob)
    itemsize = 8 if args.dtype == "float64" else 4
    check_network_memory(widths, prob.n, itemsize, getattr(args, "batch_size", None), models)
    return prob, widths, args.activation or act, nn.DTYPES[args.dtype]


def _command(name: str, body):
    """``body(args)`` under the error conventions of every ``adadyn`` command
    (:func:`adadyn.commands.errors.guarded`: one line ``adadyn NAME: error: ...`` on stderr,
    exit code 2); a missing torch is one such line naming the extra to install."""
    @guarded(f"adadyn {name}")
    def command(args) -> int:
        try:
            return body(args)
        except ImportError as exc:
            raise CLIError(str(exc)) from None
    return command


def _train_body(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import adadyn as ad
    from adadyn import nn
    from adadyn.commands.common import build_optimizer
    from adadyn.nn.plots import plot_state_space

    out = _out_dir(args)
    prob, widths, act, dtype = _setup(args)
    spec = build_optimizer(args)
    model = nn.mlp(widths, act, dtype=dtype, seed=args.seed)
    tr = nn.train(spec, model, prob, args.steps, record_every=args.record_every, batch_size=args.batch_size,
                  device=args.device, dtype=dtype, sharpness_every=args.sharpness_every)
    fig, ax = plt.subplots(figsize=(7, 4))
    ad.plotting.plot_loss(tr, ax=ax, time_axis=False)
    ax.set_title(f"{prob.name}, {'-'.join(map(str, widths))} {act}")
    fig.tight_layout()
    out.savefig(fig, "loss.png", dpi=110)
    plt.close(fig)
    ax3 = plot_state_space(tr)
    ax3.set_title("state space (||x||, ||m||, ||sqrt v||), Figure 7")
    out.savefig(ax3.figure, "state_space.png", dpi=110)
    plt.close(ax3.figure)
    reg = ad.analysis.classify(tr)
    late = tr.loss[-max(1, len(tr) // 10):]
    lines = [f"problem: {prob!r}", f"network: {'-'.join(map(str, widths))} {act}, seed {args.seed}, {args.dtype}",
             f"optimiser: {spec!r}", f"{tr!r}", tr.message,
             f"loss: start {tr.loss[0]:.6g}, end {tr.loss[-1]:.6g}, last 10% of records in "
             f"[{np.min(late):.4g}, {np.max(late):.4g}]",
             f"final |x| = {tr.x_norm[-1]:.6g}, |m| = {tr.m_norm[-1]:.6g}, |sqrt v| = {tr.sqrt_v_norm[-1]:.6g}",
             f"regime: {reg}", f"torch threads: {tr.final_state.threads_reason}"]
    if "test_error" in tr.extras:
        lines.append(f"test error ({prob.test_metric}): start {tr.test_error[0]:.6g}, end {tr.test_error[-1]:.6g}")
    if args.sharpness_every and spec.coefficients().method in ("gd", "moment", "adafix"):
        try:
            S = nn.edge_of_stability(tr)
            lines.append(f"preconditioned sharpness / threshold: late median {S.late_median_ratio:.4g}, late "
                         f"fraction above {S.late_fraction_above:.3g}; spikes {S.spike_steps.size}, preceded by a "
                         f"crossing {int(S.crossed.sum())}")
            from adadyn.plotting.regimes import plot_sharpness

            axs = plot_sharpness(S)
            axs.set_title(f"{prob.name}: preconditioned sharpness vs the threshold", fontsize="medium")
            out.savefig(axs.figure, "sharpness.png", dpi=110)
            plt.close(axs.figure)
            lines.append(f"figure: {out / 'sharpness.png'}")
        except ValueError as exc:
            lines.append(f"sharpness: {exc}")
    out.save_with("trajectory.npz", tr.save)  # ad.load reads it (and continues the run from it)
    out.write_text("summary.txt", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out / 'loss.png'}, {out / 'state_space.png'}, {out / 'trajectory.npz'}, {out / 'summary.txt'}")
    return 0 if tr.success else 1


def _phase_body(args) -> int:
    import argparse

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adadyn.commands.phase import parse_range
    from adadyn.nn.plots import plot_network_phase
    from adadyn.nn.sweep import phase_diagram

    try:
        a, b = parse_range(args.a_range), parse_range(args.b_range)
    except argparse.ArgumentTypeError as exc:
        raise CLIError(str(exc)) from None
    out = _out_dir(args)
    from adadyn.nn.threads import torch_threads

    prob, widths, act, _ = _setup(args, models=min(max(1, int(args.chunk_size)), a.size * b.size))
    params = sum(w * v + v for w, v in zip(widths[:-1], widths[1:]))
    with torch_threads(None, 6.0 * prob.n * params * max(1, args.chunk_size)) as th:
        pd = phase_diagram(prob, widths, a, b, args.eta, args.steps, activation=act, seed=args.seed,
                           record_every=args.record_every, chunk_size=args.chunk_size, dtype=args.dtype,
                           device=args.device)
    from adadyn.analysis.regimes import blew_up
    from adadyn.commands.sweep import grid_table

    blown = blew_up(pd.level, pd.status == "diverged")
    axes = plot_network_phase(pd.a, pd.b, pd.late_mean_log10_loss, pd.regime, blown_up=blown,
                              title=f"{prob.name}, {'-'.join(map(str, widths))} {act}, Adam eta={args.eta:g}, "
                                    f"{args.steps} steps")
    out.savefig(axes[0].figure, "phase.png", dpi=110)
    plt.close(axes[0].figure)
    out.save_with("phase.npz", pd.to_npz)
    lines = [repr(pd), f"torch threads: {th.reason}", grid_table(pd.a, pd.b, pd.regime, blown)]
    out.write_text("summary.txt", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out / 'phase.png'}, {out / 'phase.npz'}, {out / 'summary.txt'}")
    return 0
