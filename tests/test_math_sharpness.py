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


# ------------------------------------------------------------------ mutation-testing survivors
from types import SimpleNamespace  # noqa: E402

from adadyn.analysis.sharpness import Sharpness  # noqa: E402


def test_spikes_related_to_threshold_crossings_by_hand():
    """from_series reads only spike_steps, spike_onsets and window of the regime. The
    ratio below (sharpness 2 r over threshold 2) crosses 1 upwards at steps 40, 80, 110
    and 160 (1.0 -> 1.3 counts: the ratio must exceed 1 strictly); a crossing at a
    spike's peak step belongs to that spike. The answers are written out by hand."""
    r = np.array([np.nan, 0.5, 0.5, 0.5, 1.5, 1.5, 0.8, 0.8, 1.2, 1.2,
                  0.9, 1.1, 1.1, 0.7, 0.7, 1.0, 1.3, 1.3, 0.6, 0.6])
    steps = np.arange(20) * 10
    pk = np.array([90.0, 110.0, 175.0, 190.0, 195.0])
    on = np.array([70.0, 100.0, 160.0, 150.0, 195.0])
    reg = SimpleNamespace(spike_steps=pk, spike_onsets=on, window=(0, 190))
    sh = Sharpness.from_series(steps, steps * 0.5, 2 * r, np.full(20, 2.0), np.ones(20), reg)
    assert sh.regime is reg
    np.testing.assert_array_equal(sh.spike_steps, pk)
    np.testing.assert_array_equal(sh.spike_onsets, on)
    assert sh.crossed.dtype == bool and sh.above_at_onset.dtype == bool
    np.testing.assert_array_equal(sh.crossed, [True, True, True, False, False])
    np.testing.assert_array_equal(sh.crossing_step, [80.0, 110.0, 160.0, np.nan, np.nan])
    np.testing.assert_array_equal(sh.lead_steps, [-10.0, -10.0, 0.0, np.nan, np.nan])
    np.testing.assert_array_equal(sh.peak_lead_steps, [10.0, 0.0, 15.0, np.nan, np.nan])
    # onsets 70 (ratio 0.8), 100 (0.9), 160 (1.3), 150 (1.0: not above), 195 (after the last row)
    np.testing.assert_array_equal(sh.above_at_onset, [False, False, True, False, False])
    assert sh.late_fraction_above == pytest.approx(8 / 19, rel=1e-15)   # NaN row left out
    assert sh.late_median_ratio == pytest.approx(0.9, rel=1e-15)
    np.testing.assert_array_equal(sh.ratio[1:], r[1:])
    np.testing.assert_array_equal(sh.time, steps * 0.5)
    # the window starts later: rows before it are not in the late statistics, and a crossing
    # before the window's start is not attributed to the first spike
    late = SimpleNamespace(spike_steps=np.array([90.0]), spike_onsets=np.array([70.0]), window=(80, 190))
    sh = Sharpness.from_series(steps, steps, 2 * r, np.full(20, 2.0), np.ones(20), late)
    assert not sh.crossed[0] and np.isnan(sh.crossing_step[0])
    assert sh.late_fraction_above == pytest.approx(6 / 12, rel=1e-15)
    # no late rows at all
    empty = SimpleNamespace(spike_steps=np.array([]), spike_onsets=np.array([]), window=(1000, 1000))
    sh = Sharpness.from_series(steps, steps, 2 * r, np.full(20, 2.0), np.ones(20), empty)
    assert np.isnan(sh.late_fraction_above) and np.isnan(sh.late_median_ratio) and sh.crossed.shape == (0,)


def test_regime_is_classified_on_steps_with_the_objective_minimum():
    """The regime is classify(loss, steps, f_star = obj.min_value (0 when unknown),
    window=0.5, **classify_kw) of the analysed rows; the time column is the run's."""
    from adadyn.analysis import classify
    opt = ad.Adam(0.01, beta1=0.9, beta2=0.95, eps=1e-3)
    for mv, f_star in ((5.0, 5.0), (None, 0.0)):
        kw = {} if mv is None else {"min_value": mv}
        obj = ad.Objective.from_expr("x1**2 + 3*x2**2 + 5", **kw)
        tr = ad.run(opt, obj, [1.0, -2.0], 300, record_every=3)
        for ckw in (None, {"window": 0.25}):
            sh = ad.analysis.preconditioned_sharpness(tr, every=2, classify_kw=ckw)
            loss, steps = np.asarray(tr.loss)[::2], np.asarray(tr.step)[::2]
            ref = classify(loss, steps, f_star=f_star, **(ckw or {"window": 0.5}))
            assert tuple(sh.regime.window) == tuple(ref.window), (mv, ckw)
            assert sh.regime.log_level == pytest.approx(ref.log_level, rel=1e-12)
            assert sh.regime.reference == pytest.approx(ref.reference, rel=1e-12)
            np.testing.assert_array_equal(sh.time, np.asarray(tr.time)[::2])


def test_lanczos_takes_the_largest_algebraic_eigenvalue():
    """An indefinite Hessian whose most negative eigenvalue (-50) dominates in modulus: the
    sharpness is the largest algebraic eigenvalue of P^1/2 H P^1/2, not the largest |.|."""
    rng = np.random.default_rng(2)
    Q = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    H = Q @ np.diag([-50.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]) @ Q.T
    opt = ad.RMSprop(1e-3, alpha=0.9, eps=1e-3)
    tr = ad.run(opt, ad.objectives.quadratic(H), rng.standard_normal(8), 30, record_every=10)
    sh = ad.analysis.preconditioned_sharpness(tr, method="lanczos", tol=1e-12)
    for j in (1, 2, 3):
        s = 1 / np.sqrt(np.sqrt(tr.v[j]) + 1e-3)
        assert sh.sharpness[j] == pytest.approx(np.linalg.eigvalsh(s[:, None] * H * s[None, :])[-1], rel=1e-9)
        assert sh.sharpness[j] > 0


def test_adafix_threshold_and_unsupported_methods():
    """AdaFix is eq. (1) with h = 1 - beta1, r = beta1: (2 + 2 beta1)/((1 - beta1) eta)."""
    th = ad.analysis.sharpness.stability_threshold
    assert th(ad.AdaFix(0.01)) == pytest.approx(3.8 / (0.1 * 0.01), rel=1e-12)
    for opt in (ad.SignGD(0.01), ad.Lion(0.01)):
        with pytest.raises(ValueError, match="no preconditioned stability threshold"):
            th(opt)
    tr = ad.run(ad.AMSGrad(0.01), ad.objectives.quadratic(A), X0, 10, record_every=5)
    with pytest.raises(ValueError, match="AMSGrad"):
        ad.analysis.preconditioned_sharpness(tr)


def test_rows_methods_and_defaults():
    """every = 2 takes rows 0, 2, 4, ...; 'auto' switches to Lanczos above dense_max; the
    objective defaults to the run's; input checks name their parameter."""
    obj = ad.objectives.quadratic(A)
    opt = ad.Adam(0.01, beta1=0.9, beta2=0.95, eps=1e-3)
    tr = ad.run(opt, obj, X0, 100, record_every=10)
    exp = _expected(tr, 0.95, 1e-3, False, True)
    sh = ad.analysis.preconditioned_sharpness(tr, every=2)
    np.testing.assert_array_equal(sh.step, np.asarray(tr.step)[::2])
    np.testing.assert_allclose(sh.sharpness[1:], exp[::2][1:], rtol=1e-10)
    np.testing.assert_allclose(sh.loss, np.asarray(tr.loss)[::2], rtol=0)
    lz = ad.analysis.preconditioned_sharpness(tr, obj, dense_max=2, tol=1e-12)
    np.testing.assert_allclose(lz.sharpness[1:], exp[1:], rtol=1e-8)
    # Lanczos on an objective without a Hessian: Hessian-vector products (finite differences)
    rng = np.random.default_rng(5)
    U = rng.standard_normal((30, 30))
    B = U @ U.T / 30 + 0.1 * np.eye(30)
    q30 = ad.objectives.quadratic(B)
    nohess = ad.Objective(30, q30._value_grad, data=q30.data, name="quadratic without Hessian")
    assert not nohess.has_hessian
    t30 = ad.run(opt, q30, rng.standard_normal(30), 60, record_every=20)
    nh = ad.analysis.preconditioned_sharpness(t30, nohess, method="lanczos", tol=1e-10)
    for j in (1, 2, 3):
        v = t30.v[j] / (1 - 0.95 ** t30.step[j])
        s = 1 / np.sqrt(np.sqrt(v) + 1e-3)
        assert nh.sharpness[j] == pytest.approx(np.linalg.eigvalsh(s[:, None] * B * s[None, :])[-1], rel=1e-5)
    for kw, name in ((dict(every=0), "every"), (dict(method="eig"), "method")):
        with pytest.raises(ValueError, match=name):
            ad.analysis.preconditioned_sharpness(tr, **kw)
    bare = ad.run(opt, obj, X0, 10, record_state=False)
    with pytest.raises(ValueError, match="record_state"):
        ad.analysis.preconditioned_sharpness(bare)


def test_lanczos_default_tolerance_resolves_a_clustered_top():
    """300 curvatures in [0.1, 1] and one at 1.001 (GD: P = I): the default tol = 1e-8 gives
    the top to ~1e-9; a loose tolerance stops ~1e-3 short."""
    lam = np.r_[np.linspace(0.1, 1.0, 299), 1.001]
    tr = ad.run(ad.GD(0.1), ad.objectives.diagonal_quadratic(lam), np.ones(300), 30, record_every=10)
    sh = ad.analysis.preconditioned_sharpness(tr, method="lanczos")
    np.testing.assert_allclose(sh.sharpness[1:], 1.001, rtol=1e-8)
