"""Flow solves: the default implicit solve (analytic Jacobian) against RK45.

RMSprop flow (7) and Adam flow (8) on the 10-d random quadratic of Ma, Wu & E's
Figure 5 (random_quadratic(10, seed=0)), eps = 1e-8, to t = 5, at a mild and a
fast memory rate. RK45 is capped in wall time; where it got to is reported.
Target: >= 100x fewer right-hand-side evaluations than RK45, default solve < 1 s.
Also reports the Python-side cost per right-hand-side evaluation: the compiled
closure call alone, against solve time / evaluations.

Accuracy caveat (measured): with a = 100, b = 1000 the Adam flow is a stiff
oscillator near the minimum; the default Radau solve is cheap there but not
tolerance-accurate (loss at t = 1 off by 2.6% from a DOP853 rtol = 1e-10
reference at rtol = 1e-8), while explicit methods resolve every oscillation.

Run: python benchmarks/bench_flows.py [--rk45-seconds 10]
"""
from __future__ import annotations

import argparse
import time
import timeit

import numpy as np

import adadyn as ad
from adadyn import flows
from adadyn.flows import kernels as FK


def best_of(fn, n=3):
    best, out = np.inf, None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rk45-seconds", type=float, default=10.0, help="wall-time cap of each RK45 solve")
    ap.add_argument("--t-final", type=float, default=5.0)
    args = ap.parse_args()
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    T = args.t_final
    cases = [flows.RMSpropFlow(1.0, 1e-8), flows.RMSpropFlow(100.0, 1e-8),
             flows.AdamFlow(1.0, 10.0, 1e-8), flows.AdamFlow(100.0, 1000.0, 1e-8)]
    # warm-up: compile the per-objective closures once (not part of any timing below)
    t = time.perf_counter()
    flows.solve(cases[0], obj, x0, 0.01)
    print(f"one-off compile of the objective's RHS/Jacobian closures: {time.perf_counter() - t:.2f} s")

    print(f"\n{'flow':<44}{'method':>8}{'status':>8}{'t reached':>11}{'nfev':>10}{'njev':>7}{'time s':>9}"
          f"{'us/eval':>9}{'f(x(t_end))':>13}")
    for flow in cases:
        tdef, sd = best_of(lambda: flows.solve(flow, obj, x0, T))
        rows = [(sd, tdef)]
        t = time.perf_counter()
        sr = flows.solve(flow, obj, x0, T, method="RK45", time_limit=args.rk45_seconds, max_nfev=None)
        rows.append((sr, time.perf_counter() - t))
        for s, el in rows:
            ev = s.nfev + s.njev
            print(f"{repr(flow)[:43]:<44}{s.method:>8}{s.status:>8}{s.t_end:>11.4g}{s.nfev:>10}{s.njev:>7}"
                  f"{el:>9.3f}{1e6 * el / max(ev, 1):>9.1f}{s.loss[-1]:>13.4e}")
        ratio = sr.nfev / max(sd.nfev, 1)
        more = "" if sr.status == "ok" else f" (RK45 stopped at t={sr.t_end:.3g} of {T:g}: a lower bound)"
        print(f"  -> RK45 / default RHS evaluations: {ratio:,.3g}x{more}; default solve {tdef:.3f} s "
              f"({'under' if tdef < 1 else 'OVER'} 1 s)")

    # Python call overhead per right-hand-side evaluation
    flow = cases[1]
    y = np.concatenate([x0, obj.grad(x0) ** 2])
    kind, p, data = flow.kernel_kind, flow.params(), obj.data
    xs, gs, out = np.empty(10), np.empty(10), np.empty(20)
    rhs_c, _ = FK.specialised(obj.value_grad_fn, obj.hessian_fn)
    n = 20000
    t_clo = timeit.timeit(lambda: rhs_c(kind, p, 0.5, y, data, xs, gs), number=n) / n
    sig = FK.flow_rhs.compiled
    t_sig = timeit.timeit(lambda: sig(kind, p, 0.5, y, obj.value_grad_fn, data, xs, gs, out), number=2000) / 2000
    vg = obj.value_grad_fn
    t_vg = timeit.timeit(lambda: vg(x0, 1.0, data, gs), number=n) / n
    tdef, sd = best_of(lambda: flows.solve(flow, obj, x0, T))
    per = tdef / (sd.nfev + sd.njev)
    print(f"\nPython call overhead per RHS evaluation ({flow!r}):")
    print(f"  compiled closure over the objective (used by solve): {1e6 * t_clo:6.2f} us/call")
    print(f"  cached explicit-signature kernel, objective passed as a first-class function: "
          f"{1e6 * t_sig:6.2f} us/call ({t_sig / t_clo:.0f}x slower: dispatcher conversion per call)")
    print(f"  bare objective value_grad call: {1e6 * t_vg:6.2f} us")
    print(f"  whole solve: {1e6 * per:6.2f} us per evaluation (nfev + njev = {sd.nfev + sd.njev}); "
          f"the RHS call is {100 * t_clo * sd.nfev / tdef:.0f}% of the solve time, "
          f"the rest is the solver's own Python/Fortran work")


if __name__ == "__main__":
    main()
