"""Second hardening round, classes 5 and 6: sizes a network run cannot survive are refused
up front, and results that look valid but are not say so."""
import os
import warnings

import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis.linearization import FIXED_POINT_RTOL, NonStationaryWarning
from adadyn.cli import main
from adadyn.commands import nn as nncmd
from adadyn.commands.limits import max_parallel


def refusal(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    for n in needles:
        assert n in err[0], (n, err[0])
    return err[0]


# ------------------------------------------------------------------ class 5
@pytest.mark.torch
def test_absurd_thread_and_worker_counts_are_refused_with_the_bound(tmp_path, capsys):
    pytest.importorskip("torch", reason="nn-train needs torch")
    bound = max_parallel()
    assert bound == max(4, min(256, 4 * (os.cpu_count() or 1)))
    refusal(capsys, ["nn-train", "--threads", "100000", "--out", str(tmp_path / "n")], "--threads", str(bound))
    refusal(capsys, ["nn-train", "--threads", str(bound + 1), "--out", str(tmp_path / "n")], "--threads")
    refusal(capsys, ["phase-diagram", "--workers", "100000", "--out", str(tmp_path / "p")], "--workers", str(bound))


@pytest.mark.torch
def test_network_too_large_for_memory_is_refused_with_the_estimate_before_allocating(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch", reason="nn-train needs torch")
    import adadyn.nn as nnlib  # noqa: F401 - torch is needed for nn-train at all

    def no_alloc(*a, **k):
        raise AssertionError("a network was allocated before the memory check")

    monkeypatch.setattr(nnlib, "mlp", no_alloc)
    line = refusal(capsys, ["nn-train", "--widths", "5,100000,100000,1", "--points", "100", "--steps", "2",
                            "--threads", "1", "--out", str(tmp_path / "n")], "--widths", "would need about", "available")
    # 4 copies of 1e10 float64 parameters and the activations: 3.2e11 bytes
    assert "298 GiB" in line, line  # 8 * (4 * 1.00007e10 + 3 * 100 * 200001) bytes
    params = 5 * 100000 + 100000 + 100000 * 100000 + 100000 + 100000 + 1
    assert nncmd.network_bytes([5, 100000, 100000, 1], 100, 8) == 8 * (4 * params + 3 * 100 * 200001)
    assert nncmd.network_bytes([5, 100000, 100000, 1], 100, 4, models=3) == 3 * 4 * (4 * params + 3 * 100 * 200001)
    refusal(capsys, ["nn-train", "--widths", "5", "--points", "10", "--out", str(tmp_path / "m")], "--widths")


def test_vanishing_gradient_sharpness_is_nan_with_a_warning_not_an_arpack_error():
    torch = pytest.importorskip("torch")
    from adadyn import nn
    from adadyn.nn.hessian import SharpnessWarning

    torch.set_num_threads(1)
    prob = nn.sine_regression(30, 5, seed=0)
    model = nn.mlp([5, 6, 1], "relu", seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    d = sum(p.numel() for p in model.parameters())
    with pytest.warns(SharpnessWarning, match="eps = 0"):
        s = nn.preconditioned_sharpness(ad.RMSprop(1e-3, eps=0.0), model, prob, np.zeros(d), 5)
    assert np.isnan(s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = nn.preconditioned_sharpness(ad.RMSprop(1e-3, eps=1e-8), model, prob, np.zeros(d), 5)
    assert np.isfinite(s) and s > 0


def test_training_goes_on_when_lanczos_fails(monkeypatch):
    torch = pytest.importorskip("torch")
    import scipy.sparse.linalg as sla

    from adadyn import nn
    from adadyn.nn.hessian import SharpnessWarning

    torch.set_num_threads(1)

    def broken(*a, **k):
        raise sla.ArpackError(-9999)

    monkeypatch.setattr(sla, "eigsh", broken)
    prob = nn.sine_regression(30, 5, seed=0)
    with pytest.warns(SharpnessWarning, match="Lanczos failed"):
        tr = nn.train(ad.GD(1e-2), nn.mlp([5, 6, 1], "relu", seed=0), prob, 6, sharpness_every=2)
    assert tr.status == "ok" and tr.stop_step == 6
    assert np.all(np.isnan(tr.extras["sharpness"]))


# ------------------------------------------------------------------ class 6
def test_linearize_warns_at_a_state_that_is_not_a_fixed_point():
    obj = ad.objectives.quadratic(np.diag([1.0, 4.0]))
    opt = ad.RMSprop(1e-2, alpha=0.9, eps=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lin = ad.analysis.linearize(opt, obj, np.zeros(2))  # the minimum: F(z) = z, silent
    assert lin.fixed_point_residual == 0.0
    with pytest.warns(NonStationaryWarning, match="not a fixed point") as rec:
        lin = ad.analysis.linearize(opt, obj, np.array([0.5, -0.25]))
    msg = str(rec[0].message)
    assert "treated as zero" in msg and "do not say" not in msg and "not whether the optimiser converges" in msg
    assert f"{np.hypot(0.5, 1.0):.3g}" in msg  # |grad f| = |(0.5, -1)|
    assert lin.fixed_point_residual > FIXED_POINT_RTOL
    with pytest.warns(NonStationaryWarning, match="derivative at this state"):
        ad.analysis.linearize(opt, obj, np.array([0.5, -0.25]), v=np.ones(2))


def test_rmsprop_eps0_at_the_minimum_reports_0_over_0_not_divergence():
    obj = ad.objectives.quadratic(np.eye(2))
    for opt in (ad.RMSprop(1e-2, eps=0.0), ad.Adam(1e-2, eps=0.0)):
        tr = ad.run(opt, obj, np.zeros(2), 10)
        assert tr.status == "failed" and not tr.success
        assert tr.message.startswith("0/0 at step 1") and "2 of 2 coordinates" in tr.message
        assert "Not a divergence" in tr.message and tr.loss[-1] == 0.0
    tr = ad.run(ad.RMSprop(1e-2, eps=0.0), obj, np.array([0.0, 1.0]), 10)
    assert tr.status == "failed" and "1 of 2 coordinates" in tr.message and "(0.5)" in tr.message
    # eps > 0 at the minimum runs; a real blow-up is still a divergence
    assert ad.run(ad.RMSprop(1e-2), obj, np.zeros(2), 10).status == "ok"
    assert ad.run(ad.GD(3.0), obj, np.ones(2), 2000).status == "diverged"
