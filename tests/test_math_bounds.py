"""Props. 3 and 4 of Ma, Wu & E at the edges of their hypotheses.

Prop. 4 (signGD flow on a PL function, ||grad f||^2 >= mu (f - f*)):
T = 2 sqrt((f(x0) - f*)/mu) and f(x(t)) - f* <= (sqrt(f(x0) - f*) - sqrt(mu) t/2)_+^2,
checked with an explicit f* and mu against the formulas evaluated here, at x0 = x*
(gap 0) and for mu, c, M, L outside their ranges. Prop. 3 (eq. (10)) is checked at
the end of its range tau = c^3 / (32 M^2 L sqrt(d)), which it excludes.
"""
import math

import numpy as np
import pytest

import adadyn as ad

OBJ = ad.objectives.quadratic([[2.0, 0.0], [0.0, 0.5]])   # f = x^2 + y^2/4, f* = 0, mu = 2 * 0.5 = 1
X0 = np.array([1.0, 2.0])                                    # f(x0) = 2


def test_explicit_f_star_and_mu_enter_prop4():
    gap = 2.0 + 3.0                                          # f* = -3 passed explicitly
    assert ad.analysis.signgd_stop_time_bound(OBJ, X0, mu=4.0, f_star=-3.0) == pytest.approx(
        2 * math.sqrt(gap / 4.0), rel=1e-15)
    t = np.array([0.0, 0.5, 1.0, 10.0])
    want = np.maximum(math.sqrt(gap) - 0.5 * math.sqrt(4.0) * t, 0.0) ** 2
    np.testing.assert_allclose(ad.analysis.signgd_loss_bound(OBJ, X0, t, mu=4.0, f_star=-3.0), want, rtol=1e-14)
    # defaults: f* = obj.min_value = 0, mu = pl_constant = 1
    np.testing.assert_allclose(ad.analysis.signgd_loss_bound(OBJ, X0, t),
                               np.maximum(math.sqrt(2.0) - 0.5 * t, 0.0) ** 2, rtol=1e-14)
    assert ad.analysis.signgd_stop_time_bound(OBJ, X0) == pytest.approx(2 * math.sqrt(2.0), rel=1e-15)


def test_start_at_the_minimum_stops_at_once():
    assert ad.analysis.signgd_stop_time_bound(OBJ, [0.0, 0.0]) == 0.0
    np.testing.assert_array_equal(ad.analysis.signgd_loss_bound(OBJ, [0.0, 0.0], [0.0, 1.0]), [0.0, 0.0])
    with pytest.raises(ValueError, match="f\\(x0\\) - f\\*"):
        ad.analysis.signgd_stop_time_bound(OBJ, X0, f_star=5.0)


def test_parameters_outside_their_ranges_are_refused():
    for mu in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="mu must be"):
            ad.analysis.signgd_stop_time_bound(OBJ, X0, mu=mu)
    # a positive semi-definite A has no PL constant
    with pytest.raises(ValueError, match="positive definite"):
        ad.analysis.pl_constant(ad.objectives.quadratic([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="positive definite"):
        ad.analysis.pl_constant(ad.objectives.diagonal_quadratic([1.0, 0.0]))
    for name in ("c", "M", "L"):
        for bad in (0.0, -1.0, np.inf):
            kw = dict(c=1.0, M=1.0, L=1.0)
            kw[name] = bad
            with pytest.raises(ValueError, match=f"^{name} must be"):
                ad.analysis.adam_early_velocity_bound(0.001, d=1, **kw)


def test_prop3_range_ends_before_its_endpoint():
    """c = 2, M = 1, L = 1/4, d = 1: the range is tau < 8 / (32 / 4) = 1 exactly."""
    b = ad.analysis.adam_early_velocity_bound(np.array([0.5, 1.0, 2.0]), 2.0, 1.0, 0.25, 1)
    assert b[0] == pytest.approx(54 * 0.25 * 0.5 / 16, rel=1e-15)
    assert np.isnan(b[1]) and np.isnan(b[2])
