"""Figures 7 and 8 of Ma, Wu & E: late-phase regimes, (a, b) maps, state space, sharpness."""
from __future__ import annotations

import numpy as np

__all__ = ["REGIME_COLORS", "BLOWUP_MARKER", "regime_legend_handles", "plot_late_loss", "plot_regime_map", "plot_phase_diagram",
           "plot_loss_regime", "plot_state_space", "plot_sharpness"]

#: One colour per regime, in the order of :data:`adadyn.analysis.regimes.REGIMES`.
REGIME_COLORS = {"convergence": "#2ca02c", "oscillation": "#1f77b4", "spike": "#ff7f0e",
                 "divergence": "#d62728", "transient": "#7f7f7f"}

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


def plot_late_loss(pd, ax=None, *, cmap: str = "viridis", colorbar: bool = True):
    """Heatmap of the late mean log10 loss over (b, a): Figure 8, left.

    Parameters
    ----------
    pd : PhaseDiagram
    ax : matplotlib Axes, optional
    """
    ax = _ax(ax)
    z = np.ma.masked_invalid(pd.late_mean_log10_loss)
    mesh = ax.pcolormesh(_edges(pd.b), _edges(pd.a), z, cmap=cmap, shading="flat")
    _frame(ax, pd)
    ax.set_title(f"mean log10 loss, last {pd.window} steps")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="log10 f")
    return ax


def plot_regime_map(pd, ax=None, *, legend: bool = True):
    """Categorical map of the regimes over (b, a): Figure 8, right."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    from adadyn.analysis.regimes import REGIMES

    ax = _ax(ax)
    cmap = ListedColormap([REGIME_COLORS[r] for r in REGIMES])
    norm = BoundaryNorm(np.arange(len(REGIMES) + 1) - 0.5, len(REGIMES))
    ax.pcolormesh(_edges(pd.b), _edges(pd.a), pd.regime_code, cmap=cmap, norm=norm, shading="flat")
    blown = _pd_blown(pd)
    _mark_blown(ax, pd.b, pd.a, blown)
    _frame(ax, pd)
    ax.set_title("regime")
    if legend:
        ax.legend(handles=regime_legend_handles(pd.regime, blown), loc="upper left", fontsize="small",
                  framealpha=0.85)
    return ax


def plot_phase_diagram(pd, axes=None):
    """Late mean log-loss and regime map side by side (Figure 8). Returns the two Axes."""
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    plot_late_loss(pd, axes[0])
    plot_regime_map(pd, axes[1])
    axes[0].figure.suptitle(f"Adam on {pd.objective}, eta = {pd.eta:g}, {pd.steps} steps")
    return axes


def plot_loss_regime(traj_or_loss, regime=None, ax=None, *, step=None, last: int | None = None):
    """A loss curve with its regime in the title and its spikes marked (Figure 7, top rows).

    ``last`` limits the plot to the last ``last`` steps.
    """
    from adadyn.analysis.regimes import classify

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
    pk = regime.spike_steps[regime.spike_steps >= step[sel][0]]
    if pk.size:
        ax.plot(pk, np.abs(np.interp(pk, step, loss)), "v", ms=3, color="k", label="spikes")
    if regime.blew_up and np.any(ok):
        from adadyn.analysis.regimes import BLEW_UP

        last_ok = np.nonzero(ok)[0][-1]
        ax.plot(step[last_ok], np.abs(loss[last_ok]), **BLOWUP_MARKER, label=f"{BLEW_UP} (last finite loss)"
                if not np.all(np.isfinite(loss)) else BLEW_UP)
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(regime.describe())
    return ax


def plot_state_space(traj, ax=None, *, start: int | None = None, stop: int | None = None, **line_kw):
    """Trajectory in the state space (||x||, ||m||, ||sqrt v||), Figure 7 bottom row.

    ``start``/``stop`` select recorded steps (inclusive start, exclusive stop).
    ``ax`` must be a 3-D Axes (``projection='3d'``) when given. Reads
    ``traj.x_norm``, ``traj.m_norm``, ``traj.sqrt_v_norm``: recorded states of
    :func:`adadyn.run`, or the norms :func:`adadyn.nn.train` records.
    """
    try:
        norms = (traj.x_norm, traj.m_norm, traj.sqrt_v_norm)
    except AttributeError:
        raise ValueError("traj has no recorded state; run with record_state=True") from None
    if ax is None:
        import matplotlib.pyplot as plt

        ax = plt.figure().add_subplot(111, projection="3d")
    if not hasattr(ax, "plot3D"):
        raise ValueError("ax must be a 3-D Axes (add_subplot(..., projection='3d'))")
    st = np.asarray(traj.step)
    sel = np.ones(st.size, bool)
    if start is not None:
        sel &= st >= start
    if stop is not None:
        sel &= st < stop
    nx, nm, nv = (np.asarray(n)[sel] for n in norms)
    line_kw.setdefault("lw", 0.5)
    ax.plot3D(nx, nm, nv, **line_kw)
    ax.set_xlabel("||x||")
    ax.set_ylabel("||m||")
    ax.set_zlabel("||sqrt v||")
    return ax


def plot_sharpness(S, ax=None, *, last: int | None = None):
    """Loss (left axis) with the preconditioned sharpness and Adam's threshold
    (2 + 2 beta1)/((1 - beta1) eta) (right axis); spikes marked.

    Returns the loss Axes; the sharpness Axes is its twin (``ax.right_ax``).
    """
    ax = _ax(ax, figsize=(9, 4))
    sel = np.ones(S.step.size, bool) if last is None else S.step >= S.step[-1] - last
    ok = sel & np.isfinite(S.loss)
    ax.semilogy(S.step[ok], np.abs(S.loss[ok]), lw=0.6, color="0.4", label="loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    tw = ax.twinx()
    tw.plot(S.step[sel], S.sharpness[sel], lw=0.8, color="#1f77b4", label="preconditioned sharpness")
    tw.plot(S.step[sel], S.threshold[sel], lw=1.0, color="k", ls="--", label="threshold")
    tw.set_ylabel("lambda_max(P H)")
    for p in S.spike_steps[S.spike_steps >= S.step[sel][0]]:
        ax.axvline(p, color=REGIME_COLORS["spike"], lw=0.5, alpha=0.6)
    tw.legend(loc="upper right", fontsize="small")
    ax.right_ax = tw
    return ax
