"""Analyses on top of the discrete runs and the flows.

Discrete vs continuous (:func:`compare`, :func:`convergence_order`),
linearisation (:func:`stationary_points`, :func:`linearize`,
:func:`critical_learning_rate`, :func:`periodic_orbit`, :func:`continuation`,
:func:`lyapunov_exponents`) and long-run behaviour (:func:`classify`,
:func:`preconditioned_sharpness`, :func:`phase_diagram`, :func:`hyperparameter_sweep`). Submodules load on
first use so ``import adadyn`` stays light.
"""
from __future__ import annotations

from adadyn._lazy import lazy_namespace

# No submodule may share a name with a public function: importing a submodule
# binds it as a package attribute, which would shadow the function.
_SUBMODULES = (
    "discrete_vs_flow", "bounds", "maps", "stationary", "linearization", "critical", "orbits", "bifurcation",
    "lyapunov", "regimes", "sharpness", "phase", "hyper", "persistence",
)
__getattr__, __dir__ = lazy_namespace(__name__, _SUBMODULES, globals())
