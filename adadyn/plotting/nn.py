"""Plots of network runs (:mod:`adadyn.nn`): the state space of Figure 7 and the network phase
diagram. Matplotlib only: a saved run plots without torch.

Every function takes ``ax=None`` (a new figure when None), returns the Axes,
and never calls ``plt.show()``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot_state_space", "plot_state_norms", "plot_network_phase"]


def _select(traj, start, stop):
    st = np.asarray(traj.step)
    sel = np.ones(st.size, bool)
    if start is not None:
        sel &= st >= start
    if stop is not None:
        sel &= st < stop
    return sel


def plot_state_space(traj, ax=None, *, start: int | None = None, stop: int | None = None, **line_kw):
    """The run in the state space (|x|, |m|, |sqrt v|), Figure 7 (bottom row) of Ma, Wu & E.

    Reads ``traj.x_norm``, ``traj.m_norm``, ``traj.sqrt_v_norm`` (recorded every
    record by :func:`adadyn.nn.train`). ``start``/``stop`` select steps
    (inclusive, exclusive). ``ax`` must be a 3-D Axes when given.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(5.5, 5)).add_subplot(111, projection="3d")
    if not hasattr(ax, "plot3D"):
        raise ValueError("ax must be a 3-D Axes (add_subplot(..., projection='3d'))")
    sel = _select(traj, start, stop)
    line_kw.setdefault("lw", 0.6)
    ax.plot3D(traj.x_norm[sel], traj.m_norm[sel], traj.sqrt_v_norm[sel], **line_kw)
    ax.set_xlabel("||x||")
    ax.set_ylabel("||m||")
    ax.set_zlabel("||sqrt v||")
    return ax


def plot_state_norms(traj, ax=None):
    """|x|, |m|, |sqrt v| against time t = sum of step sizes (log scale)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for key, lab in (("x_norm", "||x||"), ("m_norm", "||m||"), ("sqrt_v_norm", "||sqrt v||")):
        y = np.asarray(getattr(traj, key))
        ax.plot(traj.time, np.where(y > 0, y, np.nan), label=lab, lw=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("time t = sum of step sizes")
    ax.legend(fontsize=8)
    return ax


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
