"""Matplotlib views. Every function takes ``ax=None`` (a new figure when None),
returns the Axes it drew on, and never calls ``plt.show()``.

The functions are reachable flat (``adadyn.plotting.plot_loss``) and through their
submodules (``adadyn.plotting.flows.plot_flow_vs_discrete``); the submodules load on
first use: :mod:`~adadyn.plotting.discrete`, :mod:`~adadyn.plotting.flows`,
:mod:`~adadyn.plotting.stability`, :mod:`~adadyn.plotting.regimes` and
:mod:`~adadyn.plotting.nn` (network runs and phase diagrams; it needs matplotlib only,
not torch). ``docs/plotting.md`` lists every function with a thumbnail.
"""
from __future__ import annotations

import importlib

from adadyn._lazy import lazy_namespace

_SUBMODULES = ("discrete", "flows", "stability", "regimes", "nn")
_names, _dir = lazy_namespace(__name__, _SUBMODULES, globals())


def __getattr__(name: str):
    if name in _SUBMODULES:
        mod = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = mod
        return mod
    return _names(name)


def __dir__():
    return sorted(set(_dir()) | set(_SUBMODULES))
