"""Regime classification (Ma, Wu & E section 4) and preconditioned sharpness."""
from __future__ import annotations

import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis import classify, preconditioned_sharpness
from adadyn.analysis.sharpness import stability_threshold

ETA = 1e-3


@pytest.fixture(scope="module")
def quad():
    return ad.objectives.random_quadratic(10, seed=0)


@pytest.fixture(scope="module")
def x0():
    return np.random.default_rng(0).standard_normal(10)


@pytest.fixture(scope="module")
def curves(quad, x0):
    """Loss curves of the three regimes of Figure 7 on the paper's 10x10 quadratic."""
    out = {}
    for a, b in ((1.0, 100.0), (10.0, 10.0), (100.0, 1.0)):
        out[(a, b)] = ad.run(ad.Adam.from_ab(ETA, a, b), quad, x0, 30_000, record_state=False)
    return out


# ------------------------------------------------------------------ the paper's three regimes
@pytest.mark.parametrize("ab, label", [((1.0, 100.0), "spike"), ((10.0, 10.0), "oscillation"),
                                       ((100.0, 1.0), "divergence")])
def test_paper_regimes_on_random_quadratic(curves, ab, label):
    reg = classify(curves[ab])
    assert reg.label == label, reg
    if label == "divergence":
        # "the loss is large": finite, and Figure 8's left panel: far above the a ~ b loss
        assert not reg.nonfinite
        assert reg.log_level > classify(curves[(10.0, 10.0)]).log_level + 5
    if label == "oscillation":
        assert reg.spike_count == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_paper_regimes_hold_for_other_starts(quad, seed):
    x0 = np.random.default_rng(seed).standard_normal(10)
    got = [classify(ad.run(ad.Adam.from_ab(ETA, a, b), quad, x0, 20_000, record_state=False)).label
           for a, b in ((1.0, 100.0), (10.0, 10.0), (100.0, 1.0))]
    assert got == ["spike", "oscillation", "divergence"]


# ------------------------------------------------------------------ invariance under f -> c f
@pytest.mark.parametrize("c", [1e-6, 3.7, 2.0 ** 20, 1e9])
def test_label_and_features_invariant_under_scaling_of_loss(curves, c):
    for tr in curves.values():
        r1 = classify(tr.loss, tr.step)
        r2 = classify(c * tr.loss, tr.step)
        assert r1.label == r2.label
        assert r1.spike_count == r2.spike_count
        np.testing.assert_allclose([r1.level, r1.trend, r1.osc_amplitude],
                                   [r2.level, r2.trend, r2.osc_amplitude], atol=1e-9)
        assert r2.reference == pytest.approx(c * r1.reference, rel=1e-12)


def test_label_invariant_for_runs_on_scaled_objective(quad, x0):
    """Adam on c f with eps -> c eps is the same map (up to rounding): same regimes."""
    c = 1e3
    qc = ad.objectives.quadratic(c * quad.A)
    for a, b in ((1.0, 100.0), (10.0, 10.0), (100.0, 1.0)):
        r1 = classify(ad.run(ad.Adam.from_ab(ETA, a, b), quad, x0, 20_000, record_state=False))
        r2 = classify(ad.run(ad.Adam.from_ab(ETA, a, b, eps=c * 1e-8), qc, x0, 20_000, record_state=False))
        assert r1.label == r2.label


# ------------------------------------------------------------------ closed-form behaviour
def test_gd_below_and_above_two_over_L(quad, x0):
    L = float(np.linalg.eigvalsh(quad.A)[-1])
    ok = classify(ad.run(ad.GD(1.0 / L), quad, x0, 5000, record_state=False))
    bad = ad.run(ad.GD(2.05 / L), quad, x0, 20_000, record_state=False)
    assert ok.label == "convergence"
    assert bad.status == "diverged"
    r = classify(bad)
    assert r.label == "divergence" and r.nonfinite


def test_synthetic_sawtooth_spikes():
    """log10 loss rising 6 decades in 10 steps, decaying linearly over 190: 25 spikes in the
    last quarter of 20000 samples, each 6 decades above the valley and 4.39 above the rolling
    30th percentile (order statistic 150 of the 501-sample window: 2.5 periods)."""
    k = np.arange(20_000)
    ph = k % 200
    y = np.where(ph < 10, -12 + 0.6 * ph, -6 - 6 * (ph - 10) / 190)
    reg = classify(10.0 ** y)
    assert reg.label == "spike"
    assert reg.spike_count == 25
    # interior spikes: the rolling 30th percentile of the window (501 samples, 2.5 periods);
    # the two at each end see a baseline window cut at the edge of the late window
    late = y[15_000:]
    base = np.array([np.sort(late[max(0, k - 250):k + 251])[150] for k in range(0, 5000)])
    np.testing.assert_allclose(reg.spike_heights[2:-2], (late - base)[reg.spike_steps[2:-2] - 15_000], atol=0.02)
    np.testing.assert_allclose(reg.spike_heights[2:-2], 4.39, atol=0.01)
    assert np.all(reg.spike_steps % 200 == 10)
    assert np.all(reg.spike_onsets % 200 == 0)


def test_synthetic_oscillation_frequency():
    k = np.arange(8000)
    reg = classify(1e-9 * (1 + 0.5 * np.sin(2 * np.pi * k / 7.0)), reference=1.0)
    assert reg.label == "oscillation"
    assert reg.osc_frequency == pytest.approx(1 / 7.0, rel=0.02)
    # half the 5-95 % spread of log10(1 + 0.5 sin) about its median
    assert reg.osc_amplitude == pytest.approx(0.5 * (np.log10(1.5) - np.log10(0.5)) * 0.97, rel=0.05)


def test_constant_loss_is_convergence_and_exact_zero_is_floored():
    assert classify(np.full(100, 3.0)).label == "convergence"
    loss = np.concatenate([np.logspace(0, -20, 50), np.zeros(150)])
    reg = classify(loss)
    assert reg.label == "convergence" and np.isfinite(reg.level)


@pytest.mark.parametrize("kw", [dict(window=0.0), dict(window=1.5), dict(spike_height=-1.0),
                                dict(min_spikes=0), dict(baseline_window=0.0), dict(floor=0.0),
                                dict(reference=-1.0), dict(ripple=0)])
def test_bad_parameters_raise(kw):
    with pytest.raises(ValueError):
        classify(np.ones(100), **kw)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="one-dimensional"):
        classify(np.ones((3, 10)))
    with pytest.raises(ValueError, match="step"):
        classify(np.ones(10), np.arange(9))
    with pytest.raises(ValueError, match="at least 4"):
        classify(np.ones(3))


# ------------------------------------------------------------------ labelled set
# The scored labelled set (calibration and test parts, labels not from (a, b)) is in
# tests/test_regime_robustness.py::test_accuracy_on_test_part_of_labelled_set.


# ------------------------------------------------------------------ preconditioned sharpness
def test_threshold_is_where_heavy_ball_recurrence_loses_stability():
    """z^2 - (1 + beta1 - eta (1 - beta1) mu) z + beta1 = 0 has a root of modulus 1 at the threshold."""
    for beta1 in (0.0, 0.5, 0.9, 0.99):
        opt = ad.Adam(ETA, beta1=beta1)
        thr = stability_threshold(opt)
        assert thr == pytest.approx((2 + 2 * beta1) / ((1 - beta1) * ETA))

        def rho(mu):
            return max(abs(np.roots([1.0, -(1 + beta1 - ETA * (1 - beta1) * mu), beta1])))

        assert rho(thr * (1 - 1e-6)) < 1.0 < rho(thr * (1 + 1e-6))
    assert stability_threshold(ad.Adam(ETA)) == pytest.approx(38.0 / ETA)
    assert stability_threshold(ad.RMSprop(ETA)) == pytest.approx(2.0 / ETA)
    assert stability_threshold(ad.GD(ETA)) == pytest.approx(2.0 / ETA)
    with pytest.raises(ValueError):
        stability_threshold(ad.SignGD(ETA))


def test_sharpness_equals_eigenvalues_of_nonsymmetric_PH(quad, x0):
    tr = ad.run(ad.Adam.from_ab(ETA, 1.0, 100.0), quad, x0, 3000, record_every=500)
    S = preconditioned_sharpness(tr)
    assert np.isnan(S.sharpness[0])
    opt = tr.opt
    for j in range(1, len(tr)):
        k = tr.step[j]
        P = 1.0 / (np.sqrt(tr.v[j] / (1 - opt.beta2 ** k)) + opt.eps)
        ev = np.linalg.eigvals(P[:, None] * quad.A)
        assert S.sharpness[j] == pytest.approx(np.max(ev.real), rel=1e-9)


def test_sharpness_diagonal_closed_form():
    h = np.array([0.5, 2.0, 7.0, 30.0])
    obj = ad.objectives.diagonal_quadratic(h)
    opt = ad.RMSprop(1e-2, alpha=0.9, eps=1e-3)
    tr = ad.run(opt, obj, np.ones(4), 400, record_every=40)
    S = preconditioned_sharpness(tr)
    expect = np.max(h / (np.sqrt(tr.v) + 1e-3), axis=1)  # RMSprop: no bias correction
    assert np.isnan(S.sharpness[0])  # k = 0: v = 0 is not a state the method iterates from
    np.testing.assert_allclose(S.sharpness[1:], expect[1:], rtol=1e-12)
    np.testing.assert_allclose(S.threshold, 2.0 / 1e-2)


def test_lanczos_matches_dense():
    obj = ad.objectives.rosenbrock(40)
    x0 = np.random.default_rng(3).uniform(-1, 1, 40)
    tr = ad.run(ad.Adam(1e-3), obj, x0, 300, record_every=100)
    d = preconditioned_sharpness(tr, method="dense")
    lz = preconditioned_sharpness(tr, method="lanczos")
    np.testing.assert_allclose(lz.sharpness[1:], d.sharpness[1:], rtol=1e-7)


def test_lanczos_with_finite_difference_hvp():
    obj = ad.Objective.from_expr("x1**4/4 + x1*x2 + x2**2 + 3*x3**2 + x1**2*x3**2")
    obj_nohess = ad.Objective(3, obj._value_grad, None, None, name="no hessian")
    tr = ad.run(ad.Adam(1e-2), obj_nohess, np.array([1.0, -0.5, 0.3]), 200, record_every=50)
    lz = preconditioned_sharpness(tr, method="lanczos")
    d = preconditioned_sharpness(tr, obj, method="dense")  # exact symbolic Hessian
    np.testing.assert_allclose(lz.sharpness[1:], d.sharpness[1:], rtol=1e-5)


def test_sharpness_needs_state_and_supported_optimiser(quad, x0):
    tr = ad.run(ad.Adam(ETA), quad, x0, 10, record_state=False)
    with pytest.raises(ValueError, match="record_state"):
        preconditioned_sharpness(tr)
    tr = ad.run(ad.SignGD(ETA), quad, x0, 10)
    with pytest.raises(ValueError):
        preconditioned_sharpness(tr)


@pytest.mark.slow
def test_spike_regime_sits_at_adaptive_edge_of_stability(quad, x0):
    """Ma, Wu & E, section 4, and Cohen et al. 2022: with a = 1, b = 100 the preconditioned sharpness hovers at 38/eta and
    spikes follow its upward crossings (Cohen et al. 2022)."""
    tr = ad.run(ad.Adam.from_ab(ETA, 1.0, 100.0), quad, x0, 30_000)
    S = preconditioned_sharpness(tr)
    assert S.regime.label == "spike" and S.spike_steps.size >= 40
    assert 0.9 < S.late_median_ratio < 1.1
    assert 0.1 < S.late_fraction_above < 0.5
    assert S.crossed.mean() >= 0.75
    # the crossing comes before the peak of the spike
    assert np.nanmedian(S.peak_lead_steps) > 0
    # the oscillation regime stays below the threshold, the large-loss regime far below
    lo = preconditioned_sharpness(ad.run(ad.Adam.from_ab(ETA, 100.0, 1.0), quad, x0, 5000, record_every=10))
    assert lo.late_fraction_above == 0.0 and lo.late_median_ratio < 1e-3


# ------------------------------------------------------------------ order statistics of the kernel
@pytest.mark.parametrize("n", [4, 5, 64, 65, 997])
@pytest.mark.parametrize("levels", [3, 1000])
def test_spread_and_amplitude_are_numpy_percentiles_of_the_late_log_loss(n, levels):
    """The kernel's own quickselect (regime_features._select) must give NumPy's order
    statistics: ``spread`` = p95 - p5 of log10|f| and, with the baseline window covering
    the whole late window, ``osc_amplitude`` = (p95 - p5) / 2 of log10|f| minus its median
    (np.median: the mean of the two middle values for an even count) and ``osc_frequency``
    = upward crossings of that median per step, ties included."""
    rng = np.random.default_rng(n * levels)
    y = rng.integers(0, levels, n) * (3.0 / levels) - 5.0  # many ties when levels = 3
    loss = 10.0 ** y
    reg = classify(loss, window=1.0, baseline_window=1.0)
    yy = np.log10(loss)
    assert reg.spread == pytest.approx(np.percentile(yy, 95) - np.percentile(yy, 5), rel=1e-12, abs=1e-12)
    e = yy - np.median(yy)
    assert reg.osc_amplitude == pytest.approx(0.5 * (np.percentile(e, 95) - np.percentile(e, 5)),
                                              rel=1e-12, abs=1e-12)
    # upward crossings of the median per step: reads the median's value itself
    ups = np.count_nonzero((e[:-1] <= 0) & (e[1:] > 0))
    assert reg.osc_frequency == ups / (n - 1)


@pytest.mark.parametrize("n", [64, 65])
def test_spike_heights_are_measured_from_the_baseline_order_statistic(n):
    """Baseline covering the whole late window: a spike's height is its log-loss minus the
    order statistic of rank round(spike_quantile (n - 1)) of the log-loss (0.3: rank 19 for
    n = 64 and 65); with spike_quantile = 0.5, np.median (for an even count the mean of the two
    middle values), the first release's baseline."""
    y = -5.0 + 0.01 * np.random.default_rng(n).standard_normal(n)
    y[[20, 45]] = [0.0, 0.5]
    yy = np.log10(10.0 ** y)
    reg = classify(10.0 ** y, window=1.0, baseline_window=1.0, ripple=1.0)
    assert reg.spike_count == 2 and list(reg.spike_steps) == [20, 45]
    np.testing.assert_allclose(reg.spike_heights, yy[[20, 45]] - np.sort(yy)[round(0.3 * (n - 1))], rtol=0,
                               atol=1e-12)
    reg = classify(10.0 ** y, window=1.0, baseline_window=1.0, ripple=1.0, spike_quantile=0.5)
    np.testing.assert_allclose(reg.spike_heights, yy[[20, 45]] - np.median(yy), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ the gradient rules (docs/regimes.md)
@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
@pytest.mark.parametrize("stride", [1, 2, 7])
def test_rmsprop_two_cycle_is_oscillation(scale, stride):
    """RMSprop on f = scale x^2/2 (eps scaled alike: the same map) settles on the symmetric
    2-cycle x -> -x of amplitude eta/2 - eps/lambda (Figure 6): a constant loss, so the loss
    alone reads convergence; the gradient puts the iterate (eta/2 - eps/lambda)/eta step
    sizes from the minimum, which is a cycle at the step-size scale."""
    eta, eps = 0.01, 1e-8 * scale
    obj = ad.objectives.quadratic(np.array([[scale]]))
    tr = ad.run(ad.RMSprop(eta, alpha=0.9, eps=eps), obj, [0.1], 20_000, record_every=stride)
    assert abs(tr.x[-1, 0]) == pytest.approx(eta / 2 - eps / scale, rel=1e-9)
    reg = classify(tr, use_gradient=True)
    assert reg.label == "oscillation", reg
    assert reg.grad_ratio == pytest.approx((eta / 2 - eps / scale) / eta, rel=1e-9)
    assert classify(tr.loss, tr.step).label == "convergence"  # what the loss alone can tell
    # the explicit form gives the same
    assert classify(tr.loss, tr.step, grad_norm=tr.grad_norm, step_size=eta).label == "oscillation"


def test_still_loss_at_the_minimum_stays_convergence():
    """A still loss with the iterate at the minimum (f = f*, |g| = 0) is convergence."""
    loss = np.zeros(400)
    assert classify(loss, grad_norm=np.zeros(400), step_size=1e-3).label == "convergence"
    # a still loss far from the minimum in step sizes is not a step-size cycle either
    assert classify(np.ones(400), grad_norm=np.full(400, 1e-3), step_size=1e-3).label == "convergence"


def test_rmsprop_slow_memory_is_not_divergence(quad, x0):
    """RMSprop with a = 0.4 (alpha = 1 - a eta) on the paper's quadratic: the loss drifts
    slowly (many steps of the run's own length, which after a burst are far below eta), but
    the late loss is at the step-size scale and the gradient puts the iterate about one step
    size from the minimum; Adam at a >> b stays divergence (tens of step sizes away)."""
    tr = ad.run(ad.RMSprop.from_a(ETA, 0.4), quad, x0, 40_000, record_every=10, record_state=False)
    reg = classify(tr, use_gradient=True)
    # loss only (use_gradient=False, or a bare loss array) it reads as divergence
    assert classify(tr, use_gradient=False).label == classify(tr.loss, tr.step).label == "divergence"
    assert reg.step_ratio >= 4 and classify(tr).label == reg.label  # the gradient rules are the default
    assert reg.label == "oscillation" and reg.grad_ratio < 2, reg
    ad_tr = ad.run(ad.Adam.from_ab(ETA, 100.0, 1.0), quad, x0, 40_000, record_every=10, record_state=False)
    r2 = classify(ad_tr, use_gradient=True)
    assert r2.label == "divergence" and r2.grad_ratio > 20, r2
    # the late loss is not large: decades below Adam's at a >> b (Figure 8, left)
    assert reg.log_level < r2.log_level - 2


def test_classify_many_with_gradients_equals_classify(quad, x0):
    trs = [ad.run(opt, quad, x0, 20_000, record_every=10, record_state=False)
           for opt in (ad.RMSprop.from_a(ETA, 0.4), ad.Adam.from_ab(ETA, 100.0, 1.0), ad.Adam.from_ab(ETA, 10.0, 10.0))]
    from adadyn.analysis import classify_many

    ra = classify_many(np.stack([t.loss for t in trs]), trs[0].step, grad_norm=np.stack([t.grad_norm for t in trs]),
                       step_size=ETA)
    assert list(ra.label) == [classify(t, use_gradient=True).label for t in trs]
    np.testing.assert_array_equal(ra.grad_ratio, [classify(t, use_gradient=True).grad_ratio for t in trs])
    np.testing.assert_array_equal(np.stack([ra.grad_ratio_first, ra.grad_ratio_last], axis=1),
                                  [classify(t, use_gradient=True).grad_ratio_ends for t in trs])
    assert [r.label for r in ra.regimes] == list(ra.label)
    with pytest.raises(ValueError, match="together"):
        classify_many(np.stack([t.loss for t in trs]), grad_norm=np.stack([t.grad_norm for t in trs]))
    with pytest.raises(ValueError, match="step_size"):
        classify(trs[0].loss, grad_norm=trs[0].grad_norm, step_size=-1.0)


def test_gradient_rules_need_the_minimum_value(quad, x0):
    """2 |f - f*| / |g| is a distance only when f* is the minimum value: with the
    objective's min_value unknown (networks, adadyn.nn) the gradient rules stay off unless
    f_star is given."""
    from dataclasses import replace

    tr = ad.run(ad.RMSprop.from_a(ETA, 0.4), quad, x0, 20_000, record_every=10, record_state=False)
    assert np.isfinite(classify(tr, use_gradient=True).grad_ratio)
    assert np.isnan(classify(tr, use_gradient=False).grad_ratio)  # loss only on request

    class Unknown:  # an objective without a known minimum value
        min_value = None

    tr2 = replace(tr, objective=Unknown())
    assert np.isnan(classify(tr2, use_gradient=True).grad_ratio)
    assert classify(tr2, use_gradient=True).label == classify(tr.loss, tr.step).label
    assert classify(tr2).log_level == classify(tr.loss, tr.step).log_level  # f* = 0 when unknown
    assert classify(tr2, f_star=0.0, use_gradient=True).grad_ratio == classify(tr, use_gradient=True).grad_ratio


# ------------------------------------------------------------------ option ranges and plumbing (mutation survivors)
@pytest.mark.parametrize("kw", [dict(window=1.0), dict(floor=1.0), dict(spike_height=0.5), dict(min_spikes=1),
                                dict(baseline_window=1.0), dict(trend_snr=0.5), dict(flat_tol=0.0),
                                dict(steady=1.0), dict(far=0.5), dict(accel=1.0), dict(cycle_min=0.0),
                                dict(trend_min=0.0)])
def test_option_boundaries_are_accepted(kw):
    """The documented closed ends of the option ranges are allowed."""
    assert classify(np.logspace(0, -3, 100), **kw).label in ad.analysis.REGIMES


@pytest.mark.parametrize("kw", [dict(floor=1.5), dict(baseline_window=1.5), dict(flat_tol=-1e-9), dict(steady=0.99),
                                dict(accel=0.99), dict(cycle_min=-1e-9), dict(far=0.0), dict(trend_snr=0.0),
                                dict(spike_height=0.0), dict(min_spikes=True), dict(min_spikes=1.5)])
def test_options_out_of_range_raise(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        classify(np.ones(100), **kw)


def test_retired_options_warn_and_are_ignored():
    loss = 10 ** np.sin(np.arange(400) / 3.0)
    with pytest.warns(DeprecationWarning, match="growth"):
        r = classify(loss, growth=10.0, far=2.0)
    assert r.label == classify(loss, far=2.0).label and r.step_ratio == classify(loss, far=2.0).step_ratio
    with pytest.raises(TypeError, match="unknown"):
        classify(loss, not_an_option=1)


def test_f_star_and_reference_are_used(quad, x0):
    """An offset loss with its f_star gives the features of the plain loss (classify,
    classify_many, and a Trajectory whose objective knows min_value); ``reference``
    sets ``level`` = log_level - log10(reference)."""
    from dataclasses import replace

    from adadyn.analysis import classify_many

    tr = ad.run(ad.Adam.from_ab(ETA, 1.0, 100.0), quad, x0, 20_000, record_every=10, record_state=False)
    base = classify(tr)
    off = classify(tr.loss + 1e-6, tr.step, f_star=1e-6)
    assert off.label == base.label == "spike" and off.spike_count == base.spike_count
    assert off.log_level == pytest.approx(base.log_level, abs=0.01)

    class Offset:
        min_value = 1e-6

    r = classify(replace(tr, loss=tr.loss + 1e-6, objective=Offset()), use_gradient=True)
    assert r.label == "spike" and r.log_level == pytest.approx(base.log_level, abs=0.01)
    assert np.isfinite(r.grad_ratio)  # min_value known: the gradient rules are on
    ra = classify_many(np.stack([tr.loss + 1e-6, tr.loss]), tr.step, f_star=[1e-6, 0.0])
    assert list(ra.label) == ["spike", "spike"]
    np.testing.assert_allclose(ra.log_level, base.log_level, atol=0.01)
    rr = classify(tr, reference=10.0)
    assert rr.level == pytest.approx(rr.log_level - 1.0) and rr.reference == 10.0
    with pytest.raises(ValueError, match="reference"):
        classify(tr, reference=0.0)
    # an explicit step overrides the trajectory's
    assert classify(tr, step=2 * tr.step).window == (2 * base.window[0], 2 * base.window[1])


def test_regime_array_fields_equal_classify(quad, x0):
    """Every (G,) array of classify_many is the field of classify, diverged included."""
    from adadyn.analysis import classify_many

    trs = [ad.run(ad.Adam.from_ab(ETA, a, b), quad, x0, 20_000, record_every=10, record_state=False)
           for a, b in ((1.0, 100.0), (10.0, 10.0), (100.0, 1.0))]
    L = np.stack([t.loss for t in trs])
    ra = classify_many(L, trs[0].step, diverged=[False, True, False])
    regs = [classify(t.loss, t.step, diverged=d) for t, d in zip(trs, (False, True, False))]
    assert list(ra.label) == [r.label for r in regs] and ra.label[1] == "divergence"
    assert list(ra.reason) == [r.reason for r in regs]
    for name in ("osc_amplitude", "osc_frequency", "level", "trend", "residual_std", "step_ratio", "smoothness",
                 "log_level", "spread", "grad_ratio"):
        np.testing.assert_array_equal(getattr(ra, name), [getattr(r, name) for r in regs], err_msg=name)
    np.testing.assert_array_equal(ra.nonfinite, [False, True, False])
    for r, rg in zip(ra.regimes, regs):
        for name in ("reason", "residual_std", "smoothness", "trend_halves", "floor", "spike_count"):
            assert getattr(r, name) == getattr(rg, name), name
        assert isinstance(r.residual_std, float) and isinstance(r.floor, float)
        assert len(r.trend_halves) == 2 and all(np.isfinite(r.trend_halves))
        np.testing.assert_array_equal(r.spike_steps, rg.spike_steps)
        assert r.spike_steps.dtype == np.int64 and r.spike_onsets.dtype == np.int64
    assert "3 curves" in repr(ra) and "'spike': 1" in repr(ra)

    class LossOnly:  # has a loss but is not a Trajectory (no status): read as an array, which fails
        loss = trs[0].loss

    with pytest.raises(TypeError, match="traj_or_loss"):
        classify(LossOnly())


def test_gradient_arguments_are_checked_and_gd_gets_no_gradient_rules(quad, x0):
    from adadyn.analysis import classify_many

    loss = np.logspace(0, -3, 100)
    with pytest.raises(ValueError, match="together"):
        classify(loss, grad_norm=np.ones(100))
    with pytest.raises(ValueError, match="together"):
        classify(loss, step_size=1e-3)
    with pytest.raises(ValueError, match="step_size"):
        classify(loss, grad_norm=np.ones(100), step_size=0.0)
    with pytest.raises(ValueError, match="step_size"):
        classify_many(loss[None], grad_norm=np.ones((1, 100)), step_size=0.0)
    with pytest.raises(ValueError, match="shape"):
        classify(loss, grad_norm=np.ones(99), step_size=1e-3)
    # GD's step is eta |g|, not eta: no gradient rules from its trajectory
    tr = ad.run(ad.GD(0.01), quad, x0, 2_000, record_every=10, record_state=False)
    assert np.isnan(classify(tr, use_gradient=True).grad_ratio)
    tr2 = ad.run(ad.RMSprop.from_a(ETA, 10.0), quad, x0, 2_000, record_every=10, record_state=False)
    assert np.isfinite(classify(tr2, use_gradient=True).grad_ratio)


def test_grad_ratio_ends_are_the_distance_in_step_sizes():
    """f = x^2/2 has |grad f| = |x|, so 2 f / |grad f| = |x| exactly: on x(t) = X 2^(-t/T) the medians
    over the first and last tenth of the late window are the distance |x| (in step sizes) at the
    middles of those tenths (odd sample counts: the median is one sample)."""
    eta, X, T = 1e-3, 0.5, 3000.0
    step = np.arange(4001, dtype=np.float64)  # late window: steps 3000..4000, 1001 samples, tenths of 100
    x = X * 2.0 ** (-step / T)
    loss, g = x * x / 2, np.abs(x)
    r = classify(loss, step, grad_norm=g, step_size=eta)
    w0 = 3000
    first, last = x[w0:w0 + 100], x[4001 - 100:]
    expect = (np.median(first) / eta, np.median(last) / eta)
    assert r.grad_ratio_ends == pytest.approx(expect, rel=1e-12)
    assert r.grad_ratio == pytest.approx(x[3500] / eta, rel=1e-12)  # the window's median, step 3500
    assert np.isnan(classify(loss, step).grad_ratio_ends).all()  # no gradient, no distance


@pytest.mark.parametrize("end, label, reason", [
    (2.0, "convergence", "falling steadily"),   # within `far` (4) step sizes at the end: arriving
    (16.0, "transient", "not settled"),          # 16/4 = 4 <= 8 = the window's shrink factor
    (64.0, "divergence", "stays `far`"),         # 64/4 = 16 > 8: still far on the window's time scale
])
def test_far_steady_fall_label_from_the_end_distances(end, label, reason):
    """f = x^2/2, x(t) = X 2^(-t/300): a steady geometric fall whose distance to the minimum,
    |x| / eta step sizes (2 f / |grad f| = |x|), shrinks 2^(901/300) = 8.02-fold between the
    middles of the first and last tenths of the late window (steps 3000..3099, 3901..4000). Rule 4 of
    docs/regimes.md: ending at or beyond `far` = 4 step sizes is no arrival; it is transient if
    at that rate the distance reaches `far` within one more window (end / far <= 8), else
    divergence. X puts the end distance at 2, 16 and 64 step sizes, each a factor 2 from a
    boundary of the rule."""
    eta, T = 1e-3, 300.0
    step = np.arange(4001, dtype=np.float64)
    X = end * eta * 2.0 ** (3950.5 / T)  # |x| / eta = end at the middle of the last tenth
    x = X * 2.0 ** (-step / T)
    r = classify(x * x / 2, step, f_star=0.0, grad_norm=np.abs(x), step_size=eta)
    first, last = r.grad_ratio_ends
    # (medians of even counts: the mean of the two middle samples, 1e-6 above the geometric mean)
    assert last == pytest.approx(end, rel=1e-5) and first / last == pytest.approx(2.0 ** (901 / T), rel=1e-5)
    assert r.label == label, r
    assert reason in r.reason


def test_a_steady_rise_below_the_blow_up_level_is_divergence_by_the_rising_rule():
    # falls 3 decades, then rises steadily by 1.5: the late window (last quarter) rises 0.75 decade
    # geometrically while its level stays 1.9 decades BELOW the start, so neither blow-up rule
    # (held high, late level >= 2) fires and only the steady-rise rule can say divergence
    step = np.arange(400, dtype=float)
    y = np.where(step < 200, -3 * step / 200, -3 + 1.5 * (step - 200) / 200)
    r = classify(10.0 ** y, step)
    assert (r.label, r.reason) == ("divergence", "loss rising steadily (blowing up)")
    assert r.level == pytest.approx(-1.875, abs=0.01) and r.trend == pytest.approx(0.7425, abs=0.01)
    # the mirror image (a steady fall to the same window) is convergence
    assert classify(10.0 ** (-3 - y), step).label == "convergence"
