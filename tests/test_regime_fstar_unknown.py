"""Rule 5 with the minimum value unknown (``f_star_known=False``, docs/regimes.md, round 5).

A network's training loss is only known to be >= 0. Near a minimum, r / s = 2 / |d ln(f - f*)|
per step (the step-size scale); with f* >= bound the loss read from the bound changes its log
more slowly, |d ln(f - f*)| >= |d ln(f - bound)|, so ``step_ratio`` is an upper bound of the
distance in steps: it can show "near", never "far". The classifier then reads the loss against
itself: quarter medians falling one after the other by QUARTER_FALL (0.3 decade) in all ->
convergence (still falling); else, a stationary loss with step_ratio >= far is oscillation when
the late loss is PROGRESS (1) decade or more below its first sample, divergence otherwise. These
tests put closed-form curves at and on both sides of each boundary and check the API.
"""
from types import SimpleNamespace

import numpy as np
import pytest

from adadyn.analysis import classify, classify_many
from adadyn.analysis import regime_features as rf

T = np.arange(4000.0)


def _cycle(level, period=60.0, amplitude=0.5, start=1.0):
    """A resolved log-sine cycle of ``period`` steps and ``amplitude`` decades around 10**level,
    started at ``start``: stationary, step_ratio well above far = 4."""
    loss = 10.0 ** (level + amplitude * np.sin(2 * np.pi * T / period))
    loss[0] = start
    return loss


def test_constants():
    assert rf.PROGRESS == 1.0 and rf.QUARTER_FALL == 0.3


def test_resolved_cycle_is_far_with_fstar_known_and_oscillation_with_it_unknown():
    loss = _cycle(-4.0)
    known = classify(loss)                      # arrays: f* = 0 read as the minimum value
    unknown = classify(loss, f_star_known=False)
    assert known.step_ratio == unknown.step_ratio >= 4.0
    assert known.label == "divergence" and known.reason == "stationary loss far above the step-size scale"
    assert unknown.label == "oscillation" and "f* unknown" in unknown.reason


def _at_level(level):
    """The cycle with its first sample placed so that ``level`` (late mean log10 minus log10 of
    the first sample) is ``level``."""
    loss = _cycle(-4.0)
    r = classify(loss, f_star_known=False)
    loss[0] = 10.0 ** (r.log_level - level)
    return loss


@pytest.mark.parametrize("level, expected", [
    (-1.0 - 1e-6, "oscillation"),   # fell a decade: progress, the cycle holds
    (-1.0 + 1e-6, "divergence"),    # just under a decade below its start: the loss stays large
    (-0.5, "divergence"),
    (-3.0, "oscillation"),
])
def test_progress_threshold(level, expected):
    r = classify(_at_level(level), f_star_known=False)
    assert r.level == pytest.approx(level, abs=1e-9)
    assert r.step_ratio >= 4.0 and r.label == expected, r.reason
    if expected == "divergence":
        assert r.reason == rf.REASONS[17]
    # with f* known the level does not matter: stationary and far
    assert classify(_at_level(level)).label == "divergence"


def test_near_by_the_upper_bound_is_oscillation_at_any_level():
    # a fluctuation faster than the stride: step_ratio 0 < far proves "near" even from the bound
    rng = np.random.default_rng(0)
    y = -0.2 + 0.3 * np.sign(np.sin(2 * np.pi * T / 3.0)) + 0.01 * rng.standard_normal(T.size)
    loss = 10.0 ** y
    loss[0] = 1.0
    r = classify(loss, f_star_known=False)
    assert r.step_ratio < 4.0 and r.level > -1.0 and r.label == "oscillation"


def test_step_ratio_from_the_bound_bounds_the_true_one_from_above():
    # f = f* + q with f* = 3e-5 > 0: read from the bound 0, step_ratio is larger than read from f*
    fstar = 3e-5
    loss = fstar + _cycle(-4.0)
    loss[0] = 1.0
    from_bound = classify(loss, f_star_known=False)
    from_min = classify(loss, f_star=fstar)
    assert from_bound.step_ratio > from_min.step_ratio >= 4.0
    # the upper bound still reads the fall: oscillation, not divergence
    assert from_bound.label == "oscillation" and from_min.label == "divergence"


def _quarters(offsets, amplitude=0.5, period=25.0, n=4000):
    """A late window (the last quarter, 1000 steps) of a resolved cycle whose four quarters sit
    at ``offsets`` decades (each quarter shifted as a block), preceded by the cycle at 0. Each
    quarter holds 10 whole periods sampled at the same phases, so its median is -4 + offset +
    the cycle's median, exactly."""
    t = np.arange(n, dtype=float)
    y = -4.0 + amplitude * np.sin(2 * np.pi * t / period)
    w0 = n - n // 4
    late = np.arange(w0, n)
    for k, part in enumerate(np.array_split(late, 4)):
        y[part] += offsets[k]
    loss = 10.0 ** y
    loss[0] = 1.0
    return loss


@pytest.mark.parametrize("total, expected", [(0.301, "convergence"), (0.299, "oscillation"), (0.4, "convergence")])
def test_quarter_fall_threshold(total, expected):
    d = total / 3
    loss = _quarters([0.0, -d, -2 * d, -3 * d])
    r = classify(loss, f_star_known=False)
    # the cycles hide the fall from rule 4's line fit (|trend| < 2 x the residual spread)
    assert abs(r.trend) < 2 * r.residual_std
    assert r.label == expected, r.reason
    if expected == "convergence":
        assert r.reason == rf.REASONS[18]
    # with f* known rule 18 does not exist: the same curve is stationary and far
    assert classify(loss).label == "divergence"


def test_quarter_fall_is_read_when_the_loss_is_near_too():
    # a fluctuation faster than the stride (step_ratio 0: "near" even from the bound) whose quarter
    # medians fall one after the other by 0.42 decade: still falling, whatever step_ratio says
    y = -4.0 + 0.4 * np.sign(np.sin(2 * np.pi * (T + 0.5) / 3.0))
    for k, part in enumerate(np.array_split(np.arange(3000, 4000), 4)):
        y[part] -= 0.14 * k
    loss = 10.0 ** y
    loss[0] = 1.0
    r = classify(loss, f_star_known=False)
    assert r.step_ratio < 4.0 and abs(r.trend) < 2 * r.residual_std
    assert r.label == "convergence" and r.reason == rf.REASONS[18]
    assert classify(loss).label == "oscillation"          # f* known: rule 5, near


@pytest.mark.parametrize("offsets", [[0.0, -0.3, -0.2, -0.5],   # not one after the other
                                     [0.0, -0.25, -0.25, -0.5],  # two equal quarters
                                     [-0.5, -0.3, -0.2, 0.0]])   # rising
def test_quarter_fall_needs_medians_falling_one_after_the_other(offsets):
    loss = _quarters(offsets)
    if offsets[1] == offsets[2]:
        loss[3250:3500] = loss[3500:3750]   # the same samples: equal medians, bit for bit
    r = classify(loss, f_star_known=False)
    assert r.label != "convergence", r.reason


@pytest.mark.parametrize("m", [4, 5, 6, 7, 8, 9, 10, 101, 1000, 1001, 1002, 1003])
def test_quarter_fall_is_the_numpy_array_split_medians(m):
    rng = np.random.default_rng(m)
    for trial in range(20):
        y = rng.standard_normal(m + 3)
        if trial % 2:
            y = np.sort(y)[::-1].copy()   # falling quarters
        q = [np.median(p) for p in np.array_split(y[:m], 4)]
        want = q[0] - q[3] if all(b < a for a, b in zip(q, q[1:])) else -np.inf
        got = rf._quarter_fall(y, m)
        assert got == pytest.approx(want) if np.isfinite(want) else got == -np.inf


def test_classify_many_equals_classify_with_mixed_flags():
    curves = [_cycle(-4.0), _at_level(-0.5), _quarters([0.0, -0.15, -0.3, -0.45]), _cycle(-2.0, period=40.0)]
    L = np.stack(curves)
    flags = np.array([False, False, False, True])
    many = classify_many(L, f_star_known=flags)
    for g in range(len(curves)):
        one = classify(curves[g], f_star_known=bool(flags[g]))
        assert many.label[g] == one.label and many.reason[g] == one.reason
        assert many.regimes[g].label == one.label
    assert list(classify_many(L, f_star_known=False).label) == [
        classify(c, f_star_known=False).label for c in curves]
    assert list(classify_many(L).label) == [classify(c).label for c in curves]


def test_classify_many_flags_follow_their_rows_across_blocks():
    # classify_many works in blocks of 64 rows: rows 64 ... 129 must get their own flags
    L = np.tile(_cycle(-4.0), (130, 1))
    flags = np.arange(130) % 3 == 0
    many = classify_many(L, f_star_known=flags)
    assert list(many.label) == ["oscillation" if not f else "divergence" for f in flags]
    assert [r.label for r in many.regimes] == list(many.label)


def _traj(loss, **objective):
    obj = SimpleNamespace(**objective)
    opt = SimpleNamespace(name="Adam", eta=1e-3)
    return SimpleNamespace(loss=loss, step=np.arange(loss.size), status="finished", objective=obj, opt=opt,
                           grad_norm=np.full(loss.size, 1e-3))


def test_trajectory_with_a_lower_bound_and_no_min_value_is_fstar_unknown():
    loss = _cycle(-4.0)
    net = _traj(loss, min_value=None, lower_bound=0.0)        # what adadyn.nn problems declare
    assert classify(net).label == "oscillation"
    assert classify(net, f_star_known=True).label == classify(loss).label   # the user says f* = 0
    # an objective without a lower bound: f* = 0 read as the minimum value (as before)
    assert classify(_traj(loss, min_value=None)).label == "divergence"
    # a known minimum value: known, and the gradient rules apply (2 f / (|g| eta) = 2 x 1e-4 / 1e-6)
    known = classify(_traj(loss, min_value=0.0, lower_bound=0.0))
    assert known.grad_ratio > 4.0 and known.label == "divergence"
    # an explicit f_star makes it known too
    assert classify(net, f_star=0.0).label == "divergence"
    # with f* unknown the gradient record is not used (it needs the minimum value)
    assert np.isnan(classify(net).grad_ratio)


def test_bad_flags_and_gradients_with_fstar_unknown():
    loss = _cycle(-4.0)
    with pytest.raises(TypeError, match="f_star_known"):
        classify(loss, f_star_known="no")
    with pytest.raises(ValueError, match="grad_norm and step_size need the minimum value"):
        classify(loss, f_star_known=False, grad_norm=np.ones_like(loss), step_size=1e-3)
    L = np.stack([loss, loss])
    with pytest.raises(ValueError, match="f_star_known must be a bool or one per curve"):
        classify_many(L, f_star_known=[True, False, True])
    with pytest.raises(TypeError, match="f_star_known must be bools"):
        classify_many(L, f_star_known=[1, 0])
    with pytest.raises(ValueError, match="grad_norm and step_size need the minimum value"):
        classify_many(L, f_star_known=[True, False], grad_norm=np.ones_like(L), step_size=1e-3)
