"""The fused one-pass step for separable objectives: the same iterates, stops and records
as the reference driver (bit for bit in x, m, v), across optimisers and early stops."""
import numpy as np
import pytest

import adadyn as ad

D = 2_000


@pytest.fixture(scope="module")
def diag():
    h = np.linspace(0.1, 5.0, D)
    return ad.objectives.diagonal_quadratic(h, center=np.linspace(-1, 1, D), parallel=False)


def _both(opt, obj, x0, steps, every=1, **kw):
    a = ad.run(opt, obj, x0, steps, every, fused=True, **kw)
    b = ad.run(opt, obj, x0, steps, every, fused=False, **kw)
    return a, b


def _same(a, b):
    assert a.status == b.status and a.stop_step == b.stop_step and len(a) == len(b)
    for f in ("x", "m", "v", "aux", "scalars"):
        assert np.array_equal(getattr(a.final_state, f), getattr(b.final_state, f)), f
    assert np.array_equal(a.x, b.x) and np.array_equal(a.m, b.m) and np.array_equal(a.v, b.v)
    assert np.array_equal(a.time, b.time) and np.array_equal(a.step, b.step)
    # the loss is summed in another order: equal up to rounding
    assert np.allclose(a.loss, b.loss, rtol=1e-12, atol=0)
    assert np.allclose(a.grad_norm, b.grad_norm, rtol=1e-12, atol=0)


@pytest.mark.parametrize("opt", [
    ad.Adam(1e-2), ad.Adam(1e-2, eps_inside=True), ad.AMSGrad(1e-2), ad.AMSGrad(1e-2, variant="optax"),
    ad.RMSprop(1e-2, alpha=0.9), ad.Adagrad(0.1, initial_accumulator_value=0.1), ad.GD(0.1),
    ad.SignGD(1e-3), ad.Lion(1e-3), ad.Adam(1e-2, schedule=ad.CosineAnnealing(50, 0.1)),
], ids=lambda o: f"{o.name}")
def test_fused_equals_reference(diag, opt):
    x0 = np.random.default_rng(0).standard_normal(D)
    _same(*_both(opt, diag, x0, 203, 7))


def test_fused_divergence_stops_at_the_same_step_with_the_same_state(diag):
    # GD with eta * h_max = 2.5 grows by 1.5x per step until the loss overflows
    x0 = np.ones(D)
    a, b = _both(ad.GD(0.5), diag, x0, 5_000, 3)
    assert b.status == "diverged" and b.stop_step > 64  # past several checkpoints
    _same(a, b)


def test_fused_converged_and_resumed_runs(diag):
    x0 = np.random.default_rng(1).standard_normal(D)
    a, b = _both(ad.GD(0.15), diag, x0, 5_000, 10, gtol=1e-6)
    assert b.status == "converged"
    _same(a, b)
    first = ad.run(ad.Adam(1e-2), diag, x0, 100, fused=True)
    more = ad.run(ad.Adam(1e-2), diag, steps=100, state=first.final_state, fused=True)
    whole = ad.run(ad.Adam(1e-2), diag, x0, 200, fused=False)
    assert np.array_equal(more.final_state.x, whole.final_state.x)


def test_fused_is_refused_where_it_does_not_apply(diag):
    with pytest.raises(ValueError, match="separable"):
        ad.run(ad.Adam(1e-3), ad.objectives.random_quadratic(3), np.ones(3), 5, fused=True)
    with pytest.raises(ValueError, match="separable"):
        ad.run(ad.AdaFix(1e-3), diag, np.ones(D), 5, fused=True)
