"""Figures read at a glance: what each fixed figure draws, checked from the drawn artists."""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import adadyn as ad  # noqa: E402
from adadyn.plotting import flows as F  # noqa: E402
from adadyn.plotting import regimes as RG  # noqa: E402
from adadyn.plotting import stability as ST  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def spike_run():
    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    return ad.run(ad.Adam.from_ab(1e-3, 1.0, 100.0), obj, x0, 30_000)


def test_real_spectrum_on_a_signed_log_line(quad10):
    """RMSprop's map at x*: 1 - eta lambda_i/eps (down to -3e6) and alpha = 0.9 ten times."""
    lin = ad.analysis.linearize(ad.RMSprop(1e-3, alpha=0.9, eps=1e-8), quad10, np.zeros(10))
    ax = ST.plot_eigenvalues(lin, which="map", symlog=True)
    pts = ax.lines[0]
    np.testing.assert_allclose(pts.get_xdata(), np.sort(lin.map_eigenvalues.real))
    assert np.all(pts.get_ydata() == 0) and list(ax.get_yticks()) == []   # no empty imaginary axis
    # the unit circle meets the real line at -1 and 1: the stable interval is shaded there
    (span,) = [p for p in ax.patches if p.get_label() == "stable: |mu| < 1"]
    assert (span.get_x(), span.get_x() + span.get_width()) == (-1.0, 1.0)
    assert sorted(ln.get_xdata()[0] for ln in ax.lines[1:3]) == [-1.0, 1.0]
    assert [t.get_text() for t in ax.texts] == ["x10"] and ax.texts[0].xy[0] == pytest.approx(0.9)
    ticks = ax.get_xticks()
    assert 0.0 in ticks and np.sum(ticks < -1) <= 4 and np.sum(ticks > 1) <= 4
    lo, hi = ax.get_xlim()
    assert lo < lin.map_eigenvalues.real.min() and hi > 1.0
    # a second spectrum on the same Axes adds points, not another boundary
    ST.plot_eigenvalues(lin, ax=ax, which="map", symlog=True, marker="x", label="again")
    assert len([p for p in ax.patches if p.get_label().startswith("stable")]) == 1
    # a complex spectrum keeps the complex plane and the unit circle
    ax2 = ST.plot_eigenvalues(np.array([0.5 + 0.5j, 0.5 - 0.5j, -2.0]), symlog=True)
    assert ax2.lines[0].get_ydata().tolist() == [0.5, -0.5, 0.0]
    np.testing.assert_allclose(np.hypot(ax2.lines[1].get_xdata(), ax2.lines[1].get_ydata()), 1.0)


def _pd(z, eta=1e-3, steps=40_000, window=10_000):
    a = b = np.logspace(-1, 2, z.shape[0])
    reg = np.full(z.shape, "oscillation")
    return SimpleNamespace(a=a, b=b, eta=eta, steps=steps, window=window, regime=reg,
                           regime_code=np.ones(z.shape, int), level=np.full(z.shape, -5.0),
                           status=np.full(z.shape, "ok", dtype="U9"), objective="toy quadratic",
                           late_mean_log10_loss=z)


def test_late_loss_colour_scale_is_clipped_and_says_so():
    z = np.array([[-1.0, -3.0, -9.0], [-2.0, -100.0, -12.0], [-0.5, -8.0, -99.0]])
    ax = RG.plot_late_loss(_pd(z))
    mesh = ax.collections[0]
    assert np.array_equal(np.ma.filled(mesh.get_array(), np.nan).ravel(), z.ravel())   # data unchanged
    assert mesh.norm.vmax == -0.5 and mesh.norm.vmin == -0.5 - RG.CLIP_DECADES
    cb_label = mesh.colorbar.ax.get_ylabel()
    assert "clipped at -16.5: 2 cells down to -100" in cb_label and mesh.colorbar.extend == "min"
    assert ax.figure.get_suptitle().replace("\n", " ") == "Adam on toy quadratic, eta = 0.001, 40000 steps (Figure 8)"
    assert ax.get_title() == "late mean log10 loss (last 10000 of 40000 steps)"
    # a range within 16 decades is drawn in full
    ax = RG.plot_late_loss(_pd(np.array([[-1.0, -3.0], [-2.0, -9.0]])))
    assert ax.collections[0].norm.vmin == -9.0 and "clipped" not in ax.collections[0].colorbar.ax.get_ylabel()
    ax = RG.plot_late_loss(_pd(z), clip_decades=None)
    assert ax.collections[0].norm.vmin == -100.0


def test_phase_maps_take_a_title_and_default_to_one_from_the_data():
    pd = _pd(np.full((2, 2), -3.0))
    pd.objective = ("NetworkTask(64-16-2 relu on digits, Adam(eta=0.001, beta1=0.9, schedule=Constant()), "
                    "10000 steps)")
    ax = RG.plot_regime_map(pd)
    assert ax.figure.get_suptitle().replace("\n", " ") == ("Adam on 64-16-2 relu on digits, eta = 0.001, "
                                                            "10000 steps (Figure 8)")
    assert ax.get_title() == "regime of the last 10000 of 40000 steps"
    fig, axes = plt.subplots(1, 2)
    fig.suptitle("mine")
    RG.plot_late_loss(pd, axes[0])
    RG.plot_regime_map(pd, axes[1])
    assert fig.get_suptitle() == "mine"                 # a title already there is kept
    assert RG.plot_regime_map(pd, title="given").figure.get_suptitle() == "given"


def test_gap_plot_draws_a_guide_of_the_fitted_order(quad10):
    from adadyn.analysis.discrete_vs_flow import convergence_order

    x0 = np.random.default_rng(1).standard_normal(10)
    res = convergence_order(ad.RMSprop.from_a(1e-2, a=1.0, eps=1e-8), quad10, x0, 1.0, (1e-2, 5e-3, 2.5e-3))
    assert 0.3 < res.order < 0.7                        # RMSprop from v0 = 0: order ~1/2, not 1
    ax = F.plot_gap_vs_eta(res)
    (guide,) = [ln for ln in ax.lines if ln.get_label().startswith("guide")]
    x, y = guide.get_xdata(), guide.get_ydata()
    slope = np.diff(np.log(y[[0, -1]])) / np.diff(np.log(x[[0, -1]]))
    assert slope[0] == pytest.approx(res.order, rel=1e-12)
    np.testing.assert_allclose(y, 0.5 * res.constant * x ** res.order, rtol=1e-12)
    assert "sup_t |X^eta(t) - x(t)|" in ax.get_ylabel() and ax.get_xlabel() == "step size eta"


def test_flow_comparison_draws_the_runs_beside_their_flow(quad10):
    from adadyn.analysis.discrete_vs_flow import convergence_order, scaled_optimizer

    x0 = np.random.default_rng(1).standard_normal(10)
    opt = ad.Adam.from_ab(1e-2, a=1.0, b=10.0)
    etas = (1e-2, 5e-3, 2.5e-3)
    res = convergence_order(opt, quad10, x0, 0.5, etas)
    trajs = [ad.run(scaled_optimizer(opt, e), quad10, x0, int(round(0.5 / e))) for e in etas]
    left, right = F.plot_flow_comparison(res, trajs)
    assert [ln.get_label() for ln in left.lines] == [f"Adam, eta={e:g}" for e in etas] + [res.flow.name]
    np.testing.assert_allclose(left.lines[0].get_ydata(), trajs[0].loss)
    assert right.get_xscale() == "log" and np.array_equal(right.lines[0].get_ydata(), res.gaps_x)


def test_loss_regime_marks_spikes_only_when_they_can_be_told_apart(spike_run):
    reg = ad.analysis.classify(spike_run)
    assert reg.spike_count > 30
    ax = RG.plot_loss_regime(spike_run, reg)             # 30,000 steps: the spikes are too close
    assert not [ln for ln in ax.lines if ln.get_marker() == "v"]
    assert ax.texts[0].get_text().startswith(f"{reg.spike_count} spikes")
    (span,) = [p for p in ax.patches if p.get_label() == "late window (classified)"]
    assert (span.get_x(), span.get_x() + span.get_width()) == reg.window
    ax = RG.plot_loss_regime(spike_run, reg, last=1000)
    (mk,) = [ln for ln in ax.lines if ln.get_marker() == "v"]
    want = reg.spike_steps[reg.spike_steps >= spike_run.step[-1] - 1000]
    assert np.array_equal(mk.get_xdata(), want) and ax.get_legend() is not None


def test_state_space_ticks_and_scales(spike_run):
    ax = RG.plot_state_space(spike_run, start=29_000)
    fig = ax.figure
    fig.canvas.draw()
    assert ax.get_xlabel() == "||x||  [x 1e-4]" and ax.get_zlabel() == "||sqrt v||  [x 1e-3]"
    sel = spike_run.step >= 29_000
    xs, _, zs = ax.lines[0].get_data_3d()
    np.testing.assert_allclose(xs, spike_run.x_norm[sel])              # the data are not rescaled
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        labels = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
        assert 2 <= len(labels) <= 6 and len(set(labels)) == len(labels)   # few ticks, none repeated
    fmt = ax.xaxis.get_major_formatter()
    assert float(fmt(2e-4, 0)) == pytest.approx(2.0)
    assert ax.collections[0].get_array().tolist() == spike_run.step[sel].tolist()   # colour = step


def test_sharpness_legend_names_everything_and_sits_below_the_data(spike_run):
    S = ad.analysis.preconditioned_sharpness(spike_run)
    ax = RG.plot_sharpness(S, last=2000)
    leg = ax.get_legend()
    texts = [t.get_text() for t in leg.get_texts()]
    n_peaks = int(np.sum(S.spike_steps >= S.step[-1] - 2000))
    assert texts[0] == "loss (left axis)" and texts[1].startswith("preconditioned sharpness")
    assert texts[2].startswith("threshold") and texts[3] == f"spike peaks ({n_peaks})"
    ax.figure.canvas.draw()
    assert leg.get_window_extent().y1 < ax.get_window_extent().y0          # below the Axes, off the data
    assert np.array_equal(ax.right_ax.lines[0].get_ydata(), S.sharpness[S.step >= S.step[-1] - 2000],
                          equal_nan=True)
