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
import time

from adadyn.sweep.progress import NoProgress, Progress

__all__ = ["TrainProgress", "CallbackTrainProgress", "train_progress"]


class TrainProgress(Progress):
    """One line on a stream (stderr by default), rewritten at most every ``every`` seconds:
    ``train: step 640/2000 (32%, 1.2 s), loss 3.41e-02``."""

    def __init__(self, stream=None, every: float = 0.5):
        super().__init__()
        self.stream, self.every = stream, float(every)
        self.loss = math.nan
        self._last, self._t0, self._shown = -1e300, time.perf_counter(), None

    def start(self, total: int, done: int = 0, desc: str = "train") -> None:
        self._t0 = time.perf_counter()
        super().start(total, done, desc)

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.every and self.done < self.total:
            return
        self._last, self._shown = now, self.done
        stream = self.stream or sys.stderr
        pct = 100.0 * self.done / max(self.total, 1)
        stream.write(f"\r{self.desc}: step {self.done}/{self.total} ({pct:.0f}%, {now - self._t0:.1f} s), "
                     f"loss {self.loss:.3e}")
        stream.flush()

    def close(self) -> None:
        if self._shown != self.done:
            self._show(force=True)
        (self.stream or sys.stderr).write("\n")


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
