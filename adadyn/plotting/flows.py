"""Discrete runs against their flows (Props. 1-2 of Ma, Wu & E)."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_flow_vs_discrete", "plot_gap_vs_eta", "plot_flow_comparison", "plot_signgd_flow"]


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots()
    return ax


def plot_flow_vs_discrete(sol, trajs=(), *, quantity: str = "loss", component: int = 0, ax=None,
                          logy: bool | None = None, label: str | None = None):
    """Loss (or one coordinate of x) along a flow and along discrete runs, on the
    shared continuous-time axis t = eta * k.

    Parameters
    ----------
    sol : FlowSolution
    trajs : sequence of Trajectory
        Discrete runs, drawn as steps (X^eta is piecewise constant, eqs. (6), (9)).
    quantity : {"loss", "x"}
        What to draw; ``component`` picks the coordinate for ``"x"``.
    logy : bool, optional
        Log scale on y (default: True for the loss).
    """
    if quantity not in ("loss", "x"):
        raise ValueError(f"quantity must be 'loss' or 'x', got {quantity!r}")
    ax = _ax(ax)
    for tr in trajs:
        keep = tr.time <= sol.t_end * (1 + 1e-12)
        y = tr.loss[keep] if quantity == "loss" else tr.x[keep, component]
        ax.step(tr.time[keep], y, where="post", lw=1.0, alpha=0.8, label=f"{tr.opt.name}, eta={tr.opt.eta:g}")
    t = np.linspace(0, sol.t_end, 800)
    if quantity == "loss":
        y = sol.loss_at(t)
    else:
        y = sol.x_at(t)[:, component]
    ax.plot(t, y, "k-", lw=1.8, label=label or sol.flow.name)
    if logy if logy is not None else quantity == "loss":
        ax.set_yscale("log")
    ax.set_xlabel("t = eta * steps")
    ax.set_ylabel("f(x)" if quantity == "loss" else f"x[{component}]")
    ax.legend(fontsize="small")
    return ax


def plot_gap_vs_eta(result, *, ax=None, nodes: bool = True, guide: bool = True):
    """Gap sup_t |X^eta(t) - x(t)| between the discrete run and its flow against eta, on
    log-log axes (eqs. (6), (9) of Ma, Wu & E), from a
    :class:`~adadyn.analysis.discrete_vs_flow.ConvergenceOrder`.

    ``nodes`` adds the gap at the step times only; ``guide`` draws a line of the fitted order
    ``result.order`` (constant * eta^order, shifted below the data by a factor 2 so both show).
    """
    ax = _ax(ax)
    e = np.asarray(result.etas, dtype=float)
    ax.loglog(e, result.gaps_x, "o-", label=f"sup over [0, T], fitted order {result.order:.2f}")
    if nodes:
        ax.loglog(e, result.gaps_x_nodes, "s--", label=f"at the step times, fitted order {result.order_nodes:.2f}")
    if guide:
        ee = np.geomspace(e.min(), e.max(), 50)
        ax.loglog(ee, 0.5 * result.constant * ee ** result.order, "k:", lw=1,
                  label=f"guide ~ eta^{result.order:.2f} (the fitted order)")
    ax.set_xlabel("step size eta")
    ax.set_ylabel("gap sup_t |X^eta(t) - x(t)|\n(discrete run vs its flow)")
    ax.set_title(f"{result.flow.name} ({result.scaling} held), T = {result.T:g}", fontsize="medium")
    ax.legend(fontsize="small")
    return ax


def plot_flow_comparison(result, trajs=(), axes=None, *, quantity: str = "loss"):
    """The runs beside their flow (left, :func:`plot_flow_vs_discrete`) and the gap against
    eta with its fitted order (right, :func:`plot_gap_vs_eta`), from a
    :class:`~adadyn.analysis.discrete_vs_flow.ConvergenceOrder` and the discrete runs
    (e.g. ``run(scaled_optimizer(opt, eta, scaling), obj, x0, round(T / eta))``).

    ``axes``: two Axes or None (a new 11 x 4.3 in figure). Returns the two Axes.
    """
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, 2, figsize=(11, 4.3), constrained_layout=True)
    if result.flow_solution is None:
        raise ValueError("result has no flow_solution to draw the runs against")
    plot_flow_vs_discrete(result.flow_solution, trajs, quantity=quantity, ax=axes[0])
    axes[0].set_title(f"runs at {len(trajs)} step sizes vs the {result.flow.name}", fontsize="medium")
    plot_gap_vs_eta(result, ax=axes[1])
    return axes


def plot_signgd_flow(sol, *, ax=None, bound=None):
    """Loss along the (Filippov) signGD flow, its stop time, and optionally the Prop. 4
    bound curve ``bound(t)`` (e.g. ``lambda t: signgd_loss_bound(obj, x0, t)``)."""
    ax = _ax(ax)
    t = np.linspace(0, sol.t_end, 600)
    loss = sol.loss_at(t)
    ax.plot(t, np.maximum(loss, 1e-300), "k-", label="signGD flow")
    if bound is not None:
        ax.plot(t, np.maximum(bound(t), 1e-300), "r--", label="Prop. 4 bound")
    if sol.stop_time is not None:
        ax.axvline(sol.stop_time, color="0.5", ls=":", label=f"stop at t={sol.stop_time:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("f(x) - f*")
    ax.legend(fontsize="small")
    return ax
