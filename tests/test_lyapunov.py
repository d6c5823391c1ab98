"""Lyapunov spectra by the QR method: known maps, then optimiser maps through
the same code path (exponents of a stable cycle = ln|Floquet multiplier| / period)."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis.lyapunov import qr_lyapunov


def test_logistic_map_at_r4_gives_ln2():
    res = qr_lyapunov(lambda z: 4.0 * z * (1.0 - z), lambda z: 4.0 * (1.0 - 2.0 * z), [0.3], 20_000,
                      transient=100)
    # at r = 4, ln|f'| = ln 2 + a coboundary (conjugacy to the tent map): the error is O(1/N)
    assert res.exponents[0] == pytest.approx(np.log(2.0), abs=1e-3)
    assert res.chaotic


def test_henon_map_sum_is_log_det_and_largest_is_known():
    a, b = 1.4, 0.3

    def step(z):
        return np.array([1.0 - a * z[0] ** 2 + z[1], b * z[0]])

    def jac(z):
        return np.array([[-2.0 * a * z[0], 1.0], [b, 0.0]])

    res = qr_lyapunov(step, jac, [0.1, 0.1], 40_000, transient=1000)
    assert res.exponents.sum() == pytest.approx(np.log(b), rel=1e-10)  # |det DF| = b at every step
    assert res.exponents[0] == pytest.approx(0.41922, abs=5e-3)     # literature value
    assert res.history.shape[1] == 2 and res.history_steps[-1] == 40_000


def test_linear_map_exponents_are_log_moduli():
    A = np.array([[0.5, 2.0, 0.0], [0.0, -1.5, 0.3], [0.0, 0.0, 0.9]])
    # the Jacobian is constant, so the orbit does not matter (iterating A z would overflow)
    res = qr_lyapunov(lambda z: z, lambda z: A, np.ones(3), 2000)
    np.testing.assert_allclose(res.exponents, np.log([1.5, 0.9, 0.5]), atol=2e-3)
    top = qr_lyapunov(lambda z: z, lambda z: A, np.ones(3), 2000, n_exponents=1)
    assert top.exponents.shape == (1,) and top.exponents[0] == pytest.approx(np.log(1.5), abs=2e-3)


def test_rmsprop_cycle_exponents_equal_floquet_multipliers():
    lam, eta, eps, alpha = 1.0, 0.01, 1e-4, 0.9
    opt = ad.RMSprop(eta, alpha=alpha, eps=eps)
    obj = ad.objectives.quadratic([[lam]])
    orb = ad.analysis.periodic_orbit(opt, obj, 2, [0.004])
    ly = ad.analysis.lyapunov_exponents(opt, obj, [0.1], 4000, transient=3000)
    expect = np.sort(np.log(np.abs(orb.multipliers)) / 2)[::-1]
    np.testing.assert_allclose(ly.exponents, expect, atol=2e-3)
    np.testing.assert_allclose(ly.exponents_per_time, ly.exponents / eta)
    assert not ly.chaotic and ly.max_exponent < 0


def test_adam_fixed_point_exponents_equal_log_eigenvalues():
    """Below the critical rate the orbit converges to (x*, 0, 0), so the exponents
    are ln|eigenvalues of DF(x*, 0, 0)| (the v block gives ln beta2)."""
    obj = ad.objectives.diagonal_quadratic([1.0, 0.5])
    opt = ad.Adam(0.5, beta1=0.5, beta2=0.7, eps=1.0, bias_correction=False)
    lin = ad.analysis.linearize(opt, obj, np.zeros(2))
    assert lin.map_stable
    ly = ad.analysis.lyapunov_exponents(opt, obj, [0.3, -0.2], 300, transient=100)
    np.testing.assert_allclose(np.sort(ly.exponents), np.sort(np.log(np.abs(lin.map_eigenvalues))), atol=2e-2)


def test_lyapunov_input_validation():
    obj = ad.objectives.quadratic([[1.0]])
    with pytest.raises(ValueError, match="exactly one"):
        ad.analysis.lyapunov_exponents(ad.RMSprop(0.01), obj, steps=10)
    with pytest.raises(ValueError, match="n_exponents"):
        qr_lyapunov(lambda z: z, lambda z: np.eye(1), [1.0], 10, n_exponents=2)
    with pytest.raises(ValueError, match="steps"):
        qr_lyapunov(lambda z: z, lambda z: np.eye(1), [1.0], 0)
