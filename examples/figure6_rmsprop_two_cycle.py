"""Figure 6 of Ma, Wu & E: RMSprop on f = x^2/2 with eta = 0.01 settles on the
2-cycle x = +-(eta/2 - eps/lambda) (the paper's +-eta/2, eps ~ 0) for every alpha.

Prints, per alpha, the cycle found by Newton on F^2(z) - z, the closed form,
the Floquet multipliers, the step after which the run stays within 1e-6 of the
cycle, and the period-doubling point eta = 2 eps/lambda found by continuation.
Writes figure6_rmsprop_two_cycle.png (or the path given as the first argument).

    python examples/figure6_rmsprop_two_cycle.py [out.png]
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import adadyn as ad  # noqa: E402
from adadyn.plotting.stability import figure6_trajectories, plot_figure6  # noqa: E402


def main(out="figure6_rmsprop_two_cycle.png"):
    eta, eps, lam = 0.01, 1e-8, 1.0
    alphas = (0.1, 0.5, 0.9, 0.99)
    obj = ad.objectives.quadratic([[lam]], name="x^2/2")
    c = eta / 2 - eps / lam
    print(f"RMSprop on f = x^2/2, eta = {eta}, eps = {eps:g}: closed-form cycle x = +-{c:.10g}, "
          f"v = {(lam * c) ** 2:.10g}")
    print(f"{'alpha':>6} {'x (Newton)':>14} {'v (Newton)':>14} {'|mu|':>10} {'prod mu':>10} "
          f"{'alpha^2':>8} {'within 1e-6 after':>18}")
    for a, tr in zip(alphas, figure6_trajectories(eta, alphas, x0=0.1, steps=3000, eps=eps, lam=lam)):
        orb = ad.analysis.periodic_orbit(ad.RMSprop(eta, alpha=a, eps=eps), obj, 2, [0.9 * c])
        off = np.nonzero(np.abs(np.abs(tr.x[:, 0]) - c) > 1e-6)[0]
        settle = (off[-1] + 1) if off.size else 0
        print(f"{a:>6} {abs(orb.x[0, 0]):>14.10g} {orb.block('v')[0, 0]:>14.8g} "
              f"{np.max(np.abs(orb.multipliers)):>10.6g} {np.prod(orb.multipliers).real:>10.6g} "
              f"{a * a:>8.4g} {settle:>18d}")
    cont = ad.analysis.continuation(ad.RMSprop(eta, alpha=0.9, eps=eps), obj, [0.0],
                                    np.linspace(1e-8, 4e-8, 13), diagram=False)
    for b in cont.bifurcations:
        print(f"{b.kind} of the fixed point (0, 0) at eta = {b.value:.12g} (2 eps/lambda = {2 * eps / lam:.12g})")
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_figure6(eta, alphas, ax=ax, eps=eps, lam=lam)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
