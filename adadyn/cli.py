"""The ``adadyn`` command (also ``python -m adadyn``)."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from adadyn import __version__
from adadyn.commands.errors import (EXIT_INTERRUPTED, CLIError, OneLineParser, ParseExit, guarded, handle, polish,
                                   suggestion)


def _section_modules():
    from adadyn.commands import SECTIONS

    mods = [importlib.import_module("adadyn.commands.discrete")]
    for name in SECTIONS:
        try:
            mods.append(importlib.import_module(f"adadyn.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"adadyn.commands.{name}":
                raise
    return mods


@guarded("adadyn demo")
def _demo(args) -> int:
    from adadyn.commands.resources import prepare_out_dir

    out = prepare_out_dir(args.out, strict=True)  # the sections write through plain paths: adopt below
    try:
        return _demo_into(out)
    finally:
        out.adopt_new()


def _demo_into(out) -> int:
    parts = []
    for mod in _section_modules():
        fn = getattr(mod, "demo", None)
        if fn is None:
            continue
        name = mod.__name__.rsplit(".", 1)[-1]
        print(f"== {name} ==", flush=True)  # before the section runs: some take a minute
        t0 = time.perf_counter()
        text = fn(out.prepare())
        dt = time.perf_counter() - t0
        parts.append(f"== {name} ({dt:.1f} s) ==\n{text}\n")
        print(f"{text}\n({name}: {dt:.1f} s)\n", flush=True)
    out.write_text("summary.txt", "\n".join(parts))
    figs = sorted(p.name for p in out.path.glob("*.png"))
    print(f"wrote {out / 'summary.txt'} and {len(figs)} figures: {', '.join(figs)}")
    return 0


@guarded("adadyn warm")
def _warm(args) -> int:
    from adadyn import _warm as w
    from adadyn.validation import check_int

    jobs = check_int("--jobs", args.jobs, 1, 64)
    if not w.enabled() and os.environ.get("ADADYN_NO_CACHE", "") not in ("", "0"):
        raise CLIError("ADADYN_NO_CACHE is set: nothing compiled now would be kept")
    w.warm(jobs=jobs)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``adadyn`` parser: one subcommand per command module (:data:`adadyn.commands.SECTIONS`).

    Its errors are one line on stderr (:class:`~adadyn.commands.errors.OneLineParser`)."""
    p = OneLineParser(prog="adadyn", description="Adaptive gradient optimisers as dynamical systems. "
                                                 "Errors are one line on stderr with exit code 2 "
                                                 "(docs/cli.md).")
    p.add_argument("--version", action="version", version=f"adadyn {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="run the main demonstration and write figures and a summary")
    d.add_argument("--out", default="adadyn_demo", help="output directory (default: ./adadyn_demo)")
    d.set_defaults(func=_demo)
    w = sub.add_parser("warm", help="compile the common kernels into the on-disk cache now "
                                    "(run, grid sweeps, the regime classifier)")
    w.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes compiling at once (1-64; default: 2, or 1 on one core)")
    w.set_defaults(func=_warm)
    for mod in _section_modules():
        reg = getattr(mod, "register", None)
        if reg is not None:
            reg(sub)
    for sp in sub.choices.values():
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an unexpected error")
        polish(sp)  # integral floats (--steps 1e4) and the defaults in --help
    return p


def _exit_now(code: int) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv=None) -> int:
    """Run ``adadyn`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    0: done; 2: refused or failed (one line on stderr); 130: interrupted. When this
    process is the ``adadyn`` command, Ctrl-C during start-up (importing the package and
    the commands, parsing) is handled by :mod:`adadyn._startup`: one line, exit code 130.
    """
    if argv is None:  # the process's own command line: an interrupt ends the process at once
        code = main(sys.argv[1:])
        if code == EXIT_INTERRUPTED:
            # everything was cleaned up on the way out (chunks saved, workers stopped); skip
            # interpreter-exit joins of pool threads, which can wait for work already abandoned
            return _exit_now(code)
        return code
    argv = list(argv)
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:  # name the command whose options were not recognised, as its own errors do
            sub = getattr(args, "command", None)
            target = parser._subparsers._group_actions[0].choices.get(sub, parser) if sub else parser
            target.error(f"unrecognized arguments: {' '.join(extra)}{suggestion(target, extra)}")
    except ParseExit as exc:
        return exc.code
    except SystemExit as exc:  # a command's own parser that exits (its message is already printed)
        return exc.code if isinstance(exc.code, int) else 2
    except (Exception, KeyboardInterrupt) as exc:  # one line, never a traceback
        return handle("adadyn", exc, debug="--debug" in argv)
    from adadyn import _startup

    _startup.end_command_start()  # from here Ctrl-C is a KeyboardInterrupt the command cleans up after
    if getattr(args, "func", None) is None:
        parser.print_help()
        handle("adadyn", CLIError("give a command (see adadyn --help)"))
        return 2
    # commands wrap themselves with errors.guarded; this catches the ones that do not
    return guarded(f"adadyn {args.command}")(args.func)(args)


if __name__ == "__main__":
    sys.exit(main())
