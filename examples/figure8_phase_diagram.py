"""Figure 8 of Ma, Wu & E on the paper's 10 x 10 random quadratic (A = U U^T).

Left: mean log10 loss over the late window of each (a, b) run (beta2 = 1 - a*eta,
beta1 = 1 - b*eta, eta = 1e-3); right: the regime of each run. The paper draws
Figure 8 for a 6-layer network on Fashion-MNIST; the same three regimes
(b >> a spikes, a ~ b oscillates, a >> b keeps the loss large) show on this
quadratic. Also writes Figure 7's three example runs with their state-space
trajectories, and the preconditioned sharpness of the spike run against Adam's
threshold 38/eta.

    python examples/figure8_phase_diagram.py [--n 16] [--steps 40000] [--out figures/] [--workers 2]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import adadyn as ad  # noqa: E402
from adadyn.analysis import classify, phase_diagram, preconditioned_sharpness  # noqa: E402
from adadyn.plotting.regimes import (plot_loss_regime, plot_phase_diagram, plot_sharpness,  # noqa: E402
                                     plot_state_space)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="grid points per axis")
    ap.add_argument("--steps", type=int, default=40_000)
    ap.add_argument("--out", default="figures")
    ap.add_argument("--workers", type=int, default=0, help="worker processes (0: local Numba threads)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    eta = 1e-3
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    grid = np.logspace(-1, 2, args.n)
    if args.workers > 0:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.workers) as ex:
            pd = phase_diagram(obj, x0, grid, grid, eta, args.steps, executor=ex, out=out / "sweep")
    else:
        pd = phase_diagram(obj, x0, grid, grid, eta, args.steps, out=out / "sweep")
    print(pd)
    axes = plot_phase_diagram(pd)
    axes[0].figure.savefig(out / "figure8_phase_diagram.png", dpi=130)
    pd.to_npz(out / "figure8_phase_diagram.npz")

    fig = plt.figure(figsize=(13, 8), constrained_layout=True)
    spike = None
    for col, (a, b) in enumerate(((1.0, 100.0), (10.0, 10.0), (100.0, 1.0))):
        tr = ad.run(ad.Adam.from_ab(eta, a, b), obj, x0, 30_000)
        reg = classify(tr)
        print(f"a={a:g}, b={b:g}: {reg}")
        plot_loss_regime(tr, reg, fig.add_subplot(3, 3, col + 1)).set_title(f"a={a:g}, b={b:g}: {reg.describe()}")
        plot_loss_regime(tr, reg, fig.add_subplot(3, 3, col + 4), last=1000)
        plot_state_space(tr, fig.add_subplot(3, 3, col + 7, projection="3d"), start=29_000)
        spike = tr if a == 1.0 else spike
    fig.savefig(out / "figure7_regimes.png", dpi=110)

    S = preconditioned_sharpness(spike)
    print(S)
    print(f"spikes preceded by an upward crossing of 38/eta: {int(S.crossed.sum())}/{S.crossed.size}; "
          f"crossing a median {np.nanmedian(S.peak_lead_steps):.0f} steps before the peak, "
          f"{np.nanmedian(S.lead_steps):.0f} steps before the rise begins")
    ax = plot_sharpness(S, last=3000)
    ax.figure.savefig(out / "spike_sharpness.png", dpi=110)
    print(f"wrote figures into {out}/")


if __name__ == "__main__":
    main()
