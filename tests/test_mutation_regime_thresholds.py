"""Every threshold of the regime classifier (adadyn.analysis.regime_features), at and on both
sides of its boundary, with closed-form loss curves.

``window=1.0`` makes the late window the whole record, so each curve's features are known in
closed form: a constant log-loss with isolated peaks (spikes of an exact height), a straight
log-loss (exact trend, zero residual), two straight halves (exact half slopes), a constant
loss with a gradient record (an exact distance in step sizes), a curve at the resolution
floor. Where a feature is a floating-point sum, the boundary is approached at a relative
distance of 1e-6 and the feature is recomputed by NumPy. Each test names the rule it guards
(the reason codes of adadyn.analysis.regime_features.REASONS).
"""
import numpy as np
import pytest

from adadyn.analysis import classify
from adadyn.analysis.regimes import DEFAULTS

N = 1001
STEP = np.arange(N, dtype=float)


def cls(y, **kw):
    """classify a log10-loss curve ``y`` (f* = 0) over the whole record."""
    return classify(10.0 ** np.asarray(y, dtype=float), STEP, window=1.0, **kw)


def peaks(heights, at=(300, 700)):
    y = np.zeros(N)
    for h, k in zip(heights, at):
        y[k] = h
    return y


# ---------------------------------------------------------------- spikes: height and count
@pytest.mark.parametrize("h, count", [(2.0, 0), (2.0 + 1e-9, 2), (2.5, 2), (1.999, 0)])
def test_spike_height_is_a_strict_threshold(h, count):
    """A peak counts when it stands more than ``spike_height`` (2) decades above the baseline
    median (exactly 2 does not: log10(100) = 2 is exact)."""
    r = cls(peaks([h, h]))
    assert r.spike_count == count
    assert (r.label == "spike") == (count >= DEFAULTS["min_spikes"])
    if count:
        np.testing.assert_array_equal(r.spike_steps, [300, 700])
        np.testing.assert_allclose(r.spike_heights, [h, h])


@pytest.mark.parametrize("n_peaks, label_spike", [(1, False), (2, True), (3, True)])
def test_min_spikes_is_the_smallest_count_labelled_spike(n_peaks, label_spike):
    r = cls(peaks([3.0] * n_peaks, at=(200, 500, 800)[:n_peaks]))
    assert r.spike_count == n_peaks and (r.label == "spike") == label_spike
    assert (r.reason == "repeated spikes") == label_spike


# ---------------------------------------------------------------- still loss: flat_tol
@pytest.mark.parametrize("s, label, reason", [
    (0.0, "convergence", "loss still"),
    (0.01 * (1 - 1e-6), "convergence", "loss still"),
    (-0.01 * (1 - 1e-6), "convergence", "loss still"),
    (0.01 * (1 + 1e-6), "divergence", "loss rising steadily (blowing up)"),
    (-0.01 * (1 + 1e-6), "convergence", "loss falling steadily (geometric or slower)"),
])
def test_flat_tol_separates_a_still_loss_from_a_steady_trend(s, label, reason):
    """A straight log-loss s * u over the window (u in [0, 1]): trend s decades, residual 0.
    |s| <= flat_tol (0.01) is still; above it the trend rule decides by the sign."""
    r = cls(s * STEP / STEP[-1] - 3.0)
    assert r.trend == pytest.approx(s, rel=1e-9, abs=1e-15) and r.residual_std < 1e-12
    assert (r.label, r.reason) == (label, reason)


def test_flat_tol_also_bounds_the_residual():
    """Zero trend but alternating +-r around it: residual std r; r <= 0.01 still, above not still."""
    alt = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    for r_, still in ((0.01 * (1 - 1e-6), True), (0.01 * (1 + 1e-6), False)):
        y = r_ * alt
        got = cls(y)
        res = y - np.polyval(np.polyfit(STEP / STEP[-1], y, 1), STEP / STEP[-1])
        assert got.residual_std == pytest.approx(float(np.sqrt(np.mean(res ** 2))), rel=1e-9)
        assert (got.reason == "loss still") == still


# ---------------------------------------------------------------- the resolution floor
def test_floor_is_floor_times_the_largest_distance():
    """Falling to exactly floor * max|f - f*| (1e-28 of the start) and staying is 'at the
    resolution floor'; staying 1 % above it is not."""
    for top, at_floor in ((1.0, True), (1.01, False)):
        L = np.full(N, 1e-28 * top)
        L[:500] = np.logspace(0, -27, 500)
        r = classify(L, STEP, window=1.0)
        assert (r.reason == "loss at the resolution floor") == at_floor
        assert r.floor == pytest.approx(-28.0)


# ---------------------------------------------------------------- trend against its noise: trend_snr
def test_trend_snr_requires_the_trend_twice_the_residual():
    """A falling straight line plus alternating noise: the trend rule applies when
    |trend| >= trend_snr (2) x residual std, computed here by NumPy."""
    u = STEP / STEP[-1]
    alt = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    y0 = -1.0 * u
    for noise, want in ((0.4, True), (0.6, False)):
        y = y0 + noise * alt
        slope, icpt = np.polyfit(u, y, 1)
        rstd = float(np.sqrt(np.mean((y - slope * u - icpt) ** 2)))
        r = cls(y)
        assert r.trend == pytest.approx(slope, rel=1e-9) and r.residual_std == pytest.approx(rstd, rel=1e-9)
        assert (abs(slope) >= 2 * rstd) == want
        assert (r.reason == "loss falling steadily (geometric or slower)") == want
    # exactly at the boundary from the option: trend_snr = |trend| / rstd
    y = y0 + 0.5 * alt
    r = cls(y)
    ratio = abs(r.trend) / r.residual_std
    assert cls(y, trend_snr=ratio * (1 - 1e-9)).reason.startswith("loss falling steadily")
    assert not cls(y, trend_snr=ratio * (1 + 1e-9)).reason.startswith("loss falling steadily")


# ---------------------------------------------------------------- steady: accel and steady
def halves(s1, s2):
    """Log-loss straight on each half of the samples (split at N // 2), slopes s1, s2 per window."""
    u = STEP / STEP[-1]
    h = N // 2
    y = np.empty(N)
    y[:h] = s1 * u[:h]
    y[h:] = s1 * u[h - 1] + s2 * (u[h:] - u[h - 1])
    return y


@pytest.mark.parametrize("ratio, steady", [(1.5 * (1 - 1e-6), True), (1.5 * (1 + 1e-6), False)])
def test_accel_bounds_the_speed_up_of_a_steady_fall(ratio, steady):
    """A fall whose second half is ``ratio`` times faster: steady up to accel = 1.5."""
    r = cls(halves(-2.0, -2.0 * ratio))
    assert r.trend_halves[0] == pytest.approx(-2.0, rel=1e-9)
    assert r.trend_halves[1] == pytest.approx(-2.0 * ratio, rel=1e-9)
    assert r.label == ("convergence" if steady else "transient")


@pytest.mark.parametrize("ratio, steady", [(4.0 * (1 - 1e-6), True), (4.0 * (1 + 1e-6), False)])
def test_steady_bounds_the_slow_down_of_a_steady_fall(ratio, steady):
    """A fall whose second half is ``ratio`` times slower: steady up to steady = 4."""
    r = cls(halves(-2.0, -2.0 / ratio))
    assert r.label == ("convergence" if steady else "transient")
    assert (r.reason == "loss still changing at a changing rate: not settled") == (not steady)


def test_halves_moving_opposite_ways_are_not_steady():
    r = cls(halves(-2.0, 0.5))
    assert r.label == "transient"


# ---------------------------------------------------------------- gradient rules: far and cycle_min
def still_with_distance(rho):
    """A still loss 1 (f* = 0) with |grad f| = 4 / rho and eta = 0.5: the distance in step
    sizes 2 |f - f*| / (|g| eta) is rho exactly (powers of two)."""
    L = np.ones(N)
    return dict(loss=L, grad=np.full(N, 4.0 / rho))


@pytest.mark.parametrize("rho, label, reason", [
    (0.05, "oscillation", "still loss, iterate held a fraction of a step from the minimum (a cycle)"),
    (0.05 * (1 - 1e-6), "convergence", "loss still"),
    (4.0 * (1 - 1e-6), "oscillation", "still loss, iterate held a fraction of a step from the minimum (a cycle)"),
    (4.0, "convergence", "loss still"),
])
def test_cycle_min_and_far_bound_the_cycle_of_a_still_loss(rho, label, reason):
    """A still loss is a cycle when cycle_min (0.05) <= rho < far (4), else an arrival."""
    c = still_with_distance(rho)
    r = classify(c["loss"], STEP, window=1.0, f_star=0.0, grad_norm=c["grad"], step_size=0.5)
    assert r.grad_ratio == pytest.approx(rho, rel=1e-12)
    assert (r.label, r.reason) == (label, reason)


@pytest.mark.parametrize("rho, far_label", [(4.0, True), (4.0 * (1 - 1e-6), False)])
def test_far_from_the_minimum_is_divergence_when_the_loss_is_not_still(rho, far_label):
    """Loss wandering (residual 0.3 decades, no trend) with the gradient known: rho >= far (4)
    is divergence ('stationary loss, iterate far'); below, not."""
    alt = np.where(np.arange(N) % 2 == 0, 0.3, -0.3)
    L = 10.0 ** alt
    g = 2.0 * L / (0.5 * rho)            # rho = 2 |f| / (|g| eta), eta = 0.5, at every sample
    r = classify(L, STEP, window=1.0, f_star=0.0, grad_norm=g, step_size=0.5)
    assert r.grad_ratio == pytest.approx(rho, rel=1e-12)
    assert (r.reason == "stationary loss, iterate `far` or more step sizes from the minimum") == far_label
    assert (r.label == "divergence") == far_label


# ---------------------------------------------------------------- loss-implied step ratio (no gradient)
def step_ratio_numpy(y, stride=1.0):
    """The loss-implied distance in steps, transcribed from docs/regimes.md."""
    d = [np.mean(np.abs(y[lag:] - y[:-lag])) for lag in (1, 2, 4)]
    smooth = min(d[1] / d[0], d[2] / d[1])
    resolved = min(max(2.0 * (smooth - 1.5), 0.0), 1.0)
    return 2.0 * resolved / (np.log(10.0) * d[0] / stride)


def test_step_ratio_far_is_divergence_without_a_gradient():
    """A stationary triangle wave of the log-loss (period 28 samples, no trend, < 2 decades):
    step_ratio >= far (4) -> divergence ('stationary loss far above the step-size scale'),
    below -> oscillation; step_ratio scales as 1 / amplitude and is recomputed by NumPy."""
    tri = np.abs(((STEP / 28.0) % 1.0) * 4.0 - 2.0) - 1.0
    sr1 = step_ratio_numpy(tri)
    for far_side in (True, False):
        A = sr1 / 4.0 * (1 - 1e-6 if far_side else 1 + 1e-6)    # step_ratio = sr1 / A
        r = cls(A * tri)
        assert A < 2 and r.spike_count == 0
        assert r.step_ratio == pytest.approx(step_ratio_numpy(A * tri), rel=1e-9)
        assert (r.step_ratio >= 4.0) == far_side
        assert r.label == ("divergence" if far_side else "oscillation")
        assert (r.reason == "stationary loss far above the step-size scale") == far_side


def test_nonfinite_loss_is_divergence_before_every_other_rule():
    y = peaks([3.0, 3.0])
    L = 10.0 ** y
    L[-1] = np.inf
    r = classify(L, STEP, window=1.0)
    assert (r.label, r.reason, r.nonfinite) == ("divergence", "non-finite loss", True)


@pytest.mark.parametrize("r1, label, reason", [
    (16.0 * (1 + 1e-6), "transient",
     "loss falling steadily, iterate `far` or more step sizes from the minimum and arriving: not settled"),
    (16.0 * (1 - 1e-6), "divergence",
     "loss falling steadily, but the iterate stays `far` or more step sizes from the minimum"),
])
def test_far_steady_fall_arrives_within_one_window_exactly_when_rho_last_squared_le_rho_first_far(r1, label, reason):
    """A steady geometric fall (1 decade per window) whose distance in step sizes is r1 over the
    first tenth of the window and 8 over the last: still arriving (transient) when
    8^2 <= r1 * far (far = 4, boundary r1 = 16), else it stays far (divergence)."""
    L = 10.0 ** (-STEP / STEP[-1])
    rho = np.full(N, 10.0)
    rho[: N // 10 + 1] = r1
    rho[-(N // 10 + 1):] = 8.0
    g = 2.0 * L / (0.5 * rho)
    r = classify(L, STEP, window=1.0, f_star=0.0, grad_norm=g, step_size=0.5)
    assert r.grad_ratio_ends[0] == pytest.approx(r1, rel=1e-12) and r.grad_ratio_ends[1] == pytest.approx(8.0)
    assert (r.label, r.reason) == (label, reason)
