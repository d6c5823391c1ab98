"""What a flow solve may cost: stored bytes, right-hand-side evaluations, seconds.

:func:`storage_plan` estimates, before anything is allocated, the memory a
:func:`adadyn.flows.solve` call will hold:

* the dense Jacobian and LU matrices of an implicit method, 8 n^2 bytes each for
  a state of length n (Radau adds a complex LU, 16 n^2), plus the Hessian;
* ``t_eval``: one column of the state and its post-processed copies per point;
* the dense output: per accepted solver step, the step's interpolant (LSODA keeps
  up to 13 Nordsieck columns of length n, Radau 3, DOP853 7, ...) and the state.

The first two are known up front: above ``max_bytes`` (default
:data:`MAX_BYTES`, 2 GiB) the solve is refused with a :class:`ValueError`
that gives the estimate and what fits; above :data:`WARN_FRACTION` of it a
``ResourceWarning`` is issued. The number of steps is not known up front, so
the dense output is capped at run time: the solve stops (status ``'failed'``,
the state reached kept) once the stored steps would pass ``max_bytes``, with a
warning when they pass the warning level.

:class:`Budget` counts evaluations and accepted steps and checks the time limit
inside every right-hand-side and Jacobian call. The solver's own work between
two calls (for an implicit method, the LU factorisation of the n x n iteration
matrix) cannot be interrupted, so the check is also predictive: the solve stops
as soon as the elapsed time plus the longest gap seen so far between two
callbacks would pass the limit. The overrun is then at most one gap longer than
every earlier one (in practice the first factorisation; see ``docs/flows.md``
for measured margins).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np

#: Default limit on the bytes a flow solve may hold (matrices, t_eval, dense output).
MAX_BYTES = 2 * 1024**3
#: A ResourceWarning is issued above this fraction of the limit.
WARN_FRACTION = 1 / 8
#: Interpolant columns of length n stored per accepted step, by method.
DENSE_COLUMNS = {"LSODA": 13, "BDF": 7, "Radau": 4, "RK45": 5, "RK23": 4, "DOP853": 8}
#: Dense n x n float64 matrices an implicit method holds (J, its LU; Radau's complex LU
#: counts twice), plus the Jacobian the callback builds and the Hessian.
DENSE_MATRICES = {"LSODA": 3, "BDF": 3, "Radau": 5}


def fmt_bytes(n: float) -> str:
    """Bytes in the largest binary unit that keeps the number >= 1."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


@dataclass(frozen=True)
class StoragePlan:
    """The memory estimate of one solve (bytes) and the step cap it implies."""

    matrices: int
    t_eval: int
    per_step: int
    max_bytes: int
    max_steps: int

    @property
    def fixed(self) -> int:
        """Bytes known before the solve starts (matrices and t_eval output)."""
        return self.matrices + self.t_eval


def storage_plan(n: int, d: int, method: str, *, dense_jacobian: bool, n_t_eval: int | None,
                 max_bytes: int | None = None) -> StoragePlan:
    """Estimate a solve's memory and refuse it above ``max_bytes`` (see module doc).

    Parameters
    ----------
    n, d : int
        Length of the state vector and dimension of x.
    method : str
        The solve_ivp method name (other classes count as LSODA, the largest).
    dense_jacobian : bool
        True when an implicit method will build dense n x n matrices.
    n_t_eval : int or None
        Number of output times, or None (the solver's steps).
    max_bytes : int, optional
        The limit; default :data:`MAX_BYTES`.
    """
    limit = MAX_BYTES if max_bytes is None else int(max_bytes)
    if limit <= 0:
        raise ValueError(f"max_bytes must be > 0, got {max_bytes!r}")
    nmat = DENSE_MATRICES.get(method, 3) if dense_jacobian else 0
    matrices = 8 * (nmat * n * n + (d * d if dense_jacobian else 0))
    col = 8 * (2 * n + 3)                      # y column, x/m/v copies, t, loss, |g|
    t_out = 0 if n_t_eval is None else int(n_t_eval) * col
    per_step = 8 * n * DENSE_COLUMNS.get(method, 13) + (col if n_t_eval is None else 0) + 64
    fixed = matrices + t_out
    if fixed > limit:
        parts = []
        if matrices > limit or (matrices and not t_out):
            n_fit = int((limit / (8.0 * (nmat + 1))) ** 0.5)
            parts.append(f"method {method!r} holds {nmat} dense {n}x{n} matrices ({fmt_bytes(matrices)}); "
                         f"n_state <= {n_fit} fits, or use an explicit method (method='RK45', no matrices), "
                         "or a separable objective (sparse Jacobian)")
        if t_out:
            parts.append(f"t_eval has {n_t_eval} points ({fmt_bytes(t_out)}); at most "
                         f"{max((limit - matrices) // col, 0)} points fit")
        raise ValueError(f"flows.solve would hold ~{fmt_bytes(fixed)} before integrating, above "
                         f"max_bytes={fmt_bytes(limit)}: " + "; ".join(parts))
    if fixed > WARN_FRACTION * limit:
        warnings.warn(f"flows.solve will hold ~{fmt_bytes(fixed)} (matrices {fmt_bytes(matrices)}, "
                      f"t_eval {fmt_bytes(t_out)}) of max_bytes={fmt_bytes(limit)}", ResourceWarning,
                      stacklevel=3)
    max_steps = max((limit - fixed) // per_step, 1)
    return StoragePlan(matrices=matrices, t_eval=t_out, per_step=per_step, max_bytes=limit,
                       max_steps=int(max_steps))


#: An optimistic dense LU speed (flop/s) used to predict the first factorisation before
#: any is timed: the prediction is a lower bound on most machines, so it only stops a
#: solve whose first factorisation could not fit in the time limit even on a fast one.
FLOP_RATE = 5e10


def lu_seconds(n: int, method: str) -> float:
    """Optimistic time of the first LU factorisations of an implicit method on a
    dense n x n matrix: (2/3) n^3 flops real, plus 4x that for Radau's complex one."""
    flops = (2.0 / 3.0) * float(n) ** 3 * (5.0 if method == "Radau" else 1.0)
    return flops / FLOP_RATE


class BudgetExceeded(Exception):
    """Raised inside a callback to end the solve; ``reason`` says which limit."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Budget:
    """Counts evaluations and accepted steps; enforces max_nfev, time_limit and the step cap.

    ``tick()`` is called by every right-hand-side and Jacobian evaluation,
    ``step(t, y)`` once per accepted step (from an event function, which solve_ivp
    evaluates at each new step end).
    """

    def __init__(self, max_nfev: int | None, time_limit: float | None, plan: StoragePlan, t0: float, y0,
                 clock=time.perf_counter):
        self.max_nfev, self.time_limit, self.plan = max_nfev, time_limit, plan
        self.nfev = self.njev = self.steps = 0
        self.t, self.y = float(t0), np.array(y0, dtype=np.float64)
        self.clock = clock
        self.start = self.last = clock()
        self.max_gap = 0.0
        self._warned = False

    def elapsed(self) -> float:
        return self.clock() - self.start

    def expect_gap(self, seconds: float) -> None:
        """Seed the predicted longest solver stretch (e.g. a first LU factorisation)."""
        self.max_gap = max(self.max_gap, float(seconds))

    def _check_time(self):
        if self.time_limit is None:
            return
        now = self.clock()
        self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        el = now - self.start
        if el > self.time_limit:
            raise BudgetExceeded(f"time_limit={self.time_limit:g}s (elapsed {el:.3g}s)")
        if el + self.max_gap > self.time_limit:
            raise BudgetExceeded(f"time_limit={self.time_limit:g}s (elapsed {el:.3g}s; the next solver "
                                 f"stretch may take {self.max_gap:.3g}s, the longest gap so far)")

    def rhs(self, t, y):
        """Account one right-hand-side evaluation at (t, y)."""
        self.nfev += 1
        if self.max_nfev is not None and self.nfev > self.max_nfev:
            raise BudgetExceeded(f"max_nfev={self.max_nfev}")
        self._check_time()

    def jac(self):
        """Account one Jacobian evaluation."""
        self.njev += 1
        self._check_time()

    def step(self, t, y):
        """Account an accepted step ending at (t, y) (called once per new t)."""
        if t <= self.t:
            return
        self.t = float(t)
        self.y = np.array(y, dtype=np.float64)
        self.steps += 1
        used = self.steps * self.plan.per_step
        if used > self.plan.max_bytes - self.plan.fixed:
            raise BudgetExceeded(f"max_bytes={fmt_bytes(self.plan.max_bytes)} (dense output of "
                                 f"{self.steps} steps, {fmt_bytes(self.plan.per_step)} each)")
        if not self._warned and used > WARN_FRACTION * self.plan.max_bytes:
            self._warned = True
            warnings.warn(f"flows.solve: the dense output passed {fmt_bytes(used)} "
                          f"({self.steps} steps) of max_bytes={fmt_bytes(self.plan.max_bytes)}",
                          ResourceWarning, stacklevel=2)
