"""torch's thread count for network runs: the default rule, the user's choice, and a context.

torch runs its operations on all cores by default. On a machine whose cores are busy with
other processes, threads that wait for one another make even tiny operations take
milliseconds: the 5-100-100-1 network of Figure 1 on 2000 points (200 full-batch Adam
steps) took 1.0 s on one thread and 5.4 s on two (float64; 0.9 s and 18.8 s in float32)
on a two-core machine with a load average of 3 to 4, and even a 784-500-500-10 network
(float32) was 3x faster on one thread there. More threads pay off only for large
matrix products on idle cores, so the default is one thread unless both hold.
"""
from __future__ import annotations

import os

import torch

__all__ = ["TORCH_WORK_MIN", "default_torch_threads", "user_torch_threads", "torch_threads"]

#: floating-point operations per step (about 6 x batch x parameters for a dense network:
#: forward, backward) from which a network run uses more than one thread on idle cores
TORCH_WORK_MIN = 1e9

_torch_state = {"default": None, "user": False, "depth": 0, "large": None}


def note_torch_default() -> None:
    """Remember torch's thread count as found when :mod:`adadyn.nn` is imported."""
    if _torch_state["default"] is None:
        _torch_state["default"] = torch.get_num_threads()


def mark_user_threads() -> None:
    """The user chose the thread count (:func:`adadyn.nn.set_num_threads`): keep it."""
    _torch_state["user"] = True


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _torch_defaults() -> set:
    """The counts torch picks by itself: the cores it may run on, logical or physical."""
    out = {_cores(), os.cpu_count() or 1}
    try:
        import psutil

        out.add(psutil.cpu_count(logical=False) or 1)
    except ImportError:
        pass
    return out


def user_torch_threads() -> str | None:
    """How the user set torch's thread count, or None when it is torch's own default."""
    n = torch.get_num_threads()
    if _torch_state["user"]:
        return f"{n} set with adadyn.nn.set_num_threads"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").strip():
            return f"{n} from {var}={os.environ[var].strip()}"
    start = _torch_state["default"]
    if start is not None and (n != start or start not in _torch_defaults()):
        return f"{n} set with torch.set_num_threads"
    return None


def default_torch_threads(work: float, cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """The default thread count for a network run of ``work`` flop per step: one thread
    below :data:`TORCH_WORK_MIN` or when other processes keep the cores busy, else one per
    idle core. ``cores`` and ``load`` (1-minute load average) default to the machine's.
    Returns ``(threads, reason)``."""
    cores = _cores() if cores is None else int(cores)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # pragma: no cover - not POSIX
            load = 0.0
    if work < TORCH_WORK_MIN:
        return 1, f"1 (a small network: {work:.2g} flop per step < {TORCH_WORK_MIN:.0e})"
    if cores <= 1:
        return 1, "1 (one core)"
    idle = int(cores - load + 0.5)
    if idle <= 1:
        return 1, f"1 (busy cores: load average {load:.1f} on {cores} cores)"
    return idle, f"{idle} ({work:.2g} flop per step, load average {load:.1f} on {cores} cores)"


def _process_default(work: float) -> tuple[int, str]:
    """:func:`default_torch_threads`, with the choice for a large network made once per
    process: the bits of a run depend on the thread count, so that two equal runs of one
    process (or a run and its continuation) give the same bits whatever the load did."""
    if work < TORCH_WORK_MIN:
        return default_torch_threads(work)
    if _torch_state["large"] is None:
        _torch_state["large"] = default_torch_threads(work)
    n, why = _torch_state["large"]
    return n, f"{why}; kept for every large network of this process"


class torch_threads:
    """Context: run torch on ``threads`` threads, restoring the count on exit.

    ``threads=None`` takes, in this order: the count of an enclosing ``torch_threads``;
    the user's setting (:func:`user_torch_threads`); ``resume``, the count of the run
    being continued (``NetState.threads``: a continuation gives the bits of the
    uninterrupted run); else :func:`default_torch_threads` ``(work)`` (decided once per
    process for large networks). ``.threads`` and ``.reason`` say what was chosen and why.
    """

    def __init__(self, threads: int | None, work: float, resume: int = 0):
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be None (the default rule) or an integer >= 1, got {threads!r}")
        self._want, self.work, self._resume = threads, float(work), int(resume)
        self.threads, self.reason, self._before = 0, "", None

    def __enter__(self) -> "torch_threads":
        self._before = torch.get_num_threads()
        if self._want is not None:
            self.threads, self.reason = self._want, f"{self._want} (asked for)"
        elif _torch_state["depth"]:
            self.threads, self.reason = self._before, f"{self._before} (chosen by the enclosing run)"
        else:
            user = user_torch_threads()
            if user is not None:
                self.threads, self.reason = self._before, user
            elif self._resume > 0:
                self.threads, self.reason = self._resume, f"{self._resume} (as in the run continued)"
            else:
                self.threads, self.reason = _process_default(self.work)
        if self.threads != self._before:
            torch.set_num_threads(self.threads)
        _torch_state["depth"] += 1
        return self

    def __exit__(self, *exc) -> None:
        _torch_state["depth"] -= 1
        if torch.get_num_threads() != self._before:
            torch.set_num_threads(self._before)
