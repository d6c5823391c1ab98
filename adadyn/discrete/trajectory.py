"""Results of discrete runs: :class:`State` and :class:`Trajectory`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.discrete import kernels as K


@dataclass(frozen=True, eq=False)
class State:
    """Full optimiser state after ``k`` steps (see :mod:`adadyn.discrete.kernels`).

    Passing it back to :func:`adadyn.run` continues a run bit-for-bit.
    ``scalars`` holds [time, r^k, q^k, AdaFix's L, AdaFix's frozen-step count].
    """

    x: np.ndarray
    m: np.ndarray
    v: np.ndarray
    aux: np.ndarray
    scalars: np.ndarray
    k: int

    @property
    def time(self) -> float:
        """Continuous time reached: the sum of the step sizes taken."""
        return float(self.scalars[K.S_TIME])

    @property
    def dim(self) -> int:
        return self.x.shape[0]

    @classmethod
    def initial(cls, opt, x0, m0=None, v0=None) -> "State":
        """State at k = 0: x0, m = m0 or 0, v = v0 or 0 (Adagrad: its initial accumulator)."""
        x0 = np.array(x0, dtype=np.float64).reshape(-1)
        d = x0.shape[0]
        m = np.zeros(d) if m0 is None else np.array(m0, dtype=np.float64).reshape(d)
        if v0 is None:
            v = np.full(d, float(getattr(opt, "initial_accumulator_value", 0.0)))
        else:
            v = np.array(v0, dtype=np.float64).reshape(d)
        s = np.zeros(K.NSCAL)
        s[K.S_P1] = 1.0
        s[K.S_P2] = 1.0
        s[K.S_L] = float(getattr(opt, "L0", 0.0))
        return cls(x0, m, v, np.zeros(d), s, 0)

    def copy(self) -> "State":
        return State(self.x.copy(), self.m.copy(), self.v.copy(), self.aux.copy(), self.scalars.copy(), self.k)

    def vector(self, with_aux: bool = False) -> np.ndarray:
        """The state as one vector z = (x, m, v[, aux]) (for map Jacobians and orbits)."""
        parts = [self.x, self.m, self.v] + ([self.aux] if with_aux else [])
        return np.concatenate(parts)

    def __repr__(self) -> str:
        return f"State(k={self.k}, time={self.time:.6g}, d={self.dim})"


@dataclass(frozen=True, eq=False)
class Trajectory:
    """A discrete run, recorded every ``record_every`` steps.

    Row j is the state after ``j * record_every`` steps (row 0 is the start):
    ``x[j]``, ``m[j]``, ``v[j]``, ``loss[j] = f(x[j])``, ``grad_norm[j] = |grad f(x[j])|``,
    ``time[j]`` the continuous time reached (sum of the step sizes, eta*j*record_every
    for a constant step) and ``step[j]``. For online objectives ``loss[j]`` is
    f_t(x[j]) with t the step about to be taken.

    ``status`` is ``'ok'``, ``'diverged'`` (a non-finite loss or gradient appeared at
    ``stop_step``; rows before it are kept) or ``'converged'`` (|grad f| <= gtol at
    ``stop_step``). ``final_state`` is the exact state where the run stopped.
    """

    x: np.ndarray
    m: np.ndarray
    v: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    time: np.ndarray
    step: np.ndarray
    status: str
    stop_step: int
    final_state: State
    opt: object = field(repr=False)
    objective: object = field(repr=False)
    record_every: int = 1

    @property
    def message(self) -> str:
        if self.status == "diverged":
            return f"non-finite loss or gradient at step {self.stop_step}"
        if self.status == "converged":
            return f"gradient norm below tolerance at step {self.stop_step}"
        return f"completed {self.stop_step} steps"

    def __len__(self) -> int:
        return self.loss.shape[0]

    def __repr__(self) -> str:
        last = f"{self.loss[-1]:.4g}" if len(self) else "n/a"
        return (f"Trajectory({getattr(self.opt, 'name', self.opt)}, status={self.status!r}, "
                f"steps={self.stop_step}, records={len(self)}, final loss={last})")
