"""The batched trainer (adadyn.nn.sweep) with options beyond the defaults, against separate single
runs (nn.mlp + nn.train with the same options) at every grid point.

tests/test_nn_sweep.py checks the batched path against ``run_points`` for six specs at default
options. Here: eps inside with bias correction, PyTorch-convention AMSGrad, Adagrad's initial
accumulator, signGD, Lion, a Family with r = 0 and h != 1 (its recorded |m| = |h| |g|), an eps
grid axis, AdaFix (trained per point), float32, and every option of ``phase_diagram`` (a user spec
whose eta is replaced, seed, activation, record stride, dtype, chunk size).
"""
import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
from adadyn import nn  # noqa: E402
from adadyn.nn.sweep import NetworkTask, phase_diagram  # noqa: E402

KEYS = ("loss", "grad_norm", "x_norm", "m_norm", "sqrt_v_norm")
WIDTHS = (3, 6, 6, 1)


def _prob():
    return nn.sine_regression(60, 3, seed=11)


def _single(spec, steps, *, activation="tanh", seed=1, record_every=2, dtype=torch.float64, widths=WIDTHS):
    """One network trained alone: the reference for one grid point."""
    model = nn.mlp(widths, activation, dtype=dtype, seed=seed)
    tr = nn.train(spec, model, _prob(), steps, record_every=record_every, dtype=dtype, progress=False)
    return {"loss": tr.loss, "grad_norm": tr.grad_norm, **{k: tr.extras[k] for k in KEYS[2:]}}, tr


def _agree(got, i, want, rtol):
    for k in KEYS:
        a, b = got[k][i], want[k]
        nz = b != 0
        np.testing.assert_array_equal(a == 0, ~nz, err_msg=k)
        if nz.any():
            assert np.max(np.abs(a[nz] - b[nz]) / np.abs(b[nz])) <= rtol, k


CASES = [
    (ad.Adam(3e-3, eps=1e-4, eps_inside=True), {"a": np.array([2.0, 50.0]), "b": np.array([20.0, 5.0])}),
    (ad.Adam(3e-3, eps=1e-4, eps_inside=True, bias_correction=False), {"b": np.array([10.0, 100.0])}),
    (ad.AMSGrad(5e-3, beta1=0.5, beta2=0.6), {"eta": np.array([5e-3, 2e-2])}),
    (ad.AMSGrad(5e-3, beta1=0.5, beta2=0.6, eps=1e-3, eps_inside=True), {"eta": np.array([5e-3, 2e-2])}),
    (ad.Adagrad(0.05, initial_accumulator_value=0.5), {"eta": np.array([0.05, 0.02])}),
    (ad.SignGD(2e-3), {"eta": np.array([2e-3, 5e-3])}),
    (ad.Lion(2e-3, beta1=0.5, beta2=0.9), {"eta": np.array([2e-3, 5e-3])}),
    (ad.Family(3e-3, h=0.5, r=0.0, p=0.1, q=0.9), {"eta": np.array([3e-3, 1e-2])}),
    (ad.Adam(3e-3), {"eps": np.array([1e-8, 3e-2])}),
]


@pytest.mark.parametrize("spec, points", CASES, ids=["adam_eps_inside", "adam_nobc_eps_inside", "amsgrad_pytorch",
                                                     "amsgrad_pytorch_eps_inside", "adagrad_v0", "signgd", "lion",
                                                     "family_r0_h_half", "eps_axis"])
def test_batched_options_equal_single_runs(spec, points):
    task = NetworkTask(_prob(), WIDTHS, spec, 40, activation="tanh", record_every=2, seed=1)
    got = task.run_chunk(points)
    for i, s in enumerate(task.specs(points)):
        want, _ = _single(s, 40)
        _agree(got, i, want, 1e-10)
    assert not np.allclose(got["loss"][0], got["loss"][1])  # the axis reached the optimiser


def test_adafix_grid_points_equal_single_runs_with_v_frozen():
    """AdaFix needs the gradient at the new point: NetworkTask trains it per point; the numbers
    are those of nn.train, and v really froze at some steps (L0 large)."""
    spec = ad.AdaFix(3e-3, L0=200.0)
    task = NetworkTask(_prob(), WIDTHS, spec, 40, activation="tanh", record_every=2, seed=1)
    pts = {"eta": np.array([3e-3, 1e-2])}
    got = task.run_chunk(pts)
    for i, s in enumerate(task.specs(pts)):
        want, tr = _single(s, 40)
        _agree(got, i, want, 1e-12)
        assert tr.final_state.optim["param_groups"][0]["frozen"] > 0


def test_float32_grid_is_trained_in_float32():
    """dtype='float32': every loss is a float32 number (batched and per point), and the batched
    chunk agrees with float32 single runs to float32 accuracy."""
    task = NetworkTask(_prob(), WIDTHS, ad.Adam(3e-3), 30, activation="tanh", record_every=2, seed=1,
                       dtype="float32")
    pts = {"a": np.array([2.0, 50.0]), "b": np.array([20.0, 5.0])}
    got, per = task.run_chunk(pts), task.run_points(pts)
    for out in (got, per):
        assert np.array_equal(out["loss"].astype(np.float32).astype(np.float64), out["loss"])
    for i, s in enumerate(task.specs(pts)):
        want, _ = _single(s, 30, dtype=torch.float32)
        np.testing.assert_allclose(got["loss"][i], want["loss"], rtol=1e-4)
    f64 = NetworkTask(_prob(), WIDTHS, ad.Adam(3e-3), 30, activation="tanh", record_every=2, seed=1).run_chunk(pts)
    assert not np.array_equal(f64["loss"], got["loss"])


def test_phase_diagram_options_reach_every_point():
    """phase_diagram with a user spec (its eta replaced by ``eta``), seed, activation, record stride,
    dtype: each point is the single run of spec.replace(eta=eta, a=a_i, b=b_j) with those options;
    the chunk size changes nothing."""
    a, b = np.array([2.0, 50.0]), np.array([5.0, 100.0])
    spec = ad.Adam(0.5, eps=1e-3)
    kw = dict(eta=3e-3, steps=30, spec=spec, activation="tanh", seed=5, record_every=3, dtype="float32")
    pd = phase_diagram(_prob(), (3, 6, 1), a, b, chunk_size=1, **kw)
    pd4 = phase_diagram(_prob(), (3, 6, 1), a, b, chunk_size=4, **kw)
    np.testing.assert_array_equal(pd.step, 3 * np.arange(11))
    assert pd.opt.eta == 3e-3 and pd.record_every == 3
    assert np.array_equal(pd.loss.astype(np.float32).astype(np.float64), pd.loss)
    for i in range(2):
        for j in range(2):
            s = spec.replace(eta=3e-3, a=a[i], b=b[j])
            want, _ = _single(s, 30, activation="tanh", seed=5, record_every=3, dtype=torch.float32,
                              widths=(3, 6, 1))
            np.testing.assert_allclose(pd.loss[i, j], want["loss"], rtol=1e-4)
            np.testing.assert_allclose(pd4.loss[i, j], pd.loss[i, j], rtol=1e-6)
            r = ad.analysis.classify(pd.loss[i, j], pd.step, f_star=0.0, window=0.5)
            assert pd.regime[i, j] == r.label


@pytest.mark.parametrize("window", [0.25, 0.8])
def test_phase_diagram_late_statistics_over_the_last_window(window):
    """late_mean/std_log10_loss are over the records at steps >= (1 - window) x the last step, and
    each regime is classify(..., window=window) of the point's loss curve."""
    a, b = np.array([2.0, 50.0]), np.array([5.0])
    pd = phase_diagram(_prob(), (3, 6, 1), a, b, eta=3e-3, steps=40, activation="tanh", window=window)
    late = pd.step >= pd.step[-1] * (1.0 - window)
    assert late.sum() == int(np.floor(40 * window)) + 1
    lg = np.log10(pd.loss[..., late])
    np.testing.assert_allclose(pd.late_mean_log10_loss, lg.mean(-1), rtol=1e-13)
    np.testing.assert_allclose(pd.late_std_log10_loss, lg.std(-1), rtol=1e-12)
    for i in range(2):
        assert pd.regime[i, 0] == ad.analysis.classify(pd.loss[i, 0], pd.step, f_star=0.0, window=window).label


def test_every_option_that_changes_the_numbers_changes_the_resume_key():
    """A sweep store is resumed by the hash of identity(): options that change the results
    (dtype, record stride, activation, seed, steps) must change it; device does not."""
    from adadyn.nn.sweep import task_hash

    base = dict(activation="tanh", record_every=2, seed=1, dtype="float64")
    t0 = NetworkTask(_prob(), WIDTHS, ad.Adam(3e-3), 20, **base)
    for change in (dict(dtype="float32"), dict(record_every=4), dict(activation="relu"), dict(seed=2)):
        t = NetworkTask(_prob(), WIDTHS, ad.Adam(3e-3), 20, **{**base, **change})
        assert t.identity() != t0.identity() and task_hash(t) != task_hash(t0), change
    assert NetworkTask(_prob(), WIDTHS, ad.Adam(3e-3), 21, **base).identity() != t0.identity()
    assert NetworkTask(_prob(), WIDTHS, ad.Adam(3e-3), 20, device="cpu", **base).identity() == t0.identity()
