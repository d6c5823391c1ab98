"""Lyapunov exponents of optimiser maps against quantities that do not use the
package's Jacobian code: closed forms, finite differences of maps transcribed
here, and the separation of two nearby runs of :func:`adadyn.run`."""
import numpy as np
import pytest

import adadyn as ad


@pytest.fixture(scope="module")
def double_well():
    return ad.Objective.from_expr("(x1**2 - 1)**2/4")


@pytest.mark.parametrize("eta", [0.05, 0.3])
def test_gd_on_a_quadratic_exponents_are_log_abs_one_minus_eta_lambda(eta):
    """GD on x^T A x / 2 is the linear map I - eta A: exponents ln|1 - eta lambda_i|."""
    rng = np.random.default_rng(3)
    U = rng.standard_normal((4, 4))
    A = U @ U.T / 4 + 0.2 * np.eye(4)
    lam = np.linalg.eigvalsh(A)
    ly = ad.analysis.lyapunov_exponents(ad.GD(eta), ad.objectives.quadratic(A), np.ones(4), 3000, transient=0)
    expect = np.sort(np.log(np.abs(1 - eta * lam)))[::-1]
    np.testing.assert_allclose(ly.exponents, expect, atol=3e-3)
    np.testing.assert_allclose(ly.exponents_per_time, expect / eta, atol=3e-3 / eta)


def test_gd_beyond_the_edge_of_stability_has_a_positive_exponent():
    A = np.diag([5.0, 1.0])
    eta = 0.45  # 1 - eta 5 = -1.25: unstable; 1 - eta = 0.55
    ly = ad.analysis.lyapunov_exponents(ad.GD(eta), ad.objectives.quadratic(A), [1e-3, 1.0], 1500, transient=0)
    np.testing.assert_allclose(ly.exponents, [np.log(1.25), np.log(0.55)], atol=3e-3)


def test_gd_on_the_double_well_at_eta_2_is_the_tripling_map(double_well):
    """GD on (x^2 - 1)^2/4 with eta = 2 is x -> 3x - 2x^3; with x = sqrt(2) sin(theta) this is
    theta -> 3 theta, so the Lyapunov exponent is ln 3 (as ln 2 for the logistic map at r = 4)."""
    ly = ad.analysis.lyapunov_exponents(ad.GD(2.0), double_well, [0.3], 20_000, transient=1000)
    assert ly.exponents[0] == pytest.approx(np.log(3.0), abs=2e-3)
    assert ly.chaotic


def test_largest_exponent_is_the_growth_rate_of_separation_between_two_runs(double_well):
    """Finite-time separation of ad.run pairs from points of the attractor, averaged:
    E ln(|dx_T| / |dx_0|) / T is the largest exponent (the invariant-measure average of
    ln |F'|), estimated here without any Jacobian."""
    opt = ad.GD(1.9)
    tr = ad.run(opt, double_well, [0.3], 3000)
    starts = tr.x[1000::10, 0]
    T, d0 = 8, 1e-10
    rates = []
    for x in starts:
        a = ad.run(opt, double_well, [x], T, record_every=T).x[-1, 0]
        b = ad.run(opt, double_well, [x + d0], T, record_every=T).x[-1, 0]
        rates.append(np.log(abs(b - a) / d0) / T)
    sep = float(np.mean(rates))
    ly = ad.analysis.lyapunov_exponents(opt, double_well, [0.3], 20_000, transient=1000)
    # the same average by hand along a NumPy orbit: ln |1 + eta - 3 eta x^2|
    x, s = 0.3, 0.0
    for _ in range(1000):
        x = 2.9 * x - 1.9 * x ** 3
    for _ in range(20_000):
        s += np.log(abs(2.9 - 3 * 1.9 * x * x))
        x = 2.9 * x - 1.9 * x ** 3
    assert ly.exponents[0] == pytest.approx(s / 20_000, abs=2e-2)
    assert ly.exponents[0] == pytest.approx(sep, abs=6e-2)
    assert sep > 0.5


def test_rmsprop_cycle_exponents_against_transcribed_finite_differences():
    """RMSprop (eq. (2)) on x^4/4 has the 2-cycle x -> -x with 2|x|^3 - eta x^2 + 2 eps = 0.
    Its exponents are ln|mu| / 2, mu the eigenvalues of a finite-difference Jacobian of
    F^2 of the map written here (a complex pair of modulus 1/2 at alpha = 0.1)."""
    eta, eps, alpha = 0.1, 1e-6, 0.1
    obj = ad.Objective.from_expr("x1**4/4")
    c = np.sort(np.roots([2.0, -eta, 0.0, 2 * eps]).real)[-1]

    def F(z):
        x, v = z
        g = x ** 3
        v1 = alpha * v + (1 - alpha) * g * g
        return np.array([x - eta * g / (np.sqrt(v1) + eps), v1])

    z0 = np.array([c, c ** 6])
    np.testing.assert_allclose(F(F(z0)), z0, rtol=1e-10)
    M = np.empty((2, 2))
    for i in range(2):
        h = 1e-6 * z0[i]
        e = np.zeros(2)
        e[i] = h
        M[:, i] = (F(F(z0 + e)) - F(F(z0 - e))) / (2 * h)
    expect = np.sort(np.log(np.abs(np.linalg.eigvals(M))) / 2)[::-1]
    ly = ad.analysis.lyapunov_exponents(ad.RMSprop(eta, alpha=alpha, eps=eps), obj, [0.9 * c], 4000,
                                        transient=2000)
    # a complex pair has equal exponents; QR splits them only at rate 1/N, their sum exactly
    assert ly.exponents.sum() == pytest.approx(expect.sum(), abs=1e-4)
    np.testing.assert_allclose(ly.exponents, expect, atol=6e-3)
    assert not ly.chaotic
