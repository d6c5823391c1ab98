"""Bad input gets a clear error naming the parameter and the allowed range."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import adadyn as ad


@pytest.mark.parametrize("make,match", [
    (lambda: ad.GD(eta=0.0), r"eta must be a finite number > 0"),
    (lambda: ad.GD(eta=-1e-3), r"eta must be a finite number > 0"),
    (lambda: ad.SignGD(eta=math.nan), r"eta must be"),
    (lambda: ad.Adam(1e-3, beta1=1.0), r"beta1 must be in \[0, 1\)"),
    (lambda: ad.Adam(1e-3, beta2=-0.1), r"beta2 must be in \[0, 1\)"),
    (lambda: ad.Adam(1e-3, eps=-1e-8), r"eps must be a finite number >= 0"),
    (lambda: ad.RMSprop(1e-3, alpha=1.5), r"alpha must be in \[0, 1\)"),
    (lambda: ad.Adam.from_ab(1e-3, a=-1.0, b=1.0), r"a must be a finite number > 0"),
    (lambda: ad.Adam.from_ab(0.1, a=20.0, b=1.0), r"a \* eta must be <= 1"),
    (lambda: ad.AMSGrad(1e-3, variant="keras"), r"variant must be one of"),
    (lambda: ad.Family(1e-3, q=1.2), r"q must be in \[0, 1\]"),
    (lambda: ad.Family(1e-3, p=-1.0), r"p must be >= 0"),
    (lambda: ad.Adagrad(1e-3, initial_accumulator_value=-1.0), r"initial_accumulator_value"),
    (lambda: ad.Adam(1e-3, schedule="cosine"), r"schedule must be a Schedule"),
    (lambda: ad.CosineAnnealing(period=0), r"period must be >= 1"),
])
def test_spec_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_beta_range_property(beta):
    ok = math.isfinite(beta) and 0.0 <= beta < 1.0
    if ok:
        assert ad.Adam(1e-3, beta1=beta).beta1 == beta
    else:
        with pytest.raises(ValueError, match="beta1 must be in"):
            ad.Adam(1e-3, beta1=beta)


def test_ab_round_trip():
    opt = ad.Adam.from_ab(1e-3, a=2.0, b=50.0)
    assert opt.a == pytest.approx(2.0) and opt.b == pytest.approx(50.0)
    assert opt.beta2 == pytest.approx(0.998) and opt.beta1 == pytest.approx(0.95)
    assert ad.RMSprop.from_a(1e-2, a=5.0).alpha == pytest.approx(0.95)


def test_run_input_validation(quad10):
    with pytest.raises(ValueError, match=r"x0 must have shape \(10,\)"):
        ad.run(ad.Adam(1e-3), quad10, np.ones(3), 10)
    with pytest.raises(ValueError, match="x0 must be finite"):
        ad.run(ad.Adam(1e-3), quad10, np.r_[np.ones(9), np.nan], 10)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        ad.run(ad.Adam(1e-3), quad10, np.ones(10), -1)
    with pytest.raises(ValueError, match="record_every must be >= 1"):
        ad.run(ad.Adam(1e-3), quad10, np.ones(10), 10, record_every=0)
    with pytest.raises(TypeError, match="optimiser spec"):
        ad.run("adam", quad10, np.ones(10), 10)
    with pytest.raises(ValueError, match="unknown hyperparameter 'gamma'"):
        ad.discrete.run_grid(ad.Adam(1e-3), quad10, np.ones(10), 10, gamma=[1.0])
