"""``adadyn phase-diagram`` and the regimes section of ``adadyn demo``."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

OBJECTIVES = ("quadratic", "rosenbrock", "cosine-bowl")


def parse_range(text: str) -> np.ndarray:
    """``lo:hi:n`` -> n log-spaced values from lo to hi; a single number -> [number]."""
    parts = text.split(":")
    try:
        if len(parts) == 1:
            vals = np.array([float(parts[0])])
        elif len(parts) == 3:
            lo, hi, n = float(parts[0]), float(parts[1]), int(parts[2])
            if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi) and n >= 1):
                raise ValueError
            vals = np.logspace(math.log10(lo), math.log10(hi), n)
        else:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected lo:hi:n (log-spaced, lo, hi > 0, n >= 1) or a single number, got {text!r}") from None
    if not np.all(np.isfinite(vals) & (vals > 0)):
        raise argparse.ArgumentTypeError(f"memory rates must be > 0, got {text!r}")
    return vals


def _objective(args):
    import adadyn as ad

    if args.expr:
        obj = ad.Objective.from_expr(args.expr)
    elif args.objective == "quadratic":
        obj = ad.objectives.random_quadratic(args.dim, seed=args.seed)
    elif args.objective == "rosenbrock":
        obj = ad.objectives.rosenbrock(args.dim)
    else:
        obj = ad.objectives.cosine_bowl()
    if args.x0:
        x0 = np.array([float(s) for s in args.x0.split(",")])
    else:
        x0 = np.random.default_rng(args.x0_seed).standard_normal(obj.dim)
    return obj, x0


def _run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adadyn.analysis import phase_diagram
    from adadyn.analysis.persistence import SweepError
    from adadyn.plotting.regimes import plot_phase_diagram

    out = Path(args.out)
    try:
        obj, x0 = _objective(args)
    except ValueError as exc:
        print(f"adadyn phase-diagram: {exc}", file=sys.stderr)
        return 2
    executor, close = None, None
    if args.dask:
        from distributed import Client

        executor = Client(args.dask)
        close = executor.close
    elif args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(args.workers)
        close = executor.shutdown
    progress = None if args.progress is None else args.progress
    try:
        pd = phase_diagram(obj, x0, args.a, args.b, args.eta, args.steps, record_every=args.record_every,
                           executor=executor, out=out / "chunks", progress=progress)
    except (ValueError, SweepError) as exc:
        print(f"adadyn phase-diagram: {exc}", file=sys.stderr)
        return 2
    finally:
        if close is not None:
            close()
    pd.to_npz(out / "phase_diagram.npz")
    axes = plot_phase_diagram(pd)
    axes[0].figure.savefig(out / "phase_diagram.png", dpi=120)
    plt.close(axes[0].figure)
    print(pd)
    print(f"wrote {out / 'phase_diagram.png'} and {out / 'phase_diagram.npz'} "
          f"(finished chunks in {out / 'chunks'}; rerun to resume)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "phase-diagram",
        help="classify Adam's late phase over an (a, b) grid (Ma, Wu & E, Figure 8)",
        description="Run Adam with beta2 = 1 - a*eta, beta1 = 1 - b*eta over a log-spaced (a, b) grid, "
                    "classify each run (convergence / oscillation / spike / divergence) and write "
                    "the figure and the data. Finished chunks are saved as they complete; rerunning "
                    "the same command resumes.")
    p.add_argument("--objective", choices=OBJECTIVES, default="quadratic",
                   help="quadratic: the paper's random A = U U^T (default); or rosenbrock, cosine-bowl")
    p.add_argument("--expr", help="objective formula instead, e.g. '1 - cos(x1**2 + x2**2)'")
    p.add_argument("--dim", type=int, default=10, help="dimension (quadratic, rosenbrock)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random quadratic")
    p.add_argument("--x0", help="start point, comma separated (default: standard normal)")
    p.add_argument("--x0-seed", type=int, default=0, help="seed of the standard normal start")
    p.add_argument("--a", type=parse_range, default=parse_range("0.1:100:16"), help="lo:hi:n, log-spaced")
    p.add_argument("--b", type=parse_range, default=parse_range("0.1:100:16"), help="lo:hi:n, log-spaced")
    p.add_argument("--eta", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--record-every", type=int, default=None, help="stride of the stored loss histories")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default: local Numba threads)")
    p.add_argument("--dask", metavar="ADDRESS", help="dask.distributed scheduler address")
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

    fig = plt.figure(figsize=(13, 8), constrained_layout=True)
    lines = []
    spike_traj = None
    for col, (a, b) in enumerate(((1.0, 100.0), (10.0, 10.0), (100.0, 1.0))):
        tr = ad.run(ad.Adam.from_ab(eta, a, b), obj, x0, 30_000)
        reg = classify(tr)
        ax = plot_loss_regime(tr, reg, fig.add_subplot(3, 3, col + 1))
        ax.set_title(f"a={a:g}, b={b:g}: {reg.label}")
        plot_loss_regime(tr, reg, fig.add_subplot(3, 3, col + 4), last=1000).set_title("last 1000 steps")
        plot_state_space(tr, fig.add_subplot(3, 3, col + 7, projection="3d"), start=29_000)
        lines.append(f"  a={a:g}, b={b:g}: {reg.label} (late loss {-reg.level:.1f} decades below the start, "
                     f"{reg.spike_count} spikes)")
        if a == 1.0:
            spike_traj = tr
    fig.savefig(out_dir / "regimes_examples.png", dpi=90)
    plt.close(fig)

    S = preconditioned_sharpness(spike_traj)
    ax = plot_sharpness(S, last=2000)
    ax.set_title("a=1, b=100: preconditioned sharpness vs 38/eta")
    ax.figure.savefig(out_dir / "sharpness.png", dpi=100)
    plt.close(ax.figure)
    counts = ", ".join(f"{k} {v}" for k, v in pd.counts().items())
    return "\n".join([
        f"Adam late-phase regimes on the 10x10 random quadratic (eta = {eta:g}):",
        *lines,
        f"  6x6 (a, b) phase diagram over [0.1, 100]^2, 40000 steps: {counts}",
        f"  spike regime: median sharpness / threshold {S.late_median_ratio:.3f}; "
        f"{int(S.crossed.sum())}/{S.crossed.size} spikes preceded by a threshold crossing "
        f"(median {np.nanmedian(S.peak_lead_steps):.0f} steps before the peak)",
        "  figures: phase_diagram.png, regimes_examples.png, sharpness.png",
    ])
