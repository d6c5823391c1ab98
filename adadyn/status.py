"""One outcome vocabulary for every result: runs, flow solutions and sweep points.

:class:`Status` is a ``str`` enumeration, so ``traj.status == "diverged"`` and
``np.array(statuses)`` keep working. Every result type (:class:`~adadyn.Trajectory`,
:class:`~adadyn.flows.FlowSolution`, sweep results) exposes ``status``,
``success`` and ``message`` built from this one table.
"""
from __future__ import annotations

from enum import Enum

__all__ = ["Status", "STATUS_CODES", "status_from_code", "success"]


class Status(str, Enum):
    """How a run, a flow solve or a sweep point ended.

    ``OK``: it covered what was asked (all steps, or up to ``t_final``).
    ``CONVERGED``: it stopped early at a stationary point (|grad f| <= gtol, or
    the signGD flow's finite-time stop of Prop. 4 of Ma, Wu & E).
    ``DIVERGED``: a non-finite value (or, for flows, |y| >= max_norm) appeared;
    everything computed before it is kept.
    ``FAILED``: the numerical method itself failed (a solver error, a budget
    exhausted); see the result's ``message``.
    """

    OK = "ok"
    CONVERGED = "converged"
    DIVERGED = "diverged"
    FAILED = "failed"

    def __str__(self) -> str:  # print(status) shows the word, as the plain strings did
        return self.value

    @property
    def success(self) -> bool:
        """True for OK and CONVERGED: the result can be used as asked."""
        return self in (Status.OK, Status.CONVERGED)

    @property
    def code(self) -> int:
        """Small integer code (the Numba kernels' status and the stores' arrays)."""
        return STATUS_CODES[self]

    def describe(self) -> str:
        """One-line meaning of the status, without run-specific numbers."""
        return _MEANING[self]


_MEANING = {
    Status.OK: "completed",
    Status.CONVERGED: "stopped at a stationary point",
    Status.DIVERGED: "a non-finite value appeared (blow-up); the history before it is kept",
    Status.FAILED: "the numerical method failed",
}

#: The integer codes used in compiled kernels and stored arrays, in this order.
STATUS_CODES = {Status.OK: 0, Status.DIVERGED: 1, Status.CONVERGED: 2, Status.FAILED: 3}
_BY_CODE = {v: k for k, v in STATUS_CODES.items()}


def status_from_code(code: int) -> Status:
    """The :class:`Status` of an integer code (see :data:`STATUS_CODES`)."""
    try:
        return _BY_CODE[int(code)]
    except KeyError:
        raise ValueError(f"unknown status code {code!r}; known: {sorted(_BY_CODE)}") from None


def success(status) -> bool:
    """``Status(status).success`` for a Status or its string."""
    return Status(status).success
