#!/usr/bin/env python
"""Formula mutation testing for code mutmut cannot reach (Numba kernels) and for
chosen formulas anywhere in the package (docs/mutation-testing.md).

Each entry of the mutation list (``scripts/mutations.toml``) names a file, an exact
snippet that must occur exactly once in it, its replacement, and the tests that
should notice. For every mutant the script

1. writes the mutated file into a temporary copy of the repository (the working
   tree's tracked files; the repository itself is never modified),
2. runs the selected tests there with ``python -m pytest -x`` under a fresh,
   empty ``NUMBA_CACHE_DIR`` (Numba's on-disk cache would otherwise hand back the
   unmutated kernels) and with bytecode writing off,
3. restores the file,

and reports killed / survived per module. Entries with ``equivalent = "why"`` are
listed but neither run nor counted.

Usage::

    python scripts/mutate.py                       # every mutant
    python scripts/mutate.py --module discrete     # one module
    python scripts/mutate.py --only kern-eps-in-vhat orbit-maxiter
    python scripts/mutate.py --check               # snippets still match the code? (no tests run)
    python scripts/mutate.py --json results.json   # also write the outcomes
    python scripts/mutate.py --list scripts/mutations_wave3.toml --exclude tests/test_new.py
                                                   # another list; without some test files (a "before" run)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LIST = Path(__file__).with_name("mutations.toml")


def load(path: Path) -> list[dict]:
    data = tomllib.loads(path.read_text())
    muts = data.get("mutation", [])
    ids = set()
    for m in muts:
        for key in ("id", "module", "file", "find", "replace", "tests"):
            if key not in m:
                raise SystemExit(f"mutation {m.get('id', '?')}: missing {key!r}")
        if m["id"] in ids:
            raise SystemExit(f"duplicate mutation id {m['id']!r}")
        ids.add(m["id"])
        if m["find"] == m["replace"]:
            raise SystemExit(f"mutation {m['id']}: replacement equals the snippet")
    return muts


def check(muts: list[dict], root: Path) -> list[str]:
    """Problems: snippets that do not occur exactly once."""
    bad = []
    for m in muts:
        f = root / m["file"]
        if not f.exists():
            bad.append(f"{m['id']}: no file {m['file']}")
            continue
        n = f.read_text().count(m["find"])
        if n != 1:
            bad.append(f"{m['id']}: snippet occurs {n} times in {m['file']}")
    return bad


def copy_repo(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in files.decode().split("\0"):
        if not rel:
            continue
        src = ROOT / rel
        if src.is_file():
            out = dst / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out)


def run_tests(repo: Path, tests: list[str], timeout: float, cache: str | None = None) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'error' | 'timeout', seconds, last output lines).

    ``cache``: a Numba cache directory to reuse (only for mutants of pure-Python
    files: it only ever holds kernels compiled from unmutated sources); default a
    fresh empty one."""
    with tempfile.TemporaryDirectory(prefix="adadyn-mut-numba-") as nb:
        nb = cache or nb
        env = dict(os.environ, NUMBA_CACHE_DIR=nb, ADADYN_CACHE_DIR=nb, PYTHONDONTWRITEBYTECODE="1",
                   MPLBACKEND="Agg", PYTHONPATH=str(repo))
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - t0, ""
        dt = time.monotonic() - t0
    tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-3:])
    if p.returncode == 0:
        return "passed", dt, tail
    return ("failed" if p.returncode == 1 else "error"), dt, tail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", type=Path, default=DEFAULT_LIST, help="mutation list (TOML)")
    ap.add_argument("--module", nargs="*", help="only these modules")
    ap.add_argument("--only", nargs="*", help="only these mutation ids")
    ap.add_argument("--check", action="store_true", help="only check that every snippet matches once")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per mutant (a timeout counts as killed)")
    ap.add_argument("--json", type=Path, help="write the outcomes here")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the selected tests")
    ap.add_argument("--exclude", nargs="*", default=[],
                    help="test paths to drop from every entry's selection (to measure the kill rate before them)")
    args = ap.parse_args(argv)

    muts = load(args.list)
    if args.module:
        muts = [m for m in muts if m["module"] in args.module]
    if args.only:
        muts = [m for m in muts if m["id"] in args.only]
    if args.exclude:
        drop = {str(Path(e)) for e in args.exclude}
        muts = [dict(m, tests=[t for t in m["tests"] if str(Path(t)) not in drop]) for m in muts]
        empty = [m["id"] for m in muts if not m["tests"]]
        if empty:
            raise SystemExit(f"--exclude leaves no tests for {', '.join(empty)}")
    bad = check(muts, ROOT)
    if bad:
        print("stale mutation list:\n  " + "\n  ".join(bad))
        return 2
    if args.check:
        print(f"{len(muts)} mutations, every snippet matches exactly once")
        return 0
    live = [m for m in muts if not m.get("equivalent")]
    equiv = [m for m in muts if m.get("equivalent")]

    results = []
    with tempfile.TemporaryDirectory(prefix="adadyn-mut-") as tmp:
        repo = Path(tmp) / "repo"
        copy_repo(repo)
        warm = str(Path(tmp) / "numba-warm")  # kernels compiled from the unmutated sources
        if not args.no_baseline:
            for sel in sorted({tuple(m["tests"]) for m in live}):
                out, dt, tail = run_tests(repo, list(sel), args.timeout * 3, warm)
                print(f"baseline {' '.join(sel)}: {out} in {dt:.0f} s", flush=True)
                if out != "passed":
                    print(tail)
                    print("the selected tests fail without any mutation: fix that first")
                    return 2
        for i, m in enumerate(live, 1):
            f = repo / m["file"]
            orig = f.read_text()
            f.write_text(orig.replace(m["find"], m["replace"], 1))
            numba_code = "jit" in orig  # a compiled file: its mutant needs an empty cache
            try:
                out, dt, tail = run_tests(repo, m["tests"], args.timeout, None if numba_code else warm)
            finally:
                f.write_text(orig)
            status = "survived" if out == "passed" else "killed"
            results.append(dict(id=m["id"], module=m["module"], status=status, outcome=out, seconds=round(dt, 1), tail=tail))
            print(f"[{i}/{len(live)}] {m['id']:<34} {status:<8} ({out}, {dt:.0f} s)", flush=True)

    per = defaultdict(lambda: [0, 0])
    for r in results:
        per[r["module"]][0] += r["status"] == "killed"
        per[r["module"]][1] += 1
    print("\nmodule            killed / meaningful")
    for mod in sorted(per):
        k, n = per[mod]
        print(f"  {mod:<16} {k:>3} / {n:<3} ({100.0 * k / n:.0f}%)")
    k = sum(v[0] for v in per.values())
    n = sum(v[1] for v in per.values())
    if n:
        print(f"  {'total':<16} {k:>3} / {n:<3} ({100.0 * k / n:.0f}%)")
    surv = [r for r in results if r["status"] == "survived"]
    if surv:
        print("\nsurvivors:")
        for r in surv:
            m = next(x for x in live if x["id"] == r["id"])
            print(f"  {r['id']} ({m['file']}): {m.get('why', '')}")
    if equiv:
        print("\nequivalent (not run, not counted):")
        for m in equiv:
            print(f"  {m['id']} ({m['file']}): {m['equivalent']}")
    if args.json:
        args.json.write_text(json.dumps(dict(results=results, equivalent=[m["id"] for m in equiv]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
