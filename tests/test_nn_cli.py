"""adadyn nn-train / nn-phase (adadyn/commands/nn.py) and torch being optional."""
import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

_BLOCK_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch' (hidden by the test)")
        return None
sys.meta_path.insert(0, _NoTorch())
"""


def _run_hidden(code: str):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", _BLOCK_TORCH + code], capture_output=True, text=True, env=env,
                          cwd=ROOT)


def test_import_without_torch_names_the_extra_and_the_rest_of_the_package_works():
    r = _run_hidden("""
import adadyn as ad
import adadyn.analysis, adadyn.plotting, adadyn.flows, adadyn.commands.nn
tr = ad.run(ad.Adam(1e-2), ad.objectives.quadratic([[1.0]]), [1.0], 10)
print("run ok", tr.status)
try:
    import adadyn.nn
except ImportError as exc:
    print("IMPORT ERROR:", exc)
print("torch loaded:", "torch" in sys.modules)
""")
    assert r.returncode == 0, r.stderr
    assert "run ok ok" in r.stdout
    assert 'IMPORT ERROR: adadyn.nn needs PyTorch: pip install "adadyn[torch]"' in r.stdout
    assert "torch loaded: False" in r.stdout


def test_cli_without_torch_is_a_one_line_error():
    r = _run_hidden("""
import argparse
from adadyn.commands import nn as C
p = argparse.ArgumentParser(prog="adadyn"); sub = p.add_subparsers(); C.register(sub)
a = p.parse_args(["nn-train", "--steps", "3"])
sys.exit(a.func(a))
""")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and 'pip install "adadyn[torch]"' in r.stderr


def test_torch_is_imported_only_by_adadyn_nn():
    offenders = []
    for f in (ROOT / "adadyn").rglob("*.py"):
        if "nn" in f.relative_to(ROOT / "adadyn").parts[:1]:
            continue
        for line in f.read_text().splitlines():
            s = line.strip()
            if s.startswith(("import torch", "from torch")):
                offenders.append(f"{f}: {s}")
    assert not offenders, offenders


torch = pytest.importorskip("torch")


def _main(argv):
    from adadyn.commands import nn as C

    p = argparse.ArgumentParser(prog="adadyn")
    sub = p.add_subparsers()
    C.register(sub)
    args = p.parse_args(argv)
    return args.func(args)


def test_nn_train_writes_the_loss_curve_state_space_and_summary(tmp_path, capsys):
    rc = _main(["nn-train", "--problem", "sine", "--points", "100", "--widths", "5,8,1", "--steps", "30",
                "--threads", "1", "--eta", "3e-3", "--a", "5", "--b", "20", "--out", str(tmp_path)])
    assert rc == 0
    for f in ("loss.png", "state_space.png", "summary.txt", "trajectory.npz"):
        assert (tmp_path / f).stat().st_size > 0
    text = (tmp_path / "summary.txt").read_text()
    assert "beta1=0.94" in text and "beta2=0.985" in text and "completed 30 steps" in text
    z = np.load(tmp_path / "trajectory.npz")
    assert z["loss"].shape == (31,) and z["extras.x_norm"].shape == (31,)
    import adadyn as ad

    tr = ad.load(tmp_path / "trajectory.npz")  # the CLI's file is a result file
    np.testing.assert_array_equal(tr.loss, z["loss"])
    assert tr.extras["x_norm"].shape == (31,) and tr.step[-1] == 30
    assert "wrote" in capsys.readouterr().out


def test_nn_phase_writes_the_diagram(tmp_path):
    rc = _main(["nn-phase", "--problem", "sine", "--points", "80", "--widths", "5,6,1", "--steps", "20",
                "--threads", "1", "--a", "1:100:2", "--b", "1:100:2", "--out", str(tmp_path)])
    assert rc == 0
    assert (tmp_path / "phase.png").stat().st_size > 0
    z = np.load(tmp_path / "phase.npz")
    assert z["regime"].shape == (2, 2) and z["loss"].shape == (2, 2, 21)


@pytest.mark.parametrize("argv,words", [
    (["nn-train", "--problem", "cifar10"], "--data"),
    (["nn-train", "--problem", "cifar10", "--data", "/nonexistent/dir"], "data_batch_1"),
    (["nn-train", "--problem", "fashion-mnist", "--data", "/nonexistent/dir"], "train-images-idx3-ubyte"),
    (["nn-train", "--widths", "5,x,1"], "comma-separated"),
    (["nn-train", "--widths", "4,10,1"], "needs 5 inputs"),
    (["nn-train", "--steps", "-3"], "steps"),
    (["nn-train", "--device", "cuda:0"] if not torch.cuda.is_available() else ["nn-train", "--steps", "-1"], "CUDA|steps"),
    (["nn-phase", "--a", "0:1:2"], "lo:hi:n"),
    (["nn-phase", "--a", "2000:3000:2"], "memory rates"),
    (["nn-phase", "--device", "tpu"], "device must be 'cpu', 'cuda'"),
    (["nn-train", "--problem", "cifar10", "--data", "/nonexistent/dir", "--classes", "0,x"], "--classes"),
    (["nn-train", "--data-seed", "-1"], "--data-seed"),
])
def test_cli_errors_are_one_line_on_stderr_with_exit_code_2(argv, words, capsys, tmp_path):
    import re

    rc = _main(argv + ["--threads", "1", "--points", "50", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("adadyn nn-") and err.count("\n") == 1 and re.search(words, err), err


@pytest.mark.parametrize("argv,words", [
    (["nn-train", "--steps", "abc"], "argument --steps: must be a whole number"),
    (["nn-train", "--steps", "-3"], "steps must be an integer >= 0"),
    (["nn-phase", "--chunk-size", "0", "--steps", "2"], "chunk_size"),
    (["nn-phase", "--device", "cuda:0"] if not torch.cuda.is_available() else ["nn-phase", "--steps", "-1"],
     "CUDA|steps"),
])
def test_the_adadyn_command_names_the_subcommand_in_its_one_error_line(argv, words, capsys):
    """Through ``adadyn.cli.main``: the same conventions as every other command (docs/cli.md)."""
    import re

    from adadyn.cli import main

    rc = main(argv + ["--threads", "1", "--points", "50"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith(f"adadyn {argv[0]}: error: ") and re.search(words, err), err
    assert "Traceback" not in err
