"""(a, b) phase diagrams: agreement with single runs, executors, persistence."""
from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis import classify, phase_diagram
from adadyn.analysis import phase as phase_mod
from adadyn.analysis.persistence import SweepError
from adadyn.sweep import OptimizerTask, SweepWarning

ETA = 1e-3
A = np.array([0.5, 5.0, 50.0])
B = np.array([1.0, 100.0])


@pytest.fixture(scope="module")
def obj():
    return ad.objectives.random_quadratic(4, seed=1)


@pytest.fixture(scope="module")
def x0():
    return np.random.default_rng(0).standard_normal(4)


@pytest.fixture(scope="module")
def ref(obj, x0):
    return phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10)


def _same(p, q):
    assert np.array_equal(p.loss, q.loss, equal_nan=True)
    assert np.array_equal(p.final_x, q.final_x)
    assert np.array_equal(p.late_mean_log10_loss, q.late_mean_log10_loss, equal_nan=True)
    assert np.array_equal(p.regime, q.regime)


def test_points_equal_single_runs(obj, x0, ref):
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            tr = ad.run(ad.Adam.from_ab(ETA, a, b), obj, x0, 3000, record_every=10, record_state=False)
            assert np.array_equal(ref.loss[i, j], tr.loss)
            assert np.array_equal(ref.final_x[i, j], tr.final_state.x)
            assert ref.regime[i, j] == classify(tr).label
            assert ref.at(a, b).label == ref.regime[i, j]
    assert ref.regime.shape == (3, 2) and ref.index(5.0, 100.0) == (1, 1)
    assert sum(ref.counts().values()) == 6


def test_paper_points_in_a_phase_diagram():
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    pd = phase_diagram(obj, x0, [1.0, 10.0, 100.0], [1.0, 10.0, 100.0], ETA, 20_000)
    assert pd.at(1, 100).label == "spike"
    assert pd.at(10, 10).label == "oscillation"
    assert pd.at(100, 1).label == "divergence"
    # Figure 8's left panel: the a >> b corner has the largest late loss
    assert pd.late_mean_log10_loss[2, 0] > pd.late_mean_log10_loss[1, 1] + 5


def test_chunked_local_path_equals_one_call(obj, x0, ref):
    seen = []
    pd = phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, chunk_size=4,
                       progress=lambda done, total: seen.append((done, total)))
    _same(pd, ref)
    assert seen[-1] == (6, 6) and len(seen) == 3  # initial 0, then two chunks


def test_process_pool_equals_local(obj, x0, ref):
    with ProcessPoolExecutor(2) as ex:
        pd = phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, executor=ex, chunk_size=2)
    _same(pd, ref)


def test_thread_pool_equals_local(obj, x0, ref):
    with ThreadPoolExecutor(2) as ex:
        pd = phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, executor=ex, chunk_size=4)
    _same(pd, ref)


@pytest.mark.dask
def test_dask_local_cluster_equals_local(obj, x0, ref):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        pd = phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, executor=client, chunk_size=2)
    _same(pd, ref)


# ------------------------------------------------------------------ objectives across processes
@pytest.mark.parametrize("make", [
    lambda: ad.objectives.random_quadratic(5, seed=2),
    lambda: ad.objectives.rosenbrock(3),
    lambda: ad.objectives.least_squares(np.arange(12.0).reshape(4, 3) ** 0.5, np.ones(4)),
    lambda: ad.Objective.from_expr("1 - cos(x1**2 + x2**2)"),
])
def test_objective_recipe_round_trip(make):
    obj = make()
    back = phase_mod.objective_from_recipe(pickle.loads(pickle.dumps(phase_mod.objective_recipe(obj))))
    x = np.linspace(0.3, 1.1, obj.dim)
    assert back.value(x) == obj.value(x)
    assert np.array_equal(back.grad(x), obj.grad(x))
    assert np.array_equal(back.hessian(x), obj.hessian(x))
    assert back.min_value == obj.min_value and back.name == obj.name


def test_closure_objective_is_refused_with_clear_error():
    import numba

    @numba.njit
    def f(x):
        return x[0] ** 2

    @numba.njit
    def g(x):
        return 2 * x

    obj = ad.Objective.from_numba(f, g, dim=1)
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        phase_mod.objective_recipe(obj)


# ------------------------------------------------------------------ persistence
def test_resume_recomputes_nothing(obj, x0, ref, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    pd = phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out, chunk_size=2)
    _same(pd, ref)
    assert sorted(p.name for p in out.iterdir()) == [
        "chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz", "manifest.json"]

    def boom(*a, **k):
        raise AssertionError("recomputed a finished chunk")

    monkeypatch.setattr(OptimizerTask, "run_all", boom)
    monkeypatch.setattr(OptimizerTask, "run_chunk", boom)
    _same(phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out), ref)
    # another chunk size or an executor resumes the same files
    with ThreadPoolExecutor(1) as ex:
        _same(phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out, chunk_size=5,
                            executor=ex), ref)


def test_interrupted_sweep_keeps_finished_chunks(obj, x0, ref, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    real = OptimizerTask.run_all
    calls = []

    def flaky(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(OptimizerTask, "run_all", flaky)
    with pytest.raises(KeyboardInterrupt):
        phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out, chunk_size=2)
    assert len(list(out.glob("chunk_*.npz"))) == 2
    calls.clear()
    monkeypatch.setattr(OptimizerTask, "run_all", lambda *a: (calls.append(1), real(*a))[1])
    _same(phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out), ref)
    assert len(calls) == 1


@pytest.mark.slow
def test_killed_process_loses_nothing_finished(tmp_path):
    """SIGKILL a sweep midway: every chunk file on disk is complete, the rerun computes only
    the rest and gives the uninterrupted result."""
    out = tmp_path / "sweep"
    script = textwrap.dedent(f"""
        import numpy as np, adadyn as ad
        from adadyn.analysis import phase_diagram
        obj = ad.objectives.random_quadratic(6, seed=3)
        x0 = np.ones(6)
        phase_diagram(obj, x0, np.logspace(-1, 2, 8), np.logspace(-1, 2, 8), 1e-3, 400_000,
                      record_every=400, out={str(out)!r}, chunk_size=2)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(out.glob("chunk_*.npz"))) < 3:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = sorted(out.glob("chunk_*.npz"))
    assert 3 <= len(done) < 32
    obj = ad.objectives.random_quadratic(6, seed=3)
    n_run = []
    real = OptimizerTask.run_all
    try:
        OptimizerTask.run_all = lambda *a: (n_run.append(1), real(*a))[1]
        pd = phase_diagram(obj, np.ones(6), np.logspace(-1, 2, 8), np.logspace(-1, 2, 8), 1e-3, 400_000,
                           record_every=400, out=out, chunk_size=2)
    finally:
        OptimizerTask.run_all = real
    assert len(n_run) == 32 - len(done)
    # spot-check finished chunks against fresh single runs
    for a, b in ((0.1, 0.1), (100.0, 100.0)):
        i, j = pd.index(a, b)
        tr = ad.run(ad.Adam.from_ab(1e-3, a, b), obj, np.ones(6), 400_000, record_every=400,
                    record_state=False)
        assert np.array_equal(pd.loss[i, j], tr.loss)


def test_foreign_directory_is_refused(obj, x0, tmp_path):
    out = tmp_path / "sweep"
    phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out)
    with pytest.raises(SweepError, match="different sweep"):
        phase_diagram(obj, x0, A, B, ETA, 3001, record_every=10, out=out)
    with pytest.raises(SweepError, match="different sweep"):
        phase_diagram(obj, x0 + 1e-12, A, B, ETA, 3000, record_every=10, out=out)
    with pytest.raises(SweepError, match="different sweep"):
        phase_diagram(ad.objectives.random_quadratic(4, seed=2), x0, A, B, ETA, 3000, record_every=10, out=out)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("hello")
    with pytest.raises(SweepError, match="not an adadyn sweep directory"):
        phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=other)


def test_corrupt_files_are_detected(obj, x0, ref, tmp_path):
    out = tmp_path / "sweep"
    phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out, chunk_size=2)
    f = out / "chunk_00001.npz"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.warns(SweepWarning, match="chunk_00001.npz is corrupt.*recomputing"):
        pd = phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out)
    _same(pd, ref)
    assert pd.sweep.sweep.computed == 1 and pd.sweep.sweep.loaded == 2
    with np.load(f) as z:  # rewritten whole
        assert np.array_equal(z["loss"], ref.loss.reshape(6, -1)[2:4], equal_nan=True)
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(SweepError, match="manifest.json is corrupt"):
        phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out)


def test_leftover_temporary_files_are_ignored(obj, x0, ref, tmp_path):
    out = tmp_path / "sweep"
    phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out, chunk_size=2)
    # a writer killed mid-write: its lock (pid gone, token T) and its temporary (token T)
    import json, socket, subprocess, sys

    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True).stdout)
    token = "0a1b2c3d" * 4
    (out / "sweep.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "token": token}))
    (out / "chunk_00002.npz").rename(out / f"chunk_00002.npz.{pid}.{token}.tmp")
    _same(phase_diagram(obj, x0, A, B, ETA, 3000, record_every=10, out=out), ref)
    assert not list(out.glob("*.tmp"))  # the dead writer's token: taken over and removed


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kw, match", [
    (dict(a=[0.5, 2000.0]), "a must"), (dict(b=[-1.0]), "b must"), (dict(b=[[1.0]]), "b must"),
    (dict(eta=0.0), "eta"), (dict(steps=5), "steps"), (dict(record_every=0), "record_every"),
    (dict(chunk_size=0), "chunk_size"),
])
def test_bad_input_raises(obj, x0, kw, match):
    args = dict(a=A, b=B, eta=ETA, steps=3000)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        phase_diagram(obj, x0, **args)


def test_to_npz_round_trip(ref, tmp_path):
    ref.to_npz(tmp_path / "pd.npz")
    with np.load(tmp_path / "pd.npz") as z:
        assert np.array_equal(z["regime"], ref.regime)
        assert np.array_equal(z["loss"], ref.loss, equal_nan=True)
        assert list(z["regime_names"]) == list(ad.analysis.REGIMES)
        assert list(z["regime_names"])[:4] == ["convergence", "oscillation", "spike", "divergence"]


# ------------------------------------------------------------------ plots and command line
def test_plots_draw_the_data(ref, obj, x0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adadyn.plotting.regimes import plot_phase_diagram, plot_sharpness, plot_state_space

    axes = plot_phase_diagram(ref)
    left = axes[0].collections[0].get_array()
    right = axes[1].collections[0].get_array()
    assert np.array_equal(np.ma.filled(left, np.nan).ravel(), ref.late_mean_log10_loss.ravel(), equal_nan=True)
    assert np.array_equal(np.asarray(right).ravel(), ref.regime_code.ravel())
    tr = ad.run(ad.Adam.from_ab(ETA, 1.0, 100.0), obj, x0, 400, record_every=10)
    ax = plot_state_space(tr, start=100)
    xs, ys, zs = ax.lines[0].get_data_3d()
    sel = tr.step >= 100
    np.testing.assert_allclose(xs, np.linalg.norm(tr.x[sel], axis=1))
    np.testing.assert_allclose(zs, np.linalg.norm(np.sqrt(tr.v[sel]), axis=1))
    with pytest.raises(ValueError, match="3-D"):
        plot_state_space(tr, ax=plt.figure().add_subplot(111))
    from adadyn.analysis import preconditioned_sharpness

    S = preconditioned_sharpness(tr)
    ax = plot_sharpness(S)
    assert np.array_equal(ax.right_ax.lines[0].get_ydata(), S.sharpness, equal_nan=True)
    assert np.allclose(ax.right_ax.lines[1].get_ydata(), 38.0 / ETA)
    plt.close("all")


def test_parse_range():
    import argparse

    from adadyn.commands.phase import parse_range

    np.testing.assert_allclose(parse_range("0.1:100:4"), [0.1, 1.0, 10.0, 100.0])
    assert parse_range("3") == pytest.approx([3.0])
    for bad in ("0:1:3", "1:2", "a:b:c", "1:10:0", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_range(bad)


def test_command_writes_figure_and_data_and_resumes(tmp_path, capsys):
    import argparse

    from adadyn.commands import phase as cmd

    parser = argparse.ArgumentParser(prog="adadyn")
    cmd.register(parser.add_subparsers())
    argv = ["phase-diagram", "--objective", "quadratic", "--dim", "4", "--a", "0.5:50:3", "--b", "1:100:2",
            "--eta", "1e-3", "--steps", "2000", "--no-progress", "--out", str(tmp_path / "o")]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    assert (tmp_path / "o" / "phase_diagram.png").stat().st_size > 0
    with np.load(tmp_path / "o" / "phase_diagram.npz") as z:
        assert z["regime"].shape == (3, 2)
        first = z["loss"].copy()
    assert args.func(parser.parse_args(argv)) == 0  # resumes from out/chunks
    with np.load(tmp_path / "o" / "phase_diagram.npz") as z:
        assert np.array_equal(z["loss"], first, equal_nan=True)
    bad = parser.parse_args(argv[:-1] + [str(tmp_path / "o")] + ["--steps", "3000"])
    assert bad.func(bad) == 2
    assert "different sweep" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_section(tmp_path):
    from adadyn.commands.phase import demo

    text = demo(tmp_path)
    assert "a=1, b=100: spike" in text and "a=10, b=10: oscillation" in text
    assert "a=100, b=1: divergence" in text
    for name in ("phase_diagram.png", "regimes_examples.png", "sharpness.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_large_loss_at_a_much_larger_than_b_is_divergence_in_a_phase_diagram():
    """Figure 8's a >> b regime is divergence ("the loss is large"): on the Figure 5 quadratic
    (Adam, eta = 1e-3) these runs settle at a late loss ~1e-1..1e-3, tens of step sizes from
    the minimum by the recorded |grad f| (grad_ratio). From the loss alone they read as a
    stationary oscillation; the phase diagram applies the gradient rules like classify(traj)."""
    from adadyn.analysis import classify, phase_diagram

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    b = np.array([1.0, 1.9, 3.5])
    pd = phase_diagram(obj, x0, [100.0], b, 1e-3, 200_000)
    assert list(pd.regime[0]) == ["divergence"] * 3, pd.regime
    assert np.all(pd.late_mean_log10_loss[0] > -3.0)
    loss_only = [classify(pd.loss[0, j], pd.step, f_star=0.0).label for j in range(3)]
    assert "oscillation" in loss_only, loss_only
    # the oscillation band stays oscillation (late loss ~1e-9, a fraction of a step from x*)
    osc = phase_diagram(obj, x0, [1.0], [10.0, 30.0], 1e-3, 200_000)
    assert list(osc.regime[0]) == ["oscillation", "oscillation"], osc.regime


def test_regime_objects_carry_the_sweep_labels_with_the_gradient_rules():
    # The labels of a sweep on a quadratic (f* = 0 known) use |grad f|; the Regime objects
    # rebuilt from the stored histories must too. On this grid the loss alone labels some
    # points differently, so dropping the gradient from .regimes / .regime_at would show.
    from adadyn.analysis import classify_many

    obj = ad.objectives.random_quadratic(10, seed=1)
    ax = np.logspace(-1, 2, 4)
    pd = phase_diagram(obj, np.ones(10), a=ax, b=ax, eta=1e-3, steps=20_000)
    assert pd.grad_norm is not None and pd.grad_norm.shape == pd.loss.shape
    labels = np.array([[r.label for r in row] for row in pd.regimes])
    np.testing.assert_array_equal(labels, pd.regime)
    for idx in [(0, 0), (1, 2), (3, 3)]:
        assert pd.sweep.regime_at(idx).label == pd.regime[idx]
        assert pd.at(pd.a[idx[0]], pd.b[idx[1]]).label == pd.regime[idx]
    loss_only = classify_many(pd.loss.reshape(16, -1), pd.step, f_star=0.0,
                              diverged=(pd.status == "diverged").ravel()).label.reshape(4, 4)
    assert (loss_only != pd.regime).sum() >= 1
    # a swept eta: each point's labels use its own eta
    hs = ad.analysis.hyperparameter_sweep(ad.Adam(1e-3), obj, np.ones(10), 5000,
                                          {"eta": [3e-4, 1e-3, 3e-3]})
    np.testing.assert_array_equal([r.label for r in hs.regimes], hs.regime)
