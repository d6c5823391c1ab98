"""Rule 4's "steady" test at and on both sides of its boundaries, with closed-form curves
(issue 20, items 4 and 5).

A trend is steady when both halves of the window move its way and the second half's slope s2 is
at most ``accel`` (1.5) times steeper and at most ``steady`` (4) times flatter than the first's
s1, or, for a fall, when that change of rate is not resolved: the bend |s2 - s1| / 4 (decades;
the sagitta of the parabola with these half slopes) is below ``trend_snr`` (2) times
``residual_std_halves``, the spread of the log-loss around the lines fitted on each half. Steady
falls are convergence, unsteady trends transient.

Curves: ``window=1.0`` over N = 1000 samples (halves of 500), a log-loss that is piecewise linear
(slope s1 on the first half, s2 on the second, continuous) plus the pattern sigma x (+1, -1, -1,
+1) repeated. That pattern sums to zero and is orthogonal to the sample index over every 4
samples, so each half's least-squares line is the exact piecewise line and the residual spread
around the two half lines is exactly sigma (up to rounding).
"""
import numpy as np
import pytest

from adadyn.analysis import classify
from adadyn.analysis.regimes import DEFAULTS

N = 1000
STEP = np.arange(N, dtype=float)
PATTERN = np.tile([1.0, -1.0, -1.0, 1.0], N // 4)


def kinked(s1, s2, sigma, start=-3.0):
    """log10 loss: slope s1 (decades per window) on the first half, s2 on the second, plus the
    pattern of amplitude sigma."""
    u = (STEP - STEP[0]) / (STEP[-1] - STEP[0])
    um = u[N // 2]                       # the second half's first sample
    y = np.where(u < um, start + s1 * u, start + s1 * um + s2 * (u - um))
    return y + sigma * PATTERN


def cls(y, **kw):
    return classify(10.0 ** y, STEP, window=1.0, **kw)


def test_the_construction_is_exact():
    r = cls(kinked(-1.0, -2.0, 0.1))
    assert r.trend_halves[0] == pytest.approx(-1.0, abs=1e-9)
    assert r.trend_halves[1] == pytest.approx(-2.0, abs=1e-9)
    assert r.residual_std_halves == pytest.approx(0.1, abs=1e-9)
    assert r.spike_count == 0


# s1 = -1, s2 = -2: ratio 2 > accel, bend 0.25: resolved (transient) when sigma <= 0.125
@pytest.mark.parametrize("sigma, label", [
    (0.125 * (1 + 1e-6), "convergence"),    # the change of rate is within the noise: steady fall
    (0.125 * (1 - 1e-6), "transient"),      # resolved: an accelerating fall
    (0.0, "transient"),
    (0.2, "convergence"),
])
def test_accelerating_fall_is_transient_only_when_the_bend_is_resolved(sigma, label):
    r = cls(kinked(-1.0, -2.0, sigma))
    assert r.label == label, r
    assert r.reason == ("loss falling steadily (geometric or slower)" if label == "convergence"
                        else "loss still changing at a changing rate: not settled")


@pytest.mark.parametrize("snr, sigma, label", [
    (1.0, 0.25 * (1 + 1e-6), "convergence"),   # trend_snr = 1 moves the boundary to sigma = 0.25
    (1.0, 0.25 * (1 - 1e-6), "transient"),
    (3.0, 0.25 / 3 * (1 + 1e-6), "convergence"),
    (3.0, 0.25 / 3 * (1 - 1e-6), "transient"),
])
def test_trend_snr_sets_the_bend_boundary(snr, sigma, label):
    assert cls(kinked(-1.0, -2.0, sigma), trend_snr=snr).label == label


# s1 = -2, s2 = -0.4: the second half 5 x flatter (> steady = 4), bend 0.4: boundary sigma = 0.2
@pytest.mark.parametrize("sigma, label", [(0.2 * (1 + 1e-6), "convergence"), (0.2 * (1 - 1e-6), "transient")])
def test_decelerating_fall_boundary(sigma, label):
    assert cls(kinked(-2.0, -0.4, sigma)).label == label


@pytest.mark.parametrize("s2, label", [(-1.5 * (1 - 1e-6), "convergence"), (-1.5 * (1 + 1e-6), "transient"),
                                       (-0.25 * (1 + 1e-6), "convergence"), (-0.25 * (1 - 1e-6), "transient")])
def test_ratio_boundaries_without_noise(s2, label):
    """sigma = 0: the ratio tests alone (accel 1.5: s2 = -1.5 is the boundary; steady 4: -0.25),
    1e-6 on either side (the fitted slopes carry rounding)."""
    assert DEFAULTS["accel"] == 1.5 and DEFAULTS["steady"] == 4.0
    assert cls(kinked(-1.0, s2, 0.0)).label == label


def test_rising_trend_and_opposite_halves():
    # a rise keeps the ratio tests alone: an accelerating rise is transient whatever the noise
    # (a noisy rise is not read as a blow-up), a geometric one divergence
    assert cls(kinked(1.0, 2.0, 0.2)).label == "transient"
    assert cls(kinked(1.0, 2.0, 0.1)).label == "transient"
    assert cls(kinked(1.0, 1.4, 0.2)).label == "divergence"
    # halves moving opposite ways are never steady, whatever the noise
    r = cls(kinked(-3.0, 0.5, 0.3))
    assert r.trend_halves[1] > 0 and r.label == "transient"


def test_classify_many_reports_the_halves_spread():
    from adadyn.analysis import classify_many
    ys = np.stack([kinked(-1.0, -2.0, s) for s in (0.05, 0.2)])
    ra = classify_many(10.0 ** ys, STEP, window=1.0)
    np.testing.assert_allclose(ra.residual_std_halves, [0.05, 0.2], atol=1e-9)
    assert list(ra.label) == ["transient", "convergence"]
