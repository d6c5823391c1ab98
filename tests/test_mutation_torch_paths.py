"""The torch back end's less-travelled paths against the Numba kernels and closed forms:
routing of user-defined eq. (1) specs (Family) to torch's optimisers or the foreach one,
AdaFix exactly at its freezing threshold, and the scaling of the bundled digits.

Each routed spec is checked twice: the optimiser class chosen (a guard removed from the
routing would hand a spec to a torch optimiser with another update) and the numbers over
the transient against ``adadyn.run`` (1e-12 relative, float64).
"""
import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
from adadyn import nn  # noqa: E402
from adadyn.discrete import kernels as K  # noqa: E402
from adadyn.nn import optim as O  # noqa: E402

ROUTES = [   # (Family coefficients, the torch optimiser that computes the same update)
    (dict(h=1.0, r=0.0, p=0.25, q=0.75), O.TorchRMSprop),    # eq. (2): p = 1 - q (exact), no momentum
    (dict(h=1.0, r=0.0, p=0.5, q=0.75), O.MomentOptimizer),  # p != 1 - q
    (dict(h=0.9, r=0.0, p=0.25, q=0.75), O.MomentOptimizer),  # h != 1 (else eq. (2))
    (dict(h=1.0, r=0.5, p=0.25, q=0.75), O.MomentOptimizer),  # momentum without bias correction
    (dict(h=1.0, r=0.0, p=1.0, q=1.0), O.TorchAdagrad),      # the sum of squares
    (dict(h=1.0, r=0.0, p=1.0, q=0.999), O.MomentOptimizer),  # p = 1 but q < 1 (neither)
    (dict(h=1.0, r=0.0, p=0.5, q=1.0), O.MomentOptimizer),   # q = 1 but p < 1
]


def _lsq(seed=0, n=40, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y, 6.0 + rng.standard_normal(d)


def _linear(w):
    m = nn.mlp([w.shape[0], 1], bias=False)
    with torch.no_grad():
        m.layers[0].weight.copy_(torch.from_numpy(np.array(w, dtype=np.float64))[None])
    return m


@pytest.mark.parametrize("coef, cls", ROUTES, ids=[f"{c}" for c, _ in ROUTES])
def test_user_family_specs_are_routed_to_an_optimiser_with_their_update(coef, cls):
    spec = ad.Family(1e-2, **coef)
    X, y, x0 = _lsq()
    obj = ad.objectives.least_squares(X, y)
    want = ad.run(spec, obj, x0, 60)
    model = _linear(x0)
    assert type(nn.optimizer(spec, model.parameters())) is cls
    got = nn.train(spec, model, nn.regression(X, y), 60, record_params_every=1)
    np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.loss, want.loss, rtol=1e-12, atol=0)


def _exact_problem():
    """Least squares with small integer data and n = 8 rows: the gradient X^T (X w - y) / 8 is
    exact in float64 in torch and NumPy alike, so a threshold can be met exactly."""
    rng = np.random.default_rng(3)
    X = rng.integers(-3, 4, (8, 3)).astype(float)
    y = rng.integers(-5, 6, 8).astype(float)
    return X, y


@pytest.mark.parametrize("side, frozen", [(1.0, 0), (1.0 + 2.0 ** -20, 1), (1.0 - 2.0 ** -20, 0)])
def test_adafix_freezes_v_exactly_below_l_eta_in_torch_and_the_kernel(side, frozen):
    """Algorithm 1, line 4 (Bae, Ryu & Shin): v is updated while max|g| >= L eta. With
    L = side * max|g| / eta (eta a power of two, so L eta is exact): side = 1 updates
    (the threshold is inclusive), side > 1 freezes, side < 1 updates; torch and the
    kernel freeze at the same step and land on the same point."""
    X, y = _exact_problem()
    obj = ad.objectives.least_squares(X, y)
    w0 = np.array([1.0, -2.0, 0.5])
    g = obj.grad(w0)
    eta = 2.0 ** -6
    gmax = float(np.max(np.abs(g)))
    L = side * gmax / eta
    assert (gmax >= L * eta) == (frozen == 0)
    spec = ad.AdaFix(eta, L0=L)
    st = ad.discrete.step(spec, obj, ad.run(spec, obj, w0, 0, record_state=False).final_state)
    assert st.scalars[K.S_FROZEN] == frozen
    model = _linear(w0)
    prob = nn.regression(X, y)
    opt = nn.optimizer(spec, model.parameters())

    def closure():
        opt.zero_grad()
        lo = prob.loss(model)
        lo.backward()
        return lo

    closure()
    np.testing.assert_array_equal(model.layers[0].weight.grad.numpy().ravel(), g)   # the exact gradient
    opt.step(closure)
    assert opt.param_groups[0]["frozen"] == frozen
    np.testing.assert_allclose(model.layers[0].weight.detach().numpy().ravel(), st.x, rtol=1e-14, atol=0)
    v = opt.moments()[1][0].detach().numpy().ravel() if hasattr(opt, "moments") else None
    if v is not None:
        np.testing.assert_array_equal(v == 0, np.full(3, frozen == 1))   # frozen at v0 = 0


def test_bundled_digits_are_the_pixels_over_16():
    """nn.digits: scikit-learn's 8 x 8 images with pixel values 0..16 divided by 16, the first
    classes only, one-hot targets."""
    from sklearn.datasets import load_digits

    d = load_digits()
    prob = nn.digits(2, test_fraction=0.25, seed=0)
    X = prob.data["X"].numpy()
    Xt = prob.data["X_test"].numpy()
    allx = np.concatenate([X, Xt])
    ref = d.data[d.target < 2] / 16.0
    assert allx.shape == ref.shape and allx.max() == 1.0 and allx.min() == 0.0
    # the same rows as a set (the split is a permutation of them)
    key = lambda A: np.array(sorted(map(tuple, np.round(A * 16).astype(int))))   # noqa: E731
    np.testing.assert_array_equal(key(allx), key(ref))
    np.testing.assert_array_equal(np.round(X * 16), X * 16)   # exact sixteenths
    Y = prob.data["Y"].numpy()
    assert Y.shape == (X.shape[0], 2) and np.all(Y.sum(axis=1) == 1) and set(np.unique(Y)) == {0.0, 1.0}
