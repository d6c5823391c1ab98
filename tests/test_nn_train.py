"""nn.train: the Trajectory it returns, divergence, bit-for-bit resumption, validation."""
import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # 2 threads on a shared 2-core machine oversubscribe: tiny ops take ms
from adadyn import nn  # noqa: E402
import importlib  # noqa: E402

TR = importlib.import_module("adadyn.nn.train")  # the module (adadyn.nn.train is also the function)


def _small():
    return nn.sine_regression(200, 3, n_test=100, seed=1), nn.mlp([3, 12, 12, 1], "tanh", seed=2)


@pytest.mark.parametrize("spec", [ad.Adam(3e-3, beta1=0.8, beta2=0.95), ad.Lion(1e-3), ad.AdaFix(2e-3, L0=5.0),
                                  ad.Family(2e-3, h=0.3, r=0.6, p=0.2, q=0.7, eps_inside=True),
                                  ad.RMSprop(1e-3, schedule=ad.InverseSqrt())],
                         ids=["adam", "lion", "adafix", "family", "rmsprop"])
def test_two_halves_equal_the_whole_run_bit_for_bit_with_minibatches(spec):
    prob, model = _small()
    whole = nn.train(spec, model, prob, 100, batch_size=32, seed=5, record_params_every=1)
    _, m2 = _small()
    first = nn.train(spec, m2, prob, 50, batch_size=32, seed=5, record_params_every=1)
    second = nn.train(spec, m2, prob, 50, batch_size=32, seed=123, record_params_every=1,
                      state=first.final_state)  # the seed is ignored: the generator state is resumed
    for key in ("loss", "grad_norm", "time", "step", "x"):
        a, b = getattr(whole, key), getattr(second, key)
        np.testing.assert_array_equal(np.concatenate([getattr(first, key)[:-1], b]), a, err_msg=key)
    for key in ("x_norm", "m_norm", "sqrt_v_norm", "test_error"):
        np.testing.assert_array_equal(np.concatenate([first.extras[key][:-1], second.extras[key]]),
                                      whole.extras[key], err_msg=key)
    assert second.stop_step == whole.stop_step == 100
    np.testing.assert_array_equal(second.final_state.x, whole.final_state.x)
    np.testing.assert_array_equal(second.final_state.v, whole.final_state.v)


def test_minibatches_differ_from_full_batch_and_depend_on_the_seed():
    prob, model = _small()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    runs = {}
    for key, kw in (("full", {}), ("s0", {"batch_size": 20, "seed": 0}), ("s1", {"batch_size": 20, "seed": 1})):
        model.load_state_dict(state)
        runs[key] = nn.train(ad.Adam(1e-2), model, prob, 5, **kw).loss
    assert runs["full"][0] == pytest.approx(float(prob.loss(nn.mlp([3, 12, 12, 1], "tanh", seed=2)).detach()), rel=1e-15)
    assert not np.array_equal(runs["s0"], runs["s1"]) and not np.array_equal(runs["s0"], runs["full"])


def test_trajectory_fields_and_recording():
    prob, model = _small()
    spec = ad.Adam(1e-3)
    tr = nn.train(spec, model, prob, 40, record_every=10, record_params_every=20)
    d = sum(p.numel() for p in model.parameters())
    assert isinstance(tr, ad.Trajectory) and tr.status == "ok" and tr.success
    np.testing.assert_array_equal(tr.step, [0, 10, 20, 30, 40])
    np.testing.assert_allclose(tr.time, 1e-3 * tr.step, rtol=1e-14)
    assert tr.x.shape == (3, d) and tr.m.shape == (0, d) and tr.v.shape == (0, d)
    np.testing.assert_allclose(tr.x_norm[::2], np.linalg.norm(tr.x, axis=1), rtol=1e-13)
    np.testing.assert_array_equal(tr.x[-1], tr.final_state.x)
    assert tr.m_norm[0] == 0.0 and tr.sqrt_v_norm[0] == 0.0
    assert tr.m_norm[-1] == pytest.approx(np.linalg.norm(tr.final_state.m), rel=1e-13)
    assert tr.sqrt_v_norm[-1] == pytest.approx(np.sqrt(tr.final_state.v.sum()), rel=1e-13)
    # test error: mse on the held-out points, recomputed independently at the end
    with torch.no_grad():
        Xt, Yt = prob.data["X_test"], prob.data["Y_test"]
        want = float(((model(Xt) - Yt) ** 2).mean())
    assert tr.test_error[-1] == pytest.approx(want, rel=1e-13)
    assert ad.analysis.classify(tr).label == ad.analysis.classify(tr.loss, tr.step).label
    ax = ad.plotting.plot_loss(tr)
    assert len(ax.lines) == 1


def test_rmsprop_m_norm_is_the_last_gradient_norm():
    prob, model = _small()
    tr = nn.train(ad.RMSprop(1e-3), model, prob, 5)
    np.testing.assert_allclose(tr.m_norm[1:], tr.grad_norm[:-1], rtol=1e-15)


@pytest.mark.parametrize("eta_L", [300.0, 12.0])  # diverging in the first block of records, and in the third
def test_nonfinite_loss_ends_the_run_as_diverged_keeping_the_history(eta_L):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    y = X @ np.ones(4)
    obj = ad.objectives.least_squares(X, y)
    x0 = np.full(4, 3.0)
    eta = eta_L / np.linalg.eigvalsh(X.T @ X / 30).max()
    want = ad.run(ad.GD(eta), obj, x0, 500)
    model = nn.mlp([4, 1], bias=False)
    with torch.no_grad():
        model.layers[0].weight.fill_(3.0)
    got = nn.train(ad.GD(eta), model, nn.regression(X, y), 500)
    assert got.status == "diverged" == want.status and not got.success
    assert got.stop_step == want.stop_step < 500
    assert (got.stop_step > 2 * TR._BLOCK_STEPS) == (eta_L == 12.0)
    # the state returned is the one at the non-finite loss, as ad.run returns it (the loop checks
    # its records once per block of steps and retakes the block's finite steps)
    assert got.final_state.k == want.final_state.k == got.stop_step
    np.testing.assert_allclose(got.final_state.x, want.final_state.x, rtol=1e-12)
    assert len(got) == got.stop_step and np.all(np.isfinite(got.loss))
    np.testing.assert_allclose(got.loss[:20], want.loss[:20], rtol=1e-12)
    assert ad.analysis.classify(got).label == "divergence"


def test_a_divergence_inside_a_block_ends_the_run_as_a_per_step_check_would(monkeypatch):
    """Records are read back and checked once per block of steps: a run that diverges inside
    a block must end with exactly the records and the state of a check after every step."""
    prob, _ = _small()
    spec = ad.GD(5.0)

    def run(steps, state=None):
        model = nn.mlp([3, 12, 12, 1], "tanh", seed=2)
        tr = nn.train(spec, model, prob, steps, batch_size=32, seed=5, record_params_every=1, state=state)
        return tr, model

    got, model = run(300)
    k = got.stop_step
    assert got.status == "diverged" and TR._BLOCK_STEPS < k < 2 * TR._BLOCK_STEPS - 1, k
    assert len(got) == k and np.all(np.isfinite(got.loss)) and np.all(np.isfinite(got.grad_norm))
    # independent of the block logic: the run stopped one step short, then continued
    pre, _ = run(k - 1)
    cont, _ = run(10, state=pre.final_state)
    assert pre.status == "ok" and cont.status == "diverged" and cont.stop_step == k and len(cont) == 1
    for key in ("loss", "grad_norm", "time", "x", "x_norm", "test_error"):
        np.testing.assert_array_equal(getattr(got, key), getattr(pre, key), err_msg=key)
    # the same run checked after every step (blocks of one step)
    monkeypatch.setattr(TR, "_BLOCK_STEPS", 1)
    per, _ = run(300)
    assert per.stop_step == k and per.status == "diverged"
    for key in ("loss", "grad_norm", "time", "x", "x_norm", "m_norm", "sqrt_v_norm", "test_error"):
        np.testing.assert_array_equal(getattr(got, key), getattr(per, key), err_msg=key)
    for other in (cont, per):
        a, b = got.final_state, other.final_state
        assert a.k == b.k == k and a.time == b.time and a.last_grad_norm == b.last_grad_norm
        torch.testing.assert_close(a.rng, b.rng, rtol=0, atol=0)
        for p, q in zip(a.params, b.params):
            torch.testing.assert_close(p, q, rtol=0, atol=0)
    for p, q in zip(model.parameters(), got.final_state.params):  # the model is left at the state returned
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=0)


def test_bad_arguments_are_refused_with_the_parameter_named():
    prob, model = _small()
    spec = ad.Adam(1e-3)
    cases = [
        (dict(steps=-1), ValueError, "steps"), (dict(record_every=0), ValueError, "record_every"),
        (dict(batch_size=0), ValueError, "batch_size"), (dict(batch_size=10**6), ValueError, "batch_size"),
        (dict(record_params_every=3, record_every=2), ValueError, "record_params_every"),
        (dict(sharpness_every=0), ValueError, "sharpness_every"), (dict(dtype=torch.int64), TypeError, "dtype"),
        (dict(device="tpu:x"), ValueError, "device"), (dict(seed=-1), ValueError, "seed"),
    ]
    for kw, exc, word in cases:
        args = dict(steps=3)
        args.update(kw)
        steps = args.pop("steps")
        with pytest.raises(exc, match=word):
            nn.train(spec, model, prob, steps, **args)
    with pytest.raises(TypeError, match="Module"):
        nn.train(spec, "net", prob, 3)
    with pytest.raises(TypeError, match="Problem"):
        nn.train(spec, model, object(), 3)
    with pytest.raises(TypeError, match="spec|optim"):
        nn.train("adam", model, prob, 3)
    with pytest.raises(ValueError, match="shapes"):
        st = nn.train(spec, nn.mlp([3, 5, 1]), prob, 1).final_state
        nn.train(spec, model, prob, 1, state=st)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            nn.train(spec, model, prob, 1, device="cuda")


def test_float32_training_runs_and_is_close_to_float64():
    prob, model = _small()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    a = nn.train(ad.Adam(1e-3), model, prob, 20)
    model = nn.mlp([3, 12, 12, 1], "tanh", seed=2)
    model.load_state_dict(sd)
    b = nn.train(ad.Adam(1e-3), model, prob, 20, dtype=torch.float32)
    assert next(model.parameters()).dtype == torch.float32
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-4)
