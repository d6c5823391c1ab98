"""Input checks shared by every front door (one place, one wording).

Each check raises :class:`ValueError` (or :class:`TypeError` for a wrong kind of
object) naming the parameter and its allowed range, in bounded time: nothing
here iterates over user data beyond one pass over an array.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

# The scalar checks live in a leaf module so that the optimiser specs use them without
# importing this module, which checks for specs (no import cycle).
from adadyn._checks import (  # noqa: F401
    _is_real, check_factor, check_int, check_nonnegative, check_positive, check_real,
)

__all__ = [
    "check_real", "check_positive", "check_nonnegative", "check_factor", "check_int",
    "check_vector", "check_x0", "check_optimizer", "check_objective", "box_arrays",
    "RECORD_LIMIT_BYTES", "RECORD_WARN_BYTES", "record_limit", "check_record_size",
]

#: Default largest recording (bytes) a single call may allocate: 4 GiB. Override per call
#: (``max_record_bytes=``) or for the process with the environment variable
#: ``ADADYN_MAX_RECORD_BYTES``. Above it the call is refused before allocating anything.
RECORD_LIMIT_BYTES = 4 * 2**30
#: Recordings above this size (512 MiB) allocate, with a ResourceWarning.
RECORD_WARN_BYTES = 512 * 2**20


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


def record_limit(max_record_bytes=None) -> int:
    """The recording limit in bytes: the argument, else ``ADADYN_MAX_RECORD_BYTES``, else
    :data:`RECORD_LIMIT_BYTES`."""
    if max_record_bytes is None:
        env = os.environ.get("ADADYN_MAX_RECORD_BYTES", "").strip()
        if env:
            try:
                max_record_bytes = int(float(env))
            except ValueError:
                raise ValueError(f"ADADYN_MAX_RECORD_BYTES must be a number of bytes, got {env!r}") from None
        else:
            return RECORD_LIMIT_BYTES
    return check_int("max_record_bytes", max_record_bytes, 0)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024.0
    return f"{n:.3g} PiB"


def check_record_size(nbytes: float, *, what: str, hint: str = "", max_record_bytes=None) -> None:
    """Refuse a recording estimated at ``nbytes`` above the limit (:func:`record_limit`),
    with the estimate and ``hint`` (what would fit); warn above :data:`RECORD_WARN_BYTES`.

    Call it before allocating: the check costs nothing and nothing is allocated when it fails.
    """
    limit = record_limit(max_record_bytes)
    if nbytes > limit:
        raise ValueError(f"{what} would need {_human(nbytes)}, above the limit of {_human(limit)}"
                         f"{'; ' + hint if hint else ''} (or raise max_record_bytes / "
                         "ADADYN_MAX_RECORD_BYTES)")
    if nbytes > RECORD_WARN_BYTES:
        warnings.warn(f"{what} allocates {_human(nbytes)}", ResourceWarning, stacklevel=3)
