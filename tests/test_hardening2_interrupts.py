"""Second hardening round, class 4: interrupts and clusters end in one line.

Ctrl-C is sent as a terminal sends it (SIGINT to the whole process group) at several
moments of start-up and with idle pool workers; bad ``--dask`` addresses and a service that
is not a dask scheduler are refused in one line, with nothing printed afterwards."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", ADADYN_WARMUP="0", NUMBA_NUM_THREADS="1")
LONG_SWEEP = ["sweep", "--optimizer", "rmsprop", "--axis", "eta=1e-3:1e-2:8", "--steps", "400000", "--no-progress"]
CONSOLE_SCRIPT = ("import re, sys\nfrom adadyn.cli import main\nif __name__ == '__main__':\n"
                  "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n")


def _start(argv, tmp_path):
    # SIGINT back to its default in the child: a parent started in the background by a
    # non-interactive shell ignores it, and the child would inherit that (a real Ctrl-C comes
    # from a terminal, where SIGINT is not ignored)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            cwd=tmp_path, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(cond, proc, what, limit=300.0):
    """Poll until cond() (a hang detector: fails only if it never happens)."""
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"child exited before {what}: {proc.stderr.read()}")
        if time.monotonic() - t0 > limit:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.005)


def _maps(pid) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def _children(pid) -> int:
    try:
        return len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return 0


def _ctrl_c(proc):
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, err


def _one_interrupt_line(rc, err):
    lines = err.strip().splitlines()
    assert rc == 130, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("adadyn") and "interrupted" in lines[0], err
    for bad in ("Traceback", "ForkProcess", "BrokenProcessPool", "KeyboardInterrupt"):
        assert bad not in err


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc to see how far start-up got")
@pytest.mark.parametrize("how,delay", [("module", 0.0), ("module", 0.25), ("module", 0.8), ("script", 0.1)])
def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path, how, delay):
    if how == "script":  # the console script pip writes: bin/adadyn
        script = tmp_path / "adadyn"
        script.write_text(CONSOLE_SCRIPT)
        argv = [sys.executable, str(script), *LONG_SWEEP, "--out", "o"]
    else:
        argv = [sys.executable, "-m", "adadyn", *LONG_SWEEP, "--out", "o"]
    proc = _start(argv, tmp_path)
    # the package's first statement precedes its first NumPy import: from there on, any moment
    _wait_for(lambda: "numpy" in _maps(proc.pid), proc, "the package import")
    time.sleep(delay)
    _one_interrupt_line(*_ctrl_c(proc))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to count the workers")
def test_ctrl_c_with_idle_pool_workers_prints_no_worker_traceback(tmp_path):
    # 8 workers, 2 chunks: most workers are idle when the interrupt arrives
    proc = _start([sys.executable, "-m", "adadyn", "sweep", "--optimizer", "rmsprop", "--axis",
                   "eta=1e-3:1e-2:2", "--steps", "2000000", "--no-progress", "--workers", "8", "--out", "o"],
                  tmp_path)
    _wait_for(lambda: _children(proc.pid) >= 8, proc, "8 pool workers")
    time.sleep(0.3)
    rc, err = _ctrl_c(proc)
    _one_interrupt_line(rc, err)
    assert "rerun" in err  # the command's own line (chunks kept), not the start-up one


# ------------------------------------------------------------------ dask
def _garbage_server():
    """A TCP service that is not a dask scheduler: it answers every connection with bytes
    that read as an absurd frame count, then keeps the connection open."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)
            try:
                c.sendall(b"\xff" * 64)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return srv, conns


def test_bad_dask_addresses_are_refused_at_once(tmp_path, capsys):
    pytest.importorskip("distributed")
    from adadyn.cli import main

    for addr, needle in (("http://127.0.0.1:8786", "scheme 'http'"), ("tcp://host:port", "HOST:PORT"),
                         ("tcp://::::", "HOST:PORT"), ("tcp://h:99999", "1..65535")):
        rc = main(["phase-diagram", "--a", "1", "--b", "1", "--steps", "10", "--dask", addr,
                   "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and needle in err[0] and "--dask" in err[0], err
    assert not (tmp_path / "o").exists()


def test_a_service_that_is_not_dask_is_one_line_within_the_timeout_and_nothing_after(tmp_path):
    pytest.importorskip("distributed")
    srv, conns = _garbage_server()
    port = srv.getsockname()[1]
    try:
        r = subprocess.run([sys.executable, "-m", "adadyn", "phase-diagram", "--a", "1", "--b", "1", "--steps",
                            "10", "--dask", f"tcp://127.0.0.1:{port}", "--out", "o"],
                           capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=300)
    finally:
        srv.close()
        for c in conns:
            c.close()
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr  # no 'Exception ignored in Client.__del__'
    assert "--dask" in lines[0] and "out of memory" not in lines[0]
    assert "not as a dask scheduler" in lines[0] or "within 5 s" in lines[0]
    assert conns  # it did connect: the refusal is about what answered


def test_probe_deadline_covers_connect_handshake_and_answer():
    pytest.importorskip("distributed")
    from adadyn.sweep.executors import probe_scheduler

    srv, conns = _garbage_server()
    try:
        with pytest.raises(ValueError, match="not as a dask scheduler|within 1 s"):
            probe_scheduler(f"tcp://127.0.0.1:{srv.getsockname()[1]}", timeout=1.0)
    finally:
        srv.close()
        for c in conns:
            c.close()
