"""Plots of linear stability: spectra against the unit circle or the imaginary
axis, orbit diagrams, and Figure 6 of Ma, Wu & E (RMSprop's 2-cycle)."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_eigenvalues", "plot_orbit_diagram", "plot_figure6", "figure6_trajectories"]


def _axes(ax, size=(5, 5)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=size)
    return ax


def plot_eigenvalues(source, ax=None, *, which: str | None = None, label: str | None = None,
                     marker: str = "o", symlog: bool = False):
    """Eigenvalues in the complex plane with the stability boundary.

    Parameters
    ----------
    source : Linearization, PeriodicOrbit or array_like of complex
        A Linearization gives its map eigenvalues (``which='map'``, default) or
        flow eigenvalues (``which='flow'``); a PeriodicOrbit its Floquet multipliers.
    ax : matplotlib Axes, optional
    which : {'map', 'flow'}, optional
        Discrete spectra are drawn with the unit circle (stable inside), flow
        spectra with the imaginary axis (stable to the left). For a bare array,
        default 'map'.
    label : str, optional
    symlog : bool
        Symmetric-log axes: the spectra of eq. (11) span -lambda/eps ~ -1e8 to -a ~ -1.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    if hasattr(source, "map_eigenvalues"):
        which = which or "map"
        if which not in ("map", "flow"):
            raise ValueError(f"which must be 'map' or 'flow', got {which!r}")
        mu = source.map_eigenvalues if which == "map" else source.flow_eigenvalues
        if mu is None:
            raise ValueError("this linearisation has no limit flow (flow_eigenvalues is None)")
    elif hasattr(source, "multipliers"):
        which = "map"
        mu = source.multipliers
    else:
        which = which or "map"
        mu = np.asarray(source)
    mu = np.asarray(mu, dtype=complex)
    ax.plot(mu.real, mu.imag, marker, ls="none", label=label or ("map eigenvalues" if which == "map"
                                                                   else "flow eigenvalues"))
    if which == "map":
        th = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(th), np.sin(th), "k--", lw=0.8, label="|mu| = 1")
        ax.set_xlabel("Re mu")
        ax.set_ylabel("Im mu")
    else:
        ax.axvline(0.0, color="k", ls="--", lw=0.8, label="Re = 0")
        ax.set_xlabel("Re lambda")
        ax.set_ylabel("Im lambda")
    ax.axhline(0.0, color="0.7", lw=0.5)
    if symlog:
        from matplotlib.ticker import SymmetricalLogLocator

        ax.set_xscale("symlog", linthresh=1.0)
        span = float(np.max(np.abs(mu.real))) if mu.size else 1.0
        base = 10.0 ** max(1, int(np.ceil(np.log10(max(span, 10.0)) / 6)))
        ax.xaxis.set_major_locator(SymmetricalLogLocator(linthresh=1.0, base=base))
        if np.any(np.abs(mu.imag) > 1.0):
            ax.set_yscale("symlog", linthresh=1.0)
    elif which == "map":
        ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=8)
    return ax


def plot_orbit_diagram(cont, ax=None, *, mark_bifurcations: bool = True, s: float = 2.0):
    """Orbit diagram from :func:`adadyn.analysis.continuation`: the x values the
    discrete map visits after its transient, against the parameter, with the
    followed branch (solid where stable, dotted where unstable) and the
    detected bifurcations.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (6, 4))
    ax.plot(cont.diagram_param, cont.diagram_x, ".", ms=s, color="k", label="attractor (discrete map)")
    if cont.found.any():
        xb = cont.points[:, cont.component]
        for mask, ls, lab in ((cont.stable, "-", "branch, stable"),
                              (cont.found & ~cont.stable, ":", "branch, unstable")):
            if mask.any():
                ax.plot(np.where(mask, cont.values, np.nan), np.where(mask, xb, np.nan), ls, color="C0",
                        lw=1.2, label=lab)
    if mark_bifurcations:
        for b in cont.bifurcations:
            ax.axvline(b.value, color="C3", lw=0.8, ls="--", label=f"{b.kind} at {b.value:.4g}")
    ax.set_xlabel(cont.param)
    ax.set_ylabel("x")
    ax.legend(fontsize=8)
    return ax


def figure6_trajectories(eta: float = 0.01, alphas=(0.1, 0.5, 0.9, 0.99), *, x0: float = 0.1,
                         steps: int = 3000, eps: float = 1e-8, lam: float = 1.0):
    """The runs behind Figure 6: RMSprop (eq. (2)) on f = lam x^2/2 from x0, one
    per alpha; returns a list of Trajectory objects."""
    import adadyn as ad

    obj = ad.objectives.quadratic([[float(lam)]], name="lam x^2/2")
    return [ad.run(ad.RMSprop(eta, alpha=float(a), eps=eps), obj, [float(x0)], int(steps)) for a in alphas]


def plot_figure6(eta: float = 0.01, alphas=(0.1, 0.5, 0.9, 0.99), ax=None, *, x0: float = 0.1,
                 steps: int = 3000, eps: float = 1e-8, lam: float = 1.0):
    """Figure 6 of Ma, Wu & E: RMSprop on f = x^2/2 (eta = 0.01) converging to the
    2-cycle for several alpha.

    The dashed lines are the exact cycle x = +-(eta/2 - eps/lam) (the paper's
    +-eta/2 with eps ~ 0); see :mod:`adadyn.analysis.orbits`. The paper does not
    state x0; the default 0.1 is our choice. With alpha = 0 the map is nearly
    signGD and the symmetric cycle is only marginally attracting (its multiplier
    is (1 - 4 eps/(eta lam))^2), so alpha = 0 is left out by default.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (7, 4))
    trajs = figure6_trajectories(eta, alphas, x0=x0, steps=steps, eps=eps, lam=lam)
    for a, tr in zip(alphas, trajs):
        ax.plot(tr.step, tr.x[:, 0], lw=0.7, label=f"alpha = {a:g}")
    c = eta / 2 - eps / lam
    for sgn in (1, -1):
        ax.axhline(sgn * c, color="k", ls="--", lw=0.8, label="x = +-(eta/2 - eps/lambda)" if sgn > 0 else None)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, steps)
    ax.set_ylim(-4 * c, 4 * c)
    ax.set_xlabel("step k")
    ax.set_ylabel("x_k")
    ax.set_title(f"RMSprop on f = x^2/2, eta = {eta:g} (Figure 6)")
    ax.legend(fontsize=8, loc="upper right")
    return ax
