"""Results of discrete runs: :class:`State` and :class:`Trajectory`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.discrete import kernels as K
from adadyn.status import Status
from adadyn._result_io import ResultIO


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
        c = opt.coefficients()
        if v0 is None:
            v = np.full(d, c.v0)
        else:
            v = np.array(v0, dtype=np.float64).reshape(d)
        s = np.zeros(K.NSCAL)
        s[K.S_P1] = 1.0
        s[K.S_P2] = 1.0
        s[K.S_L] = c.L0
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
class Trajectory(ResultIO):
    """A discrete run, recorded every ``record_every`` steps.

    Row j is the state after ``j * record_every`` steps (row 0 is the start):
    ``x[j]``, ``m[j]``, ``v[j]``, ``loss[j] = f(x[j])``, ``grad_norm[j] = |grad f(x[j])|``,
    ``time[j]`` the continuous time reached (sum of the step sizes, eta*j*record_every
    for a constant step) and ``step[j]``. For online objectives ``loss[j]`` is
    f_t(x[j]) with t the step about to be taken.

    ``status`` is a :class:`~adadyn.status.Status`: ``'ok'``, ``'diverged'`` (a
    non-finite loss or gradient appeared at ``stop_step``; rows before it are kept)
    or ``'converged'`` (|grad f| <= gtol at ``stop_step``). ``final_state`` is the
    exact state where the run stopped.

    ``extras`` holds further per-record series of the same length as ``loss``
    (the torch back end records ``x_norm``, ``m_norm``, ``sqrt_v_norm``,
    ``test_error``, ``sharpness`` there); they read as attributes too
    (``traj.test_error``). :attr:`x_norm`, :attr:`m_norm` and :attr:`sqrt_v_norm`
    (the state space of Figure 7 of Ma, Wu & E) come from ``extras`` or from the
    recorded x, m, v.

    ``save(path)`` / :func:`adadyn.load` keep ``final_state`` too, so
    ``adadyn.run(opt, obj, steps=n, state=adadyn.load(path).final_state)`` continues the
    run bit for bit (a network run's ``NetState`` too, through ``nn.train(..., state=)``).
    """

    _html = "trajectory_html"  # adadyn.export's view (ResultIO._repr_html_)

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
    extras: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "status", Status(self.status))

    @property
    def success(self) -> bool:
        """True unless the run diverged (see :class:`~adadyn.status.Status`)."""
        return self.status.success

    @property
    def message(self) -> str:
        if self.status == Status.DIVERGED:
            return f"non-finite loss or gradient at step {self.stop_step}"
        if self.status == Status.CONVERGED:
            return f"gradient norm below tolerance at step {self.stop_step}"
        if self.status == Status.FAILED:
            return str(self.extras.get("message", "failed"))
        return f"completed {self.stop_step} steps"

    def __getattr__(self, name):
        # only reached when normal lookup fails: the extra series read as attributes
        extras = self.__dict__.get("extras", {})
        if name in extras:
            return extras[name]
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def _norms(self, name: str, arr) -> np.ndarray:
        if name in self.extras:
            return self.extras[name]
        if arr is None or arr.shape[0] != len(self):
            raise AttributeError(f"{name}: the run recorded no state (record_state=False) and no {name!r} series")
        return np.sqrt(np.sum(arr * arr, axis=1))

    @property
    def x_norm(self) -> np.ndarray:
        """|x| at each record."""
        return self._norms("x_norm", self.x)

    @property
    def m_norm(self) -> np.ndarray:
        """|m| at each record."""
        return self._norms("m_norm", self.m)

    @property
    def sqrt_v_norm(self) -> np.ndarray:
        """|sqrt(v)| at each record (the third axis of Figure 7's state space)."""
        if "sqrt_v_norm" in self.extras:
            return self.extras["sqrt_v_norm"]
        return self._norms("sqrt_v_norm", None if self.v is None else np.sqrt(np.maximum(self.v, 0.0)))

    def to_dataframe(self):
        """The records as a ``pandas.DataFrame``: columns ``step``, ``time``, ``loss``,
        ``grad_norm``, the extra series, and ``x_i``, ``m_i``, ``v_i`` when the state was
        recorded; ``df.attrs`` holds the optimiser, objective and status. Needs pandas
        (the ``export`` extra)."""
        from adadyn.export import trajectory_dataframe

        return trajectory_dataframe(self)

    def __len__(self) -> int:
        return self.loss.shape[0]

    def __repr__(self) -> str:
        last = f"{self.loss[-1]:.4g}" if len(self) else "n/a"
        return (f"Trajectory({getattr(self.opt, 'name', self.opt)}, status={self.status.value!r}, "
                f"steps={self.stop_step}, records={len(self)}, final loss={last})")
