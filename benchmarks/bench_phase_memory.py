"""Peak memory of a default ``phase_diagram``: the memory budget against keeping everything.

256 x 256 (a, b) grid x 20,000 Adam steps on the 10-d quadratic of Figure 5 (f* known, so
loss and |grad f| histories are kept), default arguments. Each case runs in a fresh
subprocess, which reports its wall time, its peak resident memory (VmHWM from
/proc/self/status), the records kept per history and a digest of the labels and features:

* budget: the default ``memory_budget`` (``adadyn.analysis.hyper.RESULT_BUDGET``, 1 GiB);
* all: ``memory_budget=None``, every record kept (the behaviour before the budget).

The digests must be equal (the budget changes no label). One run of each; the machine may
be shared.

    python benchmarks/bench_phase_memory.py [--n 256] [--steps 20000]
"""
from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # measure this checkout

import argparse
import json
import subprocess
import sys
import time


def vmhwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def role(args) -> dict:
    import hashlib

    import numpy as np

    import adadyn as ad
    from adadyn.analysis import phase_diagram

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    grid = np.logspace(-1, 2, args.n)
    kw = {} if args.role == "budget" else {"memory_budget": None}
    t = time.perf_counter()
    pd = phase_diagram(obj, x0, grid, grid, 1e-3, args.steps, **kw)
    dt = time.perf_counter() - t
    h = hashlib.sha256()
    for name in ("regime_code", "spike_count", "osc_amplitude", "level", "trend", "late_mean_log10_loss"):
        h.update(np.ascontiguousarray(getattr(pd, name)).tobytes())
    kept = pd.loss.nbytes + (0 if pd.grad_norm is None else pd.grad_norm.nbytes)
    return {"time": dt, "peak_mib": vmhwm_mib(), "records": int(pd.step.size), "kept_mib": kept / 2**20,
            "labels": h.hexdigest()[:16]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--role", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role is not None:
        print(json.dumps(role(args)))
        return
    res = {}
    for case in ("budget", "all"):
        p = subprocess.run([sys.executable, __file__, "--role", case, "--n", str(args.n), "--steps", str(args.steps)],
                           stdout=subprocess.PIPE, text=True, check=True)
        res[case] = json.loads(p.stdout.strip().splitlines()[-1])
        r = res[case]
        print(f"{case:>6}: {r['records']} records per history, {r['kept_mib']:.0f} MiB of histories, "
              f"peak RSS {r['peak_mib']:.0f} MiB, {r['time']:.1f} s, labels {r['labels']}")
    print(f"peak RSS budget / all = {res['budget']['peak_mib'] / res['all']['peak_mib']:.2f}; "
          f"labels {'equal' if res['budget']['labels'] == res['all']['labels'] else 'DIFFER'}")


if __name__ == "__main__":
    main()
