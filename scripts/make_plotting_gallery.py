"""Thumbnails of every plotting function for docs/plotting.md (docs/gallery/plotting/).

Run from the repository root: ``python scripts/make_plotting_gallery.py`` (about 20 s on
one core). Each public ``plot_*`` function of :mod:`adadyn.plotting`'s submodules is drawn
once on small data (the Figure 5 quadratic of Ma, Wu & E and short runs) and saved as
``<submodule>_<function>.png``, 360 pixels wide. ``--check`` only lists what would be
written. The network phase-diagram view is drawn from the quadratic phase diagram's arrays
(it needs no torch); the network runs themselves are in the reproduce gallery.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery" / "plotting"
WIDTH_PX = 360


def _data():
    import adadyn as ad
    from adadyn.analysis import classify, phase_diagram, preconditioned_sharpness
    from adadyn.analysis.discrete_vs_flow import convergence_order, scaled_optimizer

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    d = dict(obj=obj, x0=x0)
    d["spike"] = ad.run(ad.Adam.from_ab(1e-3, 1.0, 100.0), obj, x0, 30_000)
    d["regime"] = classify(d["spike"])
    d["sharp"] = preconditioned_sharpness(d["spike"])
    d["runs"] = [ad.run(ad.Adam(1e-2), obj, x0, 3000), ad.run(ad.RMSprop(1e-2, alpha=0.9), obj, x0, 3000)]
    x1 = np.random.default_rng(1).standard_normal(10)
    opt = ad.RMSprop.from_a(1e-2, a=1.0, eps=1e-8)
    etas = (1e-2, 5e-3, 2.5e-3)
    d["order"] = convergence_order(opt, obj, x1, 2.0, etas)
    d["flow_runs"] = [ad.run(scaled_optimizer(opt, e), obj, x1, int(round(2.0 / e))) for e in etas]
    d["signgd"] = ad.flows.solve(ad.flows.SignGDFlow(), obj, x1, 2.0)
    d["bound"] = lambda t: ad.analysis.signgd_loss_bound(obj, x1, t)
    grid = np.logspace(-1, 2, 5)
    d["pd"] = phase_diagram(obj, x0, grid, grid, 1e-3, 20_000, progress=False)
    d["lin"] = ad.analysis.linearize(ad.RMSprop(1e-3, alpha=0.9, eps=1e-8), obj, np.zeros(10))
    f1 = ad.objectives.quadratic([[1.0]])
    d["cont"] = ad.analysis.continuation(ad.RMSprop(1e-4, alpha=0.9, eps=1e-4), f1, [0.0],
                                         np.linspace(0.5e-4, 4e-4, 24), transient=2000, record=8)
    return d


def drawings(d):
    """(submodule, function name, callable drawing it and returning its figure)."""
    import matplotlib.pyplot as plt

    from adadyn.plotting import discrete, flows, nn, regimes, stability

    def fig3d():
        return plt.figure(figsize=(4.5, 4)).add_subplot(111, projection="3d")

    pd = d["pd"]
    blown = None
    return [
        ("discrete", "plot_loss", lambda: discrete.plot_loss(d["runs"]).figure),
        ("discrete", "plot_state_norms", lambda: discrete.plot_state_norms(d["spike"]).figure),
        ("flows", "plot_flow_vs_discrete",
         lambda: flows.plot_flow_vs_discrete(d["order"].flow_solution, d["flow_runs"]).figure),
        ("flows", "plot_gap_vs_eta", lambda: flows.plot_gap_vs_eta(d["order"]).figure),
        ("flows", "plot_flow_comparison", lambda: flows.plot_flow_comparison(d["order"], d["flow_runs"])[0].figure),
        ("flows", "plot_signgd_flow", lambda: flows.plot_signgd_flow(d["signgd"], bound=d["bound"]).figure),
        ("stability", "plot_eigenvalues", lambda: stability.plot_eigenvalues(d["lin"], symlog=True).figure),
        ("stability", "plot_orbit_diagram", lambda: stability.plot_orbit_diagram(d["cont"]).figure),
        ("stability", "plot_figure6", lambda: stability.plot_figure6(steps=1000).figure),
        ("regimes", "plot_late_loss", lambda: regimes.plot_late_loss(pd).figure),
        ("regimes", "plot_regime_map", lambda: regimes.plot_regime_map(pd).figure),
        ("regimes", "plot_phase_diagram", lambda: regimes.plot_phase_diagram(pd)[0].figure),
        ("regimes", "plot_loss_regime", lambda: regimes.plot_loss_regime(d["spike"], d["regime"]).figure),
        ("regimes", "plot_state_space", lambda: regimes.plot_state_space(d["spike"], fig3d(), start=29_000).figure),
        ("regimes", "plot_sharpness", lambda: regimes.plot_sharpness(d["sharp"], last=2000).figure),
        ("nn", "plot_network_phase",
         lambda: nn.plot_network_phase(pd.a, pd.b, pd.late_mean_log10_loss, pd.regime, blown_up=blown,
                                       title="plot_network_phase (arrays of a quadratic phase diagram)")[0].figure),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="list the files, write nothing")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.check:
        for mod, name, _ in drawings({"pd": None}):
            print(OUT / f"{mod}_{name}.png")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    d = _data()
    for mod, name, draw in drawings(d):
        fig = draw()
        fig.savefig(OUT / f"{mod}_{name}.png", dpi=WIDTH_PX / fig.get_size_inches()[0])
        plt.close(fig)
        print(OUT / f"{mod}_{name}.png")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
