"""Network curvature: Hessian-vector products, preconditioned sharpness, critical learning rate.

References: the closed-form Hessian X^T X / n of least squares and adadyn's own
(NumPy/Numba) analyses on the same objective; finite differences of gradients
for a nonlinear network.
"""
import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # 2 threads on a shared 2-core machine oversubscribe
from adadyn import nn  # noqa: E402
from adadyn.nn.hessian import hvp_operator  # noqa: E402


def _lsq(seed=0, n=50, d=7):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(0.5, 3.0, d)
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    return X, y, 4.0 + rng.standard_normal(d)


def _linear(w):
    m = nn.mlp([w.shape[0], 1], bias=False)
    with torch.no_grad():
        m.layers[0].weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float64))[None])
    return m


def test_hvp_of_a_network_matches_finite_differences_of_the_gradient():
    prob = nn.sine_regression(100, 3, seed=0)
    model = nn.mlp([3, 6, 6, 1], "tanh", seed=1)
    params = list(model.parameters())
    d = sum(p.numel() for p in params)
    u = np.random.default_rng(2).standard_normal(d)
    hv = hvp_operator(model, prob).matvec(u)

    def grad_at(shift):
        with torch.no_grad():
            off = 0
            for p in params:
                p.add_(torch.from_numpy(shift[off:off + p.numel()]).view_as(p))
                off += p.numel()
        for p in params:
            p.grad = None
        prob.loss(model).backward()
        g = torch.cat([p.grad.reshape(-1) for p in params]).numpy().copy()
        with torch.no_grad():
            off = 0
            for p in params:
                p.sub_(torch.from_numpy(shift[off:off + p.numel()]).view_as(p))
                off += p.numel()
        return g

    h = 1e-5
    fd = (grad_at(h * u) - grad_at(-h * u)) / (2 * h)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-8)


def test_top_eigenvalue_and_critical_learning_rate_on_least_squares():
    X, y, w = _lsq()
    prob = nn.regression(X, y)
    H = X.T @ X / X.shape[0]
    lam = np.linalg.eigvalsh(H)[-1]
    assert nn.top_hessian_eigenvalue(_linear(w), prob) == pytest.approx(lam, rel=1e-10)
    gd = nn.critical_learning_rate(ad.GD(0.1), _linear(w), prob)
    assert float(gd) == pytest.approx(2.0 / lam, rel=1e-10)
    obj = ad.objectives.least_squares(X, y)
    v = np.random.default_rng(3).uniform(0.01, 2.0, X.shape[1])
    spec = ad.Adam(1e-3, beta1=0.8)
    got = nn.critical_learning_rate(spec, _linear(w), prob, v=v)
    want = ad.analysis.critical_learning_rate(spec, obj, obj.minimizer, v=v, method="dense")
    assert float(got) == pytest.approx(float(want), rel=1e-9)
    assert got.lambda_max == pytest.approx(want.lambda_max, rel=1e-9)
    with pytest.raises(ValueError, match="not differentiable"):
        nn.critical_learning_rate(ad.SignGD(1e-3), _linear(w), prob)


@pytest.mark.parametrize("spec", [ad.Adam(2e-2, beta1=0.9, beta2=0.95), ad.RMSprop(2e-2, alpha=0.9),
                                  ad.Adam(2e-2, eps=1e-3, eps_inside=True, bias_correction=False)],
                         ids=["adam", "rmsprop", "adam_eps_inside_nobc"])
def test_sharpness_along_a_run_matches_adadyn_analysis(spec):
    X, y, w = _lsq(seed=1)
    obj = ad.objectives.least_squares(X, y)
    ref = ad.analysis.preconditioned_sharpness(ad.run(spec, obj, w, 60), every=10, method="dense")
    tr = nn.train(spec, _linear(w), nn.regression(X, y), 60, sharpness_every=10)
    sh = tr.extras["sharpness"]
    rows = np.arange(0, 61, 10)
    assert np.all(np.isnan(np.delete(sh, rows))) and np.isnan(sh[0])
    np.testing.assert_allclose(sh[rows[1:]], ref.sharpness[1:], rtol=1e-8)
    S = nn.edge_of_stability(tr)
    np.testing.assert_allclose(S.threshold, ref.threshold[1:], rtol=1e-15)
    beta1 = spec.coefficients().r
    if spec.coefficients().h == 1 - beta1 and beta1 > 0:
        assert S.threshold[0] == pytest.approx((2 + 2 * beta1) / ((1 - beta1) * spec.eta), rel=1e-14)
    np.testing.assert_allclose(S.ratio, S.sharpness / S.threshold)


def test_preconditioned_sharpness_from_a_given_state():
    X, y, w = _lsq(seed=2)
    prob = nn.regression(X, y)
    v = np.random.default_rng(0).uniform(0.1, 1.0, X.shape[1])
    k = 7
    spec = ad.Adam(1e-3, beta2=0.9, eps=1e-4)
    vh = v / (1 - 0.9**k)
    s = 1 / np.sqrt(np.sqrt(vh) + 1e-4)
    H = X.T @ X / X.shape[0]
    want = np.linalg.eigvalsh(s[:, None] * H * s[None, :])[-1]
    assert nn.preconditioned_sharpness(spec, _linear(w), prob, v, k) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="preconditioner"):
        nn.preconditioned_sharpness(ad.Lion(1e-3), _linear(w), prob, v, k)
    tr = nn.train(spec, _linear(w), prob, 5)
    with pytest.raises(ValueError, match="sharpness_every"):
        nn.edge_of_stability(tr)
