"""Bounded memory and honest norms in the discrete front doors (hardening)."""
import warnings

import numpy as np
import pytest

import adadyn as ad


def test_run_refuses_a_recording_above_the_limit_before_allocating():
    q = ad.objectives.random_quadratic(10, seed=0)
    # 1e8 steps x 33 doubles per row = 24.6 GiB: refused at once with the estimate and what fits
    with pytest.raises(ValueError, match=r"24\.6 GiB.*record_every >= 7 fits"):
        ad.run(ad.Adam(1e-3), q, np.ones(10), steps=100_000_000, record_every=1)
    # the same run with a stride that fits is accepted by the size check (and runs, small here)
    with pytest.raises(ValueError, match="record_every >= 34 fits"):
        ad.run(ad.Adam(1e-3), q, np.ones(10), steps=10_000, max_record_bytes=80_000)
    tr = ad.run(ad.Adam(1e-3), q, np.ones(10), steps=10_000, record_every=34, max_record_bytes=80_000)
    assert len(tr) == 10_000 // 34 + 1


def test_run_warns_well_below_the_limit(monkeypatch):
    monkeypatch.setattr(ad.validation, "RECORD_WARN_BYTES", 1000)
    q = ad.objectives.random_quadratic(3, seed=0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ad.run(ad.Adam(1e-3), q, np.ones(3), steps=100)
    assert any(issubclass(x.category, ResourceWarning) and "allocates" in str(x.message) for x in w)


def test_environment_limit_and_bad_values(monkeypatch):
    q = ad.objectives.random_quadratic(3, seed=0)
    monkeypatch.setenv("ADADYN_MAX_RECORD_BYTES", "1000")
    with pytest.raises(ValueError, match="above the limit of 1e\\+03 B|above the limit of 1000 B"):
        ad.run(ad.Adam(1e-3), q, np.ones(3), steps=100)
    monkeypatch.setenv("ADADYN_MAX_RECORD_BYTES", "lots")
    with pytest.raises(ValueError, match="ADADYN_MAX_RECORD_BYTES"):
        ad.run(ad.Adam(1e-3), q, np.ones(3), steps=10)


def test_run_grid_refuses_histories_above_the_limit(monkeypatch):
    monkeypatch.setenv("ADADYN_MAX_RECORD_BYTES", str(10**6))
    q = ad.objectives.random_quadratic(3, seed=0)
    with pytest.raises(ValueError, match="loss and gradient-norm histories of 100 grid points.*record_every >= \\d+ fits"):
        ad.discrete.run_grid(ad.Adam(1e-3), q, np.ones(3), 100_000, record_every=10, a=np.linspace(1, 10, 100))


def test_huge_but_finite_gradient_is_not_a_divergence():
    """|g| = 1e200: g.g overflows, the norm does not. The run goes on and records x0
    (it used to stop at step 0 with 'non-finite' and no record)."""
    obj = ad.objectives.quadratic([[1e200]])
    tr = ad.run(ad.GD(1e-300), obj, [1.0], steps=3)
    assert tr.status == "ok" and len(tr) == 4
    assert tr.grad_norm[0] == pytest.approx(1e200, rel=1e-15)
    assert np.allclose(tr.x[:, 0], 1.0 - 1e-100 * np.arange(4))
    gr = ad.discrete.run_grid(ad.GD(1e-300), obj, [1.0], 3, record_every=1, eta=[1e-300, 2e-300])
    assert list(gr.status) == ["ok", "ok"]
    # a gradient that is really non-finite still ends the run as diverged, keeping x0
    bad = ad.objectives.quadratic([[np.finfo(float).max / 2]])
    tr = ad.run(ad.GD(1.0), bad, [10.0], steps=3)
    assert tr.status == "diverged" and tr.stop_step == 0 and np.array_equal(tr.final_state.x, [10.0])
