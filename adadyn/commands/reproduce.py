"""``adadyn reproduce``: every quantitative result of the four papers by name.

    adadyn reproduce --list
    adadyn reproduce NAME [--out DIR] [--full] [--scale S] [--data DIR]
    adadyn reproduce all --out DIR [--full] [--data DIR]

Each reproduction prints a header line before it runs (name, claim, the runtime
estimate and what it was measured on), then its numbers next to the paper's and a
verdict; ``all`` also writes ``DIR/index.md`` and ``DIR/index.html`` (the verdict
table, criteria, data used, runtimes and every figure, readable offline). ``--data DIR`` points
to local datasets (nothing is downloaded), as for ``adadyn nn-train``: the
CIFAR-10 python batches for ``mwe-fig1-left``, the Fashion-MNIST IDX files for
``mwe-fig8-net --full``; without it those entries use scikit-learn's digits.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

from adadyn.commands.errors import CLIError

PROG = "adadyn reproduce"
#: allowed range of --scale (it multiplies step counts and grid sizes)
MIN_SCALE, MAX_SCALE = 1e-3, 100.0


def _fail(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def listing() -> str:
    """One line per reproduction: name, paper, figure or claim, runtime at the default scale."""
    from adadyn.reproduce import entries

    es = entries()
    w = max(len(e.name) for e in es)
    wp = max(len(e.paper) for e in es)
    return "\n".join(f"{e.name:<{w}}  {e.paper:<{wp}}  {e.claim}  ({_estimate(e)})" for e in es)


def _estimate(e) -> str:
    """The runtime estimate of an entry and what it was measured on."""
    from adadyn.reproduce.registry import RUNTIME_BASIS

    return f"~{e.runtime:.0f} s {RUNTIME_BASIS}"


def header(e) -> str:
    """The line printed before an entry runs."""
    return f"== {e.name}: {e.paper}, {e.claim} (running; {_estimate(e)})"


def _run_all(args, out):
    """Run every available entry, each header printed before it runs; write index.md and
    index.html into ``out`` (an :class:`~adadyn._safe_io.OutputDir`)."""
    from adadyn.reproduce import entries, render_index
    from adadyn.reproduce.report import render_html

    reps = []
    for e in entries():
        print(header(e), flush=True)
        rep = e.run(out.prepare().resolve(), full=args.full, scale=args.scale, data=args.data)
        reps.append(rep)
        print(rep.text(), flush=True)
    index = out.write_text("index.md", render_index(reps, out.path))
    out.write_text("index.html", render_html(reps, out.path))
    return reps, index


def _data_errors() -> tuple:
    """Exceptions that mean 'the local data is not usable' (a one-line error, exit 2)."""
    try:
        from adadyn.nn.datasets import DatasetError
    except ImportError:
        return ()
    return (DatasetError,)


def _run(args) -> int:
    from adadyn.reproduce import entries, get

    if args.list:
        if args.name:
            return _fail("give either --list or a NAME, not both")
        print(listing())
        return 0
    if not args.name:
        return _fail("give a reproduction NAME, 'all', or --list")
    if not (math.isfinite(args.scale) and MIN_SCALE <= args.scale <= MAX_SCALE):
        return _fail(f"--scale must be a number in [{MIN_SCALE:g}, {MAX_SCALE:g}], got {args.scale:g}")
    if args.data is not None and not os.path.isdir(args.data):
        return _fail(f"--data must be an existing directory of local datasets, got {args.data!r}")
    entry = None
    if args.name != "all":
        try:
            entry = get(args.name)
        except KeyError as exc:
            return _fail(str(exc.args[0]))
        if not entry.available():
            return _fail(f"{args.name} needs {', '.join(entry.requires)} (pip install \"adadyn[torch]\")")
        if args.data is not None and not entry.datasets:
            users = ", ".join(e.name for e in entries() if e.datasets)
            return _fail(f"{args.name} reads no local data; --data is for {users}")
    try:
        out = _out_dir(args.out)  # before any work: a foreign or unwritable directory is refused
    except CLIError as exc:
        return _fail(str(exc))
    try:
        return _run_into(args, out, entry)
    finally:
        out.adopt_new()  # record what the reproductions wrote (they write through plain paths)


def _out_dir(text):
    from adadyn.commands.resources import prepare_out_dir

    return prepare_out_dir(text, strict=True)


def _run_into(args, out, entry) -> int:
    if entry is None:
        try:
            reps, index = _run_all(args, out)
        except _data_errors() as exc:
            return _fail(f"--data {args.data}: {exc}")
        except OSError as exc:
            return _fail(f"cannot write to {args.out}: {exc}")
        counts = {v: sum(r.verdict == v for r in reps) for v in ("reproduces", "partly", "does not reproduce")}
        print(f"wrote {index} and {index.with_suffix('.html')} ({len(reps)} reproductions: "
              + ", ".join(f"{n} {v}" for v, n in counts.items()) + ")")
        return 0
    try:
        print(header(entry), flush=True)
        rep = entry.run(out.prepare(), full=args.full, scale=args.scale, data=args.data)
    except _data_errors() as exc:
        return _fail(f"--data {args.data}: {exc}")
    except OSError as exc:
        return _fail(f"cannot write to {args.out}: {exc}")
    print(rep.text())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors on stderr and exit code 2."""

    def error(self, message):
        print(f"{PROG}: error: {message}", file=sys.stderr)
        sys.exit(2)


def _add_args(p) -> None:
    p.add_argument("name", nargs="?", default=None, help="reproduction name (see --list), or 'all'")
    p.add_argument("--list", action="store_true",
                   help="list the reproductions and exit; each runtime estimate was measured at the default scale "
                        "on 2 CPU cores shared with other jobs (load average 4-6), warm caches: expect up to 10x "
                        "more on busier cores")
    p.add_argument("--out", default="reproductions", help="output directory (default: ./reproductions)")
    p.add_argument("--full", action="store_true", help="the paper's sizes (steps, grids, seeds)")
    p.add_argument("--scale", type=float, default=1.0,
                   help=f"multiply the default sizes, {MIN_SCALE:g} to {MAX_SCALE:g} (default: 1)")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="directory of local datasets (CIFAR-10 python batches, Fashion-MNIST IDX files); "
                        "nothing is downloaded")
    p.set_defaults(func=_run)


def register(subparsers) -> None:
    """Add ``adadyn reproduce``."""
    p = subparsers.add_parser("reproduce", help="reproduce a figure or claim of the papers by name",
                              description=__doc__.splitlines()[0])
    p.error = _Parser.error.__get__(p)  # one-line errors, exit code 2
    base = p.parse_known_args

    def strict(args=None, namespace=None):
        # unknown options would otherwise reach the top-level parser (usage + error, two lines)
        ns, extras = base(args, namespace)
        if extras:
            from adadyn.commands.errors import suggestion

            p.error(f"unrecognized arguments: {' '.join(extras)}{suggestion(p, extras)}")
        return ns, extras

    p.parse_known_args = strict
    _add_args(p)


def main(argv=None) -> int:
    """``adadyn reproduce`` on its own (``python -m adadyn.commands.reproduce``)."""
    p = _Parser(prog=PROG, description=__doc__.splitlines()[0])
    _add_args(p)
    args = p.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
