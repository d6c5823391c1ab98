"""A network run's Trajectory kept on disk: records and NetState bit for bit, and the run
continues from the loaded state bit for bit."""
from __future__ import annotations

import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
from adadyn import nn  # noqa: E402


def _small():
    return nn.sine_regression(200, 3, n_test=50, seed=1), nn.mlp([3, 8, 1], "tanh", seed=2)


@pytest.mark.parametrize("spec", [ad.Adam(3e-3, beta1=0.8), ad.AdaFix(2e-3, L0=5.0)], ids=["adam", "adafix"])
def test_network_trajectory_round_trip_and_continuation(tmp_path, spec):
    prob, model = _small()
    first = nn.train(spec, model, prob, 30, batch_size=16, seed=5, record_params_every=3)
    back = ad.load(first.save(tmp_path / "net.npz"), objective=prob)
    for key in ("loss", "grad_norm", "time", "step", "x", "m", "v"):
        a, b = getattr(first, key), getattr(back, key)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), key
    assert back.extras.keys() == first.extras.keys()
    for key, val in first.extras.items():
        assert val.tobytes() == back.extras[key].tobytes(), key
    fa, fb = first.final_state, back.final_state
    assert type(fa) is type(fb) and fa.k == fb.k == 30 and fa.last_grad_norm == fb.last_grad_norm
    assert all(torch.equal(p, q) and p.dtype == q.dtype for p, q in zip(fa.params, fb.params))
    assert torch.equal(fa.rng, fb.rng) and fa.optim["param_groups"] == fb.optim["param_groups"]
    _, m1 = _small()
    _, m2 = _small()
    a = nn.train(spec, m1, prob, 20, batch_size=16, state=fa)
    b = nn.train(back.opt, m2, prob, 20, batch_size=16, state=fb)
    for key in ("loss", "grad_norm", "time"):
        assert getattr(a, key).tobytes() == getattr(b, key).tobytes(), key
    assert a.final_state.x.tobytes() == b.final_state.x.tobytes()
    assert a.final_state.v.tobytes() == b.final_state.v.tobytes()


def test_loading_a_network_state_without_torch_says_so(tmp_path, monkeypatch):
    import sys

    prob, model = _small()
    path = nn.train(ad.Adam(1e-3), model, prob, 5).save(tmp_path / "net.npz")
    monkeypatch.setitem(sys.modules, "adadyn.nn._tensors", None)   # as when torch is not installed
    with pytest.raises(ad.persist.ResultFileError, match=r'net.npz: holds a network state; loading it needs torch'):
        ad.load(path)
