"""Continuous-time limits of the optimisers (filled by the flows work)."""
