"""Big (a, b) sweeps in bounded memory: 256 x 256 grid x 20,000 Adam steps, 10-d quadratic.

Each measurement runs in a fresh subprocess, which reports its wall time and
its peak resident memory (VmHWM from /proc/self/status):

* kernel: the bare ``run_grid`` over the whole grid (the kernel time, and the
  memory of holding every loss history);
* engine: ``run_sweep`` of an ``OptimizerTask`` with the same store, thinning
  and progress, without classification (the engine's own overhead);
* sweep: ``phase_diagram`` with thinned histories (``history=201``), a store and
  a text progress meter: every point's label and features, bounded memory;
* resume: the same sweep killed (SIGKILL) after a quarter of its chunks, then
  rerun to completion; the result must equal the uninterrupted one bit for bit;
* dask: a smaller grid on a dask LocalCluster (2 worker processes), equal bit for
  bit to the in-process result.

Ratios are from one run of this script; the machine may be shared.

    python benchmarks/bench_sweep_scale.py [--n 256] [--steps 20000] [--dask-n 32]
"""
from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # measure this checkout

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ETA = 1e-3


def vmhwm_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _setup(n):
    import numpy as np

    import adadyn as ad

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    grid = np.logspace(-1, 2, n)
    return ad, np, obj, x0, grid


def role_kernel(args):
    ad, np, obj, x0, grid = _setup(args.n)
    from adadyn.discrete import run_grid

    A, B = np.meshgrid(grid, grid, indexing="ij")
    run_grid(ad.Adam(ETA), obj, x0, 50, record_every=10, a=A[:2, :2], b=B[:2, :2])  # load the JIT cache
    t = time.perf_counter()
    gr = run_grid(ad.Adam(ETA), obj, x0, args.steps, record_every=max(1, args.steps // 2000),
                  window=args.steps // 4, a=A, b=B)
    dt = time.perf_counter() - t
    return {"time": dt, "points": int(gr.status.size)}


def role_sweep(args):
    ad, np, obj, x0, grid = _setup(args.n)
    from adadyn.analysis import phase_diagram
    from adadyn.sweep import TextProgress

    phase_diagram(obj, x0, grid[:2], grid[:2], ETA, 50)  # load the JIT cache
    t = time.perf_counter()
    pd = phase_diagram(obj, x0, grid, grid, ETA, args.steps, history=201, out=args.out,
                       progress=TextProgress(every=5.0))
    dt = time.perf_counter() - t
    np.savez(args.save, regime_code=pd.regime_code, late=pd.late_mean_log10_loss, loss=pd.loss,
             final_x=pd.final_x, spikes=pd.spike_count, level=pd.level)
    return {"time": dt, "counts": pd.counts(), "computed": pd.sweep.sweep.computed,
            "loaded": pd.sweep.sweep.loaded}


def role_engine(args):
    ad, np, obj, x0, grid = _setup(args.n)
    from adadyn.sweep import Grid, OptimizerTask, TextProgress, run_sweep

    task = OptimizerTask(ad.Adam(ETA), obj, x0, args.steps, record_every=max(1, args.steps // 2000),
                         window=args.steps // 4, history=201)
    run_sweep(OptimizerTask(ad.Adam(ETA), obj, x0, 50, record_every=10), Grid(a=grid[:2], b=grid[:2]))
    t = time.perf_counter()
    res = run_sweep(task, Grid(a=grid, b=grid), out=args.out, progress=TextProgress(every=5.0))
    return {"time": time.perf_counter() - t, "points": int(res.status.size)}


def role_dask(args):
    ad, np, obj, x0, grid = _setup(args.dask_n)
    from distributed import Client, LocalCluster

    from adadyn.analysis import phase_diagram

    local = phase_diagram(obj, x0, grid, grid, ETA, args.steps, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as client:
        t = time.perf_counter()
        far = phase_diagram(obj, x0, grid, grid, ETA, args.steps, executor=client, progress=False)
        dt = time.perf_counter() - t
    same = all(np.array_equal(getattr(local, k), getattr(far, k), equal_nan=True)
               for k in ("loss", "final_x", "regime_code", "late_mean_log10_loss", "level", "trend"))
    return {"time": dt, "same": bool(same), "points": int(local.regime.size)}


def _env():
    root = str(Path(__file__).resolve().parents[1])
    return dict(os.environ, PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))


def child(role, args, extra=(), kill_after_chunks=None):
    cmd = [sys.executable, __file__, "--role", role, "--n", str(args.n), "--steps", str(args.steps),
           "--dask-n", str(args.dask_n), *extra]
    if kill_after_chunks is None:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=_env())
        if p.returncode != 0:
            raise SystemExit(f"{role} failed with exit code {p.returncode}")
        return json.loads(p.stdout.strip().splitlines()[-1])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_env())
    out = Path(extra[extra.index("--out") + 1])
    while len(list(out.glob("chunk_*.npz"))) < kill_after_chunks and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return len(list(out.glob("chunk_*.npz")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--dask-n", type=int, default=32)
    ap.add_argument("--role", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--skip-resume", action="store_true")
    args = ap.parse_args()
    if args.role is not None:
        res = {"kernel": role_kernel, "engine": role_engine, "sweep": role_sweep, "dask": role_dask}[args.role](args)
        res["peak_rss_mb"] = vmhwm_mb()
        print(json.dumps(res))
        return

    import numba
    import numpy as np

    print(f"{args.n}x{args.n} (a, b) grid = {args.n ** 2} points, {args.steps} Adam steps each, d = 10, "
          f"{numba.get_num_threads()} Numba threads, {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="adadyn-bench-sweep-"))
    try:
        k = child("kernel", args)
        print(f"bare run_grid (all histories in memory): {k['time']:7.2f} s, peak RSS {k['peak_rss_mb']:7.0f} MB")
        e = child("engine", args, ["--out", str(tmp / "e")])
        print(f"run_sweep(OptimizerTask), history=201, store, progress, no classification: {e['time']:7.2f} s, "
              f"peak RSS {e['peak_rss_mb']:7.0f} MB   ratio to bare kernel {e['time'] / k['time']:.2f}x")
        s = child("sweep", args, ["--out", str(tmp / "a"), "--save", str(tmp / "a.npz")])
        print(f"phase_diagram, history=201, store, progress : {s['time']:7.2f} s, peak RSS "
              f"{s['peak_rss_mb']:7.0f} MB   regimes {s['counts']}")
        print(f"ratio sweep / bare kernel: {s['time'] / k['time']:.2f}x   (target <= 1.3x; peak RSS target < 2048 MB)")
        if not args.skip_resume:
            n_chunks = len(list((tmp / "a").glob("chunk_*.npz")))
            done = child("sweep", args, ["--out", str(tmp / "b"), "--save", str(tmp / "b.npz")],
                         kill_after_chunks=max(1, n_chunks // 4))
            r = child("sweep", args, ["--out", str(tmp / "b"), "--save", str(tmp / "b.npz")])
            with np.load(tmp / "a.npz") as za, np.load(tmp / "b.npz") as zb:
                same = all(np.array_equal(za[key], zb[key], equal_nan=True) for key in za.files)
            print(f"killed after {done}/{n_chunks} chunks; resume loaded {r['loaded']}, computed {r['computed']} "
                  f"in {r['time']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB; equal to the uninterrupted "
                  f"sweep bit for bit: {same}")
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("dask: skipped (distributed is not installed)")
        else:
            d = child("dask", args)
            print(f"dask LocalCluster (2 processes), {d['points']} points: {d['time']:.2f} s, "
                  f"equal to in-process bit for bit: {d['same']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
