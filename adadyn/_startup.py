"""Ctrl-C while the ``adadyn`` command starts: one line and exit code 130 (``docs/cli.md``).

Importing the package takes a second or more (NumPy, Numba, the kernels' caches), before
:func:`adadyn.cli.main` can catch anything. When this process *is* the ``adadyn``
command (the console script, or ``python -m adadyn``), :func:`guard_command_start`
installs a SIGINT handler as the package's very first statement; it prints
``adadyn: interrupted`` and ends the process with code 130. :func:`adadyn.cli.main`
puts Python's own handler back once the command line is parsed, so from then on an
interrupt is a ``KeyboardInterrupt`` that the command cleans up after. A library
import (anything else) is left alone. Standard library only: this must be cheap.
"""
from __future__ import annotations

import os
import signal
import sys

_INSTALLED = False


def _is_command() -> bool:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if argv0 in ("adadyn", "adadyn.exe", "adadyn-script.py"):
        return True
    orig = list(getattr(sys, "orig_argv", []))
    for i, a in enumerate(orig[:-1]):
        if a == "-m":
            return orig[i + 1] in ("adadyn", "adadyn.cli", "adadyn.__main__")
        if a == "-c" or (not a.startswith("-") and i > 0):
            return False
    return False


def _interrupted(signum, frame):  # noqa: ARG001 - signal handler signature
    try:
        os.write(2, b"adadyn: interrupted\n")
    finally:
        os._exit(130)


def guard_command_start() -> None:
    """Install the start-up SIGINT handler if this process is the ``adadyn`` command and
    Ctrl-C has its default meaning (not ignored, as for a background job)."""
    global _INSTALLED
    if _INSTALLED or not _is_command():
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _interrupted)
            _INSTALLED = True
    except (ValueError, OSError):  # not the main thread
        pass


def end_command_start() -> None:
    """Give Ctrl-C back to Python (a KeyboardInterrupt) once the command can handle it."""
    global _INSTALLED
    if _INSTALLED:
        try:
            if signal.getsignal(signal.SIGINT) is _interrupted:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        except (ValueError, OSError):
            pass
        _INSTALLED = False
