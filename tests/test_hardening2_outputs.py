"""Second hardening round, classes 2 and 3 (store): a user's files are never overwritten or
written through a symlink; a FIFO, a symlink or a bomb in a sweep directory neither blocks
nor exhausts memory. Each test performs the attack and checks the victim file afterwards."""
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from adadyn._safe_io import MANIFEST, OutputDir, OutputError, output_file
from adadyn.cli import main
from adadyn.sweep import SweepError, SweepStore, SweepWarning

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["sweep", "--optimizer", "rmsprop", "--objective", "random-quadratic", "--dim", "2",
         "--axis", "eta=1e-3:1e-2:2:log", "--steps", "50", "--no-progress"]


def one_line_refusal(capsys, argv, *needles):
    rc = main(argv)
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "Traceback" not in cap.err, (rc, cap.err)
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# ------------------------------------------------------------------ class 2: the commands
def test_sweep_refuses_a_directory_of_the_users_and_leaves_it_intact(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "summary.txt").write_text("my thesis notes")
    (out / "sweep.npz").write_bytes(b"my data")
    one_line_refusal(capsys, [*SWEEP, "--out", str(out)], "--out", "not empty", "was not written by adadyn")
    assert (out / "summary.txt").read_text() == "my thesis notes" and (out / "sweep.npz").read_bytes() == b"my data"
    assert sorted(os.listdir(out)) == ["summary.txt", "sweep.npz"]  # nothing written, nothing created


def test_sweep_never_writes_through_a_symlink_planted_in_its_own_directory(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main([*SWEEP, "--out", str(out)]) == 0
    capsys.readouterr()
    assert json.loads((out / MANIFEST).read_text())["files"] == ["chunks", "summary.txt", "sweep.npz"]
    victim = tmp_path / "victim.txt"
    victim.write_text("outside the output directory")
    (out / "sweep.npz").unlink()
    (out / "sweep.npz").symlink_to(victim)
    one_line_refusal(capsys, [*SWEEP, "--out", str(out)], "sweep.npz", "symbolic link")
    assert victim.read_text() == "outside the output directory"
    # the package's own files are replaced on a rerun (resumed from the chunks)
    (out / "sweep.npz").unlink()
    assert main([*SWEEP, "--out", str(out)]) == 0
    with np.load(out / "sweep.npz") as z:
        assert z["regime"].shape == (2,)


def test_reproduce_refuses_a_directory_holding_a_users_file(tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "index.md").write_text("my index")
    one_line_refusal(capsys, ["reproduce", "mwe-prop2", "--out", str(out)], "index.md", "not written by adadyn")
    assert (out / "index.md").read_text() == "my index"
    # an adadyn directory into which the user later put a file: refused as well (strict)
    ours = tmp_path / "ours"
    OutputDir(ours).prepare()
    (ours / "notes.txt").write_text("mine")
    one_line_refusal(capsys, ["reproduce", "mwe-prop2", "--out", str(ours)], "notes.txt", "did not write")
    assert (ours / "notes.txt").read_text() == "mine"


def test_reproduce_scale_is_validated_with_its_range(tmp_path, capsys):
    for bad in ("1e300", "0", "-1", "nan", "1e-9"):
        one_line_refusal(capsys, ["reproduce", "mwe-prop2", "--scale", bad, "--out", str(tmp_path / "r")],
                         "--scale", "[0.001, 100]")
    assert not (tmp_path / "r").exists()


def test_run_and_flow_never_overwrite_a_users_file(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    out = tmp_path / "run"
    assert main(["run", "--steps", "20", "--out", str(out)]) == 0
    capsys.readouterr()
    (out / "loss.png").unlink()
    (out / "loss.png").symlink_to(victim)
    one_line_refusal(capsys, ["run", "--steps", "20", "--out", str(out)], "loss.png")
    assert victim.read_text() == "keep"
    users = tmp_path / "gaps.png"
    users.write_bytes(b"the user's figure")
    one_line_refusal(capsys, ["flow", "--T", "0.05", "--etas", "0.02", "0.01", "0.005", "--out", str(users)],
                     "gaps.png", "was not written by adadyn")
    assert users.read_bytes() == b"the user's figure"
    mine = tmp_path / "figs" / "g.png"
    mine.parent.mkdir()
    (mine.parent / "other.txt").write_text("a user's file beside it")
    for _ in range(2):  # written, then replaced: the manifest there names it
        assert main(["flow", "--T", "0.05", "--etas", "0.02", "0.01", "0.005", "--out", str(mine)]) == 0
    assert mine.read_bytes()[:4] == b"\x89PNG" and (mine.parent / "other.txt").read_text() == "a user's file beside it"


@pytest.mark.torch
def test_nn_train_out_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    pytest.importorskip("torch", reason="nn-train needs torch")
    from adadyn.commands import nn as nncmd

    def no_work(args):
        raise AssertionError("data was read / a network was built before --out was checked")

    monkeypatch.setattr(nncmd, "_setup", no_work)
    f = tmp_path / "a_file"
    f.write_text("keep")
    for cmd in ("nn-train", "nn-phase"):
        one_line_refusal(capsys, [cmd, "--steps", "5", "--out", str(f)], "--out", "not a directory")
    assert f.read_text() == "keep"


# ------------------------------------------------------------------ class 2: the helper itself
def test_output_dir_rules(tmp_path):
    d = OutputDir(tmp_path / "o")
    d.write_text("a.txt", "one")
    d.write_text("a.txt", "two")  # ours: replaced
    assert (tmp_path / "o" / "a.txt").read_text() == "two"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "o" / "b.txt").symlink_to(victim)
    with pytest.raises(OutputError, match="not written by adadyn"):
        d.write_text("b.txt", "x")
    os.unlink(tmp_path / "o" / "a.txt")
    (tmp_path / "o" / "a.txt").symlink_to(victim)  # a listed name turned into a symlink
    with pytest.raises(OutputError, match="symbolic link"):
        d.write_bytes("a.txt", b"x")
    os.mkfifo(tmp_path / "o" / "fifo")
    with pytest.raises(OutputError, match="not written by adadyn"):
        d.write_text("fifo", "x")  # no open(): a FIFO would block
    assert victim.read_text() == "keep"
    with pytest.raises(ValueError, match="plain file name"):
        d.write_text("../escape.txt", "x")
    with pytest.raises(OutputError, match="not empty"):
        OutputDir(tmp_path)  # holds 'victim': not ours
    fresh = OutputDir(tmp_path / "o")  # ours: adopted again, names kept
    assert "a.txt" in fresh.names and "b.txt" not in fresh.names
    with pytest.raises(OutputError, match="does not exist"):
        output_file(tmp_path / "nowhere" / "x.png")
    # a new directory is checked at once but made only at the first write
    lazy = OutputDir(tmp_path / "new" / "deep")
    assert not (tmp_path / "new").exists()
    lazy.write_text("x.txt", "x")
    assert (tmp_path / "new" / "deep" / "x.txt").read_text() == "x"
    with pytest.raises(OutputError, match="cannot write there"):
        OutputDir(tmp_path / "o" / "a.txt" / "sub")
    assert not [n for n in os.listdir(tmp_path / "o") if n.startswith(".adadyn-tmp-")]


def test_failed_writer_leaves_no_file_and_no_temporary(tmp_path):
    d = OutputDir(tmp_path / "o")

    def broken(path):
        Path(path).write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        d.save_with("x.npz", broken)
    assert sorted(os.listdir(tmp_path / "o")) == [MANIFEST]


# ------------------------------------------------------------------ class 3: the sweep store
def _store(path, n=8, cs=4):
    return SweepStore(path, "ab" * 32, {"what": "test"}, n, cs)


def _run_isolated(code: str, tmp_path):
    """Run ``code`` in a child; a hang would fail the test at the (generous) timeout, not block the suite."""
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))


@pytest.mark.parametrize("where", ["manifest.json", "sweep.lock"])
def test_fifo_in_place_of_manifest_or_lock_is_refused_without_blocking(tmp_path, where):
    d = tmp_path / "s"
    with _store(d) as st:
        st.save(0, {"y": np.arange(4.0)})
    if where == "manifest.json":
        os.unlink(d / where)
    os.mkfifo(d / where)
    code = (f"from adadyn.sweep import SweepStore, SweepError\n"
            f"try:\n    SweepStore({str(d)!r}, {'ab' * 32!r}, {{}}, 8, 4)\n"
            f"except SweepError as e:\n    print('refused:', e)\n")
    r = _run_isolated(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "refused:" in r.stdout and "FIFO" in r.stdout


def test_fifo_or_symlink_in_place_of_a_chunk_is_recomputed(tmp_path):
    d = tmp_path / "s"
    victim = tmp_path / "victim.npz"
    with _store(d) as st:
        st.save(0, {"y": np.arange(4.0)})
        st.save(1, {"y": np.arange(4.0, 8.0)})
        np.savez(victim, y=np.zeros(4))
    os.unlink(d / "chunk_00000.npz")
    os.mkfifo(d / "chunk_00000.npz")
    os.unlink(d / "chunk_00001.npz")
    (d / "chunk_00001.npz").symlink_to(victim)
    code = (f"import warnings\nfrom adadyn.sweep import SweepStore\nimport numpy as np\n"
            f"warnings.simplefilter('always')\n"
            f"with SweepStore({str(d)!r}, {'ab' * 32!r}, {{}}, 8, 4) as st:\n"
            f"    print([st.load(i, ('y',)) is None for i in st.finished()])\n"
            f"    st.save(0, {{'y': np.ones(4)}}); st.save(1, {{'y': np.ones(4)}})\n")
    r = _run_isolated(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[True, True]" and r.stderr.count("SweepWarning") == 2
    assert "FIFO" in r.stderr and "symbolic link" in r.stderr
    with np.load(victim) as z:  # the link was replaced, not written through
        assert np.all(z["y"] == 0)
    assert (d / "chunk_00000.npz").is_file() and not (d / "chunk_00001.npz").is_symlink()


def _chunk_with(path, members: dict, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, raw in members.items():
            zf.writestr(name + ".npy", raw)


def _npy(arr, shape=None):
    import io

    b = io.BytesIO()
    np.lib.format.write_array(b, arr)
    raw = b.getvalue()
    if shape is not None:  # lie about the shape in the header
        raw = raw.replace(repr(arr.shape).encode(), repr(shape).encode().ljust(len(repr(arr.shape))), 1)
    return raw


def test_chunk_bomb_is_rejected_from_the_zip_directory_without_inflating(tmp_path):
    d = tmp_path / "s"
    st = _store(d)
    key = np.array("ab" * 32)
    base = {"sweep_key": _npy(key), "chunk": _npy(np.array(0)), "points": _npy(np.arange(4))}
    # 1. a deflated member that inflates to 256 MiB (256 KiB on disk)
    big = np.zeros((4, 8 << 20))
    _chunk_with(d / "chunk_00000.npz", {**base, "y": _npy(big)}, zipfile.ZIP_DEFLATED)
    assert (d / "chunk_00000.npz").stat().st_size < 2 << 20
    del big
    tracemalloc.start()
    with pytest.warns(SweepWarning, match="uncompressed"):
        assert st.load(0, ("y",)) is None
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, peak
    # 2. a stored member whose header claims 10^12 rows: refused from the header
    _chunk_with(d / "chunk_00000.npz", {**base, "y": _npy(np.zeros(4), shape=(10**12,))})
    with pytest.warns(SweepWarning, match="needs 8000000000000 bytes"):
        assert st.load(0, ("y",)) is None
    # 3. the right layout loads
    _chunk_with(d / "chunk_00000.npz", {**base, "y": _npy(np.arange(4.0))})
    assert np.array_equal(st.load(0, ("y",))["y"], np.arange(4.0))
    st.close()


def test_a_users_file_named_like_a_temporary_is_never_deleted(tmp_path):
    d = tmp_path / "s"
    with _store(d) as st:
        st.save(0, {"y": np.arange(4.0)})
    user = d / "manifest.json.1.tmp"
    user.write_text("mine")
    with pytest.raises(SweepError, match="not part of a sweep"):
        _store(d)
    assert user.read_text() == "mine"
