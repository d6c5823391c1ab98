"""Discrete runs against the order-2 (modified) flows: :func:`compare` and
:func:`convergence_order` for ``flows.limit(opt, order=2)``.

:func:`adadyn.analysis.compare` checks that a solution solves ``flows.limit(traj.opt)``,
the order-1 flow. The order-2 flow depends on eta, so here the pair is checked
against ``flows.limit(traj.opt, order=2)`` (same optimiser *and* step size) and
the solution is then handed to :func:`adadyn.analysis.compare` under its order-1
flow's name, with the bias-corrected moments rescaled so that the raw moments it
reads are the modified flow's (``ModifiedAdamFlow.raw_moments``); the x gap does
not depend on that relabelling. The order is read at the step times
(``gap_x_nodes``, ``order_nodes``): the sup over each step of the
piecewise-constant path carries |x'| eta by itself.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from adadyn.validation import check_positive

__all__ = ["compare", "convergence_order"]


def _order1_view(sol):
    """``sol`` relabelled with its order-1 flow, its dense output rescaled so that the
    order-1 flow's raw moments (factors 1 - e^{-rt}) equal the modified flow's
    (discrete factors 1 - (1 - r eta)^(t/eta))."""
    flow = sol.flow
    base = flow.base
    if not (flow.has_m and flow.bias_correction):
        return dataclasses.replace(sol, flow=base)
    d, dense = sol.dim, sol.sol

    def ratio(t, r):
        lam = -math.log1p(-r * flow.eta) / flow.eta       # (1 - r eta)^(t/eta) = e^{-lam t}
        t = np.asarray(t, dtype=np.float64)
        safe = np.where(t > 0, t, 1.0)
        return np.where(t > 0, np.expm1(-lam * safe) / np.expm1(-r * safe), lam / r)

    def view(t):
        y = np.array(dense(t), dtype=np.float64)
        y[d:2 * d] = y[d:2 * d] * ratio(t, flow.b)
        y[2 * d:] = y[2 * d:] * ratio(t, flow.a)
        return y

    return dataclasses.replace(sol, flow=base, sol=view)


def compare(traj, sol, *, T: float | None = None, samples: int = 3):
    """Gap between a discrete run and an order-2 flow solution (as
    :func:`adadyn.analysis.compare`, whose :class:`~adadyn.analysis.Comparison` it returns).

    Parameters
    ----------
    traj : Trajectory
        A run of :func:`adadyn.run` at step size eta (``record_every=1``).
    sol : FlowSolution
        A solve of ``flows.limit(traj.opt, order=2)`` (the same eta).
    T, samples
        As :func:`adadyn.analysis.compare`.

    Raises
    ------
    ValueError
        When ``sol`` does not solve an order-2 flow, or solves the one of another
        optimiser or step size.
    """
    from adadyn.analysis.discrete_vs_flow import _same_flow
    from adadyn.analysis.discrete_vs_flow import compare as compare1
    from adadyn.flows.limit import NoFlowError, limit

    if getattr(sol.flow, "order", 1) != 2:
        raise ValueError(f"sol solves {sol.flow!r}, not an order-2 flow; use adadyn.analysis.compare")
    try:
        want = limit(traj.opt, order=2)
    except NoFlowError as exc:
        raise ValueError(f"traj's optimiser has no order-2 flow: {exc}") from None
    if not _same_flow(want, sol.flow):
        raise ValueError(f"sol solves {sol.flow!r}, but the run's optimiser {traj.opt!r} has the "
                         f"order-2 flow {want!r} (flows.limit(opt, order=2))")
    return compare1(traj, _order1_view(sol), T=T, samples=samples, scaling="rates")


def convergence_order(opt, obj, x0, T: float, etas, *, order: int = 2, rtol: float = 1e-12,
                      atol: float = 1e-14, samples: int = 3, method: str = "DOP853", m0=None, v0=None,
                      max_bytes: int | None = None):
    """Run ``opt`` at each eta (memory rates a, b held) and fit the order of the gap to
    its order-1 or order-2 flow.

    As :func:`adadyn.analysis.convergence_order` with ``scaling="rates"``, except that
    ``order=2`` solves ``flows.limit(opt_eta, order=2)`` once per eta (the modified
    flow depends on eta), and ``m0`` (Adam without bias correction) can be given so
    that runs and flows start smoothly, e.g. m0 = grad f(x0), v0 = m0**2. Read
    ``order_nodes`` (the gap at the step times): ~2 for order 2 from a smooth start,
    ~1 for order 1. ``flow`` and ``flow_solution`` of the result are those of the
    smallest eta.

    Returns
    -------
    adadyn.analysis.ConvergenceOrder
    """
    from adadyn.analysis.discrete_vs_flow import ConvergenceOrder, _check_etas, _check_memory, _fit
    from adadyn.analysis.discrete_vs_flow import compare as compare1
    from adadyn.analysis.discrete_vs_flow import scaled_optimizer
    from adadyn.discrete.run import run
    from adadyn.discrete.trajectory import State
    from adadyn.flows.limit import limit
    from adadyn.flows.solve import solve

    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    etas = _check_etas(etas)
    check_positive("T", T)
    _check_memory(obj.dim, T, etas, samples, max_bytes)
    opts = [scaled_optimizer(opt, e, "rates") for e in etas]
    kw = dict(rtol=rtol, atol=atol, method=method, m0=m0, v0=v0)
    sol = solve(limit(opts[0]), obj, x0, T, **kw) if order == 1 else None
    comps = []
    for o in opts:
        if order == 2:
            sol = solve(limit(o, order=2), obj, x0, T, **kw)
        if not sol.success:
            raise ValueError(f"the flow solve failed ({sol.message}); loosen rtol or change method")
        steps = int(round(T / o.eta))
        if m0 is None and v0 is None:
            tr = run(o, obj, x0, steps)
        else:
            tr = run(o, obj, steps=steps, state=State.initial(o, x0, m0=m0, v0=v0))
        comps.append(compare1(tr, sol, samples=samples, scaling="rates") if order == 1
                     else compare(tr, sol, samples=samples))
    gx = np.array([c.gap_x for c in comps])
    gn = np.array([c.gap_x_nodes for c in comps])
    gm = None if comps[0].gap_m is None else np.array([c.gap_m for c in comps])
    gv = None if comps[0].gap_v is None else np.array([c.gap_v for c in comps])
    slope, const = _fit(etas, gx)
    return ConvergenceOrder(etas=etas, gaps_x=gx, gaps_x_nodes=gn, order_nodes=_fit(etas, gn)[0],
                            gaps_m=gm, gaps_v=gv, order=slope, constant=const, scaling="rates",
                            T=float(T), flow=sol.flow, comparisons=tuple(comps), flow_solution=sol)
