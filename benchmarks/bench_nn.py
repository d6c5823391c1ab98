"""Speed of the torch back end against bare torch, ratios measured in one run.

1. ``nn.train`` recording Figure 7's norms (|x|, |m|, |sqrt v|), the loss and
   |grad| every step, against a bare loop (zero_grad, forward, backward,
   ``torch.optim.Adam`` step) on the 5-100-100-1 ReLU network of Figure 1
   (right) of Ma, Wu & E, sine regression, 2000 points, full batch.
   Target: at most 1.15x.
2. A 16-point (a, b) grid of 5-20-20-1 networks on 2000 points: trained
   batched (``NetworkTask.run_chunk``, stacked weights) against the same 16
   runs of ``nn.train`` one after another, in float32 (torch's default) and
   float64. Target: at least 2.5x faster. The batched working set is 16 times
   larger (5 MB of activations in float64): on a machine whose memory bandwidth
   is shared the float64 gain is smaller.
3. ``device='cuda'`` when a GPU is present.

Usage: python benchmarks/bench_nn.py [--threads N] [--steps S] [--repeats R]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import adadyn as ad
from adadyn import nn
from adadyn.nn.sweep import NetworkTask


def _bare(model, X, Y, steps, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = X.shape[0]
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        r = model(X) - Y
        loss = (r * r).sum() / (2 * n)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def _ours(model, prob, steps, device="cpu", dtype=torch.float64):
    t0 = time.perf_counter()
    tr = nn.train(ad.Adam(1e-3), model, prob, steps, device=device, dtype=dtype)
    dt = time.perf_counter() - t0
    assert tr.status == "ok" and len(tr) == steps + 1
    return dt


def bench_overhead(steps, repeats, dtype, device="cpu"):
    prob = nn.sine_regression(2000, 5)
    X = prob.data["X"].to(device, dtype)
    Y = prob.data["Y"].to(device, dtype)
    bare, ours = [], []
    _bare(nn.mlp([5, 100, 100, 1], dtype=dtype).to(device), X, Y, 3)  # warm up (torch imports dynamo on a first step)
    _ours(nn.mlp([5, 100, 100, 1], dtype=dtype), prob, 3, device, dtype)
    for r in range(repeats):  # interleaved, so that machine noise hits both
        bare.append(_bare(nn.mlp([5, 100, 100, 1], dtype=dtype, seed=r).to(device), X, Y, steps))
        ours.append(_ours(nn.mlp([5, 100, 100, 1], dtype=dtype, seed=r), prob, steps, device, dtype))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"  5-100-100-1 sine, 2000 points, full batch, {dtype}, {device}, {steps} steps x {repeats} (median):")
    print(f"    bare torch loop (zero_grad, forward, backward, torch.optim.Adam): {b / steps * 1e3:8.3f} ms/step")
    print(f"    nn.train, loss/|g|/|x|/|m|/|sqrt v| every step:                  {o / steps * 1e3:8.3f} ms/step")
    print(f"    ratio nn.train / bare = {o / b:.3f}   (target <= 1.15)")
    return o / b


def bench_grid(steps, repeats, dtype="float64"):
    prob = nn.sine_regression(2000, 5)
    a = np.repeat(np.logspace(0, 2, 4), 4)
    b = np.tile(np.logspace(0, 2, 4), 4)
    task = NetworkTask(prob, (5, 20, 20, 1), ad.Adam(1e-3), steps, record_every=10, seed=0, dtype=dtype)
    points = {"a": a, "b": b}
    task.run_chunk({"a": a[:2], "b": b[:2]})  # warm up
    seq, bat = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out_b = task.run_chunk(points)
        bat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out_s = task.run_points(points)
        seq.append(time.perf_counter() - t0)
    both = np.isfinite(out_s["loss"]) & np.isfinite(out_b["loss"])
    agree = np.max(np.abs(out_b["loss"][both] - out_s["loss"][both]) / np.abs(out_s["loss"][both]))
    s, bt = statistics.median(seq), statistics.median(bat)
    print(f"  16-point (a, b) grid, 5-20-20-1 ReLU, sine 2000 points, full batch Adam eta=1e-3, {steps} steps, "
          f"{dtype}:")
    print(f"    one after another (nn.train per point): {s:7.3f} s")
    print(f"    batched (stacked weights, bmm):          {bt:7.3f} s")
    print(f"    speed-up = {s / bt:.2f}x   (target >= 2.5); largest relative loss difference {agree:.1e}")
    return s / bt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torch.set_num_threads({args.threads}) -> {torch.get_num_threads()} threads")
    print("1. recording overhead")
    bench_overhead(args.steps, args.repeats, torch.float64)
    bench_overhead(args.steps, args.repeats, torch.float32)
    print("2. batched grid")
    bench_grid(args.steps, max(1, args.repeats // 2), "float32")
    bench_grid(args.steps, max(1, args.repeats // 2), "float64")
    print("3. GPU")
    if torch.cuda.is_available():
        bench_overhead(args.steps, args.repeats, torch.float32, device="cuda")
    else:
        print("  no CUDA device: skipped (device='cuda' raises a clear ValueError here)")


if __name__ == "__main__":
    main()
