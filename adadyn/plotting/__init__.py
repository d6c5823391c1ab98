"""Matplotlib views. Every function takes ``ax=None`` (a new figure when None),
returns the Axes it drew on, and never calls ``plt.show()``."""
from __future__ import annotations

from adadyn._lazy import lazy_namespace

_SUBMODULES = ("discrete", "flows", "stability", "regimes")
__getattr__, __dir__ = lazy_namespace(__name__, _SUBMODULES, globals())
