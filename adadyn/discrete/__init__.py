"""Discrete optimisers: specs, schedules, the Numba driver, :func:`run` and :func:`run_grid`."""
from adadyn.discrete.schedules import Constant, CosineAnnealing, ExponentialDecay, InverseSqrt, Schedule
from adadyn.discrete.specs import (
    OPTIMIZERS, AdaFix, Adagrad, Adam, AMSGrad, Family, GD, Optimizer, RMSprop, SignGD,
)
from adadyn.discrete.trajectory import State, Trajectory
from adadyn.discrete.run import run, step
from adadyn.discrete.grid import GridResult, run_grid

__all__ = [
    "Optimizer", "GD", "SignGD", "RMSprop", "Adam", "AMSGrad", "Adagrad", "Family", "AdaFix",
    "OPTIMIZERS", "Schedule", "Constant", "InverseSqrt", "ExponentialDecay", "CosineAnnealing",
    "State", "Trajectory", "run", "step", "run_grid", "GridResult",
]
