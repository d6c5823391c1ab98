"""Fuzzing the spec constructors, the rate conversions, the schedules and ``ad.run``
(issue 9, item 9) with random and adversarial values.

Property: each call either works (and then gives a usable spec / a trajectory) or
raises ValueError/TypeError whose message names the offending parameter, with a
bounded allocation (traced by tracemalloc) and well inside a generous per-example
deadline (a hang detector, not a speed target). Huge runs with a tiny
``record_every`` must be refused before anything is allocated.
"""
import dataclasses
import math
import tracemalloc
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import adadyn as ad

SPECS = (ad.GD, ad.SignGD, ad.RMSprop, ad.Adam, ad.AMSGrad, ad.Adagrad, ad.Family, ad.AdaFix, ad.Lion)
FUZZ = settings(max_examples=60, deadline=timedelta(seconds=20), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
MEM_LIMIT = 64 * 2**20  # bytes a refused (or tiny) call may allocate

ADVERSARIAL = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-2**80, max_value=2**80),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(st.floats(allow_nan=True), max_size=3),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -0.0, 5e-324, 1.0, 0.0, 0.5, 0.999999999,
                     np.float32(0.5), np.int64(3), np.bool_(True), complex(0.5, 0.0), "0.5", b"1", (0.5,),
                     object()]),
)


def bounded(fn):
    """(result, exception) of fn(), asserting its traced peak allocation is bounded."""
    tracemalloc.start()
    try:
        try:
            return fn(), None
        except (ValueError, TypeError) as exc:
            return None, exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MEM_LIMIT, f"allocated {peak / 2**20:.0f} MiB"


def _names_one_of(exc, names):
    msg = str(exc)
    assert any(n in msg for n in names), f"{type(exc).__name__}({msg!r}) names none of {names}"


@pytest.fixture(scope="module")
def obj():
    o = ad.objectives.quadratic([[1.0, 0.2], [0.2, 0.5]])
    ad.run(ad.Adam(0.01), o, [1.0, 1.0], 2)  # compile outside the examples
    return o


def _usable(spec, obj):
    """An accepted spec lowers to finite kernel parameters and runs."""
    kind, hp = spec.kernel_params()
    assert np.all(np.isfinite(hp)), (spec, hp)
    c = spec.coefficients()
    assert c.eta > 0 and math.isfinite(c.eta)
    if c.has_v:
        assert 0.0 <= c.q <= 1.0 and c.p >= 0.0 and c.eps >= 0.0
    assert isinstance(c.eps_inside, bool) and isinstance(c.bias_correction, bool)
    tr = ad.run(spec, obj, [1.0, -1.0], 3)
    assert tr.status in ("ok", "diverged", "converged")


FIELDS = [(cls, f.name) for cls in SPECS for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls,field", FIELDS, ids=[f"{c.__name__}.{n}" for c, n in FIELDS])
@FUZZ
@given(val=ADVERSARIAL)
def test_spec_field_fuzz(obj, cls, field, val):
    kw = {"eta": 0.01, field: val}
    spec, exc = bounded(lambda: cls(**kw))
    if exc is not None:
        _names_one_of(exc, [field])
    else:
        _usable(spec, obj)


@pytest.mark.parametrize("cls", SPECS, ids=lambda c: c.__name__)
@FUZZ
@given(data=st.data())
def test_spec_many_fields_at_once(obj, cls, data):
    names = [f.name for f in dataclasses.fields(cls)]
    chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    kw = {"eta": 0.01}
    for n in chosen:
        kw[n] = data.draw(ADVERSARIAL, label=n)
    spec, exc = bounded(lambda: cls(**kw))
    if exc is not None:
        _names_one_of(exc, chosen)
    else:
        _usable(spec, obj)


RATE = st.one_of(ADVERSARIAL, st.floats(min_value=1e-6, max_value=1e3))


@FUZZ
@given(eta=RATE, a=RATE, b=RATE)
def test_from_ab_and_from_a(obj, eta, a, b):
    spec, exc = bounded(lambda: ad.Adam.from_ab(eta, a, b))
    if exc is not None:
        _names_one_of(exc, ["eta", "a", "b"])
    else:
        _usable(spec, obj)
        assert 0.0 <= spec.beta1 < 1.0 and 0.0 <= spec.beta2 < 1.0
        assert spec.a == pytest.approx(a, rel=1e-6, abs=1e-300) or spec.a * eta == pytest.approx(a * eta, abs=1e-15)
    spec, exc = bounded(lambda: ad.RMSprop.from_a(eta, a))
    if exc is not None:
        _names_one_of(exc, ["eta", "a"])
    else:
        _usable(spec, obj)
        assert 0.0 <= spec.alpha < 1.0


@pytest.mark.parametrize("base", [ad.Adam(0.01), ad.RMSprop(0.01), ad.AMSGrad(0.01, variant="optax"),
                                  ad.AdaFix(0.01), ad.GD(0.1), ad.Lion(0.01)], ids=lambda o: o.name)
@FUZZ
@given(data=st.data())
def test_with_rates_and_replace(obj, base, data):
    kw = {k: data.draw(RATE, label=k) for k in data.draw(
        st.lists(st.sampled_from(["a", "b", "eta"]), min_size=1, max_size=3, unique=True))}
    spec, exc = bounded(lambda: base.with_rates(**kw))
    if exc is not None:
        _names_one_of(exc, list(kw))
    else:
        _usable(spec, obj)
    spec, exc = bounded(lambda: base.replace(**kw))
    if exc is not None:
        _names_one_of(exc, list(kw))
    else:
        _usable(spec, obj)


@FUZZ
@given(variant=st.one_of(ADVERSARIAL, st.sampled_from(["pytorch", "optax", "reddi", "PyTorch", "adam", ""])))
def test_amsgrad_variant(obj, variant):
    spec, exc = bounded(lambda: ad.AMSGrad(0.01, variant=variant))
    if exc is not None:
        _names_one_of(exc, ["variant"])
    else:
        assert variant in ("pytorch", "optax", "reddi")
        _usable(spec, obj)


SCHEDULES = [
    (lambda v: ad.ExponentialDecay(rate=v), "rate"),
    (lambda v: ad.CosineAnnealing(period=v), "period"),
    (lambda v: ad.CosineAnnealing(period=10, eta_min_ratio=v), "eta_min_ratio"),
]


@pytest.mark.parametrize("make,name", SCHEDULES, ids=[n for _, n in SCHEDULES])
@FUZZ
@given(val=ADVERSARIAL)
def test_schedule_fuzz(obj, make, name, val):
    sched, exc = bounded(lambda: make(val))
    if exc is not None:
        _names_one_of(exc, [name])
        return
    p = sched.params()
    assert np.all(np.isfinite(p))
    fac = sched.factor(np.arange(1, 6))
    assert np.all(np.isfinite(fac)) and np.all(fac >= 0) and np.all(fac <= 1.0)
    if name == "period":
        assert not isinstance(val, (bool, np.bool_)) and float(val).is_integer() and int(val) >= 1
    tr = ad.run(ad.Adam(0.01, schedule=sched), obj, [1.0, -1.0], 5)
    assert tr.status == "ok"


SMALL_INT = st.integers(min_value=0, max_value=300)


@FUZZ
@given(x0=st.one_of(ADVERSARIAL, st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=2, max_size=2)),
       steps=st.one_of(SMALL_INT, ADVERSARIAL.filter(lambda v: not _big_int(v))),
       record_every=st.one_of(st.integers(min_value=1, max_value=50), ADVERSARIAL),
       gtol=st.one_of(st.none(), st.floats(min_value=0, max_value=10), ADVERSARIAL),
       record_state=st.one_of(st.booleans(), ADVERSARIAL),
       parallel=st.one_of(st.none(), st.booleans(), ADVERSARIAL))
def test_run_fuzz(obj, x0, steps, record_every, gtol, record_state, parallel):
    kw = dict(steps=steps, record_every=record_every, gtol=gtol, record_state=record_state, parallel=parallel)
    tr, exc = bounded(lambda: ad.run(ad.Adam(0.01), obj, x0, **kw))
    if exc is not None:
        _names_one_of(exc, ["x0", "steps", "record_every", "gtol", "record_state", "parallel"])
        return
    # accepted: every argument was a valid value of its kind
    assert not isinstance(steps, (bool, np.bool_)) and float(steps) == int(steps) >= 0
    assert not isinstance(record_every, (bool, np.bool_)) and float(record_every) == int(record_every) >= 1
    assert isinstance(record_state, (bool, np.bool_))
    assert parallel is None or isinstance(parallel, (bool, np.bool_))
    assert gtol is None or (not isinstance(gtol, (bool, np.bool_)) and math.isfinite(gtol) and gtol >= 0)
    assert tr.status in ("ok", "diverged", "converged")
    assert len(tr) >= 1 or tr.status == "diverged"
    assert len(tr) <= int(steps) // int(record_every) + 1


def _big_int(v):
    try:
        return not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating)) \
            and math.isfinite(v) and abs(v) > 10**4
    except TypeError:
        return False


@settings(max_examples=40, deadline=timedelta(seconds=20), derandomize=True)
@given(steps=st.integers(min_value=10**11, max_value=10**18),
       record_every=st.integers(min_value=1, max_value=16),
       record_state=st.booleans(), d=st.sampled_from([1, 2]))
def test_run_refuses_huge_recordings_before_allocating(steps, record_every, record_state, d):
    """steps / record_every rows of loss, gradient norm and time (and of x, m, v) would
    need terabytes: ``run`` must refuse with a ValueError that names ``record_every``,
    without allocating anything (nor running a single step)."""
    o = ad.objectives.diagonal_quadratic(np.ones(d))
    tr, exc = bounded(lambda: ad.run(ad.GD(0.1), o, np.ones(d), steps, record_every=record_every,
                                     record_state=record_state))
    assert isinstance(exc, ValueError) and "record_every" in str(exc), (tr, exc)


def test_run_refusals_by_example(obj):
    """Explicit cases behind the property above."""
    opt, x0 = ad.Adam(0.01), [1.0, 1.0]
    for kw, name in [
        (dict(steps=True), "steps"), (dict(steps=1.5), "steps"), (dict(steps="10"), "steps"),
        (dict(steps=np.nan), "steps"), (dict(steps=np.inf), "steps"), (dict(steps=None), "steps"),
        (dict(record_every=True), "record_every"), (dict(record_every=np.inf), "record_every"),
        (dict(record_every=None), "record_every"),
        (dict(record_every="1"), "record_every"),
        (dict(gtol="a"), "gtol"), (dict(gtol=True), "gtol"),
        (dict(record_state="yes"), "record_state"), (dict(record_state=None), "record_state"),
        (dict(parallel="yes"), "parallel"),
    ]:
        with pytest.raises((ValueError, TypeError), match=name):
            ad.run(opt, obj, x0, **{"steps": 10, **kw})
