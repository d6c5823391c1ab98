"""Labels say what they mean: every regime label carries a short meaning wherever it is
printed or plotted, and a run that actually blew up says "blew up", distinct from the
paper's "divergence" (a loss that stays high on the window's time scale)."""
from types import SimpleNamespace

import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis.regimes import (BLEW_UP, BLOWUP_DECADES, REGIME_MEANINGS, REGIMES, blew_up, classify,
                                     classify_many, describe_label)


@pytest.fixture(autouse=True)
def _agg():
    import matplotlib

    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _texts(ax):
    leg = ax.get_legend()
    return [ax.get_title()] + ([t.get_text() for t in leg.get_texts()] if leg else [])


def test_every_label_has_a_short_meaning():
    assert tuple(REGIME_MEANINGS) == REGIMES
    for r in REGIMES:
        m = REGIME_MEANINGS[r]
        assert 0 < len(m.split()) <= 7 and BLEW_UP not in m
        assert describe_label(r) == f"{r} ({m})"
    assert len(set(REGIME_MEANINGS.values())) == len(REGIMES)
    assert describe_label("divergence") == "divergence (stays high)"
    assert describe_label("divergence", True) == "divergence (blew up)"
    assert describe_label("spike", True).endswith("; blew up)")
    with pytest.raises(ValueError, match="label must be one of"):
        describe_label("blowup")


def test_blow_up_threshold_is_decades_above_the_start():
    # display threshold only: 3 decades above the first sample, or a non-finite run
    assert BLOWUP_DECADES == 3.0
    lv = np.array([-5.0, 2.5, 2.99, 3.0, 3.5, np.nan, np.nan])
    nf = np.array([False, False, False, False, False, False, True])
    assert blew_up(lv, nf).tolist() == [False, False, False, True, True, False, True]
    assert blew_up(2.5) is False and blew_up(-1.0, True) is True


def test_a_still_high_loss_reads_stays_high_not_blew_up():
    """Figure 7's a >> b run on the Figure 5 quadratic: the paper's divergence, the loss
    far below its start; the demo prints this line."""
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    tr = ad.run(ad.Adam.from_ab(1e-3, 100.0, 1.0), obj, x0, 30_000)
    reg = classify(tr)
    assert reg.label == "divergence" and reg.level < 0 and not reg.blew_up
    assert reg.meaning == "stays high" and reg.describe() == "divergence (stays high)"
    assert repr(reg).startswith("Regime(divergence (stays high), ") and BLEW_UP not in repr(reg)


def _blown_run():
    # GD at eta = 3 on f = x^2/2 multiplies x by -2 each step: a geometric blow-up to inf
    tr = ad.run(ad.GD(3.0), ad.objectives.quadratic([[1.0]]), [1.0], 2_000)
    assert tr.status == "diverged"
    return tr


def test_a_run_that_blows_up_prints_and_plots_blew_up():
    from adadyn.plotting.regimes import plot_loss_regime

    tr = _blown_run()
    reg = classify(tr)
    assert reg.label == "divergence" and reg.blew_up and reg.nonfinite
    assert reg.describe() == "divergence (blew up)" and "blew up" in repr(reg)
    assert "stays high" not in reg.describe()
    ax = plot_loss_regime(tr, reg)
    texts = _texts(ax)
    assert texts[0] == "divergence\n(blew up)" and any(t.startswith(BLEW_UP) for t in texts[1:])
    # the x sits on the last finite loss
    marker = [ln for ln in ax.lines if ln.get_marker() == "x"][0]
    ok = np.isfinite(tr.loss)
    assert marker.get_xdata()[0] == tr.step[ok][-1] and marker.get_ydata()[0] == abs(tr.loss[ok][-1])


def test_a_steady_rise_of_many_decades_is_blew_up():
    loss = np.exp(np.arange(200.0) * 0.1)        # 8.6 decades up, finite
    reg = classify(loss)
    assert reg.label == "divergence" and not reg.nonfinite and reg.level > BLOWUP_DECADES and reg.blew_up
    ra = classify_many(np.vstack([loss, np.exp(-np.arange(200.0) * 0.1)]))
    assert ra.blew_up.tolist() == [True, False]
    assert ra.meaning.tolist() == ["stays high", REGIME_MEANINGS["convergence"]]
    assert ra.describe().tolist() == ["divergence (blew up)", describe_label("convergence")]
    assert "blew up: 1" in repr(ra) and "divergence = stays high" in repr(ra)


def _fake_pd():
    a = b = np.array([0.1, 1.0, 10.0])
    regime = np.array([["spike", "oscillation", "oscillation"], ["divergence", "oscillation", "spike"],
                       ["divergence", "divergence", "convergence"]])
    level = np.array([[-3.0, -8.0, -8.0], [-1.0, -8.0, -3.0], [np.nan, 4.0, -9.0]])
    status = np.full((3, 3), "ok", dtype="U9")
    status[2, 0] = "diverged"
    z = np.where(np.isfinite(level), level, np.nan)
    return SimpleNamespace(a=a, b=b, eta=1e-3, steps=20_000, window=5_000, regime=regime, level=level,
                           regime_code=np.vectorize(REGIMES.index)(regime), status=status, objective="toy",
                           late_mean_log10_loss=z)


def test_phase_maps_legend_meanings_and_blown_cells():
    from adadyn.plotting.nn import plot_network_phase  # matplotlib only: no torch needed
    from adadyn.plotting.regimes import plot_regime_map

    pd = _fake_pd()
    ax = plot_regime_map(pd)
    leg = [t.get_text() for t in ax.get_legend().get_texts()]
    assert leg[:4] == [describe_label(r) for r in ("convergence", "oscillation", "spike", "divergence")]
    assert leg[4].startswith(BLEW_UP)
    (mk,) = [ln for ln in ax.lines if ln.get_marker() == "x"]
    # (a, b) = (10, 0.1) diverged and (10, 1) rose 4 decades; (1, 0.1) stays high: no x
    assert sorted(zip(mk.get_xdata(), mk.get_ydata())) == [(0.1, 10.0), (1.0, 10.0)]
    axes = plot_network_phase(pd.a, pd.b, pd.late_mean_log10_loss, pd.regime,
                              blown_up=blew_up(pd.level, pd.status == "diverged"))
    leg = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert "divergence (stays high)" in leg and leg[-1].startswith(BLEW_UP)
    assert axes[0].figure._suptitle.get_text().startswith("Adam on a network over a 3 x 3 (a, b) grid")


def test_cli_tables_and_summaries_carry_meanings():
    from adadyn.commands.sweep import grid_table, summary_text

    pd = _fake_pd()
    text = grid_table(pd.a, pd.b, pd.regime, blew_up(pd.level, pd.status == "diverged"))
    rows = text.splitlines()
    assert rows[3].split() == ["10", BLEW_UP.split()[0], BLEW_UP.split()[1], BLEW_UP.split()[0],
                               BLEW_UP.split()[1], "convergence"]
    assert rows[2].split()[1] == "divergence"
    assert "divergence = stays high" in rows[-1] and f"{BLEW_UP} = non-finite" in rows[-1]
    s = summary_text(pd.regime, {"a": pd.a, "b": pd.b}, ad.Adam(1e-3), ad.objectives.cosine_bowl(), 100)
    assert "  divergence: 3   (stays high)" in s and "  spike: 2   (sudden rises, slow recoveries)" in s


@pytest.mark.slow
def test_demo_line_carries_the_meaning(tmp_path):
    from adadyn.commands.phase import demo

    text = demo(tmp_path)
    line = [ln for ln in text.splitlines() if "a=100, b=1:" in ln][0]
    assert "a=100, b=1: divergence (stays high); late loss" in line and "below the start" in line
    assert "a=1, b=100: spike (sudden rises, slow recoveries)" in text
