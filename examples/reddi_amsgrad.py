"""Reddi, Kale & Kumar (2018), Theorem 1: on f_t(x) = C x if t mod 3 == 1 else -x over
[-1, 1] (C = 3), Adam with beta1 = 0, beta2 = 1/(1 + C^2) drifts to x = +1 and its
average regret tends to 2/3 (each 3-step period costs 2C - 4 = 2 against x* = -1);
AMSGrad goes to -1 and its average regret vanishes.

Run: python examples/reddi_amsgrad.py
"""
import numpy as np

import adadyn as ad

C = 3.0
T = 300_000
obj = ad.objectives.reddi_online(C)
kw = dict(beta1=0.0, beta2=1.0 / (1.0 + C**2), eps=1e-8, schedule=ad.InverseSqrt())
t = np.arange(1, T + 1)
f_star = np.where(t % 3 == 1, -C, 1.0)
print(f"{'method':>28} {'mean x (last 10%)':>18} {'R_T / T':>9}")
for name, opt in [("Adam (no bias correction)", ad.Adam(0.5, bias_correction=False, **kw)),
                  ("Adam (bias-corrected)", ad.Adam(0.5, **kw)),
                  ("AMSGrad (Reddi et al.)", ad.AMSGrad(0.5, variant="reddi", **kw)),
                  ("AMSGrad (PyTorch)", ad.AMSGrad(0.5, **kw))]:
    tr = ad.run(opt, obj, [0.0], T)
    regret = np.sum(tr.loss[:-1] - f_star)
    print(f"{name:>28} {tr.x[-T // 10:, 0].mean():18.4f} {regret / T:9.4f}")
