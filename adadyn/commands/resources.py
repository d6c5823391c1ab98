"""Output paths and executors of the ``adadyn`` commands, checked before any work starts.

An ``--out`` that cannot be written, a ``--workers`` out of range or a ``--dask``
scheduler that does not answer within :data:`DASK_TIMEOUT` seconds is refused
at once, in one line naming the option (``docs/cli.md``).
"""
from __future__ import annotations

import os
from pathlib import Path

from adadyn.commands.errors import CLIError
from adadyn.commands.limits import max_parallel
from adadyn.validation import check_int

#: seconds to wait for a dask scheduler before refusing --dask
DASK_TIMEOUT = 5.0


def _path(text, option: str) -> Path:
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise CLIError(f"{option} must be a path, got {text!r}")
    return Path(text)


def prepare_out_dir(text, option: str = "--out", *, strict: bool = False):
    """The output directory ``text`` as an :class:`adadyn._safe_io.OutputDir`: created (with
    parents), refused in one line if it is not empty and was not written by adadyn, or
    cannot be written (``docs/security.md``). Call it before any computation."""
    from adadyn._safe_io import OutputDir, OutputError

    _path(text, option)
    try:
        return OutputDir(text, option=option, strict=strict)
    except OutputError as exc:
        raise CLIError(str(exc)) from None


def prepare_out_file(text, option: str = "--out", *, figure: bool = True):
    """``(OutputDir, name)`` for a single output file: :func:`check_out_file`, and the file may
    be replaced only if adadyn wrote it (``docs/security.md``)."""
    from adadyn._safe_io import OutputError, output_file

    check_out_file(text, option, figure=figure)
    try:
        return output_file(text, option=option)
    except OutputError as exc:
        raise CLIError(str(exc)) from None


def check_out_file(text, option: str = "--out", *, figure: bool = True) -> Path:
    """Check that the file ``text`` can be written (its directory exists and is writable)
    and, for a figure, that matplotlib knows its format."""
    p = _path(text, option)
    if p.is_dir():
        raise CLIError(f"{option} {p} is a directory; give a file name such as {p / 'gaps.png'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"{option} {p}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CLIError(f"{option} {p}: not writable")
    if figure and p.suffix:
        from matplotlib.figure import Figure

        kinds = Figure().canvas.get_supported_filetypes()
        if p.suffix[1:].lower() not in kinds:
            raise CLIError(f"{option} {p}: unknown figure format {p.suffix!r} (use one of "
                           f"{', '.join('.' + k for k in sorted(kinds))})")
    return p


class Executor:
    """The executor a sweep command runs on (None: the in-process path) and how to stop it."""

    def __init__(self, executor=None, kind: str = "local"):
        self.executor = executor
        self.kind = kind

    def close(self, interrupted: bool = False) -> None:
        ex = self.executor
        if ex is None:
            return
        if self.kind == "processes":
            procs = list((ex._processes or {}).values())  # noqa: SLF001 - to stop workers at once
            ex.shutdown(wait=not interrupted, cancel_futures=True)
            if interrupted:
                for proc in procs:
                    if proc.is_alive():
                        proc.terminate()
        else:
            ex.close()


def make_executor(args) -> Executor:
    """``--dask ADDRESS`` (a dask.distributed Client, connected within :data:`DASK_TIMEOUT` s)
    or ``--workers N`` (a process pool for N > 1); else the in-process path."""
    dask = getattr(args, "dask", None)
    workers = getattr(args, "workers", None)
    workers = 1 if workers is None else check_int("--workers", workers, 1, max_parallel())
    if dask is not None and workers > 1:
        raise CLIError("give --dask or --workers, not both")
    if dask is not None:
        from adadyn.sweep.executors import dask_client

        try:
            client = dask_client(dask, timeout=DASK_TIMEOUT)
        except ValueError as exc:
            text = str(exc).replace("cannot reach the dask scheduler", "no scheduler answered")
            raise CLIError(f"--dask {dask}: {text}") from None
        return Executor(client, "dask")
    if workers > 1:
        from adadyn.sweep.executors import process_pool

        return Executor(process_pool(workers), "processes")
    return Executor()
