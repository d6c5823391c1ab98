"""Prop. 4 of Ma, Wu & E: the signGD flow (5) on a PL function stops in finite time,
T <= 2 sqrt((f(x0) - f*)/mu). On f = c x^2 (mu = 4c) the bound equals the true stop
time |x0| for every c: the paper's remark that it is exact only at c = 1 uses
f(x0) = x0^2 instead of c x0^2. Solved as a Filippov system (sliding on the surfaces
g_i = 0): no chattering, a handful of segments, an exact stop time.

Run: python examples/signgd_filippov_prop4.py [--out signgd.png]
"""
import argparse

import numpy as np

import adadyn as ad
from adadyn import flows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    for c in (0.01, 1.0, 100.0):
        obj = ad.objectives.quadratic([[2 * c]])          # f = c x^2
        s = flows.solve(flows.SignGDFlow(), obj, [1.3], 5.0)
        bound = ad.analysis.signgd_stop_time_bound(obj, [1.3], mu=4 * c)
        print(f"f = {c:g} x^2, x0 = 1.3: stop time {s.stop_time:.12f} (exact 1.3), Prop. 4 bound {bound:.4g}")
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(1).standard_normal(10)
    s = flows.solve(flows.SignGDFlow(), obj, x0, 2.0)
    T = ad.analysis.signgd_stop_time_bound(obj, x0)
    print(f"random 10-d quadratic: stop time {s.stop_time:.6f}, Prop. 4 bound {T:.4g} "
          f"(mu = 2 lambda_min = {ad.analysis.pl_constant(obj):.3g}), |grad f| at the end {s.grad_norm[-1]:.1e}, "
          f"{s.n_steps} segments, {len(s.events['switch_times'])} switching events")
    # discrete signGD chatters around the sliding surfaces with an amplitude ~ eta * cond(A)
    # (cond(A) ~ 9e3 here), so it follows the flow's long sliding phase only for eta << 1e-4
    for eta in (1e-3, 1e-4, 1e-5):
        tr = ad.run(ad.SignGD(eta), obj, x0, int(round(2.0 / eta)))
        c = ad.analysis.compare(tr, s, T=2.0)
        c1 = ad.analysis.compare(tr, s, T=1.0)
        print(f"  discrete signGD eta={eta:g}: sup gap to the flow on [0, 1] {c1.gap_x:.3e}, on [0, 2] {c.gap_x:.3e}")
    for eps in (1e-4, 1e-6, 1e-8):
        e = flows.solve(flows.EpsSignFlow(eps), obj, x0, 2.0, rtol=1e-10, atol=1e-13)
        ts = np.linspace(0, 2, 401)
        print(f"  eps-sign flow (4), eps={eps:g}: sup gap to the Filippov flow {np.abs(e.x_at(ts) - s.x_at(ts)).max():.2e}")
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = ad.plotting.plot_signgd_flow(s, bound=lambda t: ad.analysis.signgd_loss_bound(obj, x0, t))
        ax.figure.savefig(args.out, dpi=120)
        plt.close(ax.figure)


if __name__ == "__main__":
    main()
