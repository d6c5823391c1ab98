"""nn.train's torch thread count (adadyn.nn.threads) and its progress meter (adadyn.nn.progress)."""
import io

import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
from adadyn import nn  # noqa: E402
from adadyn.nn import threads as _threads  # noqa: E402


def _small():
    return nn.sine_regression(200, 3, n_test=50, seed=1), nn.mlp([3, 12, 12, 1], "tanh", seed=2)


def test_default_rule_one_thread_for_small_networks_or_busy_cores():
    big = 10 * _threads.TORCH_WORK_MIN
    assert _threads.default_torch_threads(_threads.TORCH_WORK_MIN / 2, cores=8, load=0.0)[0] == 1
    assert _threads.default_torch_threads(big, cores=1, load=0.0)[0] == 1
    assert _threads.default_torch_threads(big, cores=4, load=0.0)[0] == 4
    assert _threads.default_torch_threads(big, cores=4, load=1.0)[0] == 3
    assert _threads.default_torch_threads(big, cores=2, load=0.6)[0] == 1  # our own run is most of it
    assert _threads.default_torch_threads(big, cores=2, load=0.4)[0] == 2
    n, why = _threads.default_torch_threads(big, cores=2, load=3.2)
    assert n == 1 and "busy" in why and "3.2" in why
    n, why = _threads.default_torch_threads(2e8, cores=2, load=0.0)
    assert n == 1 and "small" in why
    # the README's network (5-100-100-1, full batch on 2000 points) is a small one
    assert 6 * 2000 * (5 * 100 + 100 + 100 * 100 + 100 + 100 + 1) < _threads.TORCH_WORK_MIN


def test_the_default_applies_only_when_the_user_chose_nothing(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setitem(_threads._torch_state, "user", False)
    monkeypatch.setitem(_threads._torch_state, "default", before)
    monkeypatch.setattr(_threads, "_torch_defaults", lambda: {before})
    monkeypatch.setattr(_threads, "default_torch_threads", lambda work: (3, "3 (rule)"))
    with _threads.torch_threads(None, 1.0) as th:
        assert torch.get_num_threads() == 3 and th.threads == 3 and th.reason == "3 (rule)"
        with _threads.torch_threads(None, 1.0) as inner:  # nested: the enclosing choice stays
            assert inner.threads == 3 and "enclosing" in inner.reason
    assert torch.get_num_threads() == before
    with _threads.torch_threads(None, 1.0, resume=2) as th:  # a continuation keeps its run's count
        assert torch.get_num_threads() == 2 and "continued" in th.reason
    # for large networks the load is read once per process: equal runs get equal bits
    answers = iter([(2, "2 (idle)"), (1, "1 (busy)")])
    monkeypatch.setattr(_threads, "default_torch_threads", lambda work: next(answers))
    monkeypatch.setitem(_threads._torch_state, "large", None)
    big = 10 * _threads.TORCH_WORK_MIN
    with _threads.torch_threads(None, big) as first:
        pass
    with _threads.torch_threads(None, big) as second:
        pass
    assert first.threads == second.threads == 2 and "kept" in second.reason
    assert torch.get_num_threads() == before
    with _threads.torch_threads(2, 1.0) as th:  # asked for
        assert torch.get_num_threads() == 2 and th.reason.startswith("2 (asked")
    assert torch.get_num_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", str(before))
    with _threads.torch_threads(None, 1.0) as th:
        assert th.threads == before and "OMP_NUM_THREADS" in th.reason
    monkeypatch.delenv("OMP_NUM_THREADS")
    other = 2 if before != 2 else 1
    torch.set_num_threads(other)  # the user's torch.set_num_threads wins
    try:
        with _threads.torch_threads(None, 1.0) as th:
            assert th.threads == other and "torch.set_num_threads" in th.reason
    finally:
        torch.set_num_threads(before)
    nn.set_num_threads(before)  # so does adadyn.nn.set_num_threads, even at torch's default count
    with _threads.torch_threads(None, 1.0) as th:
        assert th.threads == before and "adadyn.nn.set_num_threads" in th.reason
    with pytest.raises(ValueError, match="threads"):
        _threads.torch_threads(0, 1.0)


def test_train_runs_on_the_chosen_threads_and_says_so(monkeypatch):
    prob, model = _small()
    seen = []
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setitem(_threads._torch_state, "user", False)
    monkeypatch.setitem(_threads._torch_state, "default", before)
    monkeypatch.setattr(_threads, "_torch_defaults", lambda: {before})
    tr = nn.train(ad.Adam(1e-3), model, prob, 10, threads=2,
                  progress=lambda k, n, loss: seen.append(torch.get_num_threads()))
    assert set(seen) == {2} and torch.get_num_threads() == before
    assert tr.final_state.threads == 2 and "asked" in tr.final_state.threads_reason
    assert "threads=2" in repr(tr.final_state)
    seen.clear()  # the continuation runs on the count of the run it continues
    cont = nn.train(ad.Adam(1e-3), model, prob, 5, state=tr.final_state,
                    progress=lambda k, n, loss: seen.append(torch.get_num_threads()))
    assert set(seen) == {2} and cont.final_state.threads == 2 and "continued" in cont.final_state.threads_reason
    seen.clear()  # a small network from scratch: one thread by the default rule
    fresh = nn.train(ad.Adam(1e-3), model, prob, 5, progress=lambda k, n, loss: seen.append(torch.get_num_threads()))
    assert set(seen) == {1} and "small" in fresh.final_state.threads_reason
    with pytest.raises(ValueError, match="threads"):
        nn.train(ad.Adam(1e-3), model, prob, 1, threads=0)


def test_progress_callback_sees_each_read_back_with_the_recorded_loss():
    prob, model = _small()
    calls = []
    tr = nn.train(ad.RMSprop(1e-3), model, prob, 150, progress=lambda *a: calls.append(a))
    steps = [k for k, _, _ in calls]
    assert steps == [0, 63, 127, 150]  # the start, each full block of 64 records, the end
    assert all(n == 150 for _, n, _ in calls)
    for k, _, loss in calls[1:]:
        assert loss == tr.loss[k]  # the loss of the last record read back, exactly
    # the meter does not change a bit of the run
    _, model2 = _small()
    quiet = nn.train(ad.RMSprop(1e-3), model2, prob, 150, progress=False)
    np.testing.assert_array_equal(quiet.loss, tr.loss)


def test_progress_line_on_stderr_only_when_asked_or_on_a_terminal(capsys):
    prob, model = _small()
    nn.train(ad.Adam(1e-3), model, prob, 20)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    tr = nn.train(ad.Adam(1e-3), model, prob, 20, progress=True)
    err = capsys.readouterr().err
    assert err.endswith("\n") and "train: step 20/20 (100%" in err
    assert f"loss {tr.loss[-1]:.3e}" in err
    buf = io.StringIO()
    meter = nn.progress.TrainProgress(stream=buf, every=0.0)
    nn.train(ad.GD(1e-2), model, prob, 70, progress=meter)
    lines = buf.getvalue().split("\r")
    assert [ln.split(" (")[0] for ln in lines if ln] == ["train: step 0/70", "train: step 63/70", "train: step 70/70"]
    with pytest.raises(TypeError, match="progress"):
        nn.train(ad.Adam(1e-3), model, prob, 1, progress="yes")


def test_nn_commands_say_which_thread_count_they_used(tmp_path, capsys, monkeypatch):
    from adadyn.cli import main

    before = torch.get_num_threads()
    monkeypatch.setitem(_threads._torch_state, "user", False)
    try:
        common = ["--points", "40", "--widths", "5,4,1", "--steps", "3", "--record-every", "1"]
        assert main(["nn-train", *common, "--out", str(tmp_path / "t")]) == 0
        line = next(ln for ln in (tmp_path / "t" / "summary.txt").read_text().splitlines()
                    if ln.startswith("torch threads: "))
        assert line.split(": ", 1)[1].split()[0] == "1"  # small: one thread, whatever the reason
        assert main(["nn-phase", *common, "--a", "1:10:2", "--b", "1:10:2", "--threads", "2",
                     "--out", str(tmp_path / "p")]) == 0
        text = (tmp_path / "p" / "summary.txt").read_text()
        assert "torch threads: 2 set with adadyn.nn.set_num_threads" in text
    finally:
        torch.set_num_threads(before)
    capsys.readouterr()
