"""Classifying the 1024 loss curves of a 32 x 32 x 20,000-step (a, b) sweep.

Prints, from one run: the ``run_grid`` kernel that produces the curves, a Python
loop of :func:`classify` over them, and one :func:`classify_many` call (Numba
``prange``), with the ratios. Labels of the two classifiers are checked equal.

    python benchmarks/bench_classify.py [--n 32] [--steps 20000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import adadyn as ad
from adadyn.analysis import classify, classify_many
from adadyn.discrete import run_grid


def best(fn, repeat):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t.append(time.perf_counter() - t0)
    return min(t), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    eta = 1e-3
    obj = ad.objectives.random_quadratic(10, 0)
    x0 = np.random.default_rng(0).standard_normal(10)
    g = np.logspace(-1, 2, args.n)
    A, B = np.meshgrid(g, g, indexing="ij")
    opt = ad.Adam(eta)
    rec = max(1, args.steps // 2000)
    kw = dict(beta1=1 - B.ravel() * eta, beta2=1 - A.ravel() * eta)
    run_grid(opt, obj, x0, 100, record_every=10, beta1=kw["beta1"][:4], beta2=kw["beta2"][:4])  # compile
    t_grid, res = best(lambda: run_grid(opt, obj, x0, args.steps, record_every=rec, **kw), args.repeat)
    loss = np.asarray(res.loss) if hasattr(res, "loss") else np.asarray(res["loss"])
    step = rec * np.arange(loss.shape[1])
    classify_many(loss[:2], step)  # compile / load the cache
    t_loop, labels_loop = best(lambda: [classify(row, step).label for row in loss], args.repeat)
    t_many, ra = best(lambda: classify_many(loss, step), args.repeat)
    assert list(ra.label) == labels_loop, "classify_many differs from classify"
    G, n = loss.shape
    print(f"{G} curves x {n} samples ({args.steps} steps, record_every={rec}); best of {args.repeat}")
    print(f"  run_grid kernel      {t_grid:8.3f} s")
    print(f"  classify loop        {t_loop:8.3f} s   ({1e3 * t_loop / G:.3f} ms/curve, {t_loop / t_grid:.2f}x run_grid)")
    print(f"  classify_many        {t_many:8.3f} s   ({1e3 * t_many / G:.3f} ms/curve, {t_many / t_grid:.2f}x run_grid,"
          f" {t_loop / t_many:.1f}x faster than the loop)")
    print(f"  labels: {dict(zip(*np.unique(ra.label, return_counts=True)))}")


if __name__ == "__main__":
    main()
