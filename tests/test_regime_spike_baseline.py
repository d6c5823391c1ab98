"""The spike rule's thresholds at and on both sides of their boundaries, with closed-form curves
(issue 20, items 4 and 5).

A spike is an excursion of the log-loss above the rolling median whose height above the rolling
``spike_quantile`` (0.3) of the same window (width ``baseline_window`` x the late window, odd)
exceeds ``spike_height`` (2) decades, and that rises that much above the level held (upper
envelope over ``ripple`` steps) since the previous spike; ``min_spikes`` (2) of them make the
label. ``window=1.0`` makes the late window the whole record of N = 1001 samples, so the rolling
window is 101 samples (its order statistic of rank round(0.3 x 100) = 30 is the baseline), and
each curve below is built from log-levels 0 and -1 (exact in floating point: log10(10) = 1,
log10(0.1) = -1), so every height is known exactly.
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


def test_defaults_are_the_documented_ones():
    assert DEFAULTS["spike_quantile"] == 0.3 and DEFAULTS["spike_height"] == 2.0
    assert DEFAULTS["min_spikes"] == 2 and DEFAULTS["ripple"] == 10.0 and DEFAULTS["baseline_window"] == 0.1


# ------------------------------------------------------------ the low baseline and its rank
def periodic(lows, peaks=(), p=1.5):
    """Period 101 (the rolling window): ``lows`` samples at -1 then 101 - lows at 0, so every
    window of 101 samples holds exactly ``lows`` samples at -1; spikes of log-height ``p`` in the
    middle of the high part of periods 3 and 6 (above the median 0, which 70 or more zeros fix)."""
    y = np.where(np.arange(N) % 101 < lows, -1.0, 0.0)
    for k in peaks:
        y[101 * k + 66] = p
    return y


@pytest.mark.parametrize("lows, q, counted", [
    (31, None, True),     # 31 lows: the order statistic of rank 30 is -1: height p + 1 = 2.5
    (30, None, False),    # 30 lows: rank 30 is 0: height p = 1.5 < 2
    (30, 0.29, True),     # rank round(0.29 x 100) = 29 -> 30 lows suffice
    (31, 0.31, False),    # rank 31 needs 32 lows
    (31, 0.5, False),     # the median (the first release's baseline): 1.5 decades
    (30, 0.296, False),   # rank round(29.6) = 30 (rounded, not truncated): 31 lows needed
    (31, 0.296, True),
])
def test_spike_quantile_is_the_rank_of_the_baseline(lows, q, counted):
    kw = {} if q is None else dict(spike_quantile=q)
    r = cls(periodic(lows, peaks=(3, 6)), **kw)
    assert r.spike_count == (2 if counted else 0)
    assert (r.label == "spike") == counted
    if counted:
        np.testing.assert_array_equal(r.spike_steps, [101 * 3 + 66, 101 * 6 + 66])
        np.testing.assert_allclose(r.spike_heights, [2.5, 2.5], rtol=0, atol=1e-12)


@pytest.mark.parametrize("p, count", [(1.0, 0), (1.0 + 1e-9, 2), (0.999, 0), (1.2, 2)])
def test_spike_height_over_the_low_baseline_is_strict(p, count):
    """Over the baseline -1 a peak at p stands p + 1 decades: exactly 2 does not count."""
    r = cls(periodic(31, peaks=(3, 6), p=p))
    assert r.spike_count == count


@pytest.mark.parametrize("height, p, count", [(2.5, 1.5, 0), (2.5, 1.5 + 1e-9, 2), (1.5, 0.5 + 1e-9, 2),
                                              (1.5, 0.5, 0)])
def test_spike_height_option_moves_the_boundary(height, p, count):
    assert cls(periodic(31, peaks=(3, 6), p=p), spike_height=height).spike_count == count


@pytest.mark.parametrize("n, min_spikes, label", [(2, 2, True), (1, 2, False), (2, 3, False), (3, 3, True)])
def test_min_spikes_on_the_low_baseline(n, min_spikes, label):
    r = cls(periodic(31, peaks=(2, 4, 7)[:n] if n == 3 else (3, 6)[:n]), min_spikes=min_spikes)
    assert r.spike_count == n and (r.label == "spike") == label


# ------------------------------------------------------------ baseline_window: the window's reach
@pytest.mark.parametrize("offset, bw, counted", [
    (19, 0.1, True),     # window [k - 50, k + 50] holds 31 lows: baseline -1, height 2.5
    (20, 0.1, False),    # 30 lows: baseline 0, height 1.5
    (20, 0.11, True),    # width 111, rank 33: window [k - 55, k + 55] holds 35 >= 34 lows
    (22, 0.11, False),   # 33 lows < 34
])
def test_baseline_window_sets_how_far_the_low_baseline_reaches(offset, bw, counted):
    """Lows at -1 on [0, 500), zeros after; one peak of 1.5 at 500 + offset. The baseline at the
    peak is -1 when its window [k - h, k + h] holds at least rank + 1 lows:
    500 - (k - h) >= round(0.3 (w - 1)) + 1."""
    y = np.where(np.arange(N) < 500, -1.0, 0.0)
    y[500 + offset] = 1.5
    r = cls(y, baseline_window=bw)
    assert r.spike_count == (1 if counted else 0)
    if counted:
        assert r.spike_heights[0] == pytest.approx(2.5, abs=1e-12)


# ------------------------------------------------------------ ripple: the upper envelope
@pytest.mark.parametrize("ripple, gap, count", [(10.0, 10, 1), (10.0, 11, 2), (20.0, 20, 1), (20.0, 21, 2)])
def test_ripple_bridges_peaks_closer_than_it(ripple, gap, count):
    """Two 3-decade peaks ``gap`` steps apart on a flat loss: the envelope over ``ripple`` steps
    (samples [i - r/2, i + r/2 - 1]) joins them into one excursion for gap <= ripple; at
    ripple + 1 the loss between them is held at 0 for one envelope width and both count."""
    y = np.zeros(N)
    y[[400, 400 + gap]] = 3.0
    r = cls(y, ripple=ripple)
    assert r.spike_count == count


def scattered(p, held=False):
    """31 lows per period of 101 spread one in three (offsets 0, 3, ..., 90), so the rolling
    baseline is -1 but no 10-step stretch is held low (the upper envelope stays at 0); peaks of
    ``p`` at offset 97 of periods 3 and 6. ``held``: period 5's offsets 40-59 held at -1 too."""
    off = np.arange(N) % 101
    y = np.where((off % 3 == 0) & (off <= 90), -1.0, 0.0)
    if held:
        y[101 * 5 + 40: 101 * 5 + 60] = -1.0
    y[[101 * 3 + 97, 101 * 6 + 97]] = p
    return y


@pytest.mark.parametrize("p, held, count", [
    (2.0, False, 2),            # the second peak rises exactly 2 above the held level 0: counts
    (2.0 - 1e-9, False, 1),     # just below: only the first (the first spike needs no valley)
    (1.5, False, 1),
    (1.5, True, 2),             # a held valley at -1 between them: 2.5 decades
])
def test_a_later_spike_must_rise_spike_height_above_the_held_valley(p, held, count):
    r = cls(scattered(p, held))
    assert r.spike_count == count
    np.testing.assert_allclose(r.spike_heights, [p + 1] * count, rtol=0, atol=1e-12)


# ------------------------------------------------------------ the blow-up rule before spikes
def late_quartile_at(level, n_low):
    """400 samples (window 0.25: the last 100 are late) starting at 1: ``n_low`` late samples at
    1e-3, the others at 10**level, and two 3-decade spikes on that plateau. The lower quartile
    of the late log-loss interpolates the sorted values 24 and 25 (rank 1 + 99/4 = 25.75)."""
    loss = np.full(400, 10.0 ** level)
    loss[0] = 1.0
    loss[300:300 + n_low] = 1e-3
    loss[[350, 380]] = 10.0 ** (level + 3)
    return loss


@pytest.mark.parametrize("level, n_low, label", [
    (2.0, 24, "divergence"),    # sorted values 24, 25 at 2: quartile exactly 2 decades up
    (2.0, 25, "spike"),         # interpolates -3 and 2: 0.75
    (1.99, 24, "spike"),        # quartile 1.99 < 2
    (2.01, 24, "divergence"),
])
def test_blowup_quartile_rule_comes_before_the_spike_rule(level, n_low, label):
    r = classify(late_quartile_at(level, n_low))
    assert r.label == label, r
    if label == "divergence":
        assert "blown up" in r.reason


@pytest.mark.parametrize("n_high, blown", [(50, True), (49, False)])
def test_mean_level_blowup_rule_after_the_spike_rule(n_high, blown):
    """Late window: 100 - n_high samples at the start's level, then n_high at 1e4: the lower
    quartile is 0 (no held blow-up), one rise (no spike train), and the mean late level is
    4 n_high / 100 decades: exactly 2 at n_high = 50 (blown up), 1.96 below."""
    loss = np.ones(400)
    loss[400 - n_high:] = 1e4
    r = classify(loss)
    assert r.spike_count == 1
    assert r.level == pytest.approx(4 * n_high / 100, abs=1e-12)
    assert ("blown up" in r.reason) == blown
