"""Figure 5 of Ma, Wu & E: signGD and RMSprop (alpha = 0.9) at several learning rates on
f = x^T A x / 2, A = U U^T, U 10x10 standard normal.

Both show fast initial convergence and then stop decreasing, at a level that
falls with eta (the late-phase oscillation of section 3). The script prints
the plateau (median loss over the last 20% of the run) per eta and the fitted
slope of log(plateau) against log(eta).

Run: python examples/figure5_signgd_rmsprop.py [--out DIR]
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import adadyn as ad


def main(out: Path):
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    etas = [1e-2, 3e-3, 1e-3, 3e-4]
    T = 20.0  # continuous time, the same for every eta
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, make in zip(axes, (lambda e: ad.SignGD(e), lambda e: ad.RMSprop(e, alpha=0.9))):
        plateaus = []
        trajs = []
        for eta in etas:
            steps = int(round(T / eta))
            tr = ad.run(make(eta), obj, x0, steps, record_every=max(1, steps // 4000))
            trajs.append(tr)
            plateaus.append(np.median(tr.loss[-len(tr.loss) // 5:]))
        ad.plotting.plot_loss(trajs, ax=ax)
        ax.set_title(f"{trajs[0].opt.name} on the Figure 5 quadratic")
        slope = np.polyfit(np.log(etas), np.log(plateaus), 1)[0]
        print(f"{trajs[0].opt.name}: plateau loss per eta: "
              + ", ".join(f"{e:g}: {p:.3g}" for e, p in zip(etas, plateaus))
              + f"; fitted slope d log(plateau) / d log(eta) = {slope:.2f}")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "figure5.png", dpi=110)
    print(f"wrote {out / 'figure5.png'}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="examples_out")
    main(Path(p.parse_args().out))
