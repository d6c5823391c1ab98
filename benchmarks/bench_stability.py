"""Costs of the linearisation tools, as ratios measured in one run.

1. lambda_max for the critical learning rate: dense ``eigvalsh`` of the Hessian
   vs Lanczos (scipy ``eigsh``) on Hessian-vector products, d = 2000 quadratic
   and a d = 200,000 diagonal quadratic (dense impossible there).
2. One step of the map: adadyn.analysis.maps.StateMap (NumPy) vs
   ``ad.discrete.step`` (Python wrapper around the Numba kernel) vs the Numba
   driver ``ad.run`` per step.
3. DF(z): the analytic Jacobian vs central finite differences of F (2n map calls).

    python benchmarks/bench_stability.py
"""
import time

import numpy as np

import adadyn as ad
from adadyn.analysis.maps import state_map


def best(fn, repeat=5, number=1):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        ts.append((time.perf_counter() - t0) / number)
    return min(ts)


def main():
    rng = np.random.default_rng(0)
    print("1. lambda_max for critical_learning_rate (RMSprop, eps = 1e-8)")
    d = 2000
    U = rng.standard_normal((d, d)) / np.sqrt(d)
    obj = ad.objectives.quadratic(U @ U.T)
    x = np.zeros(d)
    opt = ad.RMSprop(1e-3)
    t_dense = best(lambda: ad.analysis.critical_learning_rate(opt, obj, x, method="dense"), repeat=2)
    t_lanc = best(lambda: ad.analysis.critical_learning_rate(opt, obj, x, method="lanczos"), repeat=2)
    e1 = float(ad.analysis.critical_learning_rate(opt, obj, x, method="dense"))
    e2 = float(ad.analysis.critical_learning_rate(opt, obj, x, method="lanczos"))
    print(f"   d = {d}: dense {t_dense * 1e3:.1f} ms, Lanczos {t_lanc * 1e3:.1f} ms "
          f"(dense / Lanczos = {t_dense / t_lanc:.2f}); eta_c agree to {abs(e1 - e2) / e1:.1e}")
    h = rng.uniform(0.1, 5.0, 200_000)
    h[0] = 9.0  # an isolated top eigenvalue; Lanczos needs a spectral gap to converge fast
    big = ad.objectives.diagonal_quadratic(h)
    t_big = best(lambda: ad.analysis.critical_learning_rate(opt, big, np.zeros(h.size)), repeat=2)
    print(f"   d = 200,000 diagonal quadratic, Lanczos on finite-difference HVPs: {t_big * 1e3:.0f} ms "
          f"(dense would need a 320 GB Hessian)")

    print("2. one step of the map, d = 10 (Adam, t -> infinity map)")
    obj10 = ad.objectives.random_quadratic(10)
    adam = ad.Adam(1e-3, bias_correction=False)
    F = state_map(adam, obj10)
    z = np.r_[rng.standard_normal(20), np.abs(rng.standard_normal(10))]
    st = F.to_state(z)
    ad.discrete.step(adam, obj10, st)
    n = 2000
    t_np = best(lambda: F(z), number=n)
    t_step = best(lambda: ad.discrete.step(adam, obj10, st), number=n)
    ad.run(adam, obj10, steps=10, state=st, record_state=False)
    t_run = best(lambda: ad.run(adam, obj10, steps=100_000, state=st, record_state=False), repeat=3) / 100_000
    print(f"   StateMap (NumPy) {t_np * 1e6:.1f} us, discrete.step {t_step * 1e6:.1f} us, "
          f"ad.run {t_run * 1e9:.0f} ns/step;  StateMap / run = {t_np / t_run:.0f}, "
          f"step / StateMap = {t_step / t_np:.2f}")

    print("3. Jacobian DF(z), n = 30")
    hh = 1e-6
    eye = np.eye(F.size)

    def fd():
        return np.column_stack([(F(z + hh * e) - F(z - hh * e)) / (2 * hh) for e in eye])

    t_an = best(lambda: F.jacobian(z), number=200)
    t_fd = best(fd, number=20)
    err = np.max(np.abs(F.jacobian(z) - fd())) / np.max(np.abs(F.jacobian(z)))
    print(f"   analytic {t_an * 1e6:.0f} us, central differences {t_fd * 1e6:.0f} us "
          f"(FD / analytic = {t_fd / t_an:.1f}); relative difference {err:.1e}")


if __name__ == "__main__":
    main()
