"""nn.train with eps = 0 and a dead unit: the update m / sqrt(v) is 0 / 0 where the gradient is
exactly 0. Like the discrete run (adadyn.run), the run ends 'failed' with the reason, not
'diverged'; a real blow-up still ends 'diverged'."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import adadyn as ad  # noqa: E402
from adadyn import nn  # noqa: E402
from adadyn.status import Status  # noqa: E402


def _dead_unit_net():
    model = nn.mlp([2, 4, 1], "relu", seed=0, dtype=torch.float64)
    w, b = list(model.parameters())[:2]
    with torch.no_grad():          # unit 0 is off on [0, 1]^2: its weights get exactly zero gradient
        w[0].fill_(-10.0)
        b[0] = -10.0
    return model


@pytest.fixture(scope="module")
def prob():
    return nn.sine_regression(20, 2)


def test_eps_zero_with_a_dead_unit_fails_with_the_reason(prob, tmp_path):
    nn.set_num_threads(1)
    tr = nn.train(ad.Adam(eta=1e-2, eps=0.0), _dead_unit_net(), prob, 50, dtype=torch.float64)
    assert tr.status == Status.FAILED and tr.stop_step == 1
    assert tr.message.startswith("0/0 at step 1: eps = 0") and "Not a divergence" in tr.message
    # the dead unit's 2 input weights, its bias and its output weight are among the 0/0 coordinates
    assert int(tr.message.split(" of 17")[0].split("in ")[-1]) >= 4
    assert np.all(np.isfinite(tr.loss)) and tr.loss.shape == (1,)
    tr.save(tmp_path / "t.npz")
    assert ad.load(tmp_path / "t.npz").message == tr.message


def test_eps_positive_runs_and_a_real_blow_up_still_diverges(prob):
    nn.set_num_threads(1)
    ok = nn.train(ad.Adam(eta=1e-2, eps=1e-8), _dead_unit_net(), prob, 50, dtype=torch.float64)
    assert ok.status == Status.OK and ok.stop_step == 50
    # GD with a step far above 2 / sharpness: the loss overflows, and eps plays no part
    bad = nn.train(ad.GD(eta=1e3), nn.mlp([2, 4, 1], "relu", seed=0, dtype=torch.float64), prob, 200,
                   dtype=torch.float64)
    assert bad.status == Status.DIVERGED and bad.stop_step < 200
