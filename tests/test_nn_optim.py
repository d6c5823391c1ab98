"""adadyn.nn.optimizer / nn.train against adadyn.run on least squares (float64).

A bias-free linear model on ``regression(X, y)`` is ``least_squares(X, y)``; the
torch run and the Numba kernel run must agree to 1e-12 relative over the
transient (every gradient component stays far from zero, asserted), and step
by step from a shared state near the minimum, where whole-run agreement is
impossible (docs/performance.md: the map amplifies rounding there).
"""
import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # 2 threads on a shared 2-core machine oversubscribe: tiny ops take ms
from adadyn import nn  # noqa: E402
from adadyn.discrete import kernels as K  # noqa: E402
from adadyn.nn import optim as O  # noqa: E402

SPECS = {
    "gd": (ad.GD(0.01), O.TorchSGD),
    "signgd": (ad.SignGD(1e-2), O.SignOptimizer),
    "rmsprop": (ad.RMSprop(1e-2, alpha=0.9), O.TorchRMSprop),
    "rmsprop_from_a": (ad.RMSprop.from_a(1e-2, a=5.0), O.TorchRMSprop),
    "rmsprop_eps_inside": (ad.RMSprop(1e-2, alpha=0.95, eps=1e-6, eps_inside=True), O.MomentOptimizer),
    "adam": (ad.Adam(1e-2), O.TorchAdam),
    "adam_from_ab": (ad.Adam.from_ab(1e-2, a=2.0, b=20.0), O.TorchAdam),
    "adam_eps_inside": (ad.Adam(1e-2, eps=1e-6, eps_inside=True), O.MomentOptimizer),
    "adam_no_bias_correction": (ad.Adam(1e-2, bias_correction=False), O.MomentOptimizer),
    "amsgrad_pytorch": (ad.AMSGrad(1e-2, beta2=0.9), O.TorchAdam),
    "amsgrad_optax": (ad.AMSGrad(1e-2, beta2=0.9, variant="optax"), O.MomentOptimizer),
    "amsgrad_reddi": (ad.AMSGrad(1e-2, beta2=0.9, variant="reddi", schedule=ad.InverseSqrt()), O.MomentOptimizer),
    "adafix": (ad.AdaFix(1e-2, L0=1000.0), O.AdaFixOptimizer),
    "adagrad": (ad.Adagrad(0.1, initial_accumulator_value=0.5), O.TorchAdagrad),
    "adagrad_eps_inside": (ad.Adagrad(0.1, eps=1e-8, eps_inside=True), O.MomentOptimizer),
    "family": (ad.Family(1e-2, h=0.5, r=0.5, p=0.3, q=0.6), O.MomentOptimizer),
    "lion": (ad.Lion(1e-2), O.LionOptimizer),
    "adam_cosine": (ad.Adam(1e-2, schedule=ad.CosineAnnealing(period=60, eta_min_ratio=0.1)), O.TorchAdam),
    "rmsprop_expdecay": (ad.RMSprop(1e-2, schedule=ad.ExponentialDecay(0.01)), O.TorchRMSprop),
    "gd_invsqrt": (ad.GD(0.05, schedule=ad.InverseSqrt()), O.TorchSGD),
    "lion_cosine": (ad.Lion(1e-2, schedule=ad.CosineAnnealing(period=50)), O.LionOptimizer),
}


def _lsq(seed=0, n=40, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y, 6.0 + rng.standard_normal(d)


def _linear(w):
    m = nn.mlp([w.shape[0], 1], bias=False)
    with torch.no_grad():
        m.layers[0].weight.copy_(torch.from_numpy(w)[None])
    return m


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("name", list(SPECS))
def test_train_matches_run_over_the_transient(name):
    spec, cls = SPECS[name]
    X, y, x0 = _lsq()
    obj = ad.objectives.least_squares(X, y)
    steps = 80
    want = ad.run(spec, obj, x0, steps)
    grads = np.array([obj.grad(x) for x in want.x])
    assert np.min(np.abs(grads)) > 0.05, "the reference run left the transient"
    model = _linear(x0)
    assert type(nn.optimizer(spec, model.parameters())) is cls
    got = nn.train(spec, model, nn.regression(X, y), steps, record_params_every=1)
    assert got.status == "ok" and got.stop_step == steps
    assert got.x.shape == want.x.shape
    assert _rel(got.x, want.x) <= 1e-12
    assert _rel(got.loss, want.loss) <= 1e-12
    assert _rel(got.grad_norm, want.grad_norm) <= 1e-12
    np.testing.assert_array_equal(got.step, want.step)
    assert _rel(got.time[1:], want.time[1:]) <= 1e-15 and got.time[0] == 0.0
    if name == "adafix":  # v was frozen for some steps, and at the same steps
        frozen = got.final_state.optim["param_groups"][0]["frozen"]
        assert 0 < frozen < steps and frozen == want.final_state.scalars[K.S_FROZEN]
    for key in ("x_norm", "m_norm", "sqrt_v_norm"):
        a, b = got.extras[key], getattr(want, key)
        nz = b != 0
        assert np.array_equal(a == 0, ~nz), key
        if nz.any():
            assert _rel(a[nz], b[nz]) <= 1e-12, key


def _load(opt, p, st):
    """Put adadyn's State st into the torch optimiser (after at least one step)."""
    with torch.no_grad():
        p.copy_(torch.from_numpy(st.x).view_as(p))
    g0 = opt.param_groups[0]
    g0["k"], g0["time"] = st.k, st.time
    S = opt.state[p]
    for key, arr in (("exp_avg", st.m), ("m", st.m), ("exp_avg_sq", st.v), ("square_avg", st.v), ("sum", st.v),
                     ("v", st.v), ("max_exp_avg_sq", st.aux), ("aux", st.aux)):
        if key in S:
            S[key].copy_(torch.from_numpy(arr).view_as(p))
    if "step" in S:
        S["step"].fill_(st.k)
    if "p1" in g0:
        g0["p1"], g0["p2"] = st.scalars[K.S_P1], st.scalars[K.S_P2]
    if "L" in g0:
        g0["L"] = st.scalars[K.S_L]


@pytest.mark.parametrize("name", list(SPECS))
def test_step_by_step_from_a_shared_state_near_the_minimum(name):
    spec, _ = SPECS[name]
    X, y, x0 = _lsq(seed=1)
    obj = ad.objectives.least_squares(X, y)
    st = ad.run(spec, obj, x0, 1500, record_state=False).final_state
    prob = nn.regression(X, y)
    model = _linear(st.x)
    p = model.layers[0].weight
    opt = nn.optimizer(spec, model.parameters())

    def closure():
        opt.zero_grad()
        lo = prob.loss(model)
        lo.backward()
        return lo

    closure()
    opt.step(closure)  # creates the optimiser's state tensors
    worst = 0.0
    for _ in range(50):
        _load(opt, p, st)
        closure()
        opt.step(closure)
        st = ad.discrete.step(spec, obj, st)
        tx = p.detach().numpy().ravel()
        worst = max(worst, np.max(np.abs(st.x - tx)) / np.max(np.abs(st.x)))
    assert worst <= 1e-13, worst


def test_torch_adam_is_used_with_its_fused_path():
    model = nn.mlp([3, 4, 1])
    opt = nn.optimizer(ad.Adam(1e-3, beta1=0.8, beta2=0.95, eps=1e-7), model.parameters())
    assert isinstance(opt, torch.optim.Adam)
    g = opt.param_groups[0]
    assert g["fused"] is True and g["betas"] == (0.8, 0.95) and g["eps"] == 1e-7 and not g["amsgrad"]
    # a device without the fused kernel (meta) falls back to the foreach path
    w = torch.zeros(3, device="meta", requires_grad=True)
    g = nn.optimizer(ad.Adam(1e-3), [w]).param_groups[0]
    assert g["foreach"] is True and not g["fused"]
    assert nn.optimizer(ad.AMSGrad(1e-3), model.parameters()).param_groups[0]["amsgrad"] is True


def test_schedule_sets_the_learning_rate_of_each_step():
    spec = ad.Adam(0.1, schedule=ad.CosineAnnealing(period=10, eta_min_ratio=0.2))
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = nn.optimizer(spec, [w])
    lrs = []
    for _ in range(15):
        w.grad = torch.ones(2, dtype=torch.float64)
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    t = np.arange(1, 16)
    want = 0.1 * (0.2 + 0.8 * 0.5 * (1 + np.cos(np.pi * np.minimum(t - 1, 10) / 10)))
    np.testing.assert_allclose(lrs, want, rtol=1e-15)
    assert opt.time == pytest.approx(want.sum(), rel=1e-15)


def test_adafix_needs_a_closure_and_bad_inputs_are_refused():
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = nn.optimizer(ad.AdaFix(1e-2), [w])
    w.grad = torch.ones(2, dtype=torch.float64)
    with pytest.raises(ValueError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="optim"):
        nn.optimizer("adam", [w])
    with pytest.raises(ValueError, match="empty"):
        nn.optimizer(ad.Adam(1e-3), [])
    with pytest.raises(TypeError, match="floating-point"):
        nn.optimizer(ad.Adam(1e-3), [torch.zeros(2, dtype=torch.int64)])
