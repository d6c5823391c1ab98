"""Figures 7 and 8 of Ma, Wu & E: late-phase regimes, (a, b) maps, state space, sharpness."""
from __future__ import annotations

import numpy as np

__all__ = ["REGIME_COLORS", "BLOWUP_MARKER", "LEGEND_BELOW", "CLIP_DECADES", "NO_LATE_LOSS_COLOR",
           "regime_legend_handles",
           "plot_late_loss", "plot_regime_map", "plot_phase_diagram",
           "plot_loss_regime", "plot_state_space", "plot_sharpness"]

#: One colour per regime, in the order of :data:`adadyn.analysis.regimes.REGIMES`.
REGIME_COLORS = {"convergence": "#2ca02c", "oscillation": "#1f77b4", "spike": "#ff7f0e",
                 "divergence": "#d62728", "transient": "#7f7f7f"}

#: Where the regime maps put their legend: below the map, off the data.
LEGEND_BELOW = dict(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize="small", frameon=False)

#: Marker drawn over a cell (or beside a curve) whose run blew up.
BLOWUP_MARKER = dict(marker="x", color="k", ms=6, mew=1.5, ls="none")


def regime_legend_handles(labels, blown_up=None) -> list:
    """Legend handles for the labels present in ``labels``, each with its meaning
    ("divergence (stays high)"), and one "blew up" entry when any of ``blown_up`` is set
    (:func:`adadyn.analysis.regimes.blew_up`)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from adadyn.analysis.regimes import BLEW_UP, BLOWUP_DECADES, REGIMES, describe_label

    labels = np.asarray(labels)
    hs = [Patch(color=REGIME_COLORS[r], label=describe_label(r)) for r in REGIMES if np.any(labels == r)]
    if blown_up is not None and np.any(blown_up):
        hs.append(Line2D([], [], **BLOWUP_MARKER,
                         label=f"{BLEW_UP} (non-finite, or {BLOWUP_DECADES:g}+ decades above the start)"))
    return hs


def _mark_blown(ax, xc, yc, blown):
    """An x over the cells (rows: y centres, columns: x centres) whose run blew up."""
    if blown is not None and np.any(blown):
        ii, jj = np.nonzero(np.asarray(blown))
        ax.plot(np.asarray(xc)[jj], np.asarray(yc)[ii], **BLOWUP_MARKER)


def _pd_blown(pd):
    from adadyn.analysis.regimes import blew_up

    return blew_up(pd.level, np.asarray(pd.status) == "diverged")


def _ax(ax, **kw):
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(**kw).add_subplot(111)
    return ax


def _edges(v):
    """Cell edges for log-spaced centres."""
    lv = np.log10(v)
    if lv.size == 1:
        return 10.0 ** np.array([lv[0] - 0.5, lv[0] + 0.5])
    mid = 0.5 * (lv[1:] + lv[:-1])
    return 10.0 ** np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]])


def _frame(ax, pd):
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("b   (beta1 = 1 - b eta)")
    ax.set_ylabel("a   (beta2 = 1 - a eta)")
    lo = max(pd.a.min(), pd.b.min())
    hi = min(pd.a.max(), pd.b.max())
    if hi > lo:
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.6, ls=":")


#: Colour of a :func:`plot_late_loss` cell without a finite late loss (a run that blew up
#: before its late window; an x marks it).
NO_LATE_LOSS_COLOR = "0.85"

#: Decades below the largest cell at which :func:`plot_late_loss` clips its colour scale
#: (float64 resolves about 16 decades; runs that reach loss 1e-100 would otherwise take
#: the whole scale).
CLIP_DECADES = 16.0


def _pd_title(pd) -> str:
    """"Adam on <objective>, eta = ..., N steps" from a phase diagram (a network's task
    description without its class name)."""
    import re

    obj = str(getattr(pd, "objective", "") or "")
    m = re.fullmatch(r"NetworkTask\((.*), \w+\(.*\), (\d+) steps\)", obj)
    if m:   # the template spec's betas are replaced per point: leave them out
        return f"Adam on {m[1]}, eta = {pd.eta:g}, {m[2]} steps (Figure 8)"
    if obj.startswith("NetworkTask(") and obj.endswith(")"):
        return f"Adam on {obj[len('NetworkTask('):-1]}, eta = {pd.eta:g} (Figure 8)"
    return f"Adam on {obj or 'the objective'}, eta = {pd.eta:g}, {pd.steps} steps (Figure 8)"


def _default_suptitle(ax, pd, title):
    """Set the figure's title: ``title`` if given, else one from ``pd`` unless the figure has one."""
    import textwrap

    fig = ax.figure
    width = max(30, int(fig.get_size_inches()[0] * 10))   # characters that fit at the default size
    have = getattr(fig, "_suptitle", None)                 # Figure.get_suptitle needs matplotlib 3.8
    if title:
        fig.suptitle(textwrap.fill(title, width))
    elif title is None and not (have is not None and have.get_text()):
        fig.suptitle(textwrap.fill(_pd_title(pd), width))


def plot_late_loss(pd, ax=None, *, cmap: str = "viridis", colorbar: bool = True,
                   clip_decades: float | None = CLIP_DECADES, title: str | None = None, legend: bool = True):
    """Heatmap of the late mean log10 loss over (b, a): Figure 8, left. An x marks the runs
    that blew up, as on :func:`plot_regime_map`, with a legend entry below the map
    (``legend``); a cell without a finite late loss (blew up before the late window) is
    drawn in :data:`NO_LATE_LOSS_COLOR`.

    Parameters
    ----------
    pd : PhaseDiagram
    ax : matplotlib Axes, optional
    clip_decades : float or None
        The colour scale spans at most this many decades below the largest cell; cells
        below are drawn in the lowest colour and the colour bar says so (None: the full range).
        The drawn data are not changed.
    title : str, optional
        The figure's title; default "Adam on <objective>, eta = ..., N steps" unless the
        figure has one already; ``""`` leaves it alone.
    """
    ax = _ax(ax, layout="constrained")
    z = np.ma.masked_invalid(pd.late_mean_log10_loss)
    fin = np.asarray(z.compressed(), dtype=float)
    vmin = vmax = None
    clipped = False
    if fin.size:
        vmin, vmax = float(fin.min()), float(fin.max())
        if clip_decades is not None and vmax - vmin > clip_decades:
            vmin, clipped = vmax - float(clip_decades), True
    import matplotlib

    cm = matplotlib.colormaps[cmap].with_extremes(bad=NO_LATE_LOSS_COLOR)   # no finite late loss: grey
    mesh = ax.pcolormesh(_edges(pd.b), _edges(pd.a), z, cmap=cm, shading="flat", vmin=vmin, vmax=vmax)
    blown = _pd_blown(pd)
    _mark_blown(ax, pd.b, pd.a, blown)
    _frame(ax, pd)
    ax.set_title(f"late mean log10 loss (last {pd.window} of {pd.steps} steps)", fontsize="medium")
    if legend and np.any(blown):
        ax.legend(handles=regime_legend_handles([], blown), **LEGEND_BELOW)
    if colorbar:
        lab = "log10 f, late mean"
        if clipped:
            n = int(np.sum(fin < vmin))
            lab += f"\n(scale clipped at {vmin:.3g}: {n} cell{'s' if n != 1 else ''} down to {fin.min():.3g})"
        ax.figure.colorbar(mesh, ax=ax, label=lab, extend="min" if clipped else "neither")
    _default_suptitle(ax, pd, title)
    return ax


def plot_regime_map(pd, ax=None, *, legend: bool = True, title: str | None = None):
    """Categorical map of the regimes over (b, a): Figure 8, right.

    The legend gives each label's meaning ("divergence (stays high)"); an x marks runs that
    blew up (:func:`adadyn.analysis.regimes.blew_up`). ``title`` as in :func:`plot_late_loss`.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from adadyn.analysis.regimes import REGIMES

    ax = _ax(ax, layout="constrained")
    cmap = ListedColormap([REGIME_COLORS[r] for r in REGIMES])
    norm = BoundaryNorm(np.arange(len(REGIMES) + 1) - 0.5, len(REGIMES))
    ax.pcolormesh(_edges(pd.b), _edges(pd.a), pd.regime_code, cmap=cmap, norm=norm, shading="flat")
    blown = _pd_blown(pd)
    _mark_blown(ax, pd.b, pd.a, blown)
    _frame(ax, pd)
    ax.set_title(f"regime of the last {pd.window} of {pd.steps} steps", fontsize="medium")
    if legend:
        ax.legend(handles=regime_legend_handles(pd.regime, blown), **LEGEND_BELOW)
    _default_suptitle(ax, pd, title)
    return ax


def plot_phase_diagram(pd, axes=None, *, title: str | None = None):
    """Late mean log-loss and regime map side by side (Figure 8). Returns the two Axes."""
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    plot_late_loss(pd, axes[0], title="", legend=False)   # the regime map's legend names the x
    plot_regime_map(pd, axes[1], title="")
    axes[0].figure.suptitle(title or _pd_title(pd))
    return axes


def plot_loss_regime(traj_or_loss, regime=None, ax=None, *, step=None, last: int | None = None):
    """A loss curve with its regime and meaning in the title (Figure 7, top rows).

    The late window the label was read from is shaded; spikes are marked with a triangle
    when they are far enough apart to tell apart (else their count is written), and a run
    that blew up gets an x at its last finite loss. ``last`` limits the plot to the last
    ``last`` steps.
    """
    from adadyn.analysis.regimes import BLEW_UP, classify

    if regime is None:
        regime = classify(traj_or_loss, step)
    if hasattr(traj_or_loss, "loss"):
        loss, step = np.asarray(traj_or_loss.loss), np.asarray(traj_or_loss.step)
    else:
        loss = np.asarray(traj_or_loss, dtype=float)
        step = np.arange(loss.size) if step is None else np.asarray(step)
    sel = np.ones(loss.size, bool) if last is None else step >= step[-1] - last
    ax = _ax(ax)
    ok = sel & np.isfinite(loss)
    ax.semilogy(step[ok], np.abs(loss[ok]), lw=0.6, color=REGIME_COLORS[regime.label])
    lo, hi = float(step[sel][0]), float(step[sel][-1])
    w0, w1 = regime.window
    if w1 > w0 and w1 >= lo and (w0 > lo or last is None):
        ax.axvspan(max(w0, lo), w1, color="0.85", alpha=0.5, lw=0, zorder=0, label="late window (classified)")
    pk = regime.spike_steps[regime.spike_steps >= lo]
    if pk.size and (pk.size == 1 or np.min(np.diff(pk)) >= 0.015 * max(hi - lo, 1.0)):
        ax.plot(pk, np.abs(np.interp(pk, step, loss)), "v", ms=4, color="k", label="spike peaks")
    elif pk.size:
        ax.text(0.99, 0.97, f"{pk.size} spikes (too close to mark at this scale)", transform=ax.transAxes,
                ha="right", va="top", fontsize=7)
    if regime.blew_up and np.any(ok):
        last_ok = np.nonzero(ok)[0][-1]
        ax.plot(step[last_ok], np.abs(loss[last_ok]), **BLOWUP_MARKER, label=f"{BLEW_UP} (last finite loss)"
                if not np.all(np.isfinite(loss)) else BLEW_UP)
    if regime.blew_up or (pk.size and ax.lines[-1].get_marker() == "v"):
        ax.legend(loc="best", fontsize="x-small")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(regime.describe("\n"), fontsize="medium")
    return ax


def _sci_axis(axis, values, name: str, setter):
    """Ticks of a 3-D axis as mantissas, the power of ten in the axis label (the data are unchanged)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    top = float(np.max(np.abs(v))) if v.size else 1.0
    e = int(np.floor(np.log10(top))) if top > 0 else 0
    if -2 <= e <= 2:
        e = 0
    axis.set_major_locator(MaxNLocator(4))

    def fmt(x, _pos):
        locs = np.asarray(axis.get_majorticklocs(), dtype=float) / 10.0 ** e
        gap = float(np.min(np.diff(np.sort(locs)))) if locs.size > 1 else 1.0
        dec = max(0, -int(np.floor(np.log10(gap)))) if gap > 0 else 3
        return f"{x / 10.0 ** e:.{min(dec, 8)}f}"

    axis.set_major_formatter(FuncFormatter(fmt))
    setter(name if e == 0 else f"{name}  [x 1e{e}]", labelpad=6)


def plot_state_space(traj, ax=None, *, start: int | None = None, stop: int | None = None, **line_kw):
    """Trajectory in the state space (||x||, ||m||, ||sqrt v||), Figure 7 bottom row.

    ``start``/``stop`` select recorded steps (inclusive start, exclusive stop).
    ``ax`` must be a 3-D Axes (``projection='3d'``) when given. Reads
    ``traj.x_norm``, ``traj.m_norm``, ``traj.sqrt_v_norm``: recorded states of
    :func:`adadyn.run`, or the norms :func:`adadyn.nn.train` records. The path is a thin
    line with its points coloured by step (early: dark, late: yellow), so a fast
    oscillation reads as a cloud whose drift shows; each axis has at most four ticks, its
    power of ten in the label.
    """
    try:
        norms = (traj.x_norm, traj.m_norm, traj.sqrt_v_norm)
    except AttributeError:
        raise ValueError("traj has no recorded state; run with record_state=True") from None
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure(figsize=(5.5, 5)).add_subplot(111, projection="3d")
    if not hasattr(ax, "plot3D"):
        raise ValueError("ax must be a 3-D Axes (add_subplot(..., projection='3d'))")
    st = np.asarray(traj.step)
    sel = np.ones(st.size, bool)
    if start is not None:
        sel &= st >= start
    if stop is not None:
        sel &= st < stop
    nx, nm, nv = (np.asarray(n)[sel] for n in norms)
    line_kw.setdefault("lw", 0.4)
    line_kw.setdefault("alpha", 0.6)
    line_kw.setdefault("color", "0.4")
    ax.plot3D(nx, nm, nv, **line_kw)
    if nx.size:
        ax.scatter(nx, nm, nv, c=st[sel], cmap="viridis", s=1.5, depthshade=False, linewidths=0)
    _sci_axis(ax.xaxis, nx, "||x||", ax.set_xlabel)
    _sci_axis(ax.yaxis, nm, "||m||", ax.set_ylabel)
    _sci_axis(ax.zaxis, nv, "||sqrt v||", ax.set_zlabel)
    ax.tick_params(labelsize=7, pad=1)
    ax.set_box_aspect(None, zoom=0.8)
    return ax


def plot_sharpness(S, ax=None, *, last: int | None = None):
    """Loss (left axis) with the preconditioned sharpness and Adam's threshold
    (2 + 2 beta1)/((1 - beta1) eta) (right axis); spikes marked.

    One legend, below the plot, names all four (loss, sharpness, threshold, spike peaks).
    Returns the loss Axes; the sharpness Axes is its twin (``ax.right_ax``).
    """
    from matplotlib.lines import Line2D

    ax = _ax(ax, figsize=(9, 4.2), layout="constrained")
    sel = np.ones(S.step.size, bool) if last is None else S.step >= S.step[-1] - last
    ok = sel & np.isfinite(S.loss)
    (hl,) = ax.semilogy(S.step[ok], np.abs(S.loss[ok]), lw=0.6, color="0.4", label="loss (left axis)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    tw = ax.twinx()
    (hs,) = tw.plot(S.step[sel], S.sharpness[sel], lw=0.8, color="#1f77b4",
                    label="preconditioned sharpness lambda_max(P H) (right axis)")
    (ht,) = tw.plot(S.step[sel], S.threshold[sel], lw=1.0, color="k", ls="--",
                    label="threshold (2 + 2 beta1)/((1 - beta1) eta)")
    tw.set_ylabel("lambda_max(P H)")
    peaks = S.spike_steps[S.spike_steps >= S.step[sel][0]]
    for p in peaks:
        ax.axvline(p, color=REGIME_COLORS["spike"], lw=0.6, alpha=0.7)
    handles = [hl, hs, ht]
    if peaks.size:
        handles.append(Line2D([], [], color=REGIME_COLORS["spike"], lw=0.8, label=f"spike peaks ({peaks.size})"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small",
              frameon=False)
    ax.right_ax = tw
    return ax
