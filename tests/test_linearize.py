"""Stationary points and linearisation at (x*, 0, 0): eq. (11) and its discrete map."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis.linearization import Linearization


def assert_same_spectrum(actual, expected, rtol, atol=None):
    """Equal as multisets: each expected value matched to the nearest unused actual one.
    The default atol is 1e-14 |J|: eig's backward error is relative to the matrix norm."""
    if atol is None:
        atol = 1e-14 * np.max(np.abs(expected))
    left = list(np.asarray(actual, dtype=complex))
    assert len(left) == len(expected)
    for e in np.asarray(expected, dtype=complex):
        j = int(np.argmin([abs(a - e) for a in left]))
        assert abs(left[j] - e) <= atol + rtol * abs(e), (left[j], e)
        left.pop(j)


# ------------------------------------------------------------------ stationary points
def test_stationary_points_double_well_classified():
    obj = ad.Objective.from_expr("x1**4/4 - x1**2/2 + x2**2/2 - x2**3/3")
    # stationary: x1 in {-1, 0, 1}, x2 in {0, 1}
    guesses = [[0.9, 0.1], [-1.2, -0.2], [0.1, 0.2], [0.8, 1.3], [-0.7, 0.8], [0.05, 0.9], [1.1, -0.1]]
    sp = ad.analysis.stationary_points(obj, guesses)
    got = {tuple(np.round(p.point, 9) + 0.0): p.kind for p in sp}
    expect = {(1.0, 0.0): "minimum", (-1.0, 0.0): "minimum", (0.0, 0.0): "saddle",
              (1.0, 1.0): "saddle", (-1.0, 1.0): "saddle", (0.0, 1.0): "maximum"}
    assert got == expect
    for p in sp:
        assert p.grad_norm <= 1e-12
        H = np.diag([3 * p.point[0] ** 2 - 1, 1 - 2 * p.point[1]])
        np.testing.assert_allclose(p.eigenvalues, np.sort(np.diag(H)), atol=1e-12)
    assert list(sp.values) == sorted(sp.values)


def test_stationary_points_rosenbrock_and_degenerate_bowl():
    sp = ad.analysis.stationary_points(ad.objectives.rosenbrock(2), [[-1.2, 1.0]])
    assert len(sp) == 1 and sp[0].kind == "minimum"
    np.testing.assert_allclose(sp[0].point, [1.0, 1.0], atol=1e-12)
    lam = np.linalg.eigvalsh([[802.0, -400.0], [-400.0, 200.0]])
    np.testing.assert_allclose(sp[0].eigenvalues, lam, rtol=1e-12)
    # 1 - cos(|x|^2): Hessian 0 at the origin (quartic), a circle of maxima at |x|^2 = pi
    cb = ad.analysis.stationary_points(ad.objectives.cosine_bowl(), [[0.3, 0.2], [0.1, -0.4], [1.7, 0.3]])
    assert cb.kinds == ("degenerate", "degenerate")
    np.testing.assert_allclose(cb[0].point, 0.0, atol=1e-10)
    np.testing.assert_allclose(np.sum(cb[1].point ** 2), np.pi, rtol=1e-13)
    np.testing.assert_allclose(cb[1].eigenvalues[0], -4 * np.pi, rtol=1e-10)  # radial: 4 r^2 cos(r^2)


def test_stationary_points_bad_input():
    with pytest.raises(ValueError, match="guesses"):
        ad.analysis.stationary_points(ad.objectives.rosenbrock(2), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        ad.analysis.stationary_points(ad.objectives.rosenbrock(2), [np.nan, 2.0])


# ------------------------------------------------------------------ eq. (11)
@pytest.mark.parametrize("alpha", [0.0, 0.9, 0.999])
def test_rmsprop_flow_and_map_eigenvalues_at_minimum(quad10, alpha):
    eta, eps = 1e-3, 1e-8
    opt = ad.RMSprop(eta, alpha=alpha, eps=eps)
    lam = np.linalg.eigvalsh(quad10.A)
    lin = ad.analysis.linearize(opt, quad10, np.zeros(10))
    assert isinstance(lin, Linearization)
    assert lin.blocks == ("x", "v") and lin.fixed_point_residual == 0.0
    a = (1 - alpha) / eta
    assert_same_spectrum(lin.flow_eigenvalues, np.r_[-lam / eps, np.full(10, -a)], rtol=1e-12)
    # eig's backward error is relative to |J|
    assert_same_spectrum(lin.map_eigenvalues, np.r_[1 - eta * lam / eps, np.full(10, alpha)], rtol=1e-12,
                         atol=1e-14 * lin.spectral_radius)
    assert lin.flow_stable and not lin.map_stable
    np.testing.assert_allclose(lin.spectral_radius, eta * lam[-1] / eps - 1, rtol=1e-12)
    np.testing.assert_allclose(lin.spectral_abscissa, -a if a < lam[0] / eps else -lam[0] / eps, rtol=1e-12)


def test_rmsprop_stable_below_threshold_and_eps_inside(quad10):
    lam = np.linalg.eigvalsh(quad10.A)
    eps = 1e-8
    lin = ad.analysis.linearize(ad.RMSprop(1.9 * eps / lam[-1], alpha=0.5, eps=eps), quad10, np.zeros(10))
    assert lin.map_stable
    assert lin.spectral_radius == pytest.approx(max(0.9, 1 - 1.9 * lam[0] / lam[-1], 0.5), rel=1e-10)
    eps_in = 1e-6
    lin = ad.analysis.linearize(ad.RMSprop(1e-3, alpha=0.5, eps=eps_in, eps_inside=True), quad10, np.zeros(10))
    assert_same_spectrum(lin.flow_eigenvalues, np.r_[-lam / np.sqrt(eps_in), np.full(10, -0.5 / 1e-3)],
                         rtol=1e-12)


def test_adam_flow_and_map_at_minimum():
    """Adam flow (8), t -> infinity: per Hessian eigenvalue lambda the (x, m) block
    [[0, -1/eps], [b lambda, -b]] has mu^2 + b mu + b lambda/eps = 0; v gives -a.
    The map's (x, m) block has determinant beta1 and trace 1 + beta1 - eta (1 - beta1) lambda/eps."""
    lam = np.array([0.5, 2.0, 7.0])
    obj = ad.objectives.diagonal_quadratic(lam)
    eta, eps, b1, b2 = 1e-3, 1e-3, 0.9, 0.99
    opt = ad.Adam(eta, beta1=b1, beta2=b2, eps=eps)
    lin = ad.analysis.linearize(opt, obj, np.zeros(3))
    a, b = opt.a, opt.b
    roots = np.concatenate([np.roots([1.0, b, b * l / eps]) for l in lam])
    assert_same_spectrum(lin.flow_eigenvalues, np.r_[roots, [-a] * 3], rtol=1e-10)
    maproots = np.concatenate([np.roots([1.0, -(1 + b1 - eta * (1 - b1) * l / eps), b1]) for l in lam])
    assert_same_spectrum(lin.map_eigenvalues, np.r_[maproots, [b2] * 3], rtol=1e-10)
    # stable iff eta lambda_max / eps < (2 + 2 beta1)/(1 - beta1) = 38: here 7
    assert lin.map_stable


def test_gd_linearization_and_symbolic_exactness():
    obj = ad.Objective.from_expr("x1**2 + 3*x2**2 + x1*x2")
    lin = ad.analysis.linearize(ad.GD(0.1), obj, [0.0, 0.0])
    H = np.array([[2.0, 1.0], [1.0, 6.0]])
    np.testing.assert_allclose(lin.map_jacobian, np.eye(2) - 0.1 * H, rtol=0, atol=1e-16)
    np.testing.assert_allclose(lin.flow_jacobian, -H, rtol=0, atol=1e-16)
    assert "sympy" in lin.accuracy
    assert lin.map_stable == (0.1 * np.linalg.eigvalsh(H)[-1] < 2)


def test_linearize_at_saddle_and_at_nonstationary_state():
    obj = ad.Objective.from_expr("x1**2 - x2**2")
    lin = ad.analysis.linearize(ad.RMSprop(1e-3, alpha=0.9, eps=1e-2), obj, [0.0, 0.0])
    assert not lin.flow_stable and lin.spectral_abscissa == pytest.approx(2 / 1e-2)
    rng = np.random.default_rng(0)
    obj2 = ad.objectives.rosenbrock(2)
    opt = ad.Adam(1e-3, eps=1e-3)
    z = np.r_[rng.standard_normal(4) * 0.3, np.abs(rng.standard_normal(2))]
    lin = ad.analysis.linearize(opt, obj2, z)
    assert lin.fixed_point_residual > 0
    from adadyn.analysis.maps import state_map
    np.testing.assert_array_equal(lin.map_jacobian, state_map(opt, obj2).jacobian(z))


def test_linearize_name_resolves_to_callable_after_submodule_import(quad10):
    # no submodule is named after a public function, so importing every submodule
    # cannot shadow one (the import system binds submodules as package attributes)
    import adadyn.analysis.bifurcation  # noqa: F401
    import adadyn.analysis.linearization  # noqa: F401

    lin = ad.analysis.linearize(ad.GD(0.01), quad10, np.zeros(10))
    assert isinstance(lin, Linearization)
    assert callable(ad.analysis.continuation) and not isinstance(ad.analysis.continuation, type(ad))
    with pytest.raises(ValueError, match="point"):
        ad.analysis.linearize(ad.GD(0.01), quad10, np.zeros(7))
