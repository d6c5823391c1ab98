"""The command line: ``adadyn`` and ``python -m adadyn`` run the public API."""
import re
import subprocess
import sys

import numpy as np
import pytest

import adadyn as ad
from adadyn.cli import main


def test_python_m_adadyn_is_the_same_program():
    out = subprocess.run([sys.executable, "-m", "adadyn", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"adadyn {ad.__version__}"
    assert main([]) == 2  # no command: help and a usage exit code


def test_stability_command_prints_the_critical_learning_rate(capsys):
    assert main(["stability", "--objective", "quadratic", "--lam", "4", "--optimizer", "rmsprop",
                 "--eta", "1e-3", "--eps", "1e-6", "--alpha", "0.9"]) == 0
    text = capsys.readouterr().out
    eta_c = float(re.search(r"critical learning rate eta_c = ([0-9.eE+-]+)", text).group(1))
    assert eta_c == pytest.approx(2 * 1e-6 / 4, rel=1e-6)  # 2 eps / lambda_max


def test_stability_command_rejects_unsafe_formulas(capsys):
    assert main(["stability", "--objective", "expr", "--expr", "__import__('os')"]) == 2
    captured = capsys.readouterr()
    assert "dunder" in captured.err + captured.out


@pytest.mark.slow
def test_demo_writes_figures_and_a_summary_that_matches_the_api(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.txt").read_text()
    assert (tmp_path / "loss_curves.png").stat().st_size > 10_000
    assert len(list(tmp_path.glob("*.png"))) >= 4
    # the discrete table's final Adam loss is what the API gives for the same run
    from adadyn.commands.discrete import default_problem

    obj, x0 = default_problem()
    want = ad.run(ad.Adam(1e-3), obj, x0, 20_000, record_every=10).loss[-1]
    row = next(line for line in summary.splitlines() if line.startswith("Adam "))
    assert float(row.split()[1]) == pytest.approx(want, rel=1e-3)
    for section in ("discrete", "stability", "phase"):
        assert f"== {section}" in summary


def test_run_command_agrees_with_the_api(capsys, tmp_path):
    assert main(["run", "--optimizer", "rmsprop", "--a", "5", "--eta", "2e-3", "--steps", "3000",
                 "--record-every", "100", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    obj = ad.objectives.random_quadratic(10, seed=0)
    tr = ad.run(ad.RMSprop.from_a(2e-3, 5.0), obj, np.full(10, 0.1), 3000, record_every=100)
    end = float(re.search(r"end ([0-9.eE+-]+)", text).group(1))
    assert end == pytest.approx(tr.loss[-1], rel=1e-5)
    saved = np.load(tmp_path / "trajectory.npz")
    np.testing.assert_array_equal(saved["x"], tr.x)
    assert main(["run", "--eta", "-1"]) == 2
    assert "eta must be a finite number > 0" in capsys.readouterr().err


def test_python_m_adadyn_gives_the_same_errors(capsys):
    argv = ["run", "--optimizer", "signgd", "--alpha", "0.9"]
    out = subprocess.run([sys.executable, "-m", "adadyn", *argv], capture_output=True, text=True)
    assert main(argv) == 2 and out.returncode == 2
    assert out.stderr == capsys.readouterr().err
    assert out.stderr.strip() == "adadyn run: error: --alpha does not apply to signgd (it takes --eta)"
    assert main(["run", "--help"]) == 0 and "--record-every" in capsys.readouterr().out


def test_a_command_without_its_own_guard_still_fails_in_one_line(capsys, monkeypatch):
    import adadyn.commands.sweep as sweep_cmd

    def register(subparsers):
        p = subparsers.add_parser("sweep")
        p.set_defaults(func=lambda args: 1 / 0)

    monkeypatch.setattr(sweep_cmd, "register", register)
    assert main(["sweep"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["adadyn sweep: error: unexpected ZeroDivisionError: division by zero "
                   "(rerun with --debug for the traceback)"]
