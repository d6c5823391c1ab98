"""Progress of a network run: steps taken and the current loss (``nn.train(..., progress=)``).

The meters follow :mod:`adadyn.sweep.progress` (``start(total, done, desc)``,
``update(n)``, ``close()``) and carry the loss of the last record read back in
``loss``. :func:`~adadyn.nn.train` updates its meter when it reads a block of records
back (every 64 steps and at the sharpness points), so a meter costs no host
synchronisation of its own.
"""
from __future__ import annotations

import math
import sys

from adadyn.sweep.progress import NoProgress, Progress, TextProgress

__all__ = ["TrainProgress", "CallbackTrainProgress", "train_progress"]


class TrainProgress(TextProgress):
    """One line on a stream (stderr by default), rewritten at most every ``every`` seconds:
    ``train: step 640/2000 (32%, 1.2 s), loss 3.41e-02``."""

    def __init__(self, stream=None, every: float = 0.5):
        super().__init__(stream, every)
        self.loss = math.nan

    def start(self, total: int, done: int = 0, desc: str = "train") -> None:
        super().start(total, done, desc)

    def _line(self, pct: float, seconds: float) -> str:
        return f"{self.desc}: step {self.done}/{self.total} ({pct:.0f}%, {seconds:.1f} s), loss {self.loss:.3e}"


class CallbackTrainProgress(Progress):
    """Calls ``fn(step, total, loss)`` at the start and at every read-back."""

    def __init__(self, fn):
        super().__init__()
        if not callable(fn):
            raise TypeError(f"progress callback must be callable, got {type(fn).__name__}")
        self.fn, self.loss = fn, math.nan

    def _show(self) -> None:
        self.fn(self.done, self.total, self.loss)


def train_progress(progress) -> Progress:
    """The meter for ``progress``: a :class:`~adadyn.sweep.progress.Progress` as is; None: a
    :class:`TrainProgress` line when stderr is a terminal, else none; True/False: a line or
    none; a callable: :class:`CallbackTrainProgress`."""
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if progress is True:
        return TrainProgress()
    if progress is False:
        return NoProgress()
    if callable(progress):
        return CallbackTrainProgress(progress)
    raise TypeError(f"progress must be None, a bool, a callable or an adadyn.sweep.progress.Progress, "
                    f"got {type(progress).__name__}")


def advance(meter: Progress, step: int, loss: float) -> None:
    """Move ``meter`` to ``step`` (steps of this call) with the current ``loss``."""
    meter.loss = loss
    if step > meter.done:
        meter.update(step - meter.done)
