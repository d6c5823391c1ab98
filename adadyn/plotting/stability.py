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
        Several calls on one Axes overlay their spectra (the boundary is drawn once).
    which : {'map', 'flow'}, optional
        Discrete spectra are drawn with the unit circle (stable inside), flow
        spectra with the imaginary axis (stable to the left). For a bare array,
        default 'map'.
    label : str, optional
    symlog : bool
        Symmetric-log real axis (linear on [-1, 1]): the spectra of eq. (11) span
        -lambda/eps ~ -1e8 to -a ~ -1. A real spectrum is then drawn on the real line
        alone (repeated eigenvalues marked "x n"), the stable set shaded: Re < 0 for a
        flow, -1 < mu < 1 for a map (the unit circle meets the real line there).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax, (6, 2.6) if symlog else (5, 5))
    which, mu = _spectrum(source, which)
    lab = label or ("map eigenvalues" if which == "map" else "flow eigenvalues")
    real = bool(mu.size) and bool(np.all(np.abs(mu.imag) <= 1e-9 * np.maximum(1.0, np.abs(mu))))
    if symlog and real:
        return _real_line(ax, mu.real, which, lab, marker)
    ax.plot(mu.real, mu.imag, marker, ls="none", label=lab)
    first = not getattr(ax, "_adadyn_boundary", False)
    if first and which == "map":
        th = np.linspace(0, 2 * np.pi, 400)
        ax.plot(np.cos(th), np.sin(th), "k--", lw=0.8, label="|mu| = 1")
    elif first:
        ax.axvline(0.0, color="k", ls="--", lw=0.8, label="Re = 0")
    if first:
        ax.axhline(0.0, color="0.7", lw=0.5)
        ax._adadyn_boundary = True
    sym = "mu" if which == "map" else "lambda"
    ax.set_xlabel(f"Re {sym}")
    ax.set_ylabel(f"Im {sym}")
    if symlog:
        ax.set_xscale("symlog", linthresh=1.0)
        _decade_ticks(ax.xaxis, np.abs(mu.real))
        if np.any(np.abs(mu.imag) > 1.0):
            ax.set_yscale("symlog", linthresh=1.0)
            _decade_ticks(ax.yaxis, np.abs(mu.imag))
    elif which == "map":
        ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=8)
    return ax


def _spectrum(source, which):
    if hasattr(source, "map_eigenvalues"):
        which = which or "map"
        if which not in ("map", "flow"):
            raise ValueError(f"which must be 'map' or 'flow', got {which!r}")
        mu = source.map_eigenvalues if which == "map" else source.flow_eigenvalues
        if mu is None:
            raise ValueError("this linearisation has no limit flow (flow_eigenvalues is None)")
    elif hasattr(source, "multipliers"):
        which, mu = "map", source.multipliers
    else:
        which = which or "map"
        if which not in ("map", "flow"):
            raise ValueError(f"which must be 'map' or 'flow', got {which!r}")
        mu = np.asarray(source)
    return which, np.asarray(mu, dtype=complex).ravel()


def _decade_ticks(axis, mags, most: int = 4):
    """At most ``most`` labelled decades per side of a symlog axis (linthresh 1), as -10^k."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    top = int(np.ceil(np.log10(max(float(np.max(mags, initial=1.0)), 10.0))))
    step = max(1, int(np.ceil(top / most)))
    ks = list(range(step, top + 1, step))
    ticks = sorted([-(10.0 ** k) for k in ks] + [-1.0, 0.0, 1.0] + [10.0 ** k for k in ks])

    def fmt(v, _pos):
        if v == 0:
            return "0"
        k = int(round(np.log10(abs(v))))
        return ("$-$" if v < 0 else "") + ("1" if k == 0 else f"$10^{{{k}}}$")

    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(fmt))
    axis.set_minor_locator(NullLocator())


def _real_line(ax, x, which, label, marker):
    """A real spectrum on a symlog real line, with multiplicities and the stable interval."""
    x = np.sort(x)
    first = not getattr(ax, "_adadyn_boundary", False)
    ax.plot(x, np.zeros_like(x), marker, ls="none", ms=7, mfc="none" if marker in "os^dv" else None,
            label=label)
    groups = np.split(x, np.nonzero(np.diff(x) > 1e-9 * np.maximum(1.0, np.abs(x[1:])))[0] + 1)
    for g in groups:
        if g.size > 1:
            ax.annotate(f"x{g.size}", (g.mean(), 0.0), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=7)
    sym = "mu" if which == "map" else "lambda"
    if first:
        if which == "map":
            ax.axvline(-1.0, color="k", ls="--", lw=0.8, label="|mu| = 1")
            ax.axvline(1.0, color="k", ls="--", lw=0.8)
            ax.axvspan(-1.0, 1.0, color="#2ca02c", alpha=0.12, lw=0, label="stable: |mu| < 1")
        else:
            ax.axvline(0.0, color="k", ls="--", lw=0.8, label="Re = 0")
            ax.axvspan(-1e300, 0.0, color="#2ca02c", alpha=0.12, lw=0, label="stable: Re < 0")
        ax.axhline(0.0, color="0.7", lw=0.5)
        ax._adadyn_boundary = True
    ax.set_xscale("symlog", linthresh=1.0)
    pts = np.concatenate([ln.get_xdata() for ln in ax.lines if ln.get_linestyle() in ("None", "none", "")])
    mags = np.abs(pts[np.isfinite(pts)])
    _decade_ticks(ax.xaxis, mags)
    lo = -max(float(np.max(mags, initial=1.0)) * 3.0, 3.0)
    hi = max(float(np.max(pts, initial=0.0)) * 3.0, 3.0)
    ax.set_xlim(lo, hi)
    ax.set_ylim(-1.0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel("")
    ax.set_xlabel(f"{sym} (all eigenvalues real; symmetric log scale, linear on [-1, 1])")
    ax.legend(fontsize=8, loc="upper left", ncol=2, framealpha=0.9)
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
