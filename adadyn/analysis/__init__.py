"""Analyses on top of the discrete runs and the flows.

Discrete vs continuous (:func:`compare`, :func:`convergence_order`),
linearisation (:func:`stationary_points`, :func:`linearize`,
:func:`critical_learning_rate`, :func:`periodic_orbit`, :func:`continuation`,
:func:`lyapunov_exponents`) and long-run behaviour (:func:`classify`,
:func:`preconditioned_sharpness`, :func:`phase_diagram`). Submodules load on
first use so ``import adadyn`` stays light.
"""
from __future__ import annotations

import importlib

# No submodule may share a name with a public function: importing a submodule
# binds it as a package attribute, which would shadow the function.
_SUBMODULES = (
    "compare", "bounds", "maps", "stationary", "linearization", "critical", "orbits", "bifurcation",
    "lyapunov", "regimes", "sharpness", "phase", "persistence",
)


def _modules():
    for name in _SUBMODULES:
        try:
            yield importlib.import_module(f"adadyn.analysis.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"adadyn.analysis.{name}":
                raise


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(name)
    for mod in _modules():
        if name in getattr(mod, "__all__", ()):
            value = getattr(mod, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'adadyn.analysis' has no attribute {name!r}")


def __dir__():
    names = set(globals())
    for mod in _modules():
        names.update(getattr(mod, "__all__", ()))
    return sorted(names)
