"""Plots of discrete runs."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_loss", "plot_state_norms"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_loss(trajs, ax=None, *, labels=None, time_axis: bool = True, subtract_min: float | None = None):
    """Loss curves on a log scale.

    Parameters
    ----------
    trajs : Trajectory or sequence of Trajectory
    ax : matplotlib Axes, optional
    labels : sequence of str, optional
        Defaults to each run's optimiser name and step size.
    time_axis : bool
        Plot against continuous time t = sum of step sizes (default) or steps.
    subtract_min : float, optional
        Plot f - f* (e.g. the objective's ``min_value``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from adadyn.discrete.trajectory import Trajectory

    ax = _axes(ax)
    if isinstance(trajs, Trajectory):
        trajs = [trajs]
    for i, tr in enumerate(trajs):
        lab = labels[i] if labels is not None else f"{tr.opt.name} (eta={tr.opt.eta:g})"
        xs = tr.time if time_axis else tr.step
        ys = tr.loss - (subtract_min or 0.0)
        ax.plot(xs, np.where(ys > 0, ys, np.nan), label=lab, lw=1.2)
        if tr.status == "diverged":
            ax.plot(xs[-1:], ys[-1:], "x", color=ax.lines[-1].get_color())
    ax.set_yscale("log")
    ax.set_xlabel("time t = sum of step sizes" if time_axis else "step")
    ax.set_ylabel("loss" if subtract_min is None else "loss - f*")
    ax.legend(fontsize=8)
    return ax


def plot_state_norms(traj, ax=None):
    """||x||, ||m||, ||sqrt(v)|| against time t = sum of step sizes (the coordinates of
    Figure 7's state space), from ``traj.x_norm``, ``traj.m_norm``, ``traj.sqrt_v_norm``
    (discrete runs or networks); log scale, zeros (e.g. m = 0 at the start) left out."""
    ax = _axes(ax)
    for key, lab in (("x_norm", "||x||"), ("m_norm", "||m||"), ("sqrt_v_norm", "||sqrt v||")):
        y = np.asarray(getattr(traj, key), dtype=float)
        ax.plot(traj.time, np.where(y > 0, y, np.nan), label=lab, lw=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("time t = sum of step sizes")
    ax.set_ylabel("norm")
    ax.legend(fontsize=8)
    return ax
