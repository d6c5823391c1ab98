"""Network runs are classified with f* unknown (docs/regimes.md, round 5).

A training loss is only known to be >= 0: ``adadyn.nn`` problems and network objectives declare
``lower_bound = 0`` and no ``min_value``, so ``classify(trajectory)`` reads f* as unknown
(``f_star_known=False``), as do ``nn.phase_diagram`` and ``nn.edge_of_stability``.
"""
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import adadyn as ad  # noqa: E402
from adadyn import nn  # noqa: E402
from adadyn.analysis import classify  # noqa: E402
from adadyn.nn import sweep as SW  # noqa: E402


def _cycle():
    """A resolved cycle of 60 steps and a decade peak to peak, 4 decades below its start: far by
    the loss-implied distance when f* = 0 is the minimum value, oscillation when f* is unknown."""
    t = np.arange(4000.0)
    loss = 10.0 ** (-4.0 + 0.5 * np.sin(2 * np.pi * t / 60.0))
    loss[0] = 1.0
    return loss


def test_problems_and_network_objectives_declare_a_lower_bound_and_no_minimum():
    prob = nn.sine_regression(20, 2, seed=0)
    assert prob.min_value is None and prob.lower_bound == 0.0
    assert nn.digits(2).lower_bound == 0.0
    obj = nn.objective(nn.mlp([2, 3, 1], seed=0), prob)
    assert obj.min_value is None and obj.lower_bound == 0.0


def test_a_trajectory_of_a_network_problem_is_read_with_fstar_unknown():
    loss = _cycle()
    tr = SimpleNamespace(loss=loss, step=np.arange(loss.size), status="finished",
                         objective=nn.sine_regression(20, 2, seed=0), opt=ad.Adam(1e-3),
                         grad_norm=np.full(loss.size, 1e-3))
    r = classify(tr)
    assert r.label == "oscillation" and "f* unknown" in r.reason and np.isnan(r.grad_ratio)
    assert classify(loss).label == "divergence"          # f* = 0 read as the minimum value


def test_a_trained_network_is_classified_as_its_loss_with_fstar_unknown():
    tr = nn.train(ad.RMSprop(3e-3, alpha=0.99), nn.mlp([2, 16, 16, 1], seed=0), nn.sine_regression(50, 2, seed=0),
                  400, record_every=2)
    got = classify(tr)
    want = classify(np.asarray(tr.loss), np.asarray(tr.step), f_star_known=False)
    assert (got.label, got.reason, got.level, got.step_ratio) == (want.label, want.reason, want.level,
                                                                  want.step_ratio)


def test_phase_diagram_and_edge_of_stability_pass_fstar_unknown(monkeypatch):
    import adadyn.analysis.regimes as R
    seen = []
    real = R.classify

    def spy(*args, **kw):
        seen.append(kw.get("f_star_known"))
        return real(*args, **kw)

    monkeypatch.setattr(R, "classify", spy)    # nn.phase_diagram imports it when called
    pd = SW.phase_diagram(nn.sine_regression(30, 2, seed=1), (2, 3, 1), [1.0, 10.0], [1.0], 1e-3, 40,
                          chunk_size=2)
    assert seen == [False, False]
    for i in range(2):
        loss = pd.loss[i, 0]
        ok = np.isfinite(loss)
        assert pd.regime[i, 0] == classify(loss[ok], pd.step[ok], f_star_known=False, window=0.5).label

    from adadyn.nn import hessian as H
    seen.clear()
    monkeypatch.setattr(H, "classify", spy)
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    lin = torch.nn.Linear(3, 1, bias=False).double()
    tr = nn.train(ad.Adam(1e-2), lin, nn.regression(X, y[:, None]), 40, sharpness_every=10)
    nn.edge_of_stability(tr)
    assert seen == [False]
