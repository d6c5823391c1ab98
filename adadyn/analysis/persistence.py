"""Moved to :mod:`adadyn.sweep.store`; these names stay importable from here."""
from __future__ import annotations

from adadyn.sweep.store import SweepError, SweepStore, SweepWarning, sweep_key

__all__ = ["SweepError", "SweepStore", "sweep_key"]
_ = SweepWarning
