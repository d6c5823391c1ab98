"""Preconditioned sharpness against a NumPy computation written here.

At recorded step k with second moment v (eq. (3) of Ma, Wu & E),
v_hat = v / (1 - beta2^k) under bias correction (else v), and the preconditioner is
P = 1 / (sqrt(v_hat) + eps) (eps outside) or 1 / sqrt(v_hat + eps) (eps inside,
optax's eps_root). The sharpness is the largest eigenvalue of P H (real: P H is
similar to P^1/2 H P^1/2). Thresholds are compared with hand-computed numbers.
"""
import numpy as np
import pytest

import adadyn as ad

A = np.array([[3.0, 0.8, 0.0], [0.8, 1.0, 0.2], [0.0, 0.2, 0.05]])
X0 = np.array([1.0, -2.0, 0.5])


def _expected(tr, beta2, eps, eps_inside, bias_correction):
    out = np.full(len(tr), np.nan)
    for j, k in enumerate(tr.step):
        if k == 0:
            continue
        v = tr.v[j] / (1 - beta2 ** k) if bias_correction else tr.v[j]
        P = 1 / np.sqrt(v + eps) if eps_inside else 1 / (np.sqrt(v) + eps)
        out[j] = np.max(np.linalg.eigvals(P[:, None] * A).real)
    return out


@pytest.mark.parametrize("eps_inside", [False, True], ids=["eps-outside", "eps-inside"])
@pytest.mark.parametrize("bias_correction", [True, False], ids=["bc", "no-bc"])
@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_adam_sharpness_every_option(eps_inside, bias_correction, method):
    """eps = 1e-3 is comparable to v_hat here, so 1/(sqrt(v)+eps) and 1/sqrt(v+eps)
    differ by up to ~30x, and v against v_hat by up to 1/(1 - beta2) early on."""
    b2, eps = 0.95, 1e-3
    opt = ad.Adam(0.01, beta1=0.9, beta2=b2, eps=eps, eps_inside=eps_inside, bias_correction=bias_correction)
    obj = ad.objectives.quadratic(A)
    tr = ad.run(opt, obj, X0, 400, record_every=20)
    sh = ad.analysis.preconditioned_sharpness(tr, method=method, tol=1e-12)
    exp = _expected(tr, b2, eps, eps_inside, bias_correction)
    assert np.isnan(sh.sharpness[0])
    np.testing.assert_allclose(sh.sharpness[1:], exp[1:], rtol=1e-8)
    np.testing.assert_allclose(sh.threshold, 3800.0, rtol=1e-14)   # (2 + 1.8) / (0.1 * 0.01)
    np.testing.assert_allclose(sh.ratio[1:], exp[1:] / 3800.0, rtol=1e-8)


def test_eps_placement_changes_the_answer():
    """The two placements differ by a large factor on this run (so the test above
    discriminates them)."""
    tr = ad.run(ad.Adam(0.01, beta1=0.9, beta2=0.95, eps=1e-3), ad.objectives.quadratic(A), X0, 400,
                record_every=20)
    a = _expected(tr, 0.95, 1e-3, True, True)[1:]
    b = _expected(tr, 0.95, 1e-3, False, True)[1:]
    assert np.max(a / b) > 5 or np.max(b / a) > 5


def test_rmsprop_gd_family_and_schedules():
    obj = ad.objectives.quadratic(A)
    # RMSprop: no bias correction; threshold 2 / eta
    tr = ad.run(ad.RMSprop(0.01, alpha=0.9, eps=1e-3, eps_inside=True), obj, X0, 100, record_every=10)
    sh = ad.analysis.preconditioned_sharpness(tr)
    np.testing.assert_allclose(sh.sharpness[1:], _expected(tr, 0.9, 1e-3, True, False)[1:], rtol=1e-10)
    np.testing.assert_allclose(sh.threshold, 200.0, rtol=1e-14)
    # GD: P = I, the sharpness is lambda_max(A) along the whole run
    tr = ad.run(ad.GD(0.1), obj, X0, 50, record_every=10)
    sh = ad.analysis.preconditioned_sharpness(tr)
    np.testing.assert_allclose(sh.sharpness[1:], np.linalg.eigvalsh(A)[-1], rtol=1e-12)
    np.testing.assert_allclose(sh.threshold, 20.0, rtol=1e-14)
    # Family m <- 0.4 g + 0.6 m: 2 (1 + r) / (h eta) = 3.2 / (0.4 * 0.02) = 400
    tr = ad.run(ad.Family(0.02, h=0.4, r=0.6, p=0.3, q=0.7, eps=1e-3), obj, X0, 40, record_every=10)
    np.testing.assert_allclose(ad.analysis.preconditioned_sharpness(tr).threshold, 400.0, rtol=1e-14)
    # inverse-sqrt schedule: the step after k steps is eta / sqrt(k + 1); rows at k = 0, 3, 6, 9
    tr = ad.run(ad.RMSprop(0.01, alpha=0.9, eps=1e-3, schedule=ad.InverseSqrt()), obj, X0, 9, record_every=3)
    np.testing.assert_allclose(ad.analysis.preconditioned_sharpness(tr).threshold,
                               [200.0, 400.0, 200 * np.sqrt(7.0), 200 * np.sqrt(10.0)], rtol=1e-14)


def test_thresholds_by_hand():
    th = ad.analysis.sharpness.stability_threshold
    assert th(ad.Adam(0.01)) == pytest.approx(3800.0, rel=1e-14)
    assert th(ad.Adam(0.001, beta1=0.5)) == pytest.approx(6000.0, rel=1e-14)   # 3 / (0.5 * 1e-3)
    assert th(ad.RMSprop(0.004)) == pytest.approx(500.0, rel=1e-14)
    assert th(ad.GD(0.25)) == pytest.approx(8.0, rel=1e-14)
    assert th(ad.Adam(0.01, schedule=ad.InverseSqrt()), k=3) == pytest.approx(7600.0, rel=1e-14)
    with pytest.raises(ValueError, match="Lion"):
        th(ad.Lion(0.01))
