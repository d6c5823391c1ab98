"""Continuous-time limits of the optimisers (Ma, Wu & E, section 2.2, eqs. (4)-(10)).

Flow specs with analytic Jacobians (:class:`GDFlow`, :class:`SignGDFlow`,
:class:`EpsSignFlow`, :class:`RMSpropFlow`, :class:`AdamFlow`), the eta -> 0 limit of
a discrete spec (:func:`limit`), and the one front door :func:`solve` returning a
:class:`FlowSolution`; :func:`central` builds the central flows through the edge of
stability (:mod:`adadyn.flows.central`). The signGD flow is solved as a Filippov system
(:mod:`adadyn.flows.filippov`). ``limit(opt, order=2)`` gives the modified flows of
:mod:`adadyn.flows.modified` (O(eta^2)). Design notes: ``docs/flows.md``.
"""
from adadyn.flows.fields import FLOWS, AdamFlow, EpsSignFlow, Flow, GDFlow, RMSpropFlow, SignGDFlow
from adadyn.flows.budget import MAX_BYTES, storage_plan
from adadyn.flows.central import CentralFlow, CentralSolution, central
from adadyn.flows.limit import NoFlowError, flow_of, limit
from adadyn.flows.solution import FlowSolution
from adadyn.flows.solve import default_method, solve
from adadyn.flows.start import initial_state
from adadyn.flows.modified import ModifiedAdamFlow, ModifiedGDFlow, ModifiedRMSpropFlow

__all__ = [
    "Flow", "GDFlow", "SignGDFlow", "EpsSignFlow", "RMSpropFlow", "AdamFlow", "FLOWS",
    "limit", "flow_of", "NoFlowError", "solve", "default_method", "initial_state", "FlowSolution",
    "MAX_BYTES", "storage_plan", "central", "CentralFlow", "CentralSolution",
    "ModifiedGDFlow", "ModifiedRMSpropFlow", "ModifiedAdamFlow",
]
