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

Every figure is over interleaved repeats (the order rotated each repeat): the median
ratio with its quartiles and range, by wall clock (the target) and by CPU time (less
sensitive to other processes on a shared machine), and the ratio of the fastest repeats
(other processes only add time). The bare loop is also timed with torch's fused Adam,
which nn.train uses, so that the cost of the recording alone is printed too.

In float64 the 1.6 MB activations of the 5-100-100-1 network sit at glibc's dynamic
mmap/trim thresholds: depending on the allocation history of the process, a loop may get
its memory back from the kernel every step (hundreds of minor page faults per step, printed,
about 1 ms) or not, whichever loop it is. For a comparison free of that lottery run with
MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=268435456 (fixed thresholds: no page
faults in any loop).

Usage: python benchmarks/bench_nn.py [--threads N] [--steps S] [--repeats R] [--part all|overhead|grid]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import adadyn as ad
from adadyn import nn
from adadyn.nn.sweep import NetworkTask


def _faults() -> int:
    """Minor page faults of this process so far (0 where getrusage is missing)."""
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except (ImportError, OSError):  # pragma: no cover - not POSIX
        return 0


FAULTS: dict = {}  # name -> page faults of each timed call


def _clock():
    return time.perf_counter(), time.process_time(), _faults()


def _since(t0):
    w, c, f = _clock()
    return w - t0[0], c - t0[1], f - t0[2]


def _bare(model, X, Y, steps, lr=1e-3, **adam):
    opt = torch.optim.Adam(model.parameters(), lr=lr, **adam)
    n = X.shape[0]
    t0 = _clock()
    for _ in range(steps):
        opt.zero_grad()
        r = model(X) - Y
        loss = (r * r).sum() / (2 * n)
        loss.backward()
        opt.step()
    return _since(t0)


def _ours(model, prob, steps, device="cpu", dtype=torch.float64):
    t0 = _clock()
    tr = nn.train(ad.Adam(1e-3), model, prob, steps, device=device, dtype=dtype)
    dt = _since(t0)
    assert tr.status == "ok" and len(tr) == steps + 1
    return dt


def interleaved(fns: dict, repeats: int) -> dict:
    """Run every function of ``fns`` once per repeat, in a rotated order each repeat (so that
    a slow spell of a shared machine hits each of them alike); ``{name: [(wall, cpu), ...]}``."""
    names = list(fns)
    out = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:
            out[k].append(fns[k](r))
    return out


def spread(ratios) -> str:
    """Median, quartiles and range of per-repeat ratios."""
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    return f"median {med:.3f} (quartiles {q1:.3f}-{q3:.3f}, range {min(ratios):.3f}-{max(ratios):.3f})"


def bench_overhead(steps, repeats, dtype, device="cpu"):
    prob = nn.sine_regression(2000, 5)
    X = prob.data["X"].to(device, dtype)
    Y = prob.data["Y"].to(device, dtype)

    def net(r):
        return nn.mlp([5, 100, 100, 1], dtype=dtype, seed=r)

    fns = {"bare": lambda r: _bare(net(r).to(device), X, Y, steps),
           "bare, fused Adam": lambda r: _bare(net(r).to(device), X, Y, steps, fused=True),
           "nn.train": lambda r: _ours(net(r), prob, steps, device, dtype)}
    for f in fns.values():  # warm up (torch imports dynamo on a first optimiser step)
        f(0)
    t = interleaved(fns, repeats)
    wall = {k: np.array([w for w, _, _ in v]) for k, v in t.items()}
    cpu = {k: np.array([c for _, c, _ in v]) for k, v in t.items()}
    faults = {k: np.median([f for _, _, f in v]) / steps for k, v in t.items()}
    print(f"  5-100-100-1 sine, 2000 points, full batch, {dtype}, {device}, {steps} steps x {repeats} repeats "
          f"(interleaved), ms/step (median):")
    print(f"    bare torch loop (zero_grad, forward, backward, torch.optim.Adam step): "
          f"{np.median(wall['bare']) / steps * 1e3:8.3f}")
    print(f"    the same with torch.optim.Adam(fused=True):                          "
          f"{np.median(wall['bare, fused Adam']) / steps * 1e3:8.3f}")
    print(f"    nn.train, loss/|g|/|x|/|m|/|sqrt v| every step (whole call):         "
          f"{np.median(wall['nn.train']) / steps * 1e3:8.3f}")
    r_wall = wall["nn.train"] / wall["bare"]
    print(f"    nn.train / bare, wall clock: {spread(r_wall)}   (target <= 1.15)")
    print(f"    nn.train / bare, fastest repeat of each (load only adds time): "
          f"{wall['nn.train'].min() / wall['bare'].min():.3f}")
    print(f"    nn.train / bare, CPU time:   {spread(cpu['nn.train'] / cpu['bare'])}")
    print(f"    nn.train / bare with fused Adam (the recording alone), wall clock: "
          f"{spread(wall['nn.train'] / wall['bare, fused Adam'])}")
    print("    minor page faults per step (median; each costs ~1-2 us: memory the allocator gave back and "
          "takes again): " + ", ".join(f"{k} {v:.0f}" for k, v in faults.items()))
    # the per-step cost of the loop itself, on 2 points (forward and backward cost next to nothing)
    tiny = nn.sine_regression(2, 5)
    Xt, Yt = tiny.data["X"].to(device, dtype), tiny.data["Y"].to(device, dtype)
    ts = 10 * steps
    fns = {"bare": lambda r: _bare(net(r).to(device), Xt, Yt, ts),
           "nn.train": lambda r: _ours(net(r), tiny, ts, device, dtype)}
    t = interleaved(fns, max(3, repeats // 3))
    extra = (np.median([c for _, c, _ in t["nn.train"]]) - np.median([c for _, c, _ in t["bare"]])) / ts
    print(f"    loop cost per step on 2 points (CPU time): nn.train - bare = {extra * 1e6:+.0f} us, "
          f"{extra / (np.median(cpu['bare']) / steps):+.1%} of a 2000-point bare step")
    return float(np.median(r_wall))


def bench_grid(steps, repeats, dtype="float64"):
    prob = nn.sine_regression(2000, 5)
    a = np.repeat(np.logspace(0, 2, 4), 4)
    b = np.tile(np.logspace(0, 2, 4), 4)
    task = NetworkTask(prob, (5, 20, 20, 1), ad.Adam(1e-3), steps, record_every=10, seed=0, dtype=dtype)
    points = {"a": a, "b": b}
    res = {}

    def timed(name, fn):
        def run(r):
            t0 = _clock()
            res[name] = fn(points)
            return _since(t0)
        return run

    fns = {"batched": timed("batched", task.run_chunk), "one after another": timed("seq", task.run_points)}
    task.run_chunk({"a": a[:2], "b": b[:2]})  # warm up
    task.run_points({"a": a[:1], "b": b[:1]})
    t = interleaved(fns, repeats)
    wall = {k: np.array([w for w, _, _ in v]) for k, v in t.items()}
    cpu = {k: np.array([c for _, c, _ in v]) for k, v in t.items()}
    out_b, out_s = res["batched"], res["seq"]
    both = np.isfinite(out_s["loss"]) & np.isfinite(out_b["loss"])
    agree = np.max(np.abs(out_b["loss"][both] - out_s["loss"][both]) / np.abs(out_s["loss"][both]))
    print(f"  16-point (a, b) grid, 5-20-20-1 ReLU, sine 2000 points, full batch Adam eta=1e-3, {steps} steps, "
          f"{dtype}, {repeats} repeats (interleaved), median s:")
    print(f"    one after another (nn.train per point): {np.median(wall['one after another']):7.3f}")
    print(f"    batched (NetworkTask.run_chunk):         {np.median(wall['batched']):7.3f}")
    r_wall = wall["one after another"] / wall["batched"]
    print(f"    speed-up, wall clock: {spread(r_wall)}   (target >= 2.5)")
    print(f"    speed-up, fastest repeat of each: {wall['one after another'].min() / wall['batched'].min():.2f}")
    print(f"    speed-up, CPU time:   {spread(cpu['one after another'] / cpu['batched'])}")
    print(f"    largest relative loss difference batched vs one after another: {agree:.1e}")
    return float(np.median(r_wall))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--part", choices=("all", "overhead", "grid"), default="all")
    args = ap.parse_args()
    nn.set_num_threads(args.threads)  # an explicit choice: nn.train keeps it (no default rule)
    print(f"torch {torch.__version__}, torch.set_num_threads({args.threads}) -> {torch.get_num_threads()} threads")
    if args.part in ("all", "overhead"):
        print("1. recording overhead")
        bench_overhead(args.steps, args.repeats, torch.float64)
        bench_overhead(args.steps, args.repeats, torch.float32)
    if args.part in ("all", "grid"):
        print("2. batched grid")
        bench_grid(2 * args.steps, max(3, args.repeats // 2), "float32")
        bench_grid(2 * args.steps, max(3, args.repeats // 2), "float64")
    print("3. GPU")
    if torch.cuda.is_available():
        bench_overhead(args.steps, args.repeats, torch.float32, device="cuda")
    else:
        print("  no CUDA device: skipped (device='cuda' raises a clear ValueError here)")


if __name__ == "__main__":
    main()
