"""(a, b) sweep: 32 x 32 grid, 20,000 Adam steps per point, 10-d quadratic.

adadyn (``phase_diagram``: Numba prange over grid points via ``run_grid``, then
classification of every loss history) against a NumPy loop vectorised over the
grid (G x d arrays, one batched step per iteration), and ``jax.vmap`` of a
``lax.scan`` when JAX is installed. All compute the loss at every step (the
late-window statistics need it). Ratios are measured in one run; the machine
may be shared, so absolute times are noisy.

    python benchmarks/bench_phase.py [--n 32] [--steps 20000] [--repeat 3]
"""
from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))  # measure this checkout

import argparse
import os
import time

import numpy as np

import adadyn as ad
from adadyn.analysis import phase_diagram
from adadyn.discrete import run_grid


def numpy_sweep(A, x0, beta1, beta2, eta, eps, steps, window):
    """Adam (eq. (3), PyTorch's formula) at G grid points at once; returns final x and
    the late mean of log10 f over the last ``window`` steps."""
    G, d = beta1.size, x0.size
    b1, b2 = beta1[:, None], beta2[:, None]
    x = np.tile(x0, (G, 1))
    m = np.zeros((G, d))
    v = np.zeros((G, d))
    p1 = np.ones((G, 1))
    p2 = np.ones((G, 1))
    acc = np.zeros(G)
    for k in range(steps + 1):
        g = x @ A
        f = 0.5 * np.einsum("ij,ij->i", x, g)
        if k >= steps - window + 1:
            acc += np.log10(np.maximum(np.abs(f), 1e-300))
        if k == steps:
            break
        p1 *= b1
        p2 *= b2
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - (eta / (1 - p1)) * m / (np.sqrt(v) / np.sqrt(1 - p2) + eps)
    return x, acc / window


def jax_sweep(A, x0, beta1, beta2, eta, eps, steps, window):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    Aj = jnp.asarray(A)

    def one(b1, b2):
        def body(c, k):
            x, m, v, p1, p2 = c
            g = Aj @ x
            f = 0.5 * x @ g
            p1, p2 = p1 * b1, p2 * b2
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            x = x - (eta / (1 - p1)) * m / (jnp.sqrt(v) / jnp.sqrt(1 - p2) + eps)
            return (x, m, v, p1, p2), jnp.log10(jnp.maximum(jnp.abs(f), 1e-300))

        z = jnp.zeros_like(jnp.asarray(x0))
        (x, *_), lf = jax.lax.scan(body, (jnp.asarray(x0), z, z, 1.0, 1.0), jnp.arange(steps))
        return x, lf[steps - window:].mean()

    fn = jax.jit(jax.vmap(one))
    fn(jnp.asarray(beta1), jnp.asarray(beta2))[0].block_until_ready()
    t = time.perf_counter()
    x, lm = fn(jnp.asarray(beta1), jnp.asarray(beta2))
    x.block_until_ready()
    return time.perf_counter() - t, np.asarray(x), np.asarray(lm)


def best(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import numba

    eta, eps, n, steps = 1e-3, 1e-8, args.n, args.steps
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    grid = np.logspace(-1, 2, n)
    Ag, Bg = np.meshgrid(grid, grid, indexing="ij")
    window = steps // 4
    print(f"{n}x{n} (a, b) grid, {steps} steps, d = 10, {numba.get_num_threads()} Numba threads, "
          f"{os.cpu_count()} cores")

    t = time.perf_counter()
    phase_diagram(obj, x0, grid[:2], grid[:2], eta, 200)
    print(f"first call (JIT load/compile): {time.perf_counter() - t:.2f} s")

    t_pd, pd = best(lambda: phase_diagram(obj, x0, grid, grid, eta, steps), args.repeat)
    opt = ad.Adam(eta, eps=eps)
    X0 = np.tile(x0, (n * n, 1)).reshape(n, n, 10)
    t_grid, gr = best(lambda: run_grid(opt, obj, X0, steps, record_every=10, window=window, a=Ag, b=Bg),
                      args.repeat)
    b1, b2 = 1 - Bg.ravel() * eta, 1 - Ag.ravel() * eta
    t_np, (x_np, lm_np) = best(lambda: numpy_sweep(obj.A, x0, b1, b2, eta, eps, steps, window),
                               max(1, args.repeat - 1))

    print(f"adadyn phase_diagram (run_grid + classify {n * n} curves): {t_pd:7.3f} s")
    print(f"adadyn run_grid alone                          : {t_grid:7.3f} s")
    print(f"NumPy loop vectorised over the grid (G x d)    : {t_np:7.3f} s")
    print(f"ratio NumPy / adadyn phase_diagram: {t_np / t_pd:6.2f}x   (target >= 10x; whole sweep < 10 s)")
    print(f"ratio NumPy / adadyn run_grid     : {t_np / t_grid:6.2f}x")
    lm = gr.late_mean_log10_loss.ravel()
    # same formula, different rounding order: agreement until the chaotic late phase amplifies it
    close = np.abs(lm - lm_np) < 0.5
    print(f"late mean log10 loss, adadyn vs NumPy: within 0.5 decade at {close.mean():.1%} of points; "
          f"median |diff| {np.median(np.abs(lm - lm_np)):.2e}")
    try:
        import jax  # noqa: F401
    except ImportError:
        print("jax.vmap: skipped (JAX is not installed)")
    else:
        t_jax, _, _ = jax_sweep(obj.A, x0, b1, b2, eta, eps, steps, window)
        print(f"jax jit(vmap(scan))                            : {t_jax:7.3f} s   "
              f"ratio JAX / adadyn run_grid {t_jax / t_grid:.2f}x")
    print("regimes:", pd.counts())


if __name__ == "__main__":
    main()
