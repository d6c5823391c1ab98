"""Cost of solving a flow on a network (``nn.objective``) against the discrete run it models.

For each network: ``nn.train`` (Adam or RMSprop, full batch, float64) for ``steps`` steps at
eta, against ``flows.solve`` of its flow (8) / (7) over the same time t = eta * steps, by an
explicit method (DOP853) and, for the RMSprop flow, by the matrix-free implicit BDF
(Newton-Krylov, :mod:`adadyn.flows.krylov`). Printed: field (gradient) evaluations,
Hessian-vector products (implicit only), wall and CPU seconds, the ratio to the run, and the
gap sup_t |X^eta(t) - x(t)| of the run to the flow.

Networks: 64-32-32-2 tanh on 2-class digits (3.2k parameters) and the 5-100-100-1 network of
Figure 1 (right) of Ma, Wu & E on sine regression (10.8k parameters, ``--points`` points), with
tanh and with the paper's ReLU. Each flow solve stops after ``--time-limit`` seconds (status
'failed', the time reached printed): the ReLU network's Adam flow from m = v = 0 is stiff
(a fifth of its parameters have exactly zero gradient, more have tiny ones, where the field's
eigenvalues are ~lambda/(sqrt(v) + eps)) and crawls.

Usage: python benchmarks/bench_nn_flows.py [--steps 300] [--eta 1e-3] [--points 500] [--rtol 1e-6] [--time-limit 120]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eta", type=float, default=1e-3)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--skip-implicit", action="store_true")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per flow solve")
    args = ap.parse_args()

    import adadyn as ad
    from adadyn import flows, nn
    from adadyn.analysis import compare

    nn.set_num_threads(1)
    eta, steps = args.eta, args.steps
    T = eta * steps
    nets = [("digits 64-32-32-2 tanh", nn.mlp([64, 32, 32, 2], "tanh", seed=0), nn.digits(2)),
            ("sine 5-100-100-1 tanh", nn.mlp([5, 100, 100, 1], "tanh", seed=0),
             nn.sine_regression(n=args.points, dim=5)),
            ("sine 5-100-100-1 relu", nn.mlp([5, 100, 100, 1], "relu", seed=0),
             nn.sine_regression(n=args.points, dim=5))]
    cases = [("Adam (a, b) = (1, 10)", lambda e: ad.Adam.from_ab(e, 1.0, 10.0), None),
             ("RMSprop a = 10, v0 = 1e-2", lambda e: ad.RMSprop.from_a(e, 10.0), 1e-2)]
    print(f"eta = {eta:g}, {steps} steps, t in [0, {T:g}], rtol = {args.rtol:g}")
    for label, model, prob in nets:
        obj = nn.objective(model, prob)
        print(f"\n{label}: d = {obj.dim}, n = {prob.n}")
        for cname, make, v0 in cases:
            spec = make(eta)
            v = None if v0 is None else np.full(obj.dim, v0)
            tr, tw, tc = timed(lambda: obj.train(spec, steps, v0=v))
            print(f"  {cname}: run  {steps + 1:6d} gradients         {tw:7.2f} s wall {tc:7.2f} s cpu")
            methods = ["DOP853"] + ([] if (v0 is None or args.skip_implicit) else ["BDF"])
            for m in methods:
                fl = flows.limit(spec)
                sol, sw, sc = timed(lambda: flows.solve(fl, obj, obj.x0, T, v0=v, method=m, rtol=args.rtol,
                                                        atol=args.rtol * 1e-2, time_limit=args.time_limit))
                gap = compare(tr, sol).gap_x if sol.status == "ok" else float("nan")
                if sol.status != "ok":
                    print(f"    (stopped at t = {sol.t_end:.3g} of {T:g}: {sol.message})")
                print(f"  {cname}: flow {sol.nfev:6d} field evals ({sol.method}, {sol.njev} Jacobians) "
                      f"{sw:7.2f} s wall {sc:7.2f} s cpu  = {sw / tw:5.2f}x the run; gap {gap:.3e}; {sol.status}")


if __name__ == "__main__":
    main()
