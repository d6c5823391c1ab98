"""`adadyn run` (one optimiser on one objective) and the demo section: GD, signGD, RMSprop
and Adam on the Figure 5 quadratic."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import adadyn as ad


def default_problem(seed: int = 0):
    """The paper's Figure 5 problem and a fixed start: f = x^T A x / 2, A = U U^T, U 10x10 N(0, 1)."""
    obj = ad.objectives.random_quadratic(10, seed=seed)
    x0 = np.random.default_rng(seed + 1).standard_normal(10)
    return obj, x0


def demo(out_dir: Path, steps: int = 20_000, eta: float = 1e-3) -> str:
    """Run the four optimisers, write ``loss_curves.png`` and return the summary table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adadyn.plotting import plot_loss

    obj, x0 = default_problem()
    lam = np.linalg.eigvalsh(obj.A)
    opts = [ad.GD(eta), ad.SignGD(eta), ad.RMSprop(eta, alpha=0.9), ad.Adam(eta)]
    trajs, rows = [], []
    for opt in opts:
        ad.run(opt, obj, x0, 10)  # load/compile outside the timing
        t0 = time.perf_counter()
        tr = ad.run(opt, obj, x0, steps, record_every=10)
        dt = time.perf_counter() - t0
        trajs.append(tr)
        hit = np.nonzero(tr.loss < 1e-3)[0]
        t_hit = f"{tr.time[hit[0]]:.3f}" if hit.size else "never"
        late = tr.loss[-len(tr.loss) // 10:]
        rows.append((opt.name, f"{tr.loss[-1]:.3e}", f"{late.min():.3e}", f"{late.max():.3e}", t_hit,
                     tr.status, f"{dt / steps * 1e9:.0f}"))
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_loss(trajs, ax=ax)
    ax.set_title(f"Figure 5 quadratic (d=10, seed 0), eta={eta:g}, {steps} steps")
    fig.tight_layout()
    fig.savefig(Path(out_dir) / "loss_curves.png", dpi=120)
    plt.close(fig)
    head = ("optimiser", "final loss", "late min", "late max", "t(loss<1e-3)", "status", "ns/step")
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{x}}}" for x in w)
    lines = [f"Discrete optimisers on f = x^T A x / 2, A = U U^T (Figure 5 of Ma, Wu & E); "
             f"eigenvalues of A in [{lam[0]:.3g}, {lam[-1]:.3g}]; eta = {eta:g}, RMSprop alpha = 0.9, "
             f"Adam (0.9, 0.999), eps = 1e-8",
             fmt.format(*head), fmt.format(*("-" * x for x in w))]
    lines += [fmt.format(*r) for r in rows]
    lines.append("late min/max: range of the loss over the last 10% of the run (a wide range is the "
                 "late-phase oscillation or spiking of section 4); ns/step: this machine, loss recorded "
                 "every 10 steps.")
    return "\n".join(lines)


def _run(args) -> int:
    from adadyn.commands.common import build_objective, build_optimizer, parse_vector

    try:
        obj, x0 = build_objective(args)
        if args.x0:
            x0 = parse_vector(args.x0, "--x0")
        opt = build_optimizer(args)
        tr = ad.run(opt, obj, x0, args.steps, record_every=args.record_every)
    except ValueError as exc:
        print(f"adadyn run: error: {exc}", file=sys.stderr)
        return 2
    print(f"{opt!r}\non {obj!r}\n{tr}\n{tr.message}")
    print(f"final x = {np.array2string(tr.final_state.x, precision=6, threshold=12)}")
    late = tr.loss[-max(1, len(tr.loss) // 10):]
    print(f"loss: start {tr.loss[0]:.6g}, end {tr.loss[-1]:.6g}, last 10% of records in "
          f"[{late.min():.3g}, {late.max():.3g}]")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from adadyn.plotting import plot_loss

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "trajectory.npz", x=tr.x, m=tr.m, v=tr.v, loss=tr.loss, grad_norm=tr.grad_norm,
                 time=tr.time, step=tr.step, status=tr.status)
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_loss(tr, ax=ax)
        fig.tight_layout()
        fig.savefig(out / "loss.png", dpi=110)
        plt.close(fig)
        print(f"wrote {out / 'trajectory.npz'} and {out / 'loss.png'}")
    return 0


def register(subparsers) -> None:
    """Add ``adadyn run``: one optimiser on one objective."""
    from adadyn.commands.common import add_objective_args, add_optimizer_args

    p = subparsers.add_parser("run", help="run one optimiser on one objective and summarise the run",
                              description="Iterate a discrete optimiser (eqs. (1)-(3) of Ma, Wu & E) on an "
                                          "objective; optionally save the trajectory (.npz) and loss plot.")
    add_objective_args(p, default="random-quadratic")
    add_optimizer_args(p, default="adam", eta=1e-3)
    p.add_argument("--x0", default=None, help="start point, comma-separated (default per objective)")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--record-every", type=int, default=1)
    p.add_argument("--out", default=None, help="directory for trajectory.npz and loss.png")
    p.set_defaults(func=_run)
