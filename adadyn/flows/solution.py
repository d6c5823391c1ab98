"""Result of :func:`adadyn.flows.solve`: :class:`FlowSolution`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from adadyn.status import Status
from adadyn._result_io import ResultIO


@dataclass(frozen=True, eq=False)
class FlowSolution(ResultIO):
    """A solved flow on [0, t_end].

    Attributes
    ----------
    flow : Flow
        The flow spec that was solved.
    t : ndarray (n,)
        Output times (the solver's accepted steps, or ``t_eval``), continuous time.
    x, m, v : ndarray (n, d)
        The state at ``t``; ``m``/``v`` are None for flows without them. For the
        Adam flow these are the raw moments of eq. (8), directly comparable with a
        discrete run's ``m``, ``v``; ``m_hat``, ``v_hat`` hold the bias-corrected ones.
    loss, grad_norm : ndarray (n,)
        f(x(t)) and |grad f(x(t))|.
    status : Status
        ``'ok'`` (reached ``t_final``), ``'converged'`` (|grad f| <= gtol, or the
        signGD flow stopped at a stationary point), ``'diverged'`` (|y| >= max_norm
        or a non-finite state) or ``'failed'`` (solver error or a budget exhausted,
        see ``message``). A :class:`adadyn.status.Status`, equal to its word.
    message : str
        What happened, with the numbers (time reached, limit hit, ...).
    stop_time : float or None
        Time at which the solve stopped early (stationary or diverged); for the
        signGD flow the finite stop time of Prop. 4.
    t_end : float
        Last time covered by the solution (``t_final`` unless it stopped early).
    nfev, njev, nlu : int
        Right-hand side and Jacobian evaluations, LU decompositions (as solve_ivp
        counts them); for the signGD flow, nfev counts velocity solves.
    n_steps : int
        Accepted solver steps (signGD: number of segments between events).
    method : str
        The solve_ivp method (``'filippov'`` for the signGD flow).
    sol : callable
        Dense output: ``sol(t)`` is the integrated state (x, then m_hat or m, then
        v_hat or v) at scalar t, shape (n_state,), or at an array of times,
        shape (n_state, len(t)); see also :meth:`x_at`, :meth:`m_at`, :meth:`v_at`.
    events : dict
        Extra information: times of the switching events of the signGD flow
        (``'switch_times'``), start time ``'t0'`` of the numerical solve, etc.

    scipy's dense output cannot be stored without pickle: a solution read back by
    :func:`adadyn.load` keeps ``t``, ``x``, ``m``, ``v``, ``loss`` and every field, and
    its ``x_at``/``m_at``/``v_at`` evaluate at the stored times only (other times raise
    a ValueError).
    """

    _html = "flow_html"  # adadyn.export's view (ResultIO._repr_html_)

    flow: object
    t: np.ndarray
    x: np.ndarray
    m: np.ndarray | None
    v: np.ndarray | None
    loss: np.ndarray
    grad_norm: np.ndarray
    status: Status
    message: str
    stop_time: float | None
    t_end: float
    nfev: int
    njev: int
    nlu: int
    n_steps: int
    method: str
    sol: Callable = field(repr=False)
    m_hat: np.ndarray | None = field(default=None, repr=False)
    v_hat: np.ndarray | None = field(default=None, repr=False)
    events: dict = field(default_factory=dict, repr=False)
    objective: object = field(default=None, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "status", Status(self.status))

    @property
    def success(self) -> bool:
        """True when the solve covered what was asked (status ok or converged)."""
        return self.status.success

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    def _blocks(self, t):
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if np.any(t_arr < 0) or np.any(t_arr > self.t_end * (1 + 1e-12) + 1e-300):
            raise ValueError(f"t must lie in [0, {self.t_end!r}] (the solved interval), "
                             f"got range [{t_arr.min()!r}, {t_arr.max()!r}]")
        y = np.asarray(self.sol(np.clip(t_arr, 0.0, self.t_end)))
        y = y.reshape(-1, t_arr.shape[0])
        d = self.dim
        x, m, v = self.flow.split(y, d)
        if self.flow.has_m and self.flow.has_v:     # the Adam flow: report the raw m, v
            m, v = self.flow.raw_moments(t_arr, m, v)
        return np.ndim(t) == 0, x, m, v

    def _out(self, scalar, arr):
        if arr is None:
            return None
        return arr[:, 0].copy() if scalar else arr.T.copy()

    def x_at(self, t) -> np.ndarray:
        """x(t) from the dense output: shape (d,) for scalar t, (len(t), d) otherwise."""
        s, x, _, _ = self._blocks(t)
        return self._out(s, x)

    def m_at(self, t) -> np.ndarray | None:
        """Raw first moment m(t) (None when the flow has none)."""
        s, _, m, _ = self._blocks(t)
        return self._out(s, m)

    def v_at(self, t) -> np.ndarray | None:
        """Raw second moment v(t) (None when the flow has none)."""
        s, _, _, v = self._blocks(t)
        return self._out(s, v)

    def loss_at(self, t) -> np.ndarray:
        """f(x(t)) from the dense output (scalar t gives a 0-d array)."""
        if self.objective is None:
            raise ValueError("this solution does not carry its objective")
        X = np.atleast_2d(self.x_at(t))
        out = np.array([self.objective.value(x) for x in X])
        return out[0] if np.ndim(t) == 0 else out

    def __repr__(self) -> str:
        st = f", stop_time={self.stop_time:.10g}" if self.stop_time is not None else ""
        return (f"FlowSolution({self.flow!r}, method={self.method!r}, status={str(self.status)!r}, "
                f"t_end={self.t_end:.6g}{st}, points={len(self.t)}, nfev={self.nfev}, njev={self.njev}, "
                f"final loss={self.loss[-1]:.4g})")
