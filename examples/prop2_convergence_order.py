"""Prop. 2 of Ma, Wu & E: with alpha = 1 - a*eta, beta = 1 - b*eta, RMSprop and Adam
tend to the flows (7) and (8) as eta -> 0. Measures the sup-norm gap (eq. (9)) at
eta, eta/2, eta/4, eta/8 and fits its order, on the paper's Figure 5 quadratic.

Findings printed by this script:
* Adam (bias-corrected flow (8)): order 1.
* RMSprop from v0 = g(x0)^2: order 1.
* RMSprop from v0 = 0 (as in Prop. 2) with small eps: order ~1/2. The flow starts like
  x' = -sign(g)/sqrt(a t); a step of size eta resolves that singular start only to
  O(sqrt(eta)) (the discrete sum of k^{-1/2} differs from 2 sqrt(n) by zeta(1/2)).
  The limit of Prop. 2 holds, at a slower rate.
* Fixed alpha, beta (Prop. 1): the gap to the eps-sign flow (4) shrinks too.

Run: python examples/prop2_convergence_order.py [--out prop2.png]
"""
import argparse

import numpy as np

import adadyn as ad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="save a log-log figure of the gaps here")
    ap.add_argument("--T", type=float, default=1.0, help="compare on [0, T]")
    args = ap.parse_args()
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    etas = [8e-3, 4e-3, 2e-3, 1e-3]
    runs = {
        "Adam a=1 b=10 eps=1e-8 (rates)": dict(opt=ad.Adam.from_ab(1e-3, 1.0, 10.0, eps=1e-8)),
        "RMSprop a=1 eps=1e-8, v0=g0^2 (rates)": dict(opt=ad.RMSprop.from_a(1e-3, 1.0, eps=1e-8),
                                                      v0=obj.grad(x0) ** 2),
        "RMSprop a=1 eps=1e-8, v0=0 (rates)": dict(opt=ad.RMSprop.from_a(1e-3, 1.0, eps=1e-8)),
        "RMSprop alpha=0.9 eps=1e-3 (factors)": dict(opt=ad.RMSprop(1e-3, alpha=0.9, eps=1e-3),
                                                     scaling="factors"),
        "Adam beta=(0.9, 0.9) eps=1e-3 (factors)": dict(opt=ad.Adam(1e-3, beta1=0.9, beta2=0.9, eps=1e-3),
                                                        scaling="factors"),
    }
    results = {}
    for name, kw in runs.items():
        opt = kw.pop("opt")
        r = ad.analysis.convergence_order(opt, obj, x0, args.T, etas, **kw)
        results[name] = r
        gaps = "  ".join(f"{g:.3e}" for g in r.gaps_x)
        print(f"{name:<42} gaps {gaps}   order {r.order:.2f} (at steps {r.order_nodes:.2f})")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4.5))
        for name, r in results.items():
            ax.loglog(r.etas, r.gaps_x, "o-", label=f"{name}: {r.order:.2f}")
        ax.set_xlabel("eta")
        ax.set_ylabel("sup_t |X^eta(t) - x(t)|")
        ax.legend(fontsize="x-small")
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
