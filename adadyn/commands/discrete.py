"""The foundation's demo section: GD, signGD, RMSprop and Adam on the Figure 5 quadratic."""
from __future__ import annotations

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
