"""Critical learning rates: closed forms, Lanczos vs dense, and direct simulation
of the discrete map just below and just above the threshold."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.discrete.trajectory import State


def test_formulas_on_figure5_quadratic(quad10):
    lam = np.linalg.eigvalsh(quad10.A)
    x = np.zeros(10)
    cr = ad.analysis.critical_learning_rate
    assert float(cr(ad.GD(0.1), quad10, x)) == pytest.approx(2 / lam[-1], rel=1e-13)
    r = cr(ad.RMSprop(1e-3, alpha=0.9, eps=1e-8), quad10, x)
    assert float(r) == pytest.approx(2e-8 / lam[-1], rel=1e-13) and r.formula == "2 eps / lambda_max(H)"
    assert r.lambda_max == pytest.approx(lam[-1], rel=1e-13) and r.lambda_min == pytest.approx(lam[0], rel=1e-10)
    b1 = 0.8
    r = cr(ad.Adam(1e-3, beta1=b1, eps=1e-8), quad10, x)
    assert float(r) == pytest.approx((2 + 2 * b1) * 1e-8 / ((1 - b1) * lam[-1]), rel=1e-13)
    r = cr(ad.RMSprop(1e-3, eps=1e-6, eps_inside=True), quad10, x)
    assert float(r) == pytest.approx(2 * np.sqrt(1e-6) / lam[-1], rel=1e-13)
    # frozen v* > 0: lambda_max of diag(1/(sqrt(v*) + eps)) H (the adaptive edge of stability)
    vs = np.linspace(1e-4, 1e-2, 10)
    P = 1 / (np.sqrt(vs) + 1e-8)
    lp = np.max(np.linalg.eigvals(P[:, None] * quad10.A).real)
    r = cr(ad.Adam(1e-3, beta1=b1, eps=1e-8), quad10, x, v=vs)
    assert r.preconditioned and float(r) == pytest.approx((2 + 2 * b1) / ((1 - b1) * lp), rel=1e-12)


def test_lanczos_matches_dense_and_scales_to_large_models(quad10):
    x = np.zeros(10)
    vs = np.linspace(1e-4, 1e-2, 10)
    for v in (None, vs):
        d = ad.analysis.critical_learning_rate(ad.Adam(1e-3), quad10, x, v=v, method="dense")
        z = ad.analysis.critical_learning_rate(ad.Adam(1e-3), quad10, x, v=v, method="lanczos")
        assert z.method == "lanczos" and float(z) == pytest.approx(float(d), rel=1e-9)
    h = np.random.default_rng(0).uniform(0.1, 5.0, 20_000)
    h[123] = 9.0
    big = ad.objectives.diagonal_quadratic(h)  # no dense Hessian: Hessian-vector products only
    r = ad.analysis.critical_learning_rate(ad.RMSprop(1e-3, eps=1e-8), big, np.zeros(h.size))
    assert r.method == "lanczos" and r.lambda_max == pytest.approx(9.0, rel=1e-8)
    assert float(r) == pytest.approx(2e-8 / 9.0, rel=1e-8)


def test_not_a_minimum_and_bad_input():
    saddle = ad.Objective.from_expr("x1**2 - x2**2")
    assert float(ad.analysis.critical_learning_rate(ad.RMSprop(1e-3), saddle, [0, 0])) == 0.0
    with pytest.raises(ValueError, match="signGD"):
        ad.analysis.critical_learning_rate(ad.SignGD(1e-3), saddle, [0, 0])
    with pytest.raises(ValueError, match="v must"):
        ad.analysis.critical_learning_rate(ad.RMSprop(1e-3), saddle, [0, 0], v=-1.0)
    with pytest.raises(ValueError, match="method"):
        ad.analysis.critical_learning_rate(ad.GD(1e-3), saddle, [0, 0], method="qr")


def _growth(opt, obj, x_star, direction, delta, steps, v0=None):
    """|x_N - x*| / |x_0 - x*| for the discrete map (the Numba kernel) from a tiny
    perturbation of the fixed point (x*, m = 0, v = v0)."""
    x0 = x_star + delta * direction
    st = State.initial(opt, x0, v0=v0)
    tr = ad.run(opt, obj, steps=steps, state=st)
    assert tr.status == "ok"
    return np.linalg.norm(tr.x[-1] - x_star) / np.linalg.norm(x0 - x_star), tr


@pytest.mark.parametrize("make", [
    lambda eta: ad.GD(eta),
    lambda eta: ad.RMSprop(eta, alpha=0.9, eps=1e-3),
    lambda eta: ad.Adam(eta, beta1=0.9, beta2=0.99, eps=1e-3, bias_correction=False),
    lambda eta: ad.RMSprop(eta, alpha=0.9, eps=1e-4, eps_inside=True),
], ids=["gd", "rmsprop", "adam", "rmsprop-eps-inside"])
def test_threshold_by_simulation_at_v_zero(quad10, make):
    """Linear stability at v = 0 concerns perturbations with |g| << eps: v then
    stays ~ g^2 << eps^2 and the x-update is eta g / eps to relative accuracy
    ~|g|/eps. Start 1e-13 along the top Hessian eigenvector at eta = (1 -+ 1%) eta_c,
    run N steps with rho_above^N = 1e4 (rho from the linearisation), and check
    growth above (and decay below over max(N, 300) steps) while |g| stays far
    inside the linear regime."""
    w, U = np.linalg.eigh(quad10.A)
    x_star = np.zeros(10)
    eta_c = float(ad.analysis.critical_learning_rate(make(1.0), quad10, x_star))
    rho_above = ad.analysis.linearize(make(1.01 * eta_c), quad10, x_star).spectral_radius
    rho_below = ad.analysis.linearize(make(0.99 * eta_c), quad10, x_star).spectral_radius
    assert rho_below < 1.0 < rho_above
    n = int(np.ceil(np.log(1e4) / np.log(rho_above)))
    below, _ = _growth(make(0.99 * eta_c), quad10, x_star, U[:, -1], 1e-13, max(n, 300))
    above, tr_a = _growth(make(1.01 * eta_c), quad10, x_star, U[:, -1], 1e-13, n)
    assert below < 1e-2 and above > 1e3
    opt = make(1.0)
    if hasattr(opt, "eps"):  # still linear: the nonlinearity is |g| sqrt(1 - alpha) / (effective eps)
        scale = np.sqrt(opt.eps) if opt.eps_inside else opt.eps
        assert np.max(tr_a.grad_norm) < 1e-3 * scale
    rate = np.log(np.linalg.norm(tr_a.x[-1]) / np.linalg.norm(tr_a.x[-1 - n // 2])) / (n // 2)
    assert rate == pytest.approx(np.log(rho_above), rel=5e-2)


def test_adaptive_edge_of_stability_with_v_frozen(quad10):
    """With v frozen at v* > 0 (a Family map with p = 0, q = 1 keeps v = v* exactly,
    so the dynamics is linear), Adam's (x, m) dynamics is stable iff
    eta < (2 + 2 beta1) / ((1 - beta1) lambda_max(diag(1/(sqrt(v*) + eps)) H))."""
    b1, eps = 0.9, 1e-8
    vs = np.linspace(1e-6, 1e-4, 10)
    x_star = np.zeros(10)
    eta_c = float(ad.analysis.critical_learning_rate(ad.Adam(1.0, beta1=b1, eps=eps), quad10, x_star, v=vs))
    P = 1 / (np.sqrt(vs) + eps)
    w, V = np.linalg.eig(P[:, None] * quad10.A)
    top = np.real(V[:, np.argmax(w.real)])
    res = []
    for f in (0.98, 1.02):
        opt = ad.Family(f * eta_c, h=1 - b1, r=b1, p=0.0, q=1.0, eps=eps)
        g, tr = _growth(opt, quad10, x_star, top, 1.0, 300, v0=vs)
        np.testing.assert_array_equal(tr.v[-1], vs)
        res.append(g)
    assert res[0] < 1e-2 and res[1] > 1e2
