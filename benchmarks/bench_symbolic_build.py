"""Time to build a symbolic objective, cold (fresh Numba/generated-code cache) and cached.

For each d it runs two fresh Python processes sharing one new, empty
``NUMBA_CACHE_DIR``: the first measures the cold build (sympy differentiation,
code generation, Numba compilation), the second the cached build (loading
from disk). Imports and Numba's one-off start-up (which any first kernel pays)
are done, and reported, before the clock starts. Then, in each process, the time of the first Hessian evaluation
(the Hessian is compiled on first use) is reported separately.

Usage: python benchmarks/bench_symbolic_build.py [d ...] [--formula "x1**2 + x{d}**2"]

The child processes import ``adadyn`` from the current directory: run it from
another checkout (e.g. an export of an older commit) to compare versions.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import adadyn as ad
import sympy
import adadyn.objectives.symbolic
sympy.Symbol("a") + 1  # sympy's lazy imports on the first Add
ad.objectives.quadratic([[1.0]]).grad([1.0])  # Numba's one-off start-up, paid by any first kernel
t1 = time.perf_counter()
obj = ad.Objective.from_expr(sys.argv[1])
x = np.full(obj.dim, 0.3)
g = obj.grad(x)
t2 = time.perf_counter()
H = obj.hessian(x)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "hessian": t3 - t2, "dim": obj.dim}))
"""


def run(formula: str, cache: str, timeout: float) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    env.pop("ADADYN_CACHE_DIR", None)
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, formula], env=env, capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("dims", nargs="*", type=int, default=[2, 30, 50, 100])
    p.add_argument("--formula", default="x1**2 + x{d}**2")
    p.add_argument("--timeout", type=float, default=600.0)
    a = p.parse_args()
    print(f"{'d':>4} {'cold build':>11} {'cold hess':>10} {'cached build':>13} {'cached hess':>12} "
          f"{'start-up':>9}  formula")
    for d in a.dims:
        formula = a.formula.format(d=d)
        with tempfile.TemporaryDirectory(prefix="adadyn_bench_cache_") as cache:
            cold = run(formula, cache, a.timeout)
            warm = cold if "timeout" in cold else run(formula, cache, a.timeout)

        def f(r, k):
            return f"{r[k]:.2f} s" if k in r else (f">{r['timeout']:.0f} s" if "timeout" in r else "error")

        print(f"{d:>4} {f(cold, 'build'):>11} {f(cold, 'hessian'):>10} {f(warm, 'build'):>13} "
              f"{f(warm, 'hessian'):>12} {f(warm, 'import'):>9}  {formula}", flush=True)
        for r in (cold, warm):
            if "error" in r:
                print("     error:", r["error"])


if __name__ == "__main__":
    main()
