"""Regime labels: invariance on the paper's problem, classify_many == classify, fuzzing,
and the score on the test part of an honest labelled set (docs/regimes.md)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import adadyn as ad
from adadyn.analysis import REGIMES, classify, classify_many

ETA = 1e-3
PAPER = {(1.0, 100.0): "spike", (10.0, 10.0): "oscillation", (100.0, 1.0): "divergence"}


@pytest.fixture(scope="module")
def paper():
    return ad.objectives.random_quadratic(10, seed=0), np.random.default_rng(0).standard_normal(10)


@pytest.fixture(scope="module")
def dense(paper):
    q, x0 = paper
    return {ab: ad.run(ad.Adam.from_ab(ETA, *ab), q, x0, 24_000, record_state=False) for ab in PAPER}


# ------------------------------------------------------------------ robustness grid (issue 10 item 3)
@pytest.mark.parametrize("ab", list(PAPER))
@pytest.mark.parametrize("scale", [1e-3, 1e-1, 1.0, 1e1, 1e3])
def test_label_invariant_under_start_scaling(paper, ab, scale):
    """Adam moves each coordinate by at most about eta per step, so a start scale*x0 needs
    about scale*max|x0|/eta steps to arrive; the late phase after that is what is labelled."""
    q, x0 = paper
    steps = 20_000 + int(3 * scale * np.abs(x0).max() / ETA)
    tr = ad.run(ad.Adam.from_ab(ETA, *ab), q, scale * x0, steps, record_every=10, record_state=False)
    assert classify(tr).label == PAPER[ab]


@pytest.mark.parametrize("ab", list(PAPER))
def test_label_invariant_under_record_stride(dense, ab):
    tr = dense[ab]
    got = {k: classify(tr.loss[::k], tr.step[::k]).label for k in range(1, 21)}
    assert set(got.values()) == {PAPER[ab]}, got


@pytest.mark.parametrize("ab", list(PAPER))
def test_label_invariant_under_objective_scaling(paper, ab):
    """Adam on c f with eps -> c eps is the same map up to rounding: the run itself is scaled."""
    q, x0 = paper
    for c in (1e-6, 1e-3, 1e3, 1e6):
        qc = ad.objectives.quadratic(c * q.A)
        tr = ad.run(ad.Adam.from_ab(ETA, *ab, eps=c * 1e-8), qc, x0, 24_000, record_every=10, record_state=False)
        assert classify(tr).label == PAPER[ab], c


def test_spike_count_is_measured_in_steps(dense):
    """The same spikes are found at strides that resolve them (each spike rises for tens of
    steps and recovers over about 200): counts within 10 % of stride 1. (At stride 20 the
    count drops to 20 of 27: docs/regimes.md; the label stays 'spike'.)"""
    tr = dense[(1.0, 100.0)]
    ref = classify(tr.loss, tr.step)
    for k in (2, 5, 10):
        r = classify(tr.loss[::k], tr.step[::k])
        assert abs(r.spike_count - ref.spike_count) <= max(2, ref.spike_count // 10), (k, r.spike_count)
        # the peaks are the same events: each lies within a stride of a stride-1 peak
        d = np.abs(r.spike_steps[:, None] - ref.spike_steps[None, :]).min(axis=1)
        assert np.median(d) <= k


def test_late_phase_only_prefix_does_not_matter(dense):
    """Replacing everything before the late window changes no feature."""
    tr = dense[(10.0, 10.0)]
    r1 = classify(tr.loss, tr.step)
    loss = tr.loss.copy()
    loss[: int(0.7 * loss.size)] = 1e6  # a start a million times farther away
    r2 = classify(loss, tr.step, floor=1e-40)
    r1b = classify(tr.loss, tr.step, floor=1e-40)
    assert r2.label == r1.label == "oscillation"
    np.testing.assert_allclose([r2.trend, r2.osc_amplitude, r2.step_ratio],
                               [r1b.trend, r1b.osc_amplitude, r1b.step_ratio])


# ------------------------------------------------------------------ known by construction
def test_transient_geometric_and_blow_up_by_construction():
    t = np.arange(8000.0)
    rng = np.random.default_rng(0)
    # geometric decay at constant rate: settled convergence
    assert classify(10 ** (-1e-3 * t + rng.normal(0, 0.01, t.size))).label == "convergence"
    # geometric growth: blowing up
    assert classify(10 ** (1e-3 * t + rng.normal(0, 0.01, t.size))).label == "divergence"
    # f = (1 - t/T)^2 (signGD's finite-time arrival, Prop. 4): the fall accelerates
    assert classify((1 - t / 8100.0) ** 2).label == "transient"
    # a fall that reaches a fluctuating floor inside the late window
    y = np.where(t < 7000, -2e-3 * (t - 7000), 0.0) + 0.3 * np.sin(2 * np.pi * t / 2.0)
    assert classify(10 ** y).label == "transient"
    # a slow cycle far from the minimum vs the same spread at a period of 2-5 steps
    assert classify(10 ** (0.3 * np.sin(2 * np.pi * t / 700.0))).label == "divergence"
    fast = 0.3 * np.sin(2 * np.pi * t / 2.3) + 0.2 * np.sin(2 * np.pi * t / 4.7)
    assert classify(10 ** fast).label == "oscillation"


# ------------------------------------------------------------------ classify_many (issue 13 item 1)
def test_classify_many_equals_classify_on_runs(paper):
    q, x0 = paper
    g = np.array([0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
    A, B = np.meshgrid(g, g, indexing="ij")
    res = ad.discrete.run_grid(ad.Adam(ETA), q, x0, 8000, record_every=10,
                               beta1=1 - B.ravel() * ETA, beta2=1 - A.ravel() * ETA)
    loss = np.asarray(res.loss)
    step = 10 * np.arange(loss.shape[1])
    ra = classify_many(loss, step)
    one = [classify(row, step) for row in loss]
    assert list(ra.label) == [r.label for r in one]
    np.testing.assert_array_equal(ra.spike_count, [r.spike_count for r in one])
    np.testing.assert_array_equal(ra.trend, [r.trend for r in one])
    np.testing.assert_array_equal(ra.osc_amplitude, [r.osc_amplitude for r in one])
    assert [r.label for r in ra.regimes] == list(ra.label)
    np.testing.assert_array_equal(ra.regimes[3].spike_steps, one[3].spike_steps)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 5), st.integers(4, 300), st.integers(0, 2 ** 31 - 1), st.booleans())
def test_classify_many_equals_classify_on_random_curves(G, n, seed, walk):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((G, n))
    y = np.cumsum(z, axis=1) * 0.1 if walk else z
    loss = 10.0 ** (y + rng.uniform(-8, 8, (G, 1)))
    if seed % 3 == 0:
        loss[0, rng.integers(0, n)] = np.nan
    step = np.cumsum(rng.integers(1, 4, n)).astype(float)
    ra = classify_many(loss, step)
    assert list(ra.label) == [classify(row, step).label for row in loss]


# ------------------------------------------------------------------ fuzzing (issue 9 item 9)
_special = st.sampled_from([0.0, -0.0, 1e-310, 1e-300, 1e300, -1e300, np.inf, -np.inf, np.nan, 1.0, -1.0])
_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), _special)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, st.integers(0, 80), elements=_values),
       st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), st.booleans())
def test_fuzz_classify_returns_a_label_or_value_error(loss, f_star, diverged):
    try:
        r = classify(loss, f_star=f_star, diverged=diverged)
    except ValueError:
        assert loss.size < 4 or f_star is not None and not np.isfinite(f_star)
        return
    assert r.label in REGIMES
    if diverged or not np.all(np.isfinite(loss)):
        assert r.label == "divergence"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.integers(0, 40)), elements=_values))
def test_fuzz_classify_many(loss):
    try:
        ra = classify_many(loss)
    except ValueError:
        assert loss.shape[1] < 4
        return
    assert len(ra) == loss.shape[0] and set(ra.label) <= set(REGIMES)
    assert list(ra.label) == [classify(row).label for row in loss]


@pytest.mark.parametrize("bad, exc", [
    (dict(loss=np.ones((3, 10))), ValueError), (dict(loss=np.ones(3)), ValueError),
    (dict(loss=np.ones(10), step=np.arange(9)), ValueError),
    (dict(loss=np.ones(10), step=np.zeros(10)), ValueError),
    (dict(loss=["a"] * 10), TypeError), (dict(loss=np.ones(10), window=0.0), ValueError),
    (dict(loss=np.ones(10), window=np.nan), ValueError), (dict(loss=np.ones(10), far=-1), ValueError),
    (dict(loss=np.ones(10), min_spikes=1.5), ValueError), (dict(loss=np.ones(10), nonsense=1), TypeError),
])
def test_bad_input_raises_documented_error(bad, exc):
    bad = dict(bad)
    loss = bad.pop("loss")
    with pytest.raises(exc):
        classify(loss, **bad)


def test_huge_curve_is_bounded():
    """A long stride-1 record is classified in one pass (the baseline median is decimated
    for wide windows): no quadratic blow-up in the number of samples."""
    t = np.arange(2_000_000.0)
    r = classify(10 ** (0.3 * np.sin(2 * np.pi * t / 2.3)))
    assert r.label == "oscillation"


# ------------------------------------------------------------------ the labelled set (issue 10 item 4)
@pytest.fixture(scope="module")
def dataset_module():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        import make_regime_dataset
    finally:
        sys.path.pop(0)
    return make_regime_dataset


@pytest.mark.slow
def test_accuracy_on_test_part_of_labelled_set(dataset_module):
    """Small version of the test part (seed 1; defaults were calibrated on seed 0 only).
    Floor: measured 0.806 (29/36) on this small test part (0.850 on the full one, docs/regimes.md)."""
    cases = dataset_module.make_dataset(seed=1, size="small")
    pred = dataset_module.predict(cases)
    labels, M = dataset_module.confusion(cases, pred)
    acc = np.trace(M) / M.sum()
    assert acc >= 0.80, dataset_module.report(cases, pred)
    # labels known by construction: every synthetic spike and transient curve is found
    syn = [(c, p) for c, p in zip(cases, pred) if c.name.startswith("synthetic")
           and c.label in ("spike", "transient", "convergence")]
    assert all(c.label == p for c, p in syn), [(c.name, p) for c, p in syn if c.label != p]


def test_legacy_set_labels(dataset_module):
    """The first release's 50 curves keep their labels (issue 13: labels stay identical)."""
    cases = dataset_module.legacy_set()
    acc, misses = dataset_module.accuracy(cases)
    assert acc == 1.0, misses
