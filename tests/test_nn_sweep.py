"""NetworkTask: batched training of a grid of networks against per-point nn.train."""
import pickle

import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # 2 threads on a shared 2-core machine oversubscribe
from adadyn import nn  # noqa: E402
from adadyn.analysis.regimes import REGIMES  # noqa: E402
from adadyn.nn import sweep as SW  # noqa: E402
from adadyn.nn.sweep import NetworkTask, phase_diagram  # noqa: E402
from adadyn.status import Status  # noqa: E402
from adadyn.sweep import Grid, Task, run_sweep  # noqa: E402

KEYS = ("loss", "grad_norm", "x_norm", "m_norm", "sqrt_v_norm")


def _prob():
    return nn.sine_regression(120, 3, seed=4)


@pytest.mark.parametrize("spec,points", [
    (ad.Adam(2e-3), {"a": np.array([1.0, 10.0, 100.0]), "b": np.array([100.0, 10.0, 1.0])}),
    (ad.AMSGrad(2e-3, variant="optax"), {"a": np.array([5.0, 50.0]), "b": np.array([50.0, 5.0])}),
    (ad.RMSprop(2e-3, eps_inside=True, eps=1e-6), {"a": np.array([2.0, 20.0])}),
    (ad.Lion(1e-3), {"eta": np.array([1e-3, 3e-3])}),
    (ad.GD(0.05, schedule=ad.InverseSqrt()), {"eta": np.array([0.05, 0.1])}),
    (ad.Adam(1e-3, bias_correction=False), {"eta": np.array([1e-3, 4e-3]), "beta1": np.array([0.5, 0.95])}),
], ids=["adam_ab", "amsgrad_optax", "rmsprop_eps_inside", "lion", "gd_invsqrt", "adam_nobc_eta_beta1"])
def test_batched_chunk_agrees_with_training_each_point(spec, points):
    task = NetworkTask(_prob(), (3, 6, 6, 1), spec, 40, activation="tanh", record_every=2, seed=1)
    got = task.run_chunk(points)
    want = task.run_points(points)
    n = len(next(iter(points.values())))
    for k in KEYS:
        assert got[k].shape == (n, 21)
        a, b = got[k], want[k]
        nz = b != 0
        np.testing.assert_array_equal(a == 0, ~nz)
        if nz.any():
            assert np.max(np.abs(a[nz] - b[nz]) / np.abs(b[nz])) <= 1e-10, k
    np.testing.assert_array_equal(got["status"], want["status"])
    # the points really differ (the axes reached the optimiser)
    assert not np.allclose(got["loss"][0], got["loss"][1])


@pytest.mark.parametrize("etas", [[0.01, 1e10, 0.02], [0.01, 20.0, 5.0, 0.02]],
                         ids=["at_once", "inside_later_blocks"])
def test_a_diverging_point_does_not_disturb_the_others(etas):
    """Losses are read back and checked once per block of steps: a point diverging inside a
    block stops at the step where training it alone stops, and the others are untouched."""
    task = NetworkTask(_prob(), (3, 6, 1), ad.GD(0.01), 150, activation="tanh", seed=0)
    pts = {"eta": np.array(etas)}
    got, want = task.run_chunk(pts), task.run_points(pts)
    dead = np.array([e > 1.0 for e in etas])
    np.testing.assert_array_equal(got["status"], np.where(dead, Status.DIVERGED.code, Status.OK.code))
    np.testing.assert_array_equal(got["status"], want["status"])
    np.testing.assert_array_equal(got["stop_step"], want["stop_step"])
    assert np.all(got["stop_step"][dead] < 150)
    if len(etas) > 3:  # mid-block, in a block after the first
        assert np.all((got["stop_step"][dead] > SW._BLOCK_STEPS) & (got["stop_step"][dead] % SW._BLOCK_STEPS != 0))
    for i in np.flatnonzero(dead):
        k = got["stop_step"][i]
        for key in KEYS:
            assert np.all(np.isnan(got[key][i, k:])) and np.all(np.isfinite(got[key][i, :k])), key
        np.testing.assert_allclose(got["loss"][i, :k // 2], want["loss"][i, :k // 2], rtol=1e-10)
    np.testing.assert_allclose(got["loss"][~dead], want["loss"][~dead], rtol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_batched_chunk_agrees_with_each_point_for_several_outputs(activation):
    """Three outputs (the backward pass through the last layer is a product, not an outer
    product), and the other activations' derivative kernels."""
    rng = np.random.default_rng(7)
    X = rng.uniform(-1.0, 1.0, (90, 4))
    Y = np.stack([np.sin(2 * X[:, 0]), X[:, 1] * X[:, 2], np.cos(X[:, 3])], axis=1)
    task = NetworkTask(nn.regression(X, Y), (4, 7, 5, 3), ad.Adam(3e-3), 30, activation=activation, seed=2)
    pts = {"a": np.array([1.0, 30.0]), "b": np.array([20.0, 3.0])}
    got, want = task.run_chunk(pts), task.run_points(pts)
    for k in KEYS:
        nz = want[k] != 0
        np.testing.assert_array_equal(got[k] == 0, ~nz)
        assert np.max(np.abs(got[k][nz] - want[k][nz]) / np.abs(want[k][nz])) <= 1e-10, k
    assert not np.allclose(got["loss"][0], got["loss"][1])


def test_task_contract_pickles_identity_and_describe():
    task = NetworkTask(_prob(), (3, 6, 1), ad.Adam(1e-3), 10, seed=0)
    back = pickle.loads(pickle.dumps(task))
    assert back.identity() == task.identity()
    assert isinstance(task, Task) and all(isinstance(v, (str, int)) for v in task.identity().values())
    pts = {"a": np.array([1.0, 3.0]), "b": np.array([2.0, 4.0])}
    np.testing.assert_array_equal(back.run_chunk(pts)["loss"], task.run_chunk(pts)["loss"])
    for other in (NetworkTask(_prob(), (3, 6, 1), ad.Adam(1e-3), 10, seed=1),
                  NetworkTask(_prob(), (3, 7, 1), ad.Adam(1e-3), 10, seed=0),
                  NetworkTask(_prob(), (3, 6, 1), ad.Adam(2e-3), 10, seed=0),
                  NetworkTask(nn.sine_regression(120, 3, seed=5), (3, 6, 1), ad.Adam(1e-3), 10, seed=0)):
        assert other.identity() != task.identity()
    assert task.describe()["network"] == "3-6-1 relu" and "Adam" in task.describe()["spec"]
    with pytest.raises(ValueError, match="one entry per point"):
        task.run_chunk({"a": np.ones(2), "b": np.ones(3)})
    with pytest.raises(ValueError, match="widths"):
        NetworkTask(_prob(), (3, 0, 1), ad.Adam(1e-3), 10)
    with pytest.raises(ValueError, match="dtype"):
        NetworkTask(_prob(), (3, 6, 1), ad.Adam(1e-3), 10, dtype="float16")
    with pytest.raises(ValueError, match="image-shaped"):
        NetworkTask(nn.digits(2, images=True), (64, 6, 2), ad.Adam(1e-3), 10)


def test_network_phase_diagram():
    a, b = np.array([1.0, 100.0]), np.array([1.0, 100.0])
    pd = phase_diagram(_prob(), (3, 6, 6, 1), a, b, eta=1e-3, steps=40, chunk_size=3)
    assert pd.shape == (2, 2) and set(pd.regime.ravel()) <= set(REGIMES)
    task = NetworkTask(_prob(), (3, 6, 6, 1), ad.Adam(1e-3), 40)
    ref = task.run_chunk({"a": np.array([1.0, 1.0, 100.0, 100.0]), "b": np.array([1.0, 100.0, 1.0, 100.0])})
    np.testing.assert_allclose(pd.loss.reshape(4, -1), ref["loss"], rtol=1e-12)
    for i in range(2):
        for j in range(2):
            want = ad.analysis.classify(pd.loss[i, j], pd.step, f_star=0.0, window=0.5).label
            assert pd.regime[i, j] == want
    with pytest.raises(ValueError, match="memory rates"):
        phase_diagram(_prob(), (3, 6, 1), np.array([2000.0]), b, eta=1e-3, steps=10)


def test_run_sweep_chunks_store_resume_and_a_process_pool_agree_bit_for_bit(tmp_path):
    import multiprocessing

    from adadyn.sweep import process_pool

    task = NetworkTask(_prob(), (3, 5, 1), ad.Adam(2e-3), 12, seed=3)
    grid = Grid(a=[1.0, 10.0, 100.0], b=[2.0, 50.0])
    whole = run_sweep(task, grid)
    chunked = run_sweep(task, grid, chunk_size=2, out=tmp_path / "s")
    again = run_sweep(task, grid, chunk_size=2, out=tmp_path / "s")
    assert chunked.computed == 3 and again.computed == 0 and again.loaded == 3
    with process_pool(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        pooled = run_sweep(task, grid, executor=ex, chunk_size=3)
    for res in (chunked, again, pooled):
        for k in task.keys:
            np.testing.assert_array_equal(res[k], whole[k], err_msg=k)
    assert whole["loss"].shape == (3, 2, 13) and whole.success
    one = task.run_chunk({"a": np.array([10.0]), "b": np.array([50.0])})  # a chunk of one point too
    for k in task.keys:
        np.testing.assert_array_equal(one[k][0], whole[k][1, 1], err_msg=k)
    ref = task.run_points({"a": np.array([10.0]), "b": np.array([50.0])})
    np.testing.assert_allclose(whole["loss"][1, 1], ref["loss"][0], rtol=1e-10)
