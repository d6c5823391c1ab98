"""Input checks shared by every front door (one place, one wording).

Each check raises :class:`ValueError` (or :class:`TypeError` for a wrong kind of
object) naming the parameter and its allowed range, in bounded time: nothing
here iterates over user data beyond one pass over an array.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_real", "check_positive", "check_nonnegative", "check_factor", "check_int",
    "check_vector", "check_x0", "check_optimizer", "check_objective", "box_arrays",
]


def _is_real(val) -> bool:
    return isinstance(val, numbers.Real) and not isinstance(val, bool)


def check_real(name: str, val) -> float:
    """A finite real number."""
    if not (_is_real(val) and math.isfinite(val)):
        raise ValueError(f"{name} must be a finite number, got {val!r}")
    return float(val)


def check_positive(name: str, val) -> float:
    """A finite number > 0."""
    if not (_is_real(val) and math.isfinite(val) and val > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {val!r}")
    return float(val)


def check_nonnegative(name: str, val) -> float:
    """A finite number >= 0."""
    if not (_is_real(val) and math.isfinite(val) and val >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {val!r}")
    return float(val)


def check_factor(name: str, val, *, allow_one: bool = False) -> float:
    """A memory factor in [0, 1) (or [0, 1] with ``allow_one``)."""
    ok = _is_real(val) and math.isfinite(val) and 0.0 <= val and (val <= 1.0 if allow_one else val < 1.0)
    if not ok:
        raise ValueError(f"{name} must be in {'[0, 1]' if allow_one else '[0, 1)'}, got {val!r}")
    return float(val)


def check_int(name: str, val, lo: int | None = None, hi: int | None = None) -> int:
    """An integer in [lo, hi] (either bound optional); floats with integral values pass."""
    if isinstance(val, bool) or not (isinstance(val, numbers.Integral)
                                     or (_is_real(val) and math.isfinite(val) and float(val).is_integer())):
        raise ValueError(f"{name} must be an integer, got {val!r}")
    v = int(val)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
        raise ValueError(f"{name} must be an integer in {rng}, got {v}")
    return v


def check_vector(name: str, x, dim: int) -> np.ndarray:
    """A finite float64 vector of length ``dim`` (a fresh contiguous copy)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of {dim} numbers, got {type(x).__name__}") from None
    if arr.ndim != 1 or arr.shape[0] != dim:
        raise ValueError(f"{name} must have shape ({dim},) to match the objective, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {arr}")
    return np.ascontiguousarray(arr.copy())


def check_x0(x0, dim: int, name: str = "x0") -> np.ndarray:
    """The start point: :func:`check_vector` under the name ``x0``."""
    return check_vector(name, x0, dim)


def check_optimizer(opt, name: str = "opt"):
    from adadyn.discrete.specs import Optimizer

    if not isinstance(opt, Optimizer):
        raise TypeError(f"{name} must be an optimiser spec (adadyn.Adam, ...), got {type(opt).__name__}")
    return opt


def check_objective(obj, name: str = "obj"):
    from adadyn.objectives.base import Objective

    if not isinstance(obj, Objective):
        raise TypeError(f"{name} must be an adadyn Objective, got {type(obj).__name__}")
    return obj


def box_arrays(obj) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(lo, hi, has_box)`` of an objective's feasible box, as the kernels take them."""
    if obj.bounds is None:
        return np.full(obj.dim, -np.inf), np.full(obj.dim, np.inf), False
    return obj.bounds.lo, obj.bounds.hi, True
