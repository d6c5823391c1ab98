"""Late-phase labels at 20,000 and 40,000 steps on a 50-d random quadratic (docs/regimes.md, "Run length").

Adam (beta2 = 1 - a eta, beta1 = 1 - b eta, eta = 1e-3) on
``random_quadratic(50, seed=0)`` from x0 ~ N(0, I) (``default_rng(0)``), a 4 x 4
grid of (a, b) in logspace(-1, 2, 4), record stride 20. The labels are those of
``phase_diagram`` (the gradient rules, f* = 0 known). For each point the script
also runs ``adadyn.run`` for 40,000 steps and classifies its first 20,000 steps
and the whole run with ``classify`` (checking that these equal the sweep labels),
and prints, for both windows, the window's change of log10 |f - f*| (decades) and
the gradient-implied distance to the minimum in step sizes over its first and last
tenth (``grad_ratio_ends``).

Usage::

    python scripts/run_length.py [--seed 0] [--stride 20]
"""
from __future__ import annotations

import argparse

import numpy as np

import adadyn as ad
from adadyn.analysis import classify, phase_diagram
from adadyn.objectives import random_quadratic

ETA = 1e-3
LENGTHS = (20_000, 40_000)


def table(seed: int = 0, stride: int = 20):
    """Rows (a, b, label at 20k, label at 40k, Regime at 20k, Regime at 40k)."""
    obj = random_quadratic(50, seed=seed)
    x0 = np.random.default_rng(seed).standard_normal(50)
    ab = np.logspace(-1, 2, 4)
    pds = [phase_diagram(obj, x0, ab, ab, eta=ETA, steps=n, record_every=stride) for n in LENGTHS]
    rows = []
    for i, a in enumerate(ab):
        for j, b in enumerate(ab):
            tr = ad.run(ad.Adam(ETA, beta1=1 - b * ETA, beta2=1 - a * ETA), obj, x0, LENGTHS[1], record_every=stride)
            k = int(np.searchsorted(tr.step, LENGTHS[0])) + 1
            r20 = classify(tr.loss[:k], tr.step[:k], f_star=0.0, grad_norm=tr.grad_norm[:k], step_size=ETA)
            r40 = classify(tr)
            labels = (str(pds[0].regime[i, j]), str(pds[1].regime[i, j]))
            if labels != (r20.label, r40.label):
                raise AssertionError(f"(a, b) = ({a:g}, {b:g}): sweep labels {labels} differ from classify's "
                                     f"{(r20.label, r40.label)}")
            rows.append((a, b, labels[0], labels[1], r20, r40))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="seed of the quadratic and of x0 (default 0)")
    ap.add_argument("--stride", type=int, default=20, help="record stride (default 20)")
    args = ap.parse_args(argv)
    rows = table(args.seed, args.stride)

    def feat(r):
        g0, g1 = r.grad_ratio_ends
        return f"{r.trend:+6.2f} {g0:8.3g} {g1:8.3g}"

    print(f"random_quadratic(50, seed={args.seed}), Adam eta = {ETA:g}, stride {args.stride}; "
          "trend: decades across the late window; rho: distance to x* in step sizes, first / last tenth")
    print(f"{'a':>6} {'b':>6}  {'20k':12} {'40k':12}   20k: trend  rho_first  rho_last | 40k: trend  rho_first  rho_last")
    changed = 0
    for a, b, l20, l40, r20, r40 in rows:
        mark = "*" if l20 != l40 else " "
        changed += l20 != l40
        print(f"{a:6.3g} {b:6.3g}  {l20:12} {l40:12} {mark} {feat(r20)} | {feat(r40)}")
    print(f"labels differ at {changed} of {len(rows)} points")


if __name__ == "__main__":
    main()
