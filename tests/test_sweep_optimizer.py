"""OptimizerTask and hyperparameter_sweep: any spec, any axes, point by point equal to ad.run."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis import classify
from adadyn.analysis.hyper import hyperparameter_sweep
from adadyn.sweep import Grid, OptimizerTask, run_sweep
from adadyn.sweep.tasks import decimation

STEPS = 2000


@pytest.fixture(scope="module")
def obj():
    return ad.objectives.random_quadratic(5, seed=4)


@pytest.fixture(scope="module")
def x0():
    return np.random.default_rng(1).standard_normal(5)


def _check_points(sw, make, obj, x0, names):
    for idx in np.ndindex(sw.shape):
        point = {n: sw.grid.axes[n][i] for n, i in zip(names, idx)} if len(names) == len(idx) else \
            {n: sw.grid.axes[n][idx[0]] for n in names}
        tr = ad.run(make(**point), obj, x0, STEPS, record_every=sw.record_every, record_state=False)
        assert np.array_equal(sw.loss[idx], tr.loss, equal_nan=True), point
        assert np.array_equal(sw.final_x[idx], tr.final_state.x), point
        assert sw.status[idx] == str(tr.status)
        assert sw.regime[idx] == classify(tr, window=0.25).label


def test_rmsprop_over_eta_and_a_equals_single_runs(obj, x0):
    etas, rates = np.array([1e-3, 1e-2, 0.05]), np.array([0.5, 20.0])
    sw = hyperparameter_sweep(ad.RMSprop(1e-3), obj, x0, STEPS, {"eta": etas, "a": rates}, record_every=20)
    assert sw.shape == (3, 2) and sw.success

    def make(eta, a):
        return ad.RMSprop(eta, alpha=1.0 - a * eta)

    _check_points(sw, make, obj, x0, ("eta", "a"))
    assert (sw.status == "diverged").any() or (sw.regime != "convergence").any()


def test_adam_over_eta_and_eps_equals_single_runs(obj, x0):
    sw = hyperparameter_sweep(ad.Adam(1e-3), obj, x0, STEPS, {"eta": [1e-3, 3e-2], "eps": [1e-8, 1e-2, 1.0]},
                              record_every=10)
    _check_points(sw, lambda eta, eps: ad.Adam(eta, eps=eps), obj, x0, ("eta", "eps"))
    # eps = 1 damps the step: a larger final loss than eps = 1e-8 at the same eta
    assert sw.final_loss[0, 2] > sw.final_loss[0, 0]


def test_zipped_axes(obj, x0):
    sw = hyperparameter_sweep(ad.Adam(1e-3), obj, x0, STEPS, {"eta": [1e-3, 1e-2], "b": [10.0, 1.0]},
                              zip_axes=True, record_every=20)
    assert sw.shape == (2,)
    _check_points(sw, lambda eta, b: ad.Adam(eta).with_rates(b=b), obj, x0, ("eta", "b"))


def test_thinned_history_keeps_exact_features_and_streams_full(obj, x0, tmp_path):
    axes = {"a": [0.5, 5.0, 500.0], "b": [1.0, 50.0]}
    full = hyperparameter_sweep(ad.Adam(1e-3), obj, x0, STEPS, axes, record_every=5)
    thin = hyperparameter_sweep(ad.Adam(1e-3), obj, x0, STEPS, axes, record_every=5, history=21,
                                out=tmp_path / "s", full_history=True, chunk_size=2)
    keep = decimation(full.step.size, 21)
    assert keep.size == 21 and keep[0] == 0 and keep[-1] == full.step.size - 1
    assert np.array_equal(thin.step, full.step[keep])
    assert np.array_equal(thin.loss, full.loss[..., keep], equal_nan=True)
    assert np.array_equal(thin.regime, full.regime)
    for k in ("spike_count", "osc_amplitude", "level", "trend", "late_mean_log10_loss"):
        assert np.array_equal(getattr(thin, k), getattr(full, k), equal_nan=True), k
    assert np.array_equal(thin.sweep.load("loss_full"), full.loss, equal_nan=True)
    with pytest.raises(ValueError, match="full loss histories"):
        thin.regimes
    assert full.regimes[2, 0].label == full.regime[2, 0]


def test_chunks_in_spawned_workers_equal_the_parallel_path(obj, x0):
    task = OptimizerTask(ad.Adam(1e-3), obj, x0, STEPS, record_every=50)
    grid = Grid(a=[0.3, 3.0, 300.0], b=[0.5, 50.0])
    local = run_sweep(task, grid, progress=False)
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as ex:
        far = run_sweep(task, grid, executor=ex, chunk_size=2, progress=False)
    for k in local.data:
        assert np.array_equal(local[k], far[k], equal_nan=True), k


@pytest.mark.parametrize("axes, match", [
    ({"zeta": [1.0]}, "zeta"), ({"a": [1.0, 2e4]}, "a"), ({}, "non-empty"), ({"eta": [-1.0]}, "eta"),
])
def test_bad_axes_are_refused(obj, x0, axes, match):
    with pytest.raises(ValueError, match=match):
        hyperparameter_sweep(ad.Adam(1e-3), obj, x0, STEPS, axes)


def test_rates_only_where_the_spec_has_them(obj, x0):
    with pytest.raises(ValueError, match="unknown hyperparameter axis 'b' for"):
        hyperparameter_sweep(ad.RMSprop(1e-3), obj, x0, STEPS, {"b": [1.0]})
