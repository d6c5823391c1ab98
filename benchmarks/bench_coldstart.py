"""Cold start: the first ``run`` and the first ``phase_diagram`` of a fresh install.

Every measurement is a fresh process on a fresh, empty Numba cache (``NUMBA_CACHE_DIR``
in a temporary directory), timing from before ``import adadyn`` to the end of the call:

* ``warm-up off``: ``ADADYN_WARMUP=0``; the process compiles everything it needs;
* ``background`` (the default): the first kernel the process needs starts the
  background warm-up (``adadyn._warm``), which compiles the other common kernels on
  another core while the process compiles its own;
* ``background, 3 s later``: the same, but the call comes 3 s after the import (a
  script or notebook doing other work first);
* ``after adadyn warm``: ``adadyn warm`` ran once after the install (its own wall time
  is printed too); the call loads everything from the cache.

With ``--install``, the package is also installed with ``pip install .`` into a fresh
venv (the README's first command; the build compiles the common kernels into the wheel,
``build_hooks.py``) and the first calls are timed there, with no ``NUMBA_CACHE_DIR``.

With ``--baseline DIR`` (a checkout of an older version, e.g. v0.1 at ``c1d3be3``),
the same first calls are timed there (warm-up off; it has none) in the same run,
interleaved, and the ratios printed. Target (issue 13): half of v0.1's first call.

    python benchmarks/bench_coldstart.py [--repeat 3] [--baseline /path/to/v0.1] [--install]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

CALL = textwrap.dedent("""
    import sys, time
    t0 = time.perf_counter()
    import numpy as np, adadyn as ad
    time.sleep(float(sys.argv[2]))
    t1 = time.perf_counter()
    obj = ad.objectives.random_quadratic(10)
    if sys.argv[1] == "run":
        ad.run(ad.Adam(1e-3), obj, np.ones(10), 100)
    else:
        ad.analysis.phase_diagram(obj, np.ones(10), a=[1.0, 10.0], b=[1.0, 10.0], eta=1e-3, steps=200)
    t2 = time.perf_counter()
    print(f"{t2 - t0 - float(sys.argv[2]):.3f}")  # import and call, without the pause
""")


def _env(cache, src=None, **extra):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, ADADYN_CACHE_DIR=cache)
    for k in ("ADADYN_WARMUP", "ADADYN_WARMING"):
        env.pop(k, None)
    if src is not None:
        env["PYTHONPATH"] = src
    env.update(extra)
    return env


def _call(what, env, delay=0.0):
    r = subprocess.run([sys.executable, "-c", CALL, what, str(delay)], env=env, capture_output=True, text=True,
                       check=True)
    return float(r.stdout.split()[-1])


def _settle(cache):
    """Wait until no background warm-up of ``cache`` runs (its slot locks are free and its
    marker is written), so that one measurement's warm-up does not slow the next."""
    import fcntl
    import glob
    import time

    t = time.monotonic()
    while time.monotonic() - t < 120:
        busy = False
        for path in glob.glob(os.path.join(cache, "**", "adadyn-warm-*.lock*"), recursive=True):
            fd = os.open(path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy = True
            finally:
                os.close(fd)
        if not busy and glob.glob(os.path.join(cache, "**", "adadyn-warm-*.done"), recursive=True):
            return
        time.sleep(0.2)


def one_round(what, baseline):
    out = {}
    with tempfile.TemporaryDirectory() as c:
        out["warm-up off"] = _call(what, _env(c, ADADYN_WARMUP="0"))
    with tempfile.TemporaryDirectory() as c:
        out["background"] = _call(what, _env(c))
        _settle(c)
    with tempfile.TemporaryDirectory() as c:
        out["background, 3 s later"] = _call(what, _env(c), delay=3.0)
        _settle(c)
    with tempfile.TemporaryDirectory() as c:
        import time

        t = time.perf_counter()
        # (its own import starts the background warm-up too; both share the compile locks)
        subprocess.run([sys.executable, "-m", "adadyn", "warm"], env=_env(c), check=True, capture_output=True)
        out["adadyn warm itself"] = time.perf_counter() - t
        _settle(c)
        out["after adadyn warm"] = _call(what, _env(c))
    if baseline:
        with tempfile.TemporaryDirectory() as c:
            out["baseline"] = _call(what, _env(c, src=baseline))
    return out


def installed(repeat):
    """First calls in a fresh venv after ``pip install .`` of this checkout."""
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as d:
        venv = Path(d) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = str(venv / "bin" / "python")
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "ADADYN_WARMUP", "ADADYN_WARMING", "VIRTUAL_ENV")}
        t = time.perf_counter()
        subprocess.run([py, "-m", "pip", "install", "-q", str(root)], check=True, env=env, capture_output=True)
        print(f"\npip install . into a fresh venv: {time.perf_counter() - t:.1f} s (dependencies from pip's cache)")
        for what in ("run", "phase"):
            vals = []
            for _ in range(repeat):
                r = subprocess.run([py, "-c", CALL, what, "0"], env=env, capture_output=True, text=True, check=True,
                                   cwd=d)
                vals.append(float(r.stdout.split()[-1]))
            print(f"  first {what:<5} in the fresh install: {statistics.median(vals):.2f} s "
                  f"({min(vals):.2f}-{max(vals):.2f}; every process loads the shipped kernels)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=None, help="source tree of an older version to compare with")
    ap.add_argument("--install", action="store_true", help="also time a fresh venv after pip install .")
    a = ap.parse_args()
    if a.install:
        installed(a.repeat)
    for what in ("run", "phase"):
        rounds = [one_round(what, a.baseline) for _ in range(a.repeat)]
        keys = list(rounds[0])
        label = "first run (100 Adam steps)" if what == "run" else "first phase_diagram (2 x 2 grid, 200 steps)"
        print(f"\n{label}: import + call in a fresh process, fresh cache; median of {a.repeat} (range)")
        base = statistics.median(r["baseline"] for r in rounds) if a.baseline else None
        for k in keys:
            vals = [r[k] for r in rounds]
            med = statistics.median(vals)
            ratio = f"  = {med / base:.2f}x baseline" if base and k not in ("baseline", "adadyn warm itself") else ""
            print(f"  {k:<24} {med:6.2f} s ({min(vals):.2f}-{max(vals):.2f}){ratio}")
        if base:
            print(f"  target: <= {0.5 * base:.2f} s (half the baseline)")


if __name__ == "__main__":
    main()
