"""The ``flows-order2`` reproduction: its verdict, control and numbers at a small scale."""
import numpy as np
import pytest

from adadyn import reproduce as R

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rep(tmp_path_factory):
    return R.run("flows-order2", tmp_path_factory.mktemp("order2"), scale=0.05)


def test_verdict_orders_and_control(rep):
    assert rep.verdict == "reproduces"
    for key, val in rep.values.items():
        if "/" in key:
            assert val["order2"] >= 1.8 and 0.85 <= val["order1"] <= 1.2, key
            assert np.all(np.array(val["gaps2"]) < 0.2 * np.array(val["gaps1"]))
    controls = [r for r in rep.rows if "control" in r.quantity]
    assert len(controls) == 3 and all(r.ok for r in controls)     # log-cosh only at this scale


def test_rmsprop_layer_and_restart(rep):
    lay = rep.values["rmsprop_v0_zero"]
    assert abs(lay["order1"] - 0.5) < 0.02 and np.allclose(lay["ratio"], 1.0, atol=0.01)
    assert rep.values["rmsprop_restart_order2"] >= 1.8


def test_figure_written(rep):
    assert len(rep.figures) == 1 and rep.figures[0].stat().st_size > 10_000
    assert R.get("flows-order2").name in [e.name for e in R.entries()]
