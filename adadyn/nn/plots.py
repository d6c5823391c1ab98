"""Plots of network runs: kept here for compatibility; they live in :mod:`adadyn.plotting.nn`
(which needs matplotlib only, not torch)."""
from __future__ import annotations

from adadyn.plotting.nn import plot_network_phase, plot_state_norms, plot_state_space

__all__ = ["plot_state_space", "plot_state_norms", "plot_network_phase"]
