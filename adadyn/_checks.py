"""Scalar input checks with no adadyn imports (re-exported by :mod:`adadyn.validation`).

:mod:`adadyn.discrete.specs` validates its hyperparameters with these, while
:func:`adadyn.validation.check_optimizer` checks for a spec: keeping the scalar
checks here means neither module imports the other's importer.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["check_real", "check_positive", "check_nonnegative", "check_factor", "check_int"]


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
        if hi is None:
            rng = f">= {lo}"
        elif lo is None:
            rng = f"<= {hi}"
        else:
            rng = f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be {rng}, got {v}")
    return v
