"""Plots of network runs (:mod:`adadyn.nn`): the state space of Figure 7 and the network phase
diagram. Matplotlib only: a saved run plots without torch.

Every function takes ``ax=None`` (a new figure when None), returns the Axes,
and never calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np

from adadyn.plotting import discrete as _discrete
from adadyn.plotting import regimes as _regimes

__all__ = ["plot_state_space", "plot_state_norms", "plot_network_phase"]


#: the same views as for discrete runs: :func:`adadyn.plotting.regimes.plot_state_space` and
#: :func:`adadyn.plotting.discrete.plot_state_norms` read the norms :func:`adadyn.nn.train` records
plot_state_space = _regimes.plot_state_space
plot_state_norms = _discrete.plot_state_norms


def plot_network_phase(a, b, late_log10_loss, labels, axes=None, *, blown_up=None, title: str | None = None):
    """Figure 8 for a network: late mean log10 loss (left) and regime labels (right) over (b, a).

    ``late_log10_loss`` and ``labels`` are indexed [i, j] = (a[i], b[j]). ``axes``: two Axes or None.
    ``blown_up`` (bool, same shape; :func:`adadyn.analysis.regimes.blew_up`) marks runs that
    blew up with an x; the legend gives each label's meaning ("divergence (stays high)").
    ``title``: the figure's title (default: the grid and the range of the late loss).
    Returns the two Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from adadyn.analysis.regimes import REGIMES
    from adadyn.plotting.regimes import LEGEND_BELOW, REGIME_COLORS, _mark_blown, regime_legend_handles

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 5.2), constrained_layout=True)
    a, b = np.asarray(a), np.asarray(b)
    z = np.asarray(late_log10_loss, dtype=float)
    ext = (np.log10(b[0]), np.log10(b[-1]), np.log10(a[0]), np.log10(a[-1]))
    im = axes[0].imshow(np.ma.masked_invalid(z), origin="lower", aspect="auto", extent=ext)
    axes[0].figure.colorbar(im, ax=axes[0], label="late mean log10 loss")
    codes = np.vectorize(REGIMES.index)(np.asarray(labels))
    cmap = ListedColormap([REGIME_COLORS[r] for r in REGIMES])
    axes[1].imshow(codes, origin="lower", aspect="auto", extent=ext, cmap=cmap, vmin=-0.5, vmax=len(REGIMES) - 0.5)
    _mark_blown(axes[1], np.log10(b), np.log10(a), blown_up)
    axes[1].legend(handles=regime_legend_handles(labels, blown_up), **LEGEND_BELOW)
    for ax in axes:
        ax.set_xlabel("log10 b   (beta1 = 1 - b eta)")
        ax.set_ylabel("log10 a   (beta2 = 1 - a eta)")
    if title is None:
        fin = z[np.isfinite(z)]
        rng = f", late mean log10 loss in [{fin.min():.2g}, {fin.max():.2g}]" if fin.size else ""
        title = f"Adam on a network over a {a.size} x {b.size} (a, b) grid{rng}"
    axes[0].figure.suptitle(title)
    return axes
