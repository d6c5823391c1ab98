"""``adadyn phase-diagram`` and the regimes section of ``adadyn demo``."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from adadyn.commands.errors import CLIError, guarded

PROG = "adadyn phase-diagram"


def parse_range(text: str) -> np.ndarray:
    """``lo:hi:n`` -> n log-spaced values from lo to hi (``lo:hi:n:lin``: linear), ``v1,v2,...``
    or a single number; all > 0 and distinct (:func:`adadyn.commands.axes.parse_values`)."""
    from adadyn.commands.axes import parse_values
    from adadyn.commands.errors import CLIError

    try:
        return parse_values(text, "memory rates", positive=True)
    except CLIError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@guarded(PROG)
def _run(args) -> int:
    from adadyn.analysis import phase_diagram
    from adadyn.commands import registry as R
    from adadyn.commands.limits import MAX_POINTS, MAX_STEPS, check_record_size
    from adadyn.commands.resources import make_executor, prepare_out_dir
    from adadyn.validation import check_int

    obj, _ = R.build_objective(args)
    if args.x0 is None and args.x0_seed is None:
        args.x0_seed = 0  # 0.1's default start: a standard normal point, seed 0
    x0 = R.start_point(args, obj, np.zeros(obj.dim))
    steps = check_int("--steps", args.steps, 1, MAX_STEPS)
    every = None if args.record_every is None else check_int("--record-every", args.record_every, 1, MAX_STEPS)
    points = args.a.size * args.b.size
    if points > MAX_POINTS:
        raise CLIError(f"the (a, b) grid has {points} points (limit {MAX_POINTS})")
    check_record_size(PROG, f"{points} loss histories of {steps} steps", steps,
                      every or max(1, steps // 2000), 8.0 * points)
    ex = make_executor(args)
    interrupted = True
    try:
        out = prepare_out_dir(args.out)
        args.interrupt_hint = f"finished chunks are kept in {out / 'chunks'}; rerun the same command to resume"
        pd = phase_diagram(obj, x0, args.a, args.b, args.eta, steps, record_every=every,
                           executor=ex.executor, out=out / "chunks", progress=args.progress)
        interrupted = False
    finally:
        ex.close(interrupted=interrupted)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adadyn.plotting.regimes import plot_phase_diagram

    pd.to_npz(out / "phase_diagram.npz")
    axes = plot_phase_diagram(pd)
    axes[0].figure.savefig(out / "phase_diagram.png", dpi=120)
    plt.close(axes[0].figure)
    from adadyn.analysis.regimes import blew_up
    from adadyn.commands.sweep import grid_table, summary_text

    blown = blew_up(pd.level, pd.status == "diverged")
    text = (summary_text(pd.regime, {"a": pd.a, "b": pd.b}, f"Adam (eta = {pd.eta:g}, beta1 = 1 - b eta, "
                         f"beta2 = 1 - a eta)", obj, steps, blown) + "\n"
            + grid_table(pd.a, pd.b, pd.regime, blown))
    (out / "summary.txt").write_text(text + "\n")
    print(pd)
    print(text)
    print(f"wrote {out / 'phase_diagram.png'}, {out / 'phase_diagram.npz'} and {out / 'summary.txt'} "
          f"(finished chunks in {out / 'chunks'}; rerun to resume)")
    return 0


def register(subparsers) -> None:
    from adadyn.commands import registry as R

    p = subparsers.add_parser(
        "phase-diagram",
        help="classify Adam's late phase over an (a, b) grid (Ma, Wu & E, Figure 8)",
        description="Run Adam with beta2 = 1 - a*eta, beta1 = 1 - b*eta over a log-spaced (a, b) grid, "
                    "classify each run (convergence / oscillation / spike / divergence) and write "
                    "the figure and the data. Finished chunks are saved as they complete; rerunning "
                    "the same command resumes. For other optimisers and axes see adadyn sweep.")
    R.add_objective_args(p, default="random-quadratic")
    R.add_start_args(p)
    p.add_argument("--a", type=parse_range, default=parse_range("0.1:100:16"), help="lo:hi:n, log-spaced")
    p.add_argument("--b", type=parse_range, default=parse_range("0.1:100:16"), help="lo:hi:n, log-spaced")
    p.add_argument("--eta", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--record-every", type=int, default=None, help="stride of the stored loss histories")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: local Numba threads)")
    p.add_argument("--dask", metavar="ADDRESS", help="dask.distributed scheduler address (fails after 5 s)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="force the progress bar (default: only on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_run)


def demo(out_dir: Path) -> str:
    """A 6 x 6 phase diagram and the three labelled regimes of Figure 7 on the 10 x 10 quadratic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import adadyn as ad
    from adadyn.analysis import classify, phase_diagram, preconditioned_sharpness
    from adadyn.plotting.regimes import (plot_loss_regime, plot_phase_diagram, plot_sharpness,
                                         plot_state_space)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    eta = 1e-3
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    grid = np.logspace(-1, 2, 6)
    pd = phase_diagram(obj, x0, grid, grid, eta, 40_000, progress=False)
    axes = plot_phase_diagram(pd)
    axes[0].figure.savefig(out_dir / "phase_diagram.png", dpi=110)
    plt.close(axes[0].figure)

    fig = plt.figure(figsize=(13, 10.5), constrained_layout=True)
    grid3 = fig.add_gridspec(3, 3, height_ratios=(1, 1, 1.5))
    lines = []
    spike_traj = None
    for col, (a, b) in enumerate(((1.0, 100.0), (10.0, 10.0), (100.0, 1.0))):
        tr = ad.run(ad.Adam.from_ab(eta, a, b), obj, x0, 30_000)
        reg = classify(tr)
        ax = plot_loss_regime(tr, reg, fig.add_subplot(grid3[0, col]))
        ax.set_title(f"a={a:g}, b={b:g}: {reg.describe(chr(10))}", fontsize="medium")
        plot_loss_regime(tr, reg, fig.add_subplot(grid3[1, col]), last=1000).set_title("last 1000 steps")
        span = 100 if reg.label == "oscillation" else 1000   # a fast ripple fills 1000 steps with a cloud
        ax3 = plot_state_space(tr, fig.add_subplot(grid3[2, col], projection="3d"), start=30_000 - span)
        ax3.set_title(f"state space, last {span} steps (colour: step)", fontsize="small")
        lines.append(f"  a={a:g}, b={b:g}: {reg.describe()}; late loss {abs(reg.level):.1f} decades "
                     f"{'below' if reg.level <= 0 else 'above'} the start, {reg.spike_count} spikes")
        if a == 1.0:
            spike_traj = tr
    fig.savefig(out_dir / "regimes_examples.png", dpi=90)
    plt.close(fig)

    S = preconditioned_sharpness(spike_traj)
    ax = plot_sharpness(S, last=2000)
    ax.set_title("a=1, b=100: preconditioned sharpness vs 38/eta")
    ax.figure.savefig(out_dir / "sharpness.png", dpi=100)
    plt.close(ax.figure)
    from adadyn.analysis.regimes import describe_label

    counts = ", ".join(f"{describe_label(k)} {v}" for k, v in pd.counts().items())
    return "\n".join([
        f"Adam late-phase regimes on the 10x10 random quadratic (eta = {eta:g}):",
        *lines,
        f"  6x6 (a, b) phase diagram over [0.1, 100]^2, 40000 steps: {counts}",
        f"  spike regime: median sharpness / threshold {S.late_median_ratio:.3f}; "
        f"{int(S.crossed.sum())}/{S.crossed.size} spikes preceded by a threshold crossing "
        f"(median {np.nanmedian(S.peak_lead_steps):.0f} steps before the peak)",
        "  figures: phase_diagram.png, regimes_examples.png, sharpness.png",
    ])
