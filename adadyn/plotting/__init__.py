"""Matplotlib views. Every function takes ``ax=None`` (a new figure when None),
returns the Axes it drew on, and never calls ``plt.show()``."""
from __future__ import annotations

import importlib

_SUBMODULES = ("discrete", "flows", "stability", "regimes")


def _modules():
    for name in _SUBMODULES:
        try:
            yield importlib.import_module(f"adadyn.plotting.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"adadyn.plotting.{name}":
                raise


def __getattr__(name: str):
    if name.startswith("_"):
        raise AttributeError(name)
    for mod in _modules():
        if name in getattr(mod, "__all__", ()):
            return getattr(mod, name)
    raise AttributeError(f"module 'adadyn.plotting' has no attribute {name!r}")


def __dir__():
    names = set(globals())
    for mod in _modules():
        names.update(getattr(mod, "__all__", ()))
    return sorted(names)
