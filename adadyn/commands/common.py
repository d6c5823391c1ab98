"""Argument groups shared by the ``adadyn`` subcommands (kept for 0.1 imports):
everything lives in :mod:`adadyn.commands.registry`."""
from __future__ import annotations

from adadyn.commands.registry import (  # noqa: F401
    OBJECTIVE_CHOICES as OBJECTIVES,
    add_objective_args,
    add_optimizer_args,
    add_start_args,
    build_objective,
    build_optimizer,
    parse_vector,
    start_point,
)
from adadyn.commands.registry import OPTIMIZERS as _OPTIMIZERS

OPTIMIZERS = tuple(_OPTIMIZERS)
