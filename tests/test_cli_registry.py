"""One registry of objectives and optimisers for every command: the same word builds the
same objective in run, stability, phase-diagram, flow and sweep; optimisers go through
spec.with_rates; the run command's size guard and final loss."""
import argparse
import re

import numpy as np
import pytest

import adadyn as ad
from adadyn.cli import build_parser, main
from adadyn.commands import registry as R

COMMANDS = {"run": [], "stability": [], "phase-diagram": ["--out", "o"], "flow": [],
            "sweep": ["--out", "o", "--axis", "eta=1e-3"]}


def parse(argv):
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("opts, ident", [
    (["--objective", "random-quadratic", "--dim", "5", "--seed", "3"], ad.objectives.random_quadratic(5, seed=3)),
    (["--objective", "quadratic", "--dim", "5", "--seed", "3"], ad.objectives.random_quadratic(5, seed=3)),
    (["--objective", "rosenbrock", "--dim", "4"], ad.objectives.rosenbrock(4)),
    (["--objective", "cosine-bowl"], ad.objectives.cosine_bowl()),
    (["--objective", "cosine"], ad.objectives.cosine_bowl()),
    (["--objective", "expr", "--expr", "x1**2 + 3*x2**4"], ad.Objective.from_expr("x1**2 + 3*x2**4")),
    (["--expr", "x1**2 + 3*x2**4"], ad.Objective.from_expr("x1**2 + 3*x2**4")),
])
def test_a_name_builds_the_same_objective_in_every_command(opts, ident):
    for cmd, extra in COMMANDS.items():
        args = parse([cmd, *extra, *opts])
        uses = ("seed",) if cmd == "flow" else ()
        obj, _ = R.build_objective(args, uses=uses)
        assert obj.identity() == ident.identity(), cmd


def test_quadratic_1d_is_lam_x2_over_2_everywhere():
    for cmd, extra in COMMANDS.items():
        for spelling in ("quadratic-1d", "quadratic"):
            obj, x0 = R.build_objective(parse([cmd, *extra, "--objective", spelling, "--lam", "4"]))
            assert obj.dim == 1 and obj.A is not None and obj.A[0, 0] == 4.0
            assert obj.value([0.5]) == pytest.approx(4 * 0.25 / 2, rel=1e-15)
    # the old default words of each command keep their meaning
    assert R.build_objective(parse(["stability"]))[0].A.shape == (1, 1)
    assert R.build_objective(parse(["run"]))[0].identity() == ad.objectives.random_quadratic(10, seed=0).identity()
    assert R.build_objective(parse(["phase-diagram", "--out", "o"]))[0].dim == 10


@pytest.mark.parametrize("argv, want", [
    (["--optimizer", "gd", "--eta", "0.01"], ad.GD(0.01)),
    (["--optimizer", "signgd", "--eta", "0.01"], ad.SignGD(0.01)),
    (["--optimizer", "rmsprop", "--eta", "0.01"], ad.RMSprop(0.01, alpha=0.9, eps=1e-8)),
    (["--optimizer", "rmsprop", "--eta", "0.01", "--a", "3"], ad.RMSprop(0.01, alpha=1 - 3 * 0.01, eps=1e-8)),
    (["--optimizer", "adam", "--eta", "0.01", "--a", "2", "--b", "5", "--eps", "1e-6"],
     ad.Adam(0.01, beta1=1 - 5 * 0.01, beta2=1 - 2 * 0.01, eps=1e-6)),
    (["--optimizer", "adam", "--eta", "0.01", "--beta1", "0.5"], ad.Adam(0.01, beta1=0.5)),
    (["--optimizer", "amsgrad", "--eta", "0.01", "--a", "2"], ad.AMSGrad(0.01, beta2=1 - 2 * 0.01)),
    (["--optimizer", "adafix", "--eta", "0.01"], ad.AdaFix(0.01)),
    (["--optimizer", "adagrad", "--eta", "0.01"], ad.Adagrad(0.01, eps=1e-8)),
    (["--optimizer", "lion", "--eta", "0.01", "--beta1", "0.8", "--beta2", "0.95"], ad.Lion(0.01, beta1=0.8, beta2=0.95)),
    (["--optimizer", "lion", "--eta", "0.01"], ad.Lion(0.01)),
])
def test_optimizer_options_build_the_library_spec(argv, want):
    got = R.build_optimizer(parse(["run", *argv]))
    assert type(got) is type(want)
    assert got == want  # frozen dataclasses: every hyperparameter equal, bit for bit


def test_rates_go_through_with_rates_and_errors_name_them():
    got = R.build_optimizer(parse(["run", "--optimizer", "adam", "--eta", "0.02", "--a", "3", "--b", "7"]))
    assert got == ad.Adam(0.02).with_rates(a=3, b=7)
    assert got.a == pytest.approx(3) and got.b == pytest.approx(7)
    with pytest.raises(ValueError, match=r"^a \* eta must be <= 1"):
        R.build_optimizer(parse(["run", "--optimizer", "adam", "--eta", "0.5", "--a", "3"]))


def test_stability_without_bias_correction():
    got = R.build_optimizer(parse(["stability", "--optimizer", "adam", "--a", "1", "--b", "2"]), bias_correction=False)
    assert got == ad.Adam(0.01, bias_correction=False).with_rates(a=1, b=2)


def test_lion_runs_from_the_shell_like_the_api(capsys):
    assert main(["run", "--optimizer", "lion", "--eta", "1e-3", "--steps", "500", "--record-every", "50"]) == 0
    text = capsys.readouterr().out
    tr = ad.run(ad.Lion(1e-3), ad.objectives.random_quadratic(10), np.full(10, 0.1), 500, record_every=50)
    assert float(re.search(r"end ([0-9.eE+-]+)", text).group(1)) == pytest.approx(tr.loss[-1], rel=1e-5)


def test_run_prints_the_true_final_loss(capsys, tmp_path):
    assert main(["run", "--optimizer", "rmsprop", "--eta", "2e-3", "--steps", "1005", "--record-every", "100",
                 "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    end = float(re.search(r"end ([0-9.eE+-]+) \(final loss, step 1005\)", text).group(1))
    obj = ad.objectives.random_quadratic(10, seed=0)
    tr = ad.run(ad.RMSprop(2e-3, alpha=0.9), obj, np.full(10, 0.1), 1005, record_every=1)
    x = tr.final_state.x
    assert end == pytest.approx(x @ obj.A @ x / 2, rel=1e-5)  # f at x_1005, in NumPy
    assert end != pytest.approx(tr.loss[1000], rel=1e-3)  # not the last record (step 1000)
    with np.load(tmp_path / "trajectory.npz") as z:
        assert int(z["final_step"]) == 1005 and z["final_loss"] == pytest.approx(x @ obj.A @ x / 2, rel=1e-12)
        np.testing.assert_array_equal(z["final_x"], x)


def test_run_refuses_oversized_records_with_a_stride_that_fits(capsys, tmp_path, monkeypatch):
    from adadyn.commands import limits

    calls = []
    monkeypatch.setattr(ad, "run", lambda *a, **k: calls.append(1))
    assert main(["run", "--steps", "3000000", "--out", str(tmp_path / "D")]) == 2
    err = capsys.readouterr().err.strip()
    want = (3_000_000 + 1) * (3 * 10 + 4) * 8
    assert f"{want / 2**20:.3g} MiB" in err and "limit 256 MiB" in err
    stride = int(re.search(r"--record-every (\d+) fits", err).group(1))
    assert calls == [] and not any((tmp_path / "D").glob("*.npz"))
    # the suggested stride fits under the warning level; one less does not
    assert limits.records(3_000_000, stride) * 34 * 8 <= limits.WARN_BYTES
    assert limits.records(3_000_000, stride - 1) * 34 * 8 > limits.WARN_BYTES


def test_run_warns_well_below_the_limit(capsys):
    assert main(["run", "--steps", "100000", "--record-every", "1", "--optimizer", "gd"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("adadyn run: warning:") and "MiB" in err[0]


def test_commands_share_the_registry_tables():
    from adadyn.commands import common

    assert common.build_objective is R.build_objective and common.build_optimizer is R.build_optimizer
    sub = build_parser()._subparsers._group_actions[0].choices
    for cmd in ("run", "sweep"):
        acts = {a.dest: a for a in sub[cmd]._actions}
        assert tuple(acts["optimizer"].choices) == tuple(R.OPTIMIZERS)
        assert tuple(acts["objective"].choices) == R.OBJECTIVE_CHOICES
    assert isinstance(R.OBJECTIVES["random-quadratic"], R.ObjectiveEntry)
    assert argparse  # noqa
