"""The ``adadyn`` command (also ``python -m adadyn``)."""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from adadyn import __version__


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


def _demo(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for mod in _section_modules():
        fn = getattr(mod, "demo", None)
        if fn is None:
            continue
        t0 = time.perf_counter()
        text = fn(out)
        name = mod.__name__.rsplit(".", 1)[-1]
        parts.append(f"== {name} ({time.perf_counter() - t0:.1f} s) ==\n{text}\n")
        print(parts[-1], flush=True)
    (out / "summary.txt").write_text("\n".join(parts))
    figs = sorted(p.name for p in out.glob("*.png"))
    print(f"wrote {out / 'summary.txt'} and {len(figs)} figures: {', '.join(figs)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adadyn", description="Adaptive gradient optimisers as dynamical systems.")
    p.add_argument("--version", action="version", version=f"adadyn {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="run the main demonstration and write figures and a summary")
    d.add_argument("--out", default="adadyn_demo", help="output directory (default: ./adadyn_demo)")
    d.set_defaults(func=_demo)
    for mod in _section_modules():
        reg = getattr(mod, "register", None)
        if reg is not None:
            reg(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
