"""Compiling ahead of the first call: ``adadyn warm``, the background warm-up and the
inter-process compile lock (adadyn._warm, adadyn._jit.compile_lock).

Each test runs fresh processes on a fresh Numba cache and reads Numba's own cache
statistics (``dispatcher.stats``): a kernel loaded from the cache has a hit and no miss.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import pytest

from adadyn import _jit, _warm

#: a user's first calls: one run, one phase diagram; prints the cache misses and hits of
#: the three common kernels
FIRST_CALLS = r"""
import json, numpy as np, adadyn as ad
from adadyn.analysis import regime_features
from adadyn.discrete import kernels, kernels_soa
obj = ad.objectives.random_quadratic(6)
ad.run(ad.Adam(1e-3), obj, np.ones(6), 50)
ad.analysis.phase_diagram(obj, np.ones(6), a=[1.0, 10.0], b=[1.0, 10.0], eta=1e-3, steps=200)
out = {}
for name, k in (("run", kernels.run_kernel), ("grid", kernels_soa.chunk_kernel),
                ("classify", regime_features.features_block)):
    st = k.compiled.stats
    out[name] = [sum(st.cache_misses.values()), sum(st.cache_hits.values())]
print(json.dumps(out))
"""


def _env(cache, **extra):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), ADADYN_CACHE_DIR=str(cache), MPLBACKEND="Agg")
    env.pop("ADADYN_WARMING", None)
    env.update(extra)
    return env


def _first_calls(env):
    r = subprocess.run([sys.executable, "-c", FIRST_CALLS], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_warm_command_fills_the_cache_for_the_first_calls(tmp_path):
    env = _env(tmp_path, ADADYN_WARMUP="0")
    r = subprocess.run([sys.executable, "-m", "adadyn", "warm", "--jobs", "2"], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    # a fresh cache: every kernel compiled, and said so
    assert "3 of 3 groups ready" in r.stdout and "5 compiled kernels" in r.stdout, r.stdout
    for g in _warm.GROUPS:
        assert g in r.stdout
    stats = _first_calls(env)
    for name, (misses, hits) in stats.items():
        assert misses == 0 and hits >= 1, (name, stats)
    # a second warm-up compiles nothing and says that everything came from the cache
    again = subprocess.run([sys.executable, "-m", "adadyn", "warm", "--jobs", "2"], env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "nothing to compile, all 5 kernels loaded from the cache" in again.stdout, again.stdout
    assert "compiled" not in again.stdout
    assert len(glob.glob(str(tmp_path / "**" / "adadyn-warm-*.done"), recursive=True)) == 1


def test_without_warm_up_the_first_calls_compile(tmp_path):
    # the reference for the test above: a cold cache does miss
    stats = _first_calls(_env(tmp_path, ADADYN_WARMUP="0"))
    for name, (misses, hits) in stats.items():
        assert misses >= 1, (name, stats)
    assert not glob.glob(str(tmp_path / "**" / "adadyn-warm-*"), recursive=True)


def test_background_warm_up_compiles_what_the_first_process_did_not(tmp_path):
    env = _env(tmp_path, ADADYN_WARMUP="1")
    r = subprocess.run([sys.executable, "-c", "import numpy as np, adadyn as ad; "
                        "ad.run(ad.Adam(1e-3), ad.objectives.random_quadratic(6), np.ones(6), 20)"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 300
    while not glob.glob(str(tmp_path / "**" / "adadyn-warm-*.done"), recursive=True):
        assert time.monotonic() < deadline, "the background warm-up did not finish"
        time.sleep(0.2)
    # the classifier and the grid kernel were never needed by that process: the
    # background process compiled them
    stats = _first_calls(env)
    for name, (misses, hits) in stats.items():
        assert misses == 0 and hits >= 1, (name, stats)


@pytest.fixture
def fn():
    """A function whose compile lock the tests take (no compile happens)."""
    if _jit.cache_path(_warm._anchor) is None:
        pytest.skip("no writable Numba cache here")
    return _warm._anchor


def test_compile_lock_excludes_a_second_holder(fn):
    with _jit.compile_lock(fn) as held:
        assert held
        with _jit.compile_lock(fn, blocking=False) as second:
            assert not second
    with _jit.compile_lock(fn, blocking=False) as again:
        assert again


@pytest.mark.parametrize("env, on", [({"ADADYN_WARMUP": "0"}, False), ({"ADADYN_WARMUP": "off"}, False),
                                     ({"ADADYN_WARMUP": "1"}, True), ({"ADADYN_WARMUP": ""}, True),
                                     ({"ADADYN_WARMUP": "1", "ADADYN_NO_CACHE": "1"}, False),
                                     ({"ADADYN_WARMUP": "1", "ADADYN_WARMING": "1"}, False)])
def test_enabled_reads_the_environment(monkeypatch, env, on):
    for k in ("ADADYN_WARMUP", "ADADYN_NO_CACHE", "ADADYN_WARMING"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert _warm.enabled() is on


@pytest.mark.parametrize("jobs", ["0", "65", "x"])
def test_warm_command_refuses_bad_jobs(jobs):
    r = subprocess.run([sys.executable, "-m", "adadyn", "warm", "--jobs", jobs], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--jobs" in lines[0] and "Traceback" not in r.stderr


def test_compile_lock_wait_is_bounded(fn):
    with _jit.compile_lock(fn) as held:
        assert held
        t = time.monotonic()
        with _jit.compile_lock(fn, timeout=0.3) as second:
            waited = time.monotonic() - t
            assert not second
    assert waited >= 0.3


def test_built_wheel_carries_the_compiled_kernels(tmp_path):
    # `pip install .` builds a wheel here first: the build step (build_hooks.py) compiles the
    # common kernels into it, so a fresh install's first calls load instead of compiling.
    import shutil
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "build_hooks.py").exists():
        pytest.skip("not a source checkout")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "build_hooks.py", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "adadyn", src / "adadyn", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ)
    for k in ("NUMBA_CACHE_DIR", "ADADYN_BUILD_WARM"):
        env.pop(k, None)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
                        "-w", str(tmp_path / "dist"), str(src)], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("adadyn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for kernel in ("kernels.run_core__serial", "kernels_soa._chunk", "regime_features.features_block"):
        assert any(kernel in n and n.endswith(".nbi") for n in names), kernel
    assert any("adadyn-warm-" in n and n.endswith(".done") for n in names)
    assert not any(n.endswith(".adadyn-lock") or ".lock" in n.rsplit("/", 1)[-1] for n in names)
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    env = dict(env, PYTHONPATH=str(site), ADADYN_WARMUP="1", MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-c", "import adadyn; print(adadyn.__file__)\n" + FIRST_CALLS], env=env,
                       capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert Path(lines[0]).resolve().is_relative_to(site.resolve())  # the installed copy, not the checkout
    stats = json.loads(lines[-1])
    for name, (misses, hits) in stats.items():
        assert misses == 0 and hits >= 1, (name, stats)
    assert not glob.glob(str(site / "**" / "adadyn-warm-*.lock*"), recursive=True)  # no warm-up was needed
