"""Step-size schedules eta_t = eta * factor(t), t = 1, 2, ... (the steps).

The schedules compared by Mazumder et al. (constant-step Adam paper, section
4): constant, inverse square root, exponential decay and cosine annealing.
Each is a frozen spec; the kernels see it as ``(kind, params)``, and
:func:`schedule_factor` is the one formula for all of them, compiled once and
called both from the Numba drivers and from Python (:meth:`Schedule.factor`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from adadyn._jit import jit
from adadyn._checks import check_factor, check_int, check_nonnegative

SCHED_CONSTANT, SCHED_INVSQRT, SCHED_EXP, SCHED_COSINE = 0, 1, 2, 3


@dataclass(frozen=True)
class Schedule:
    """Base class: ``factor(t)`` multiplies the base step size eta at step t."""

    kind = SCHED_CONSTANT

    def params(self) -> np.ndarray:
        return np.zeros(3)

    def factor(self, t) -> np.ndarray:
        """The factor at steps ``t`` (array-like of 1-based step indices), evaluated by
        the same compiled :func:`schedule_factor` the kernels call."""
        t = np.asarray(t, dtype=np.float64)
        p = self.params()
        out = np.empty(t.shape)
        flat = out.reshape(-1)
        for i, ti in enumerate(t.reshape(-1)):
            flat[i] = schedule_factor(self.kind, p, float(ti))
        return out if out.ndim else out[()]


@dataclass(frozen=True)
class Constant(Schedule):
    """eta_t = eta."""


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """eta_t = eta / sqrt(t) (Reddi et al.'s alpha_t = alpha / sqrt(t))."""

    kind = SCHED_INVSQRT


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """eta_t = eta * exp(-rate * (t - 1))."""

    rate: float = 1e-3
    kind = SCHED_EXP

    def __post_init__(self):
        object.__setattr__(self, "rate", check_nonnegative("rate", self.rate))

    def params(self):
        return np.array([self.rate, 0.0, 0.0])


@dataclass(frozen=True)
class CosineAnnealing(Schedule):
    """eta_t = eta * (r + (1 - r) (1 + cos(pi min(t - 1, T) / T)) / 2), r = eta_min / eta.

    ``period`` T is in steps; after T steps the step stays at eta_min.
    """

    period: int = 1000
    eta_min_ratio: float = 0.0
    kind = SCHED_COSINE

    def __post_init__(self):
        period = check_int("period", self.period)
        if period < 1:
            raise ValueError(f"period must be >= 1 step, got {period}")
        object.__setattr__(self, "period", period)
        object.__setattr__(self, "eta_min_ratio", check_factor("eta_min_ratio", self.eta_min_ratio,
                                                               allow_one=True))

    def params(self):
        return np.array([0.0, float(self.period), self.eta_min_ratio])


@jit
def schedule_factor(kind, p, t):
    """The factor eta_t / eta at 1-based step t for schedule ``kind`` with params ``p``.

    Constant: 1. InverseSqrt: 1/sqrt(t). ExponentialDecay: exp(-rate (t - 1)).
    CosineAnnealing: r + (1 - r)(1 + cos(pi min(t - 1, T)/T))/2.
    """
    if kind == SCHED_CONSTANT:
        return 1.0
    if kind == SCHED_INVSQRT:
        return 1.0 / np.sqrt(t)
    if kind == SCHED_EXP:
        return np.exp(-p[0] * (t - 1.0))
    u = min(t - 1.0, p[1]) / p[1]
    return p[2] + (1.0 - p[2]) * 0.5 * (1.0 + np.cos(np.pi * u))
