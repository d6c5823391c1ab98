"""The sweep engine on a toy task (the logistic map): grids, executors, resume, locking, hardening."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest

from adadyn.sweep import (CallbackProgress, Grid, NoProgress, SweepError, SweepInterrupted, SweepStore,
                          SweepWarning, Task, TextProgress, as_progress, dask_client, process_pool, run_sweep,
                          sweep_key)

HERE = Path(__file__).resolve().parent


class Logistic(Task):
    """x_{k+1} = r x_k (1 - x_k) for ``n`` steps from x0; diverged when x leaves the reals."""

    keys = ("path", "last", "status")

    def __init__(self, n=40, delay=0.0, pid_dir=None, full=False):
        self.n, self.delay, self.pid_dir, self.full = n, delay, pid_dir, full
        if full:
            self.keys = Logistic.keys + ("big",)
            self.store_only = ("big",)

    def identity(self):
        return {"n": self.n, "full": self.full}

    def run_chunk(self, points):
        if self.pid_dir is not None:
            Path(self.pid_dir, str(os.getpid())).write_text("")
        if self.delay:
            time.sleep(self.delay)
        r, x = points["r"], points["x0"].copy()
        path = np.empty((r.size, self.n))
        with np.errstate(all="ignore"):
            for k in range(self.n):
                x = r * x * (1.0 - x)
                path[:, k] = x
        out = {"path": path, "last": x, "status": np.where(np.isfinite(x), 0, 1).astype(np.int64)}
        if self.full:
            out["big"] = np.repeat(path, 2, axis=1)
        return out


def reference(r, x0, n):
    """One point at a time in plain Python floats."""
    r, x, path = float(r), float(x0), []
    for _ in range(n):
        try:
            x = r * x * (1.0 - x)
        except OverflowError:
            x = float("nan")
        path.append(x)
    return np.array(path)


GRID = Grid(r=np.linspace(2.5, 4.6, 9), x0=[0.1, 0.35, 0.6])


def check_against_reference(res, n=40):
    assert res.data["path"].shape == (9, 3, n)
    for i, r in enumerate(GRID.axes["r"]):
        for j, x0 in enumerate(GRID.axes["x0"]):
            np.testing.assert_array_equal(res["path"][i, j], reference(r, x0, n))
            assert res.status[i, j] == ("ok" if np.isfinite(res["last"][i, j]) else "diverged")
    assert (res.status == "diverged").any() and (res.status == "ok").any()


@pytest.fixture(scope="module")
def ref():
    res = run_sweep(Logistic(), GRID, progress=False)
    check_against_reference(res)
    return res


def same(a, b):
    for k in a.data:
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    assert np.array_equal(a.status, b.status)


# ------------------------------------------------------------------ grids
def test_grid_product_zip_and_points():
    g = Grid(a=[1.0, 2.0, 3.0], b=[10, 20])
    assert g.shape == (3, 2) and g.size == 6 and g.names == ("a", "b")
    pts = g.points()
    np.testing.assert_array_equal(pts["a"], [1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(pts["b"], [10, 20, 10, 20, 10, 20])
    assert pts["b"].dtype == np.int64 and g.point(3) == {"a": 2.0, "b": 20}
    z = Grid.zip(eta=[1e-3, 1e-2], a=[5.0, 0.5]) * Grid(eps=[1e-8, 1e-6, 1e-4])
    assert z.shape == (2, 3) and z.dims == (("eta", "a"), ("eps",))
    t = z.take([4])
    assert (t["eta"][0], t["a"][0], t["eps"][0]) == (1e-2, 0.5, 1e-6)
    assert z.mesh()["a"].shape == (2, 3)
    big = Grid(a=np.arange(4096.0), b=np.arange(4096.0), c=np.arange(4096.0))
    assert big.size == 4096**3 and big.point(big.size - 1) == {"a": 4095.0, "b": 4095.0, "c": 4095.0}


@pytest.mark.parametrize("make, match", [
    (lambda: Grid(a=[]), "non-empty"), (lambda: Grid(a=[[1.0]]), "1-D"), (lambda: Grid(a=[np.nan]), "finite"),
    (lambda: Grid(a=["x"]), "numbers"), (lambda: Grid({"1a": [1.0]}), "identifiers"),
    (lambda: Grid.zip(a=[1.0, 2.0], b=[1.0]), "equal lengths"), (lambda: Grid(a=[1.0]) * Grid(a=[2.0]), "distinct"),
])
def test_bad_grids_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ------------------------------------------------------------------ executors agree bit for bit
def test_in_process_whole_grid_and_chunks(ref):
    seen = []
    res = run_sweep(Logistic(), GRID, progress=CallbackProgress(lambda d, t: seen.append((d, t))), chunk_size=5)
    same(res, ref)
    assert seen[0] == (0, 27) and seen[-1] == (27, 27) and len(seen) == 1 + 6
    assert res.success and "diverged" in res.message and res.computed == 6


def test_thread_pool(ref):
    with ThreadPoolExecutor(3) as ex:
        same(run_sweep(Logistic(), GRID, executor=ex, chunk_size=4, progress=False), ref)


def test_process_pool_spawn(ref):
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as ex:
        same(run_sweep(Logistic(), GRID, executor=ex, chunk_size=4, progress=False), ref)
    with process_pool(2, mp_context=get_context("spawn")) as ex:  # the orphan guard as initializer
        same(run_sweep(Logistic(), GRID, executor=ex, chunk_size=7, progress=False), ref)


@pytest.mark.dask
def test_dask_local_cluster(ref):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        same(run_sweep(Logistic(), GRID, executor=client, chunk_size=4, progress=False), ref)
        # a scheduler address: the engine connects, runs and closes its own client
        same(run_sweep(Logistic(), GRID, executor=cluster.scheduler_address, chunk_size=5, progress=False), ref)


def test_unreachable_dask_address_fails_fast():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="cannot reach the dask scheduler at 'tcp://127.0.0.1:9'"):
        dask_client("tcp://127.0.0.1:9", timeout=0.5)


def test_task_contract_violations_are_clear():
    class Short(Logistic):
        def run_chunk(self, points):
            out = super().run_chunk(points)
            out["last"] = out["last"][:-1]
            return out

    with pytest.raises(ValueError, match="'last' must have leading dimension"):
        run_sweep(Short(), GRID, progress=False)
    with pytest.raises(TypeError, match="Task"):
        run_sweep(object(), GRID)
    with pytest.raises(ValueError, match="chunk_size"):
        run_sweep(Logistic(), GRID, chunk_size=0)
    with pytest.raises(ValueError, match="only to a store"):
        run_sweep(Logistic(full=True), GRID)


def test_progress_meters():
    buf = io.StringIO()
    run_sweep(Logistic(), GRID, progress=TextProgress(buf, every=0.0), chunk_size=9)
    shown = [s.split(" (")[0] for s in buf.getvalue().strip().split("\r") if s]
    assert shown[:4] == ["Logistic: 0/27 points", "Logistic: 9/27 points", "Logistic: 18/27 points",
                         "Logistic: 27/27 points"] and buf.getvalue().endswith("\n")
    assert isinstance(as_progress(False), NoProgress)
    with pytest.raises(TypeError, match="progress"):
        as_progress(3)


# ------------------------------------------------------------------ store: resume, corruption, foreign files
def test_resume_and_store_only_outputs(ref, tmp_path, monkeypatch):
    out = tmp_path / "s"
    res = run_sweep(Logistic(full=True), GRID, out=out, chunk_size=4, progress=False)
    assert res.computed == 7 and res.loaded == 0 and "big" not in res.data
    big = res.load("big")
    np.testing.assert_array_equal(big, np.repeat(ref["path"], 2, axis=-1))

    def boom(self, points):
        raise AssertionError("recomputed a finished chunk")

    monkeypatch.setattr(Logistic, "run_chunk", boom)
    again = run_sweep(Logistic(full=True), GRID, out=out, chunk_size=2, progress=False)
    assert again.computed == 0 and again.loaded == 7
    for k in ref.data:
        assert np.array_equal(again[k], ref[k], equal_nan=True)


def test_corrupt_chunk_is_recomputed_with_a_warning(ref, tmp_path):
    out = tmp_path / "s"
    run_sweep(Logistic(), GRID, out=out, chunk_size=4, progress=False)
    f = out / "chunk_00003.npz"
    f.write_bytes(f.read_bytes()[:100])
    g = out / "chunk_00005.npz"  # complete file of another chunk under this name
    g.write_bytes((out / "chunk_00001.npz").read_bytes())
    with pytest.warns(SweepWarning) as rec:
        res = run_sweep(Logistic(), GRID, out=out, progress=False)
    msgs = sorted(str(w.message) for w in rec)
    assert "chunk_00003.npz is corrupt" in msgs[0] and "chunk_00005.npz is corrupt" in msgs[1]
    assert res.computed == 2 and res.loaded == 5
    same(res, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_sweep(Logistic(), GRID, out=out, progress=False).computed == 0


def test_foreign_directory_is_untouched(tmp_path):
    d = tmp_path / "thesis"
    d.mkdir()
    (d / "thesis.tmp").write_text("three years of work")
    (d / "chunk_00000.npz.tmp").write_text("not ours either")
    before = sorted((p.name, p.read_bytes()) for p in d.iterdir())
    with pytest.raises(SweepError, match="not an adadyn sweep directory"):
        run_sweep(Logistic(), GRID, out=d)
    (d / "manifest.json").write_text(json.dumps({"format": "someone-else/2"}))
    with pytest.raises(SweepError, match="not an adadyn sweep directory"):
        run_sweep(Logistic(), GRID, out=d)
    (d / "manifest.json").unlink()
    assert sorted((p.name, p.read_bytes()) for p in d.iterdir()) == before
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SweepError, match="not a directory"):
        run_sweep(Logistic(), GRID, out=f)


def test_other_sweep_and_stray_files_are_refused(tmp_path):
    out = tmp_path / "s"
    run_sweep(Logistic(), GRID, out=out, progress=False)
    with pytest.raises(SweepError, match="different sweep"):
        run_sweep(Logistic(n=41), GRID, out=out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not part of a sweep"):
        run_sweep(Logistic(), GRID, out=out)
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "sweep.lock").exists()  # released after the refusal


def test_own_leftover_temp_files_are_cleaned_only_in_a_sweep(ref, tmp_path):
    """Only temporaries carrying a known token are deleted: those of a dead writer whose lock
    is taken over. A user's file named like an old-style temporary is never deleted."""
    import json
    import socket

    out = tmp_path / "s"
    run_sweep(Logistic(), GRID, out=out, chunk_size=4, progress=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid, token = int(dead.stdout), "0a1b2c3d" * 4
    (out / "sweep.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "token": token}))
    (out / "chunk_00002.npz").rename(out / f"chunk_00002.npz.{pid}.{token}.tmp")
    user = out / "chunk_00001.npz.999999.0a1b2c.tmp"
    user.write_text("the user's notes")
    with pytest.raises(SweepError, match="not part of a sweep"):
        run_sweep(Logistic(), GRID, out=out, progress=False)
    assert user.read_text() == "the user's notes"
    user.unlink()
    (out / "sweep.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "token": token}))
    res = run_sweep(Logistic(), GRID, out=out, progress=False)
    same(res, ref)
    assert res.computed == 1 and not list(out.glob("*.tmp"))


# ------------------------------------------------------------------ concurrency and signals
def _child(code: str) -> subprocess.Popen:
    script = textwrap.dedent(f"""
        import sys, time, numpy as np
        sys.path.insert(0, {str(HERE)!r})
        from test_sweep_engine import Logistic, GRID
        from adadyn.sweep import run_sweep
    """) + textwrap.dedent(code)
    # SIGINT back to its default in the child: a parent started in the background by a
    # non-interactive shell ignores it, the child would inherit that and never see Ctrl-C
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(cond, proc, what, limit=120.0):
    """Poll until cond() (a hang detector: fails only if it never happens)."""
    t0 = time.time()
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"child exited before {what}: {proc.stderr.read()}")
        if time.time() - t0 > limit:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_two_sweeps_into_one_directory_are_refused_then_resume(ref, tmp_path):
    out = tmp_path / "s"
    child = _child(f"run_sweep(Logistic(delay=0.3), GRID, out={str(out)!r}, chunk_size=3, progress=False)")
    try:
        _wait_for(lambda: len(list(out.glob("chunk_*.npz"))) >= 1, child, "a first chunk")
        with pytest.raises(SweepError, match=f"in use by another sweep \\(pid {child.pid} on"):
            run_sweep(Logistic(), GRID, out=out, progress=False)
        # in this process too: an open store holds the lock
    finally:
        child.kill()
        child.wait()
    # the killed writer left its lock: taken over, finished chunks reused
    assert (out / "sweep.lock").exists()
    res = run_sweep(Logistic(), GRID, out=out, progress=False)
    same(res, ref)
    assert res.loaded >= 1 and res.loaded + res.computed == 9 and not (out / "sweep.lock").exists()
    key = res.key
    with SweepStore(out, key, {}, GRID.size, 3):
        with pytest.raises(SweepError, match=f"pid {os.getpid()}"):
            run_sweep(Logistic(), GRID, out=out)


def test_sigkill_and_resume(ref, tmp_path):
    out = tmp_path / "s"
    child = _child(f"run_sweep(Logistic(delay=0.2), GRID, out={str(out)!r}, chunk_size=2, progress=False)")
    try:
        _wait_for(lambda: len(list(out.glob("chunk_*.npz"))) >= 3, child, "three chunks")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    done = len(list(out.glob("chunk_*.npz")))
    assert 3 <= done < 14
    res = run_sweep(Logistic(), GRID, out=out, progress=False)
    assert res.loaded == done and res.computed == 14 - done
    same(res, ref)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_orphan_workers_after_the_parent_is_killed(tmp_path, sig):
    pids = tmp_path / "pids"
    pids.mkdir()
    child = _child(f"""
        from concurrent.futures import ProcessPoolExecutor
        ex = ProcessPoolExecutor(2)
        run_sweep(Logistic(delay=600, pid_dir={str(pids)!r}), GRID, executor=ex, chunk_size=3, progress=False)
    """)
    try:
        _wait_for(lambda: len(list(pids.iterdir())) >= 2, child, "two busy workers")
        workers = [int(p.name) for p in pids.iterdir()]
        assert all(_running(w) for w in workers)
    finally:
        child.send_signal(sig)
        child.wait(timeout=120)
    _wait_for(lambda: not any(_running(w) for w in workers), None, "the workers stop")
    if sig == signal.SIGTERM:
        err = child.stderr.read()
        assert "SweepInterrupted: sweep interrupted: no out= directory" in err


def test_interrupt_cancels_pending_work_and_keeps_finished_chunks(ref, tmp_path):
    out = tmp_path / "s"
    pids = tmp_path / "pids"
    pids.mkdir()
    child = _child(f"""
        import signal
        from concurrent.futures import ProcessPoolExecutor
        from adadyn.sweep import SweepInterrupted
        ex = ProcessPoolExecutor(2)
        t = time.time()
        try:
            run_sweep(Logistic(delay=600, pid_dir={str(pids)!r}), GRID, executor=ex, out={str(out)!r},
                      chunk_size=3, progress=False)
        except KeyboardInterrupt as exc:
            print(type(exc).__name__, exc, flush=True)
    """)
    try:
        _wait_for(lambda: len(list(pids.iterdir())) >= 2, child, "two busy workers")
        workers = [int(p.name) for p in pids.iterdir()]
        child.send_signal(signal.SIGINT)
        stdout, _ = child.communicate(timeout=120)  # the chunks sleep 600 s: returning means cancelled
    finally:
        child.kill()
    assert stdout.startswith("SweepInterrupted sweep interrupted: 0 of 9 chunks saved in")
    _wait_for(lambda: not any(_running(w) for w in workers), None, "the workers stop")
    assert not (out / "sweep.lock").exists()
    same(run_sweep(Logistic(), GRID, out=out, progress=False), ref)


def test_keyboard_interrupt_in_process_keeps_finished_chunks(ref, tmp_path, monkeypatch):
    out = tmp_path / "s"
    real, calls = Logistic.run_chunk, []

    def flaky(self, points):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return real(self, points)

    monkeypatch.setattr(Logistic, "run_chunk", flaky)
    with pytest.raises(SweepInterrupted, match="3 of 7 chunks saved"):
        run_sweep(Logistic(), GRID, out=out, chunk_size=4, progress=False)
    monkeypatch.setattr(Logistic, "run_chunk", real)
    res = run_sweep(Logistic(), GRID, out=out, progress=False)
    assert res.loaded == 3 and res.computed == 4
    same(res, ref)


# ------------------------------------------------------------------ manifest fuzzing
@pytest.fixture(scope="module")
def valid_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("valid") / "v"
    run_sweep(Logistic(), GRID, out=out, chunk_size=4, progress=False)
    return out


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20)


@settings(max_examples=80, deadline=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["format", "key", "n_points", "chunk_size", "description", None]), value=_json,
       raw=st.one_of(st.none(), st.binary(max_size=200), st.sampled_from(
           ["[" * 100_000, '{"a":' * 50_000, "1e999999", "NaN", '"\\ud800"', "\x00", "{}" * 10, " " * 5000])))
def test_manifest_fuzz_works_or_raises_sweep_error(tmp_path_factory, valid_sweep, field, value, raw):
    import shutil

    out = tmp_path_factory.mktemp("fz") / "v"
    shutil.copytree(valid_sweep, out)
    man = json.loads((out / "manifest.json").read_text())
    if raw is not None:
        text = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    else:
        if field is not None:
            man[field] = value
        text = json.dumps(man).encode()
    (out / "manifest.json").write_bytes(text)
    try:
        res = run_sweep(Logistic(), GRID, out=out, progress=False)
    except SweepError:
        return
    check_against_reference(res)


def test_sweep_key_separates_inputs():
    a = sweep_key({"x": np.array([1.0, 2.0]), "n": 3})
    assert a == sweep_key({"n": 3, "x": np.array([1.0, 2.0])})
    assert a != sweep_key({"x": np.array([1.0, 2.0]), "n": 4})
    assert a != sweep_key({"x": np.array([1.0, 2.0], dtype=np.float32), "n": 3})
    assert a != sweep_key({"x": np.array([[1.0, 2.0]]), "n": 3})
