"""The regime classifier's non-spike thresholds AT and on both sides of their boundaries.

tests/test_mutation_regime_thresholds.py approaches most boundaries at a relative distance of
1e-6; here the curves put a feature exactly on its threshold, so that an inclusive rule (>=, <=)
is told apart from a strict one: either the threshold is an option set to the feature's computed
value (chosen so that the product in the rule is exact in floating point), or the feature is exact
by construction (powers of two and ten). Also: the display threshold of "blew up", the reference
and level, the resolution floor's rounding term and tail, the late window's first sample, the
first/last tenths of the gradient ratio, a zero gradient, and which runs get the gradient rules.
(Spike height, count, baseline and ripple are left to the spike tests.)
"""
import dataclasses

import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis import classify
from adadyn.analysis.regimes import BLOWUP_DECADES, blew_up

N = 1001
STEP = np.arange(N, dtype=float)
U = STEP / STEP[-1]
ALT = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
EPS = np.finfo(float).eps


def cls(y, **kw):
    """classify a log10-loss curve over the whole record (f* = 0)."""
    return classify(10.0 ** np.asarray(y, dtype=float), STEP, window=1.0, **kw)


def exact_factor(target, base, lo=None, need=True):
    """A float t (near target / base) with fl(t * base) == target exactly: the threshold option
    that puts the rule's product exactly on the feature (None when there is none and not ``need``)."""
    t0 = target / base
    cands = [t0]
    up = dn = t0
    for _ in range(8):
        up, dn = np.nextafter(up, np.inf), np.nextafter(dn, -np.inf)
        cands += [up, dn]
    for t in cands:
        if t * base == target and (lo is None or t >= lo):
            return float(t)
    if not need:
        return None
    pytest.fail(f"no exact factor for {target!r} / {base!r}")


def halves(s1, s2):
    h = N // 2
    y = np.empty(N)
    y[:h] = s1 * U[:h]
    y[h:] = s1 * U[h - 1] + s2 * (U[h:] - U[h - 1])
    return y


def still_at(decades, n=N):
    """First sample 1, then a still loss 10^decades (the late window holds only the plateau)."""
    loss = np.full(n, 10.0 ** decades)
    loss[0] = 1.0
    return loss


# ---------------------------------------------------------------- "blew up" (display)
def test_blew_up_is_three_decades_inclusive():
    assert BLOWUP_DECADES == 3.0
    assert blew_up(3.0) and not blew_up(np.nextafter(3.0, 0.0)) and blew_up(3.5)
    assert not blew_up(np.nan) and blew_up(np.nan, True) and blew_up(-5.0, True)
    np.testing.assert_array_equal(blew_up(np.array([2.5, 3.0, np.nan, 4.0])), [False, True, False, True])
    at, below = classify(still_at(3.0)), classify(still_at(2.5))
    assert at.level == 3.0 and at.blew_up and at.describe() == "divergence (blew up)"
    assert below.label == "divergence" and not below.blew_up and below.describe() == "divergence (stays high)"
    ra = ad.analysis.classify_many(np.stack([still_at(3.0), still_at(2.5)]))
    np.testing.assert_array_equal(ra.blew_up, [True, False])


# ---------------------------------------------------------------- reference and level
def test_level_is_the_late_mean_over_the_first_finite_sample():
    """level = mean late log10 |f - f*| - log10 |f_0 - f*| (the first sample, not the last)."""
    loss = np.ones(N)
    loss[0] = 1e-2
    r = classify(loss)
    assert r.reference == 1e-2 and r.level == 2.0 and r.label == "divergence"
    y = np.cos(2 * np.pi * STEP / 1000)                # log-loss 1 at the start, mean 1/1001
    r = cls(y)
    assert r.level == pytest.approx(np.mean(y) - 1.0, rel=1e-12)
    assert r.log_level == pytest.approx(np.mean(y), rel=1e-9)


def test_a_start_at_the_minimum_measures_level_from_the_largest_distance():
    loss = np.ones(N)
    loss[0], loss[1] = 0.0, 1e4
    r = classify(loss)
    assert r.reference == 1e4 and r.level == pytest.approx(-4.0, abs=1e-12)


# ---------------------------------------------------------------- trend_min, flat_tol, trend_snr
def test_trend_min_at_and_around_the_trend():
    """A straight fall of one decade: a trend when |trend| >= trend_min (inclusive), else the
    stationary rule (step ratio ~ 870 steps >= far: divergence)."""
    y = -U - 2.0
    t = abs(cls(y).trend)
    assert t == pytest.approx(1.0, rel=1e-12)
    for tm, trend in ((t, True), (t * (1 - 1e-9), True), (t * (1 + 1e-9), False), (1.5, False)):
        r = cls(y, trend_min=tm)
        assert (r.reason == "loss falling steadily (geometric or slower)") == trend, tm
        assert r.label == ("convergence" if trend else "divergence")
    assert cls(y, trend_min=1.5).reason == "stationary loss far above the step-size scale"


def test_a_trend_exactly_flat_tol_is_not_a_trend():
    """|trend| > flat_tol (strict) is needed for the trend rule; a noisy line whose trend equals
    flat_tol exactly falls through to the stationary rules (oscillation here)."""
    y = -0.02 * U + 0.03 * ALT - 3.0
    r0 = cls(y, trend_snr=0.5)
    t = abs(r0.trend)
    assert r0.residual_std > t
    at = cls(y, trend_snr=0.5, flat_tol=t)
    assert (at.label, at.reason) == ("oscillation", "stationary fluctuation at the step-size scale")
    below = cls(y, trend_snr=0.5, flat_tol=t * (1 - 1e-9))
    assert (below.label, below.reason) == ("convergence", "loss falling steadily (geometric or slower)")


def test_a_residual_exactly_flat_tol_is_still():
    y = 0.02 * ALT - 3.0
    rstd = cls(y).residual_std
    assert rstd == pytest.approx(0.02, rel=1e-3)
    for tol, still in ((rstd, True), (rstd * (1 + 1e-9), True), (rstd * (1 - 1e-9), False)):
        r = cls(y, flat_tol=tol)
        assert (r.reason == "loss still") == still, tol
        assert r.label == ("convergence" if still else "oscillation")


def test_a_trend_exactly_trend_snr_times_the_residual_is_a_trend():
    for amp in np.linspace(0.45, 0.49, 41):   # a noise amplitude whose ratio has an exact factor
        y = -U + amp * ALT
        r0 = cls(y)
        t, rstd = abs(r0.trend), r0.residual_std
        snr = exact_factor(t, rstd, need=False)
        if snr is not None:
            break
    assert snr * rstd == t
    for s, trend in ((snr, True), (snr * (1 + 1e-9), False), (snr * (1 - 1e-9), True)):
        r = cls(y, trend_snr=s)
        assert (r.reason == "loss falling steadily (geometric or slower)") == trend, s


# ---------------------------------------------------------------- steady: accel and steady exactly at their bounds
def test_a_second_half_exactly_accel_times_faster_is_steady():
    y = halves(-2.0, -3.0)
    s1, s2 = cls(y).trend_halves
    acc = exact_factor(abs(s2), abs(s1), lo=1.0)
    assert acc * abs(s1) == abs(s2)
    assert cls(y, accel=acc).label == "convergence"
    assert cls(y, accel=acc * (1 - 1e-9)).label == "transient"


def test_a_second_half_exactly_steady_times_slower_is_steady():
    y = halves(-2.0, -0.5)
    s1, s2 = cls(y).trend_halves
    st = exact_factor(abs(s1), abs(s2), lo=1.0)
    assert st * abs(s2) == abs(s1)
    assert cls(y, steady=st).label == "convergence"
    r = cls(y, steady=st * (1 - 1e-9))
    assert (r.label, r.reason) == ("transient", "loss still changing at a changing rate: not settled")


# ---------------------------------------------------------------- the far steady fall (gradient known)
def fall_with_distance(first, middle, last):
    """A steady fall of one decade per window; the distance in step sizes 2 |f| / (|g| eta) is
    ``first`` over the first tenth of the samples, ``last`` over the last tenth, ``middle``
    between (eta = 0.5; powers of two make it exact)."""
    L = 10.0 ** (-U)
    rho = np.full(N, float(middle))
    tg = N // 10
    rho[:tg] = first
    rho[-tg:] = last
    return L, 2.0 * L / (0.5 * rho)


def test_the_far_fall_rule_reads_the_last_tenth_not_the_median():
    L, g = fall_with_distance(16.0, 16.0, 2.0)       # median 16 >= far, last tenth 2 < far
    r = classify(L, STEP, window=1.0, f_star=0.0, grad_norm=g, step_size=0.5)
    assert r.grad_ratio == 16.0 and r.grad_ratio_ends == (16.0, 2.0)
    assert (r.label, r.reason) == ("convergence", "loss falling steadily (geometric or slower)")


@pytest.mark.parametrize("last, label", [(4.0, "transient"), (4.0 * (1 - 1e-6), "convergence"), (8.0, "divergence")])
def test_a_fall_ending_exactly_far_step_sizes_away_is_not_an_arrival(last, label):
    """rho_last >= far (4, inclusive) with rho_first = 4: arriving (rho_last^2 <= rho_first far:
    transient) at 4, an arrival just below, staying far (divergence) at 8."""
    L, g = fall_with_distance(4.0, 4.0, last)
    r = classify(L, STEP, window=1.0, f_star=0.0, grad_norm=g, step_size=0.5)
    assert r.grad_ratio_ends[1] == pytest.approx(last, rel=1e-12)
    assert r.label == label


def test_grad_ratio_ends_are_medians_over_tenths():
    """nr = 1001 samples: each end's median is over nr // 10 = 100 samples (powers of two)."""
    rho = np.full(N, 4.0)
    rho[:100], rho[100:200] = 8.0, 2.0
    rho[-100:], rho[-200:-100] = 16.0, 1.0
    L = np.ones(N)
    r = classify(L, STEP, window=1.0, f_star=0.0, grad_norm=2.0 * L / (0.5 * rho), step_size=0.5)
    assert r.grad_ratio_ends == (8.0, 16.0) and r.grad_ratio == 4.0


def test_a_zero_gradient_away_from_the_minimum_is_infinitely_far():
    """|g| = 0 with f > f*: distance inf (not 0), so a plateau 2.5 decades up stays blown up."""
    loss = still_at(2.5)
    r = classify(loss, f_star=0.0, grad_norm=np.zeros(N), step_size=0.5)
    assert r.grad_ratio == np.inf
    assert (r.label, r.reason) == ("divergence", "late loss 2 or more decades above the first sample (blown up)")
    z = classify(np.zeros(N), f_star=0.0, grad_norm=np.zeros(N), step_size=0.5)   # at the minimum: 0
    assert z.grad_ratio == 0.0


# ---------------------------------------------------------------- the resolution floor
def test_the_rounding_floor_is_four_eps_times_f_star():
    """f* = 1: |f - f*| is resolved down to 4 eps |f*| = 2^-50; a loss that falls to exactly
    1 + 2^-50 and stays is at the floor, one that stays at 1 + 2^-49 is not."""
    for tail, at_floor in ((2.0 ** -50, True), (2.0 ** -49, False)):
        d = 2.0 ** (-50.0 * np.minimum(STEP, 800) / 800)
        d[800:] = tail
        r = classify(1.0 + d, STEP, window=1.0, f_star=1.0)
        assert r.floor == pytest.approx(np.log10(4 * EPS), abs=1e-15)
        assert (r.reason == "loss at the resolution floor") == at_floor


@pytest.mark.parametrize("k, at_floor", [(100, True), (101, True), (99, False)])
def test_at_the_floor_means_the_last_tenth_of_the_window(k, at_floor):
    """m = 1001 samples: the last m // 10 = 100 must sit at the floor (1e-28 of the start)."""
    y = np.linspace(0.0, -27.0, N - k)
    loss = np.concatenate([10.0 ** y, np.full(k, 1e-28)])
    r = classify(loss, STEP, window=1.0)
    assert r.floor == pytest.approx(-28.0, abs=1e-12)
    assert (r.reason == "loss at the resolution floor") == at_floor


# ---------------------------------------------------------------- the late window's first sample
@pytest.mark.parametrize("stride, window, start", [(1, 0.25, 750), (1, 0.5, 500), (10, 0.25, 750), (4, 0.1, 900)])
def test_the_late_window_starts_exactly_at_its_step(stride, window, start):
    step = np.arange(0, 1001, stride, dtype=float)
    r = classify(np.exp(-step / 300.0), step, window=window)
    assert r.window == (start, 1000)


# ---------------------------------------------------------------- which runs get the gradient rules
def _quadratic():
    A = np.diag([1.0, 3.0])
    return ad.objectives.quadratic(A), np.array([2.0, -1.5])


@pytest.mark.parametrize("spec, known", [(ad.RMSprop(1e-2), True), (ad.Adam(1e-2), True), (ad.SignGD(1e-2), True),
                                         (ad.AMSGrad(1e-2), True), (ad.Lion(1e-2), True), (ad.GD(1e-2), False),
                                         (ad.Adagrad(1e-2), False)],
                         ids=["rmsprop", "adam", "signgd", "amsgrad", "lion", "gd", "adagrad"])
def test_gradient_rules_for_the_optimisers_stepping_by_eta(spec, known):
    """Optimisers whose step is about eta per coordinate get grad_ratio from the trajectory."""
    obj, x0 = _quadratic()
    tr = ad.run(spec, obj, x0, 400)
    r = classify(tr)
    assert np.isfinite(r.grad_ratio) == known
    if known:
        late = tr.step >= r.window[0]
        want = np.median(2 * np.abs(tr.loss[late] - obj.min_value) / (tr.grad_norm[late] * spec.eta))
        assert r.grad_ratio == pytest.approx(want, rel=1e-12)
    assert np.isnan(classify(tr, use_gradient=False).grad_ratio)


def test_gradient_rules_need_the_minimum_value():
    """2 |f - f*| / |g| is a distance only when f* is the minimum value: a trajectory whose
    objective does not know it gets no gradient rules, unless f_star is given."""
    obj, x0 = _quadratic()
    tr = ad.run(ad.Adam(1e-2), obj, x0, 400)
    assert obj.min_value is not None and np.isfinite(classify(tr).grad_ratio)
    blind = dataclasses.replace(tr, objective=None)
    assert np.isnan(classify(blind).grad_ratio)
    assert classify(blind, f_star=0.0).grad_ratio == pytest.approx(classify(tr).grad_ratio, rel=1e-12)


def test_a_late_window_of_fewer_than_four_samples_is_widened_to_four():
    """10 samples, window 0.25 of the span (steps >= 6.75: three samples): the window starts
    at the fourth sample from the end, and a clean geometric fall is an arrival."""
    step = np.arange(10, dtype=float)
    r = classify(np.exp(-step), step, window=0.25)
    assert r.window == (6, 9)
    assert (r.label, r.reason) == ("convergence", "loss falling steadily (geometric or slower)")


def test_the_floor_is_relative_to_the_largest_distance_not_the_first():
    """Start at 1e-3, rise to 1, fall to 1e-28 and stay: floor = 1e-28 x max |f - f*| = 1e-28."""
    y = np.concatenate([np.linspace(-3.0, 0.0, 100), np.linspace(0.0, -28.0, 700), np.full(N - 800, -28.0)])
    r = cls(y)
    assert r.floor == pytest.approx(-28.0, abs=1e-12) and r.reference == pytest.approx(1e-3, rel=1e-12)
    assert r.reason == "loss at the resolution floor"


def test_blow_up_level_rule_applies_to_the_loss_alone():
    # late window: a period-10 pattern, 3 samples at the start level and 7 samples 3 decades up, so
    # the late mean is 2.1 decades above the first sample but the lower quartile is at 0 (rule 1a,
    # "held high", does not fire) and nothing rises above the rolling median twice (no spike
    # train): the level rule (2a) decides, from the loss alone (no gradient given)
    step = np.arange(400, dtype=float)
    y = np.empty(400)
    y[:300] = np.linspace(0.0, -1.0, 300)
    y[300:] = np.where(np.arange(100) % 10 < 3, 0.0, 3.0)
    r = classify(10.0 ** y, step)
    assert r.level == pytest.approx(2.1, abs=1e-9)
    assert (r.label, r.reason) == ("divergence", "late loss 2 or more decades above the first sample (blown up)")
    y[300:] = np.where(np.arange(100) % 10 < 4, 0.0, 3.0)      # 60 % up: late mean 1.8 decades, below 2
    assert classify(10.0 ** y, step).reason != "late loss 2 or more decades above the first sample (blown up)"
