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


def whole_number(text) -> int:
    """argparse type of every integer option: ``10000``, ``1e4`` and ``1.5e4`` are accepted
    (an integral value written as a float), ``10.5`` and ``1e4.5`` are refused."""
    import math

    s = str(text).strip()
    try:
        return int(s, 10)
    except ValueError:
        pass
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if not math.isfinite(v) or v != math.floor(v):
        raise argparse.ArgumentTypeError(f"must be a whole number such as 10000 or 1e4, got {text!r}")
    return int(v)


def suggestion(parser, unknown) -> str:
    """`` (did you mean --optimizer?)`` for a misspelt option among ``unknown``, else ''."""
    import difflib

    known = [o for o in getattr(parser, "_option_string_actions", {}) if o.startswith("--")]
    for arg in unknown:
        if arg.startswith("--"):
            close = difflib.get_close_matches(arg.split("=", 1)[0], known, n=1, cutoff=0.75)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


def polish(parser) -> None:
    """Every integer option of ``parser`` takes :func:`whole_number`, and every option with a
    default shows it in ``--help``."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
        if action.type is int:
            action.type = whole_number
        helptext = action.help
        d = action.default
        if (action.option_strings and helptext is not argparse.SUPPRESS
                and not any(d is x for x in (None, False, True, argparse.SUPPRESS))
                and not isinstance(action, argparse._HelpAction)  # noqa: SLF001
                and "default" not in (helptext or "").lower() and "%" not in (helptext or "")):
            shown = d
            if isinstance(shown, (list, tuple)):
                shown = ",".join(map(str, shown))
            elif hasattr(shown, "tolist"):  # a parsed array (e.g. a range's values)
                vals = [float(v) for v in shown.ravel().tolist()]
                shown = (",".join(f"{v:g}" for v in vals) if len(vals) <= 4 else
                         f"{len(vals)} values from {vals[0]:g} to {vals[-1]:g}")
            text = str(shown).replace("%", "%%")
            if len(text) <= 60:
                action.help = f"{helptext} (default: {text})" if helptext else f"default: {text}"
