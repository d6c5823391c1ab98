"""Progress meters for sweeps, passed to :func:`~adadyn.sweep.run_sweep` as objects.

A meter has ``start(total, done, desc)``, ``update(n)`` and ``close()``. The
terminal check (``sys.stderr.isatty()``) only picks the default when the caller
passes ``progress=None``.
"""
from __future__ import annotations

import sys
import time

__all__ = ["Progress", "NoProgress", "TextProgress", "TqdmProgress", "CallbackProgress", "as_progress"]


class Progress:
    """Base meter: counts points; subclasses show them."""

    def __init__(self):
        self.total = 0
        self.done = 0
        self.desc = "sweep"

    def start(self, total: int, done: int = 0, desc: str = "sweep") -> None:
        self.total, self.done, self.desc = int(total), int(done), desc
        self._show()

    def update(self, n: int) -> None:
        self.done += int(n)
        self._show()

    def close(self) -> None:
        pass

    def _show(self) -> None:
        pass


class NoProgress(Progress):
    """Shows nothing."""


class TextProgress(Progress):
    """One line on a stream (stderr by default), rewritten at most ``every`` seconds."""

    def __init__(self, stream=None, every: float = 0.5):
        super().__init__()
        self.stream = stream
        self.every = float(every)
        self._last, self._shown = -1e300, None
        self._t0 = time.perf_counter()

    def start(self, total: int, done: int = 0, desc: str = "sweep") -> None:
        self._t0 = time.perf_counter()
        super().start(total, done, desc)

    def _show(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.every and self.done < self.total:
            return
        self._last, self._shown = now, self.done
        stream = self.stream or sys.stderr
        stream.write("\r" + self._line(100.0 * self.done / max(self.total, 1), now - self._t0))
        stream.flush()

    def _line(self, pct: float, seconds: float) -> str:
        return f"{self.desc}: {self.done}/{self.total} points ({pct:.0f}%, {seconds:.1f} s)"

    def close(self) -> None:
        if self._shown != self.done:
            self._show(force=True)
        (self.stream or sys.stderr).write("\n")


class TqdmProgress(Progress):
    """A ``tqdm`` bar (``tqdm.auto``); keyword arguments go to ``tqdm``."""

    def __init__(self, **kw):
        super().__init__()
        from tqdm.auto import tqdm  # noqa: F401  (fail here if tqdm is missing)

        self._kw = kw
        self._bar = None

    def start(self, total: int, done: int = 0, desc: str = "sweep") -> None:
        from tqdm.auto import tqdm

        super().start(total, done, desc)
        self._bar = tqdm(total=total, initial=done, desc=desc, unit="pt", **self._kw)

    def update(self, n: int) -> None:
        super().update(n)
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class CallbackProgress(Progress):
    """Calls ``fn(done, total)`` at the start and after every chunk."""

    def __init__(self, fn):
        super().__init__()
        if not callable(fn):
            raise TypeError(f"progress callback must be callable, got {type(fn).__name__}")
        self.fn = fn

    def _show(self) -> None:
        self.fn(self.done, self.total)


def as_progress(progress) -> Progress:
    """The meter for ``progress``: a :class:`Progress` as is; None: a bar when stderr
    is a terminal (tqdm if installed, else text), else none; True/False: a bar or
    none; a callable: :class:`CallbackProgress`."""
    if isinstance(progress, Progress):
        return progress
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if progress is True:
        try:
            return TqdmProgress()
        except ImportError:
            return TextProgress()
    if progress is False:
        return NoProgress()
    if callable(progress):
        return CallbackProgress(progress)
    raise TypeError(f"progress must be a Progress, None, a bool or a callable, got {type(progress).__name__}")
