"""Error conventions of the ``adadyn`` command (``docs/cli.md``).

Every failure is one line on stderr, ``adadyn COMMAND: error: MESSAGE``, and exit
code 2; Ctrl-C is one line and exit code 130; an unexpected exception is one line
with its type and message and a hint to rerun with ``--debug`` (which re-raises it,
traceback included). Nothing here prints a traceback unless ``--debug`` is given.
"""
from __future__ import annotations

import argparse
import functools
import sys

#: exit code of every refused command line and failed command
EXIT_ERROR = 2
#: exit code after Ctrl-C (128 + SIGINT)
EXIT_INTERRUPTED = 130
#: longest message printed (a library message quoting a huge array is cut here)
MAX_MESSAGE = 600


class CLIError(Exception):
    """A refusal the command explains in one line (exit code 2)."""


def one_line(text: str) -> str:
    """``text`` with all whitespace runs collapsed to one space, cut to :data:`MAX_MESSAGE`."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 3] + "..."


def say_error(prog: str, message: str) -> None:
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr, flush=True)


def warn(prog: str, message: str) -> None:
    """One warning line on stderr (the command goes on)."""
    print(f"{prog}: warning: {one_line(message)}", file=sys.stderr, flush=True)


def _sweep_errors() -> tuple:
    """The sweep store's refusal classes (``adadyn.sweep`` and the 0.1 ``analysis.persistence``)."""
    import importlib

    found = []
    for mod in ("adadyn.sweep.store", "adadyn.analysis.persistence"):
        try:
            found.append(importlib.import_module(mod).SweepError)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def handle(prog: str, exc: BaseException, *, debug: bool = False, interrupt_hint: str | None = None) -> int:
    """Print the one line for ``exc`` and return the exit code (re-raise with ``debug``)."""
    if isinstance(exc, KeyboardInterrupt):
        print(f"{prog}: interrupted" + (f"; {interrupt_hint}" if interrupt_hint else ""),
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    if debug:
        raise exc
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a message that cannot be printed still ends in one line
        text = ""
    if isinstance(exc, (CLIError, ValueError, TypeError, *_sweep_errors())):
        say_error(prog, text or type(exc).__name__)
    elif isinstance(exc, BrokenPipeError):
        _silence_stdout()
        say_error(prog, "stdout was closed before the output was written (broken pipe)")
    elif isinstance(exc, MemoryError):
        say_error(prog, "out of memory; use fewer steps, a larger --record-every or a smaller grid")
    elif isinstance(exc, OSError):
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        say_error(prog, f"{where}{exc.strerror or exc}")
    else:
        say_error(prog, f"unexpected {type(exc).__name__}: {text} (rerun with --debug for the traceback)")
    return EXIT_ERROR


def guarded(prog: str):
    """Decorate a command function ``f(args) -> int`` so that every failure becomes one line.

    The command may set ``args.interrupt_hint`` (e.g. where finished chunks are kept)
    for the Ctrl-C line.
    """
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(args) -> int:
            import warnings

            def show(message, category, filename, lineno, file=None, line=None):
                warn(prog, f"{category.__name__}: {message}")

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("default", ResourceWarning)
                    warnings.showwarning = show  # library warnings: one line each
                    return int(fn(args) or 0)
            except (Exception, KeyboardInterrupt) as exc:  # one line, never a traceback
                return handle(prog, exc, debug=bool(getattr(args, "debug", False)),
                              interrupt_hint=getattr(args, "interrupt_hint", None))
        return wrapper
    return deco


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and raise :class:`ParseExit`."""

    def error(self, message):  # noqa: D401 - argparse API
        say_error(self.prog, f"{message} (see {self.prog} --help)")
        raise ParseExit(EXIT_ERROR)

    def exit(self, status=0, message=None):
        if message:
            print(one_line(message), file=sys.stderr if status else sys.stdout)
        raise ParseExit(status)


class ParseExit(Exception):
    """Raised instead of SystemExit by :class:`OneLineParser` (``--help``, ``--version``, errors)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = int(code)
