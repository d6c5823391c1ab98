"""adadyn: adaptive gradient optimisers as dynamical systems.

Three views of one dynamics (``docs/architecture.md``): the discrete map an optimiser
iterates (:func:`adadyn.run`), its continuous-time limit
(:mod:`adadyn.flows`), and the linearisation and long-run behaviour of either
(:mod:`adadyn.analysis`).
"""
from __future__ import annotations

from adadyn import _startup

_startup.guard_command_start()  # the adadyn command: Ctrl-C while importing is one line, exit 130

__version__ = "0.1.0"

from adadyn.objectives import Objective
from adadyn.discrete import (
    GD,
    SignGD,
    RMSprop,
    Adam,
    AMSGrad,
    AdaFix,
    Adagrad,
    Family,
    Lion,
    Constant,
    InverseSqrt,
    ExponentialDecay,
    CosineAnnealing,
    State,
    Trajectory,
    run,
)
from adadyn import objectives, discrete
from adadyn.status import Status
from adadyn.persist import load
from adadyn import _warm

# A fresh install's first import starts compiling the common kernels in the background
# (once; ADADYN_WARMUP=0 turns it off): see adadyn._warm and docs/performance.md.
_warm.autostart()

__all__ = [
    "Objective", "GD", "SignGD", "RMSprop", "Adam", "AMSGrad", "AdaFix", "Adagrad",
    "Family", "Lion", "Constant", "InverseSqrt", "ExponentialDecay", "CosineAnnealing",
    "State", "Trajectory", "Status", "run", "load", "objectives", "discrete",
]


def __getattr__(name: str):
    # flows / analysis / plotting / nn import scipy, matplotlib or torch: load on first use.
    import importlib

    if name in {"flows", "analysis", "plotting", "nn"}:
        return importlib.import_module(f"adadyn.{name}")
    raise AttributeError(f"module 'adadyn' has no attribute {name!r}")
