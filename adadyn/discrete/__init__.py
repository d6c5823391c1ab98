"""Discrete optimisers: specs and their coefficient view, schedules, the Numba driver,
:func:`run`, :func:`run_grid` and the map F(z) with its Jacobian."""
from adadyn.discrete.schedules import Constant, CosineAnnealing, ExponentialDecay, InverseSqrt, Schedule
from adadyn.discrete.coefficients import Coefficients
from adadyn.discrete.specs import (
    OPTIMIZERS, AdaFix, Adagrad, Adam, AMSGrad, Family, GD, Lion, Optimizer, RMSprop, SignGD,
)
from adadyn.discrete.trajectory import State, Trajectory
from adadyn.discrete.run import run, step
from adadyn.discrete.grid import GridResult, run_grid
from adadyn.discrete.map import StateMap, state_map

__all__ = [
    "Optimizer", "GD", "SignGD", "RMSprop", "Adam", "AMSGrad", "Adagrad", "Family", "AdaFix", "Lion",
    "OPTIMIZERS", "Coefficients", "Schedule", "Constant", "InverseSqrt", "ExponentialDecay",
    "CosineAnnealing", "State", "Trajectory", "run", "step", "run_grid", "GridResult",
    "StateMap", "state_map",
]
