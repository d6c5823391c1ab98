"""`adadyn run` (one optimiser on one objective) and the demo section: GD, signGD, RMSprop
and Adam on the Figure 5 quadratic."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import adadyn as ad
from adadyn.commands.errors import CLIError, guarded


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


PROG = "adadyn run"


def final_loss(tr) -> tuple[float, int]:
    """``(f, step)`` at the final iterate: the last record when it is the final step, else one
    evaluation of f at ``tr.final_state.x`` (the kernels evaluate f_t at t = k + 1)."""
    fs = tr.final_state
    if tr.step.size and int(tr.step[-1]) == int(fs.k):
        return float(tr.loss[-1]), int(fs.k)
    return float(tr.objective.value(fs.x, t=float(fs.k + 1))), int(fs.k)


@guarded(PROG)
def _run(args) -> int:
    from adadyn.commands import registry as R
    from adadyn.commands.limits import MAX_STEPS, check_disk, check_record_size
    from adadyn.validation import check_int

    obj, start = R.build_objective(args)
    x0 = R.start_point(args, obj, start)
    opt = R.build_optimizer(args)
    steps = check_int("--steps", args.steps, 0, MAX_STEPS)
    every = check_int("--record-every", args.record_every, 1, MAX_STEPS)
    per_record = 8.0 * (3 * obj.dim + 4)  # x, m, v, loss, grad_norm, time, step
    est = check_record_size(PROG, f"{steps} steps recorded every {every} at d = {obj.dim}", steps, every,
                            per_record)
    out = None
    if args.out is not None:
        from adadyn.commands.resources import prepare_out_dir

        out = prepare_out_dir(args.out)
        check_disk(out.path, est)
    tr = ad.run(opt, obj, x0, steps, record_every=every)
    if len(tr.loss) == 0:
        raise CLIError(f"the run {tr.status.value} at step 0: f or grad f at x0 is not finite, "
                       f"nothing was recorded ({tr.message})")
    f_end, k_end = final_loss(tr)
    desc = repr(obj) if len(repr(obj)) <= 300 else repr(obj)[:297] + "..."
    print(f"{opt!r}\non {desc}\n{tr}\n{tr.message}")
    print(f"final x = {np.array2string(tr.final_state.x, precision=6, threshold=12)}")
    late = tr.loss[-max(1, len(tr.loss) // 10):]
    print(f"loss: start {tr.loss[0]:.6g}, end {f_end:.6g} (final loss, step {k_end}), last 10% of records in "
          f"[{late.min():.3g}, {late.max():.3g}]")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from adadyn.plotting import plot_loss

        out.save_with("trajectory.npz", lambda p: tr.save(p, extra={"final_loss": f_end, "final_step": k_end}))  # ad.load reads it
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_loss(tr, ax=ax)
        fig.tight_layout()
        out.savefig(fig, "loss.png", dpi=110)
        plt.close(fig)
        print(f"wrote {out / 'trajectory.npz'} and {out / 'loss.png'}")
    return 0


def register(subparsers) -> None:
    """Add ``adadyn run``: one optimiser on one objective."""
    from adadyn.commands.registry import add_objective_args, add_optimizer_args, add_start_args

    p = subparsers.add_parser("run", help="run one optimiser on one objective and summarise the run",
                              description="Iterate a discrete optimiser (eqs. (1)-(3) of Ma, Wu & E) on an "
                                          "objective; optionally save the trajectory (.npz) and loss plot. "
                                          "Refuses runs whose records would exceed 256 MiB (docs/cli.md).")
    add_objective_args(p, default="random-quadratic")
    add_optimizer_args(p, default="adam", eta=1e-3)
    add_start_args(p)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--record-every", type=int, default=1)
    p.add_argument("--out", default=None, help="directory for trajectory.npz and loss.png")
    p.set_defaults(func=_run)
