"""Labelled loss curves for validating :func:`adadyn.analysis.classify`.

Each case is a run whose late-phase regime is known independently of the
classifier: from theory (gradient descent on an L-smooth quadratic converges
for eta < 2/L and blows up for eta > 2/L; RMSprop and Adam converge when
eta*lambda_max/eps is below their thresholds, see DESIGN.md) or from Ma, Wu &
E's regime map (Figure 8: b >> a spikes, a ~ b oscillates, a >> b keeps the
loss large), on several objectives. Every curve below was also checked by eye
(``--plot`` draws them all).

Usage::

    python scripts/make_regime_dataset.py out.npz [--plot curves.png]

The data are cheap to regenerate (about a second), so tests call
:func:`make_dataset` instead of reading a stored file.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import adadyn as ad

ETA = 1e-3


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    loss: np.ndarray
    step: np.ndarray


def _lsq(seed, n=40, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return ad.objectives.least_squares(X, X @ rng.standard_normal(d))  # consistent: f* = 0


def _specs():
    """(name, label, objective, optimiser, x0 seed, steps)."""
    quads = [(ad.objectives.random_quadratic(d, seed), f"quad d={d} s={seed}")
             for d, seed in ((10, 0), (10, 1), (8, 2), (12, 3), (6, 4))]
    lsq = [(_lsq(s), f"lsq s={s}") for s in (0, 1)]
    diag = [(ad.objectives.diagonal_quadratic(np.array([0.5, 1.0, 3.0, 8.0, 20.0])), "diag5")]
    out = []
    for obj, nm in quads + lsq + diag:
        L = float(np.linalg.eigvalsh(obj.hessian(np.zeros(obj.dim)))[-1])
        out.append((f"GD 1/L {nm}", "convergence", obj, ad.GD(1.0 / L), 20_000))
        out.append((f"GD 2.05/L {nm}", "divergence", obj, ad.GD(2.05 / L), 20_000))
        # eta*lambda_max/eps = 2 < 38: the minimum is a stable fixed point of Adam.
        out.append((f"Adam eps=L*eta/2 {nm}", "convergence", obj,
                    ad.Adam(ETA, eps=L * ETA / 2.0), 20_000))
        out.append((f"Adam a=1 b=100 {nm}", "spike", obj, ad.Adam.from_ab(ETA, 1.0, 100.0), 40_000))
        out.append((f"Adam a=10 b=10 {nm}", "oscillation", obj, ad.Adam.from_ab(ETA, 10.0, 10.0), 40_000))
        out.append((f"Adam a=100 b=1 {nm}", "divergence", obj, ad.Adam.from_ab(ETA, 100.0, 1.0), 40_000))
    ros = ad.objectives.rosenbrock(2)
    out.append(("GD rosenbrock", "convergence", ros, ad.GD(1e-3), 20_000))
    out.append(("Adam a=30 b=30 quad d=10 s=0", "oscillation", quads[0][0],
                ad.Adam.from_ab(ETA, 30.0, 30.0), 40_000))
    return out


def make_dataset(record_every: int = 10, seed: int = 0) -> list[Case]:
    """Run every case (x0 standard normal, fixed seed) and return the loss curves."""
    cases = []
    for k, (name, label, obj, opt, steps) in enumerate(_specs()):
        x0 = np.random.default_rng(seed + k).standard_normal(obj.dim)
        if obj.name.startswith("rosenbrock"):
            x0 = np.array([-1.2, 1.0])
        tr = ad.run(opt, obj, x0, steps, record_every=record_every, record_state=False)
        loss = tr.loss
        if tr.status == "diverged":  # keep the blow-up visible to loss-only classifiers
            loss = np.append(loss, np.inf)
        cases.append(Case(name, label, loss, record_every * np.arange(loss.shape[0])))
    return cases


def accuracy(cases, **classify_kw):
    """(fraction correct, list of (name, true, predicted) for the misses)."""
    from adadyn.analysis import classify

    misses = []
    for c in cases:
        got = classify(c.loss, c.step, **classify_kw).label
        if got != c.label:
            misses.append((c.name, c.label, got))
    return 1.0 - len(misses) / len(cases), misses


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output .npz")
    ap.add_argument("--plot", help="also draw every curve into this image")
    args = ap.parse_args(argv)
    cases = make_dataset()
    np.savez_compressed(args.out, names=np.array([c.name for c in cases]),
                        labels=np.array([c.label for c in cases]),
                        **{f"loss_{i}": c.loss for i, c in enumerate(cases)},
                        **{f"step_{i}": c.step for i, c in enumerate(cases)})
    acc, misses = accuracy(cases)
    print(f"{len(cases)} curves; classifier accuracy {acc:.3f}")
    for m in misses:
        print("  miss:", m)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = len(cases)
        cols = 6
        fig, axs = plt.subplots(-(-n // cols), cols, figsize=(3.2 * cols, 2.2 * -(-n // cols)))
        for ax, c in zip(axs.ravel(), cases):
            ok = np.isfinite(c.loss)
            ax.semilogy(c.step[ok], np.abs(c.loss[ok]), lw=0.4)
            ax.set_title(f"{c.name}\n[{c.label}]", fontsize=7)
            ax.tick_params(labelsize=5)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=60)


if __name__ == "__main__":
    main()
