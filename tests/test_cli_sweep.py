"""``adadyn sweep``: axis syntax, the checks made before any run, and the summary it writes."""
import itertools
from types import SimpleNamespace

import numpy as np
import pytest

import adadyn as ad
from adadyn.cli import build_parser, main
from adadyn.commands.axes import MAX_AXIS, parse_axes, parse_values
from adadyn.commands.errors import CLIError
from adadyn.commands.sweep import plan, summary_text


def test_axis_values():
    np.testing.assert_allclose(parse_values("1e-3:1e-1:3:log", "x"), [1e-3, 1e-2, 1e-1], rtol=1e-15)
    np.testing.assert_allclose(parse_values("0.1:100:4", "x"), [0.1, 1, 10, 100], rtol=1e-14)  # log by default
    np.testing.assert_array_equal(parse_values("0:1:5:lin", "x"), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(parse_values("3,1,2", "x"), [3, 1, 2])
    np.testing.assert_array_equal(parse_values("7", "x"), [7])
    v = parse_values("2:5:1", "x")
    assert v.tolist() == [2.0]
    for bad, why in [("1:2", "lo:hi:n"), ("a:b:3", "lo:hi:n"), ("1:10:0", "n must be"),
                     (f"1:10:{MAX_AXIS + 1}", "n must be"), ("1:10:9**9**9", "lo:hi:n"), ("0:1:3", "log spacing"),
                     ("-1:1:3:log", "log spacing"), ("1:nan:3", "finite"), ("1,1", "distinct"), ("2:2:3", "equal"),
                     ("1:10:3:cubic", "lo:hi:n"), ("1,x", "lo:hi:n"), ("inf", "finite"), ("", "lo:hi:n")]:
        with pytest.raises(CLIError, match=why):
            parse_values(bad, "--axis eta")


def test_axes_by_name():
    axes = parse_axes(["eta=1e-3:1e-1:8:log", "a=0.1:100:8:log"], ("eta", "a"))
    assert list(axes) == ["eta", "a"] and axes["eta"].size == 8
    for bad, why in [(["eta"], "NAME=VALUES"), (["zeta=1"], "not a hyperparameter"),
                     (["eta=1", "eta=2"], "given twice")]:
        with pytest.raises(CLIError, match=why):
            parse_axes(bad, ("eta", "a"))


def _plan(argv):
    return plan(build_parser().parse_args(["sweep", "--out", "unused", *argv]))


def test_plan_checks_every_corner_before_running():
    opt, obj, x0, axes, steps, rec = _plan(["--optimizer", "rmsprop", "--axis", "eta=1e-3:1e-1:8:log",
                                            "--axis", "a=0.1:10:8:log", "--steps", "500"])
    assert opt == ad.RMSprop(1e-3, alpha=0.9, eps=1e-8) and steps == 500 and rec is None
    np.testing.assert_array_equal(x0, np.full(10, 0.1))
    # a = 100 at eta = 0.1 gives a*eta = 10 > 1: refused naming a, before any run
    with pytest.raises(ValueError, match=r"a \* eta must be <= 1"):
        _plan(["--optimizer", "rmsprop", "--axis", "eta=1e-3:1e-1:8", "--axis", "a=0.1:100:8"])
    with pytest.raises(ValueError, match="beta1 must be in"):
        _plan(["--optimizer", "adam", "--axis", "beta1=0.5,0.9,1.0"])
    with pytest.raises(CLIError, match="at least one --axis"):
        _plan([])
    with pytest.raises(CLIError, match="grid has"):
        _plan(["--axis", "eta=1e-4:1e-3:1000", "--axis", "eps=1e-8:1e-4:1001"])
    with pytest.raises(CLIError, match="would need"):
        _plan(["--axis", "eta=1e-4:1e-3:100", "--axis", "eps=1e-8:1e-4:100", "--steps", "100000",
               "--record-every", "1"])
    opt, *_ = _plan(["--optimizer", "lion", "--axis", "beta2=0.9,0.99", "--beta1", "0.5"])
    assert opt == ad.Lion(1e-3, beta1=0.5)


def _reference_sweep(calls):
    """Each point run on its own through ad.run and classified: an independent reference."""
    def sweep(opt, obj, x0, steps, axes, *, record_every=None, executor=None, out=None, progress=None):
        calls.append(dict(opt=opt, obj=obj, x0=x0, steps=steps, axes=axes, record_every=record_every,
                          executor=executor, out=out, progress=progress))
        from adadyn.analysis import classify

        shape = tuple(v.size for v in axes.values())
        labels = np.empty(shape, dtype=object)
        final = np.empty(shape)
        for idx in itertools.product(*(range(n) for n in shape)):
            point = {k: float(v[i]) for (k, v), i in zip(axes.items(), idx)}
            tr = ad.run(opt.replace(**point), obj, x0, steps, record_every=record_every or 1)
            labels[idx] = classify(tr).label
            final[idx] = tr.loss[-1]
        return SimpleNamespace(regime=labels.astype(str), final_loss=final, success=True, message="")
    return sweep


def test_sweep_writes_counts_heat_map_and_data(tmp_path, capsys, monkeypatch):
    calls = []
    from adadyn.commands.sweep import engine

    try:
        api = engine()  # the engine, when this install has it
    except CLIError:
        api = None
        monkeypatch.setattr(ad.analysis, "hyperparameter_sweep", _reference_sweep(calls), raising=False)
    out = tmp_path / "sw"
    argv = ["sweep", "--optimizer", "rmsprop", "--objective", "random-quadratic", "--dim", "3",
            "--axis", "eta=1e-3:1e-1:3:log", "--axis", "a=0.5:5:2", "--steps", "2000", "--record-every", "10",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    with np.load(out / "sweep.npz") as z:
        labels = z["regime"]
        np.testing.assert_allclose(z["axis_eta"], [1e-3, 1e-2, 1e-1], rtol=1e-15)
        assert z["axis_names"].tolist() == ["eta", "a"]
    assert labels.shape == (3, 2)
    for r in ("convergence", "oscillation", "spike", "divergence"):
        assert f"  {r}: {int(np.sum(labels == r))}" in text
    assert (out / "sweep.png").stat().st_size > 5000
    assert (out / "summary.txt").read_text().strip() == text.split("\nwrote")[0].strip()
    if api is not None:  # the CLI gives what the API gives for the same sweep
        obj = ad.objectives.random_quadratic(3, seed=0)
        res = api(ad.RMSprop(1e-3, alpha=0.9), obj, np.full(3, 0.1), 2000,
                                               {"eta": np.logspace(-3, -1, 3), "a": np.array([0.5, 5.0])},
                                               record_every=10, progress=False)
        np.testing.assert_array_equal(np.asarray(res.regime).astype(str), labels)
    else:
        (call,) = calls
        assert call["executor"] is None and call["out"] == out / "chunks" and call["record_every"] == 10
        assert call["opt"] == ad.RMSprop(1e-3, alpha=0.9, eps=1e-8) and call["steps"] == 2000
        # the small-eta, slow-memory corner converges on a quadratic; the counts add up
        assert sum(int(np.sum(labels == r)) for r in np.unique(labels)) == 6


def test_summary_counts_every_label():
    labels = np.array([["convergence", "spike"], ["spike", "divergence"]])
    text = summary_text(labels, {"eta": np.array([1e-3, 1e-2]), "a": np.array([1.0, 2.0])},
                        ad.Adam(1e-3), ad.objectives.cosine_bowl(), 100)
    assert "  spike: 2" in text and "  convergence: 1" in text and "  oscillation: 0" in text
    assert "eta[2] in [0.001, 0.01]" in text
