"""The kernels are plain Python under NUMBA_DISABLE_JIT=1 (for coverage and debugging)
and then give exactly the JIT's bits; and a property check over random hyperparameters."""
import json
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings, strategies as st

import adadyn as ad

import reference as ref

SCRIPT = """
import json, sys, numpy as np, adadyn as ad
obj = ad.objectives.random_quadratic(5, seed=2)
x0 = np.linspace(-1, 1, 5)
out = {}
for opt in [ad.Adam(1e-2, beta1=0.8, beta2=0.95), ad.AMSGrad(1e-2), ad.AdaFix(1e-2), ad.SignGD(1e-2)]:
    out[opt.name] = ad.run(opt, obj, x0, 40).x.tolist()
out["grid"] = ad.discrete.run_grid(ad.Adam(1e-2), obj, x0, 40, record_every=5, a=[1.0, 10.0]).loss.tolist()
json.dump(out, sys.stdout)
"""


def test_python_mode_gives_the_jit_bits():
    runs = []
    for disable in ("1", "0"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=disable)
        r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(r.stdout))
    assert runs[0] == runs[1]


@settings(max_examples=40, deadline=None)
@given(eta=st.floats(1e-4, 3e-2), beta1=st.floats(0.0, 0.999), beta2=st.floats(0.0, 0.9999),
       eps=st.floats(1e-10, 1e-2), bc=st.booleans())
def test_adam_matches_reference_for_any_hyperparameters(eta, beta1, beta2, eps, bc):
    obj = ad.objectives.quadratic(np.diag([1.0, 2.0, 3.0]), center=[0.5, -1.0, 2.0])
    x0 = np.array([3.0, 2.0, -4.0])
    tr = ad.run(ad.Adam(eta, beta1=beta1, beta2=beta2, eps=eps, bias_correction=bc), obj, x0, 30)
    x, m, v = x0.copy(), np.zeros(3), np.zeros(3)
    for k in range(1, 31):
        x, m, v = ref.adam(x, m, v, obj.grad(x), k, eta, beta1, beta2, eps, bc)
    np.testing.assert_allclose(tr.final_state.x, x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr.final_state.v, v, rtol=1e-12, atol=1e-300)
