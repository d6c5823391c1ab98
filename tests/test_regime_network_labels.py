"""Network curves in the regime classifier's labelled set (issue 20, item 4).

The network spike-train families (scripts/regime_network_spikes.npz, regime_network_more.npz, the
second, third and fourth held-back parts regime_network_heldout2.npz ... heldout4.npz) are
labelled by the written rule of docs/regimes.md ("Network spike trains") without the classifier.
These tests guard the rule at its thresholds, check that the stored labels are the rule's, PIN
the classifier's confusion matrices on every part (the fourth held-back part is the one scored
once after round 5; the earlier ones are calibration), require a recall of at least 0.9 for every
class of the fourth part, and test the blow-up rule at its threshold. The network curves are
classified with f* unknown (``f_star_known=False``: a training loss is only known to be >= 0).
No torch needed.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from adadyn.analysis import classify


@pytest.fixture(scope="module")
def spikes_module():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        import make_network_spike_set
    finally:
        sys.path.pop(0)
    return make_network_spike_set


def _bursts(peak_factor, return_factor, n_bursts=2, base=1e-6):
    """A flat late loss at ``base`` (held for more than 10 steps before each climb) with
    ``n_bursts`` one-sample climbs to ``peak_factor`` x base, each followed by one sample at
    ``return_factor`` x base, then base."""
    loss = np.full(400, base)
    for k in range(n_bursts):
        i = 320 + 30 * k
        loss[i], loss[i + 1] = peak_factor * base, return_factor * base
    return loss, np.arange(400, dtype=float)


@pytest.mark.parametrize("peak, ret, n, expected", [
    (100.0, 1.0, 2, 2),     # exactly 2 decades: counted
    (99.0, 1.0, 2, 0),      # just below 2 decades: not a climb
    (100.0, 9.99, 2, 2),    # returns just below 10 x the median: counted on that sample
    (1e4, 1.0, 3, 3),
])
def test_climb_count_at_thresholds(spikes_module, peak, ret, n, expected):
    loss, step = _bursts(peak, ret, n)
    assert spikes_module.loss_spike_climbs(loss, step) == expected


def test_climb_needs_return_below_ten_times_the_held_level(spikes_module):
    # after each climb the loss stays at exactly 10 x the held level: no return, so the two
    # peaks form one climb, counted at the return to base
    base = 1e-6
    loss = np.full(400, base)
    loss[320], loss[321:340] = 100 * base, 10 * base
    loss[340], loss[341:360] = 100 * base, 10 * base
    loss[360:] = base          # one return at the end: exactly one climb
    assert spikes_module.loss_spike_climbs(loss, np.arange(400.0)) == 1


@pytest.mark.parametrize("after, climbs", [(10.0, 0), (9.99, 1)])
def test_climb_counts_only_after_a_return_strictly_below_ten_times(spikes_module, after, climbs):
    base = 1e-6
    loss = np.full(400, base)
    loss[320], loss[321:] = 1e3 * base, after * base     # stays at `after` x the held level
    assert spikes_module.loss_spike_climbs(loss, np.arange(400.0)) == climbs


@pytest.mark.parametrize("hold, climbs", [(11, 2), (10, 0), (20, 2)])
def test_climb_is_measured_from_a_level_held_for_ten_steps(spikes_module, hold, climbs):
    """Dips to 1e-8 of ``hold`` samples (stride 1) between plateaus at 1e-6: the running maximum
    over the last 10 steps (11 samples) is 1e-8 only when a dip lasts 11 samples; then each
    return to 1e-6 is a climb of exactly 2 decades, counted when the next dip returns below
    1e-7. A shorter dip is no held level (a fast oscillation's deep samples are no valley)."""
    base = 1e-6
    loss = np.full(400, base)
    i = 310
    for _ in range(3):
        loss[i:i + hold] = 1e-8
        i += hold + 5
    assert i <= 400
    assert spikes_module.loss_spike_climbs(loss, np.arange(400.0)) == climbs


def test_climbs_only_in_late_quarter(spikes_module):
    base = 1e-6
    loss = np.full(400, base)
    loss[[100, 150, 200]] = 1e3 * base      # before the late quarter (steps >= 299.25)
    assert spikes_module.loss_spike_climbs(loss, np.arange(400.0)) == 0


def test_written_label_progress_and_divergence(spikes_module):
    step = np.arange(400.0)
    g = np.ones(400)
    loss, _ = _bursts(1e3, 1.0, 2)
    loss[0] = 1.0
    assert spikes_module.written_label(loss, step, g, False) == "spike"
    loss_np = loss.copy()
    loss_np[0] = 0.99e-4           # late median 1e-6 is not below 1e-2 x initial: no progress
    assert spikes_module.written_label(loss_np, step, g, False) != "spike"
    loss_np[0] = 1.01e-4           # late median just below 1e-2 x initial: progress, spike
    assert spikes_module.written_label(loss_np, step, g, False) == "spike"
    flat = np.full(400, 0.6)
    flat[0] = 1.0                  # late median >= half the initial loss
    assert spikes_module.written_label(flat, step, g, False) == "divergence"
    assert spikes_module.written_label(loss, step, g, True) == "divergence"


def _late_ratio(r, n=400):
    """Start 1, late window (the last 100 of 400 steps) at 1e-3 with its last 11 samples (the last
    tenth, ``k = 100 // 10 + 1``) at ``r`` x 1e-3: quarter medians all 1e-3 (not falling)."""
    loss = np.full(n, 1e-3)
    loss[0] = 1.0
    loss[-11:] = r * 1e-3
    return loss, np.arange(float(n))


@pytest.mark.parametrize("r, expected", [(1.99, "oscillation"), (2.0, None),
                                         (0.51, "oscillation"), (0.5, None)])
def test_written_oscillation_within_twice(spikes_module, r, expected):
    loss, step = _late_ratio(r)
    assert spikes_module.written_label(loss, step, np.ones_like(loss), False) == expected


@pytest.mark.parametrize("gmax, gmed, expected", [(9.99, 1.0, "oscillation"), (10.0, 1.0, None),
                                                  (1.0, 1.01e-3, "oscillation"), (1.0, 1e-3, None)])
def test_written_oscillation_needs_a_bounded_non_vanishing_gradient(spikes_module, gmax, gmed, expected):
    """max late |g| < 10 x its late median, late median > 1e-3 x the first |g|."""
    loss, step = _late_ratio(1.0)
    g = np.full_like(loss, gmed)
    g[0] = 1.0
    g[350] = gmax * gmed
    assert spikes_module.written_label(loss, step, g, False) == expected


@pytest.mark.parametrize("which, total", [("SPIKE_FILE", 26), ("MORE_FILE", 67), ("HELDOUT2_FILE", 45),
                                          ("HELDOUT3_FILE", 46), ("HELDOUT4_FILE", 50)])
def test_stored_labels_are_the_written_rule(spikes_module, which, total):
    z = np.load(getattr(spikes_module, which))
    n = 0
    for part in (0, 1, 2, 3, 4):
        i = 0
        while f"name_{part}_{i}" in z:
            k = f"{part}_{i}"
            lab = spikes_module.written_label(z[f"loss_{k}"], z[f"step_{k}"], z[f"grad_{k}"],
                                              bool(z[f"diverged_{k}"]))
            assert (lab or "") == str(z[f"label_{k}"]), z[f"name_{k}"]
            i, n = i + 1, n + 1
    assert n == total


@pytest.mark.parametrize("which, counts", [
    ("heldout2", {"convergence": 10, "oscillation": 8, "spike": 14, "divergence": 9}),
    ("heldout3", {"convergence": 11, "oscillation": 13, "spike": 9, "divergence": 8}),
    ("heldout4", {"convergence": 10, "oscillation": 17, "spike": 8, "divergence": 8})])
def test_held_back_part_has_eight_or_more_curves_per_class(spikes_module, which, counts):
    labels = [c.label for c in getattr(spikes_module, which)()]
    assert len(labels) == sum(counts.values())
    for lab in ("convergence", "oscillation", "spike", "divergence"):
        assert labels.count(lab) == counts[lab] >= 8, (lab, labels.count(lab))


# the classifier's confusion matrices (rows true, columns predicted; convergence, oscillation,
# spike, divergence, transient) on the two parts of the earlier families, which are the
# calibration set since round 3 (docs/regimes.md), measured 2026-12-06 with the f*-unknown rules
# of round 5. Before them (f* read as the minimum value 0) the oscillation rows were
# [2, 13, 0, 1, 0] and [0, 14, 0, 1, 0] and the spike row of part 1 [0, 2, 10, 1, 0]; before the
# bend test of rule 4 the convergence rows were [7, 0, 0, 0, 1] and [6, 0, 0, 0, 2]; with the
# first release's spike rule the spike rows were [0, 4, 7, 1, 0] and [0, 4, 5, 4, 0]
PINNED = {
    0: [[8, 0, 0, 0, 0], [2, 14, 0, 0, 0], [0, 0, 12, 0, 0], [1, 0, 0, 11, 1], [0, 0, 0, 0, 0]],
    1: [[7, 0, 0, 0, 1], [0, 15, 0, 0, 0], [0, 3, 10, 0, 0], [0, 0, 0, 9, 1], [0, 0, 0, 0, 0]],
}


@pytest.mark.parametrize("part", [0, 1])
def test_network_confusion_pinned(spikes_module, part):
    mrd = spikes_module.mrd
    cases = spikes_module.network_part(part)
    _, M = mrd.confusion(cases, mrd.predict(cases))
    np.testing.assert_array_equal(M, np.array(PINNED[part]))


# the second held-back part (regime_network_heldout2.npz), scored once, 2026-12-06 12:21 UTC, after
# every rule of round 3 was fixed: oscillation row [0, 7, 0, 1, 0] (RMSprop seed 40 read far from
# the loss); calibration since round 4.
# The third (regime_network_heldout3.npz): recorded and committed before anything else in round 4,
# scored once, 2026-12-06 12:57 UTC: [[9, 0, 0, 2, 0], [0, 8, 0, 5, 0], [0, 0, 9, 0, 0],
# [0, 0, 0, 8, 0]]. Its misses were all RMSprop runs read as "stationary loss far above the
# step-size scale" (loss-only step_ratio 5.3-14.7 >= far = 4): five resolved cycles (oscillation)
# and two falls too noisy for rule 4's trend test (convergence). It was the calibration set of
# round 5.
# The fourth (regime_network_heldout4.npz): recorded and committed (14:08 UTC) before the
# classifier changed in round 5 (the f*-unknown rules), scored once after they were fixed. The
# classifier of round 4 (f* read as the minimum value 0) gives PINNED_HELDOUT4_ROUND4:
# oscillation 10/17, the RMSprop cycles again.
# Every matrix below is the classifier of round 5 (docs/regimes.md).
PINNED_HELD = {
    2: [[9, 1, 0, 0, 0], [0, 8, 0, 0, 0], [0, 0, 14, 0, 0], [0, 0, 0, 9, 0], [0, 0, 0, 0, 0]],
    3: [[11, 0, 0, 0, 0], [0, 13, 0, 0, 0], [0, 0, 9, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 0]],
    4: [[9, 1, 0, 0, 0], [0, 16, 0, 0, 1], [0, 0, 8, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 0]],
}
PINNED_HELDOUT4_ROUND4 = [[9, 0, 0, 1, 0], [0, 10, 0, 6, 1], [0, 0, 8, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 0]]
_SCORED = {}


def _held(spikes_module, part):
    """(labelled curves, classify's labels) of held-back part ``part`` (computed once)."""
    if part not in _SCORED:
        cases = getattr(spikes_module, f"heldout{part}")()
        _SCORED[part] = cases, spikes_module.mrd.predict(cases)
    return _SCORED[part]


@pytest.mark.parametrize("part", [2, 3, 4])
def test_held_back_confusion_pinned(spikes_module, part):
    cases, pred = _held(spikes_module, part)
    _, M = spikes_module.mrd.confusion(cases, pred)
    np.testing.assert_array_equal(M, np.array(PINNED_HELD[part]))


@pytest.mark.parametrize("part", [2, 3, 4])
def test_held_back_classify_many_equals_classify(spikes_module, part):
    from adadyn.analysis import classify_many
    cases, pred = _held(spikes_module, part)
    for n in sorted({c.loss.shape[0] for c in cases}):     # digits (2001 samples), Fashion-MNIST (1001)
        idx = [i for i, c in enumerate(cases) if c.loss.shape[0] == n]
        many = classify_many(np.stack([cases[i].loss for i in idx]), cases[idx[0]].step, f_star=0.0,
                             diverged=np.array([cases[i].diverged for i in idx]), f_star_known=False)
        assert list(many.label) == [pred[i] for i in idx]


# the goal of issue 20, item 4: recall >= 0.9 for every class of the held-back network part. The
# fourth part, held back from every choice of round 5, meets it (convergence 9/10, oscillation
# 16/17, spike 8/8, divergence 8/8); so do the earlier parts, seen while choosing
@pytest.mark.parametrize("label", ["convergence", "oscillation", "spike", "divergence"])
@pytest.mark.parametrize("part", [2, 3, 4])
def test_held_back_recall_goal(spikes_module, part, label):
    cases, pred = _held(spikes_module, part)
    labels, M = spikes_module.mrd.confusion(cases, pred)
    i = labels.index(label)
    assert M[i].sum() >= 8 and M[i, i] / M[i].sum() >= 0.9, M[i]


def test_held_back3_round4_misses_are_read_by_the_fstar_unknown_rules(spikes_module):
    # the seven misses of round 4: with f* taken as the minimum value 0 (f_star_known=True, the
    # reading before round 5) RMSprop runs read far from the loss; with f* unknown the loss-implied
    # distance is only an upper bound, and the loss is read against itself (rule 5u)
    cases, _ = _held(spikes_module, 3)
    old = [(c, classify(c.loss, c.step, f_star=c.f_star, diverged=c.diverged, f_star_known=True)) for c in cases]
    misses = [(c, r) for c, r in old if r.label != c.label]
    assert len(misses) == 7
    for c, r in misses:
        assert "RMSprop" in c.name and r.label == "divergence", c.name
        assert r.reason == "stationary loss far above the step-size scale" and r.step_ratio >= 4.0, c.name
        new = classify(c.loss, c.step, f_star=c.f_star, diverged=c.diverged, f_star_known=False)
        assert new.label == c.label and new.step_ratio == r.step_ratio, c.name
        if c.label == "oscillation":
            assert new.level <= -1.0 and "f* unknown" in new.reason, c.name
        else:
            assert new.reason.startswith("quarter medians"), c.name


def test_held_back4_round4_reading_pinned(spikes_module):
    # f* read as the minimum value (the classifier before round 5): the RMSprop cycles read far
    import dataclasses
    cases = [dataclasses.replace(c, f_star_known=True) for c in _held(spikes_module, 4)[0]]
    _, M = spikes_module.mrd.confusion(cases, spikes_module.mrd.predict(cases))
    np.testing.assert_array_equal(M, np.array(PINNED_HELDOUT4_ROUND4))


# ------------------------------------------------------------------ the blow-up rule (BLOWUP)
def _still_at(level_decades, n=400):
    """A loss starting at 1 (the reference) that jumps to 10**level and stays still."""
    loss = np.full(n, 10.0 ** level_decades)
    loss[0] = 1.0
    return loss


def test_blowup_rule_at_its_threshold():
    from adadyn.analysis import regime_features as rf
    assert rf.BLOWUP == 2.0
    at = classify(_still_at(2.0))
    assert at.label == "divergence" and "blown up" in at.reason and at.level == 2.0
    below = classify(_still_at(1.99))
    assert below.label == "convergence" and below.reason == "loss still"
    # a still loss far below its start is an arrival, as before
    assert classify(_still_at(-6.0)).label == "convergence"


def test_blowup_rule_yields_to_spikes_and_to_a_near_minimum():
    # two 3-decade spikes on a plateau 3 decades above the start: held high, so divergence
    # (the blow-up rule on the lower quartile comes before the spike rule)
    loss = _still_at(3.0)
    loss[[330, 370]] = 1e6
    assert classify(loss).label == "divergence"
    # a spike train that starts at its own valley (the late loss on average 2+ decades above
    # the first sample, its lower quartile below): spike (the mean-level rule comes after)
    k = np.arange(20_000)
    ph = k % 200
    y = np.where(ph < 10, -12 + 0.6 * ph, -6 - 6 * (ph - 10) / 190)
    r = classify(10.0 ** y)
    assert r.level >= 2 and r.label == "spike"
    # gradient known: an iterate within `far` step sizes of the minimum is no blow-up
    eta = 1e-3
    loss = _still_at(2.5)
    near = 2 * loss / (1.0 * eta)     # grad_ratio = 2 |f| / (|g| eta) = 1 (a cycle)
    far = 2 * loss / (10.0 * eta)     # grad_ratio 10 >= far = 4
    assert classify(loss, grad_norm=near, step_size=eta).label == "oscillation"
    assert classify(loss, grad_norm=far, step_size=eta).label == "divergence"
    just = 2 * loss / (4.0 * eta)     # grad_ratio exactly `far`: blown up
    assert classify(loss, grad_norm=just, step_size=eta).label == "divergence"
