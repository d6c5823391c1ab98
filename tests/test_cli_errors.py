"""The CLI's error conventions (docs/cli.md): every refusal or failure is one line on stderr
naming the option, exit code 2, never a traceback; Ctrl-C is one line and exit code 130."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import adadyn as ad
from adadyn.cli import main


def cli(argv, capsys):
    """Run ``adadyn argv`` in-process: (exit code, stdout, stderr)."""
    rc = main(argv)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err + cap.out
    return rc, cap.out, cap.err


def refused(argv, capsys, *needles):
    """Assert exit code 2 and exactly one stderr line containing every needle; return the line."""
    rc, out, err = cli(argv, capsys)
    lines = err.strip().splitlines()
    assert rc == 2, (argv, out, err)
    assert out == "", out  # nothing on stdout (0.1's flow printed its errors there)
    assert len(lines) == 1, lines
    assert " error: " in lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("argv, needles", [
    (["run", "--steps", "abc"], ["argument --steps", "must be a whole number"]),
    (["run", "--no-such-option"], ["adadyn run: error: unrecognized arguments", "--no-such-option"]),
    (["nn-train", "--no-such-option", "1"], ["adadyn nn-train: error: unrecognized arguments"]),
    (["run", "--optimizer", "sgd"], ["argument --optimizer", "invalid choice"]),
    (["phase-diagram"], ["--out"]),
    (["nonsense"], ["invalid choice"]),
    (["sweep", "--out", "x", "--axis"], ["--axis"]),
])
def test_argparse_errors_are_one_line(argv, needles, capsys):
    line = refused(argv, capsys, *needles)
    assert line.startswith("adadyn")


@pytest.mark.parametrize("argv, needles", [
    (["run", "--eta", "-1"], ["eta must be a finite number > 0"]),
    (["run", "--eta", "nan"], ["eta must be a finite number > 0"]),
    (["run", "--optimizer", "rmsprop", "--a", "1e6", "--eta", "0.01"], ["a * eta must be <= 1", "a=1000000.0"]),
    (["run", "--optimizer", "adam", "--b", "-2"], ["b must be a finite number > 0"]),
    (["run", "--optimizer", "adam", "--beta1", "1.5"], ["beta1 must be in [0, 1)"]),
    (["run", "--dim", "0"], ["--dim must be in [1, 2000]", "got 0"]),
    (["run", "--dim", "100000"], ["--dim"]),
    (["run", "--objective", "rosenbrock", "--dim", "1"], ["--dim", "[2, 2000]"]),
    (["run", "--steps", "-1"], ["--steps"]),
    (["run", "--record-every", "0"], ["--record-every"]),
    (["run", "--x0", "1,nan"], ["--x0"]),
    (["run", "--x0", "1,2"], ["--x0 has 2 numbers", "d = 10"]),
    (["run", "--objective", "expr"], ["--expr"]),
    (["stability", "--point", "a,b"], ["--point"]),
    (["sweep", "--out", "o", "--optimizer", "adam", "--axis", "a=50:2000:3", "--eta", "0.01"], ["a * eta"]),
])
def test_bad_values_are_refused_naming_the_option(argv, needles, capsys):
    refused(argv, capsys, *needles)


@pytest.mark.parametrize("argv, needles", [
    (["run", "--optimizer", "adam", "--beta2", "0.9", "--a", "1"], ["give --a or --beta2, not both"]),
    (["run", "--optimizer", "rmsprop", "--alpha", "0.9", "--a", "1"], ["give --a or --alpha"]),
    (["run", "--optimizer", "adam", "--beta1", "0.9", "--b", "1"], ["give --b or --beta1"]),
    (["run", "--optimizer", "signgd", "--alpha", "0.9"], ["--alpha does not apply to signgd"]),
    (["run", "--optimizer", "gd", "--eps", "1e-3"], ["--eps does not apply to gd"]),
    (["run", "--optimizer", "rmsprop", "--b", "3"], ["--b does not apply to rmsprop"]),
    (["run", "--optimizer", "lion", "--a", "3"], ["--a does not apply to lion"]),
    (["run", "--lam", "3"], ["--lam does not apply to --objective random-quadratic"]),
    (["run", "--objective", "quadratic-1d", "--dim", "3"], ["--dim does not apply to --objective quadratic-1d"]),
    (["run", "--objective", "rosenbrock", "--seed", "3"], ["--seed does not apply"]),
    (["run", "--objective", "cosine-bowl", "--expr", "x1**2"], ["--expr does not apply"]),
    (["run", "--objective", "quadratic"], ["ambiguous", "quadratic-1d", "random-quadratic"]),
    (["run", "--objective", "quadratic", "--lam", "2", "--dim", "3"], ["ambiguous"]),
    (["run", "--x0", "1", "--x0-seed", "3", "--objective", "quadratic-1d"], ["--x0 or --x0-seed"]),
    (["flow", "--optimizer", "gd", "--b", "3"], ["--b does not apply to gd"]),
    (["flow", "--optimizer", "rmsprop", "--b", "3"], ["--b does not apply to rmsprop"]),
    (["sweep", "--out", "o", "--optimizer", "rmsprop", "--a", "2", "--axis", "eta=1e-3:1e-2:3"],
     ["--a with an eta axis", "--axis a=2"]),
    (["sweep", "--out", "o", "--optimizer", "adam", "--beta2", "0.9", "--axis", "a=1:10:3"], ["give --a or --beta2"]),
    (["sweep", "--out", "o", "--optimizer", "signgd", "--axis", "alpha=0.1:0.9:3:lin"],
     ["not a hyperparameter", "axes: eta"]),
    (["sweep", "--out", "o", "--optimizer", "adam", "--eps", "1e-8", "--axis", "eps=1e-8:1e-4:3"], ["--eps is also an --axis"]),
    (["phase-diagram", "--out", "o", "--dask", "tcp://x:1", "--workers", "2"], ["--dask or --workers"]),
])
def test_ignored_option_combinations_are_refused(argv, needles, capsys):
    refused(argv, capsys, *needles)


def test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(ad, "run", lambda *a, **k: calls.append(1))
    f = tmp_path / "a_file"
    f.write_text("keep me")
    refused(["run", "--steps", "10", "--out", str(f)], capsys, "--out", "not a directory")
    refused(["run", "--steps", "10", "--out", str(f / "sub")], capsys, "--out", "cannot write")
    refused(["run", "--steps", "10", "--out", "/proc/adadyn-cli-test"], capsys, "--out", "cannot write")
    refused(["run", "--steps", "10", "--out", ""], capsys, "--out must be a path")
    refused(["demo", "--out", str(f)], capsys, "--out")
    refused(["phase-diagram", "--a", "1", "--b", "1", "--steps", "10", "--out", str(f)], capsys, "--out")
    refused(["flow", "--out", str(tmp_path), "--T", "0.1"], capsys, "--out", "is a directory")
    refused(["flow", "--out", str(tmp_path / "gaps.foo"), "--T", "0.1"], capsys, "unknown figure format")
    refused(["flow", "--out", str(tmp_path / "nodir" / "g.png"), "--T", "0.1"], capsys, "does not exist")
    assert calls == [] and f.read_text() == "keep me"
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        refused(["run", "--steps", "10", "--out", str(ro / "x")], capsys, "--out", "cannot write")


def test_unreachable_dask_scheduler_fails_fast(tmp_path, capsys, monkeypatch):
    import socket

    from adadyn.commands import resources

    monkeypatch.setattr(resources, "DASK_TIMEOUT", 1.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    refused(["phase-diagram", "--a", "1", "--b", "1", "--steps", "10", "--dask", f"tcp://127.0.0.1:{port}",
             "--out", str(tmp_path / "o")], capsys, "--dask", "no scheduler answered")
    assert time.monotonic() - t0 < 30  # bounded by the timeout, not a hang
    assert not (tmp_path / "o").exists()
    refused(["phase-diagram", "--dask", "not an address", "--out", str(tmp_path / "o")], capsys, "--dask")
    refused(["phase-diagram", "--workers", "0", "--out", str(tmp_path / "o")], capsys, "--workers")


def test_hand_edited_manifest_is_one_line(tmp_path, capsys):
    argv = ["phase-diagram", "--objective", "random-quadratic", "--dim", "3", "--a", "1,10", "--b", "1",
            "--steps", "200", "--no-progress", "--out", str(tmp_path / "o")]
    assert cli(argv, capsys)[0] == 0
    manifest = tmp_path / "o" / "chunks" / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) // 2])  # truncated JSON
    refused(argv, capsys, "manifest.json")
    manifest.write_text(json.dumps({"hello": 1}))
    refused(argv, capsys)
    manifest.write_text("[1, 2, 3]")
    refused(argv, capsys)


def test_overflow_at_step_0_is_reported_not_a_traceback(capsys):
    # f = 1e300 * 1e20 overflows at x0
    rc, out, err = cli(["run", "--objective", "expr", "--expr", "1e300*x1**2", "--x0", "1e10", "--steps", "5"], capsys)
    if rc == 2:
        assert len(err.strip().splitlines()) == 1 and "step 0" in err
    else:  # a run that keeps x0 and reports the divergence is also honest
        assert rc == 0 and "diverged" in out


def test_unexpected_exception_is_one_line_with_debug_hint(capsys, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ad, "run", boom)
    line = refused(["run", "--steps", "3"], capsys, "RuntimeError: boom second line", "--debug")
    assert line.startswith("adadyn run: error: unexpected")
    with pytest.raises(RuntimeError, match="boom"):
        main(["run", "--steps", "3", "--debug"])
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "run", "--steps", "3"])


def test_ctrl_c_in_a_command_is_one_line_and_exit_130(capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(ad, "run", interrupted)
    rc, out, err = cli(["run", "--steps", "3"], capsys)
    assert rc == 130 and err.strip() == "adadyn run: interrupted"


def test_flow_errors_are_on_stderr_and_fast(capsys):
    line = refused(["flow", "--etas", "0.01", "0.01"], capsys, "--etas must be distinct")  # issue 9's example
    refused(["flow", "--etas", "0.01", "0.01", "0.02"], capsys, "--etas must be distinct")
    assert line.startswith("adadyn flow: error:")
    refused(["flow", "--etas", "0.01"], capsys, "--etas needs 3")
    refused(["flow", "--etas", "0.01", "0.02"], capsys, "--etas needs 3")
    refused(["flow", "--etas", "0.01", "-0.1", "0.02"], capsys, "--etas must be finite numbers > 0")
    t0 = time.monotonic()
    refused(["flow", "--T", "1e9"], capsys, "--T", "TiB", "limit 256 MiB", "use --T <=")
    refused(["flow", "--T", "1e300"], capsys, "--T")
    refused(["flow", "--T", "inf"], capsys, "--T must be a finite number > 0")
    refused(["flow", "--T", "0"], capsys, "--T")
    assert time.monotonic() - t0 < 30


def test_flow_suggested_horizon_fits(capsys):
    from adadyn.commands.flows import check_horizon
    from adadyn.commands.limits import REFUSE_BYTES

    line = refused(["flow", "--T", "1e9", "--etas", "0.1", "0.05", "0.07"], capsys)
    t_max = float(line.rsplit("--T <=", 1)[1].split()[0])
    steps = check_horizon(t_max, np.array([0.1, 0.05, 0.07]), 10)
    per_step = 8 * ((3 * 10 + 4) + 4 * 3 * 10)  # recorded run + 3 flow samples of (x, m, v, t) per step
    assert (steps + 1) * per_step <= REFUSE_BYTES * 1.01
    assert (1.1 * steps + 1) * per_step > REFUSE_BYTES  # and is not far below the limit


@pytest.mark.slow
def test_sigint_keeps_finished_chunks_and_resumes(tmp_path):
    out = tmp_path / "o"
    argv = [sys.executable, "-m", "adadyn", "phase-diagram", "--dim", "4", "--a", "0.5:50:16", "--b", "1:100:16",
            "--steps", "4000", "--no-progress", "--workers", "2", "--out", str(out)]
    env = dict(os.environ, MPLBACKEND="Agg")
    # a runner started in the background may ignore SIGINT; the child must have Python's handler
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not list((out / "chunks").glob("chunk_*.npz")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        # a crash before the first chunk must fail the test, not hide behind the skip
        _, err = proc.communicate()
        assert proc.returncode == 0, err
        pytest.skip("the sweep finished before it could be interrupted")
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("adadyn phase-diagram did not stop within 60 s of SIGINT")
    assert time.monotonic() - t0 < 30
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if "interrupted" in ln]
    assert len(lines) == 1 and "rerun the same command to resume" in lines[0]
    kept = sorted(p.name for p in (out / "chunks").glob("chunk_*.npz"))
    assert kept
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (out / "phase_diagram.npz").exists()


def test_closed_stdout_is_one_line_not_a_traceback():
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.Popen([sys.executable, "-m", "adadyn", "run", "--steps", "50"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    p.stdout.close()  # the reader is gone before the command prints
    err = p.stderr.read()
    rc = p.wait(timeout=120)
    assert "Traceback" not in err and "Exception ignored" not in err
    assert rc == 2 and err.strip() == "adadyn run: error: stdout was closed before the output was written (broken pipe)"
