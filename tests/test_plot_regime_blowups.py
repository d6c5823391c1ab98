"""Figure 8's two panels mark the same blown-up runs (adadyn.plotting.regimes)."""
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from adadyn.analysis.regimes import BLOWUP_DECADES  # noqa: E402
from adadyn.plotting import regimes as RG  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _pd():
    """A 2 x 3 diagram: (0, 2) non-finite (blank late loss), (1, 0) status diverged with a finite
    late loss, (1, 1) exactly BLOWUP_DECADES above its start (blew up by level), the rest not."""
    a, b = np.array([1.0, 10.0]), np.array([1.0, 10.0, 100.0])
    z = np.array([[-5.0, -6.0, np.nan], [9.2, 1.0, -4.0]])
    level = np.array([[-5.0, -6.0, np.nan], [9.2, BLOWUP_DECADES, BLOWUP_DECADES - 1e-9]])
    status = np.array([["ok", "ok", "diverged"], ["diverged", "ok", "ok"]])
    return SimpleNamespace(a=a, b=b, eta=1e-3, steps=100, window=50, regime=np.full(z.shape, "oscillation"),
                           regime_code=np.ones(z.shape, int), level=level, status=status,
                           objective="toy", late_mean_log10_loss=z)


def _crosses(ax):
    """(b, a) of the x markers drawn on ``ax``."""
    pts = [(x, y) for ln in ax.lines if ln.get_marker() == "x" for x, y in zip(ln.get_xdata(), ln.get_ydata())]
    return sorted((float(x), float(y)) for x, y in pts)


def test_late_loss_map_marks_blown_up_cells_like_the_regime_map():
    pd = _pd()
    want = [(1.0, 10.0), (10.0, 10.0), (100.0, 1.0)]
    left, right = RG.plot_late_loss(pd), RG.plot_regime_map(pd)
    assert _crosses(left) == want and _crosses(right) == want
    # the left panel's legend names the marker; without blow-ups there is neither marker nor legend
    assert [t.get_text() for t in left.get_legend().get_texts()][-1].startswith("blew up")
    pd.status[:] = "ok"
    pd.level[:] = -3.0
    ax = RG.plot_late_loss(pd)
    assert _crosses(ax) == [] and ax.get_legend() is None
    assert RG.plot_late_loss(_pd(), legend=False).get_legend() is None


def test_phase_diagram_marks_both_panels_with_one_legend():
    axes = RG.plot_phase_diagram(_pd())
    assert _crosses(axes[0]) == _crosses(axes[1]) == [(1.0, 10.0), (10.0, 10.0), (100.0, 1.0)]
    assert axes[0].get_legend() is None and axes[1].get_legend() is not None


def test_cells_without_a_late_loss_are_grey_and_the_others_keep_their_colour():
    from matplotlib.colors import to_rgba

    ax = RG.plot_late_loss(_pd())
    mesh = ax.collections[0]
    rgba = mesh.to_rgba(mesh.get_array())            # the colours drawn, cell by cell (row-major)
    assert tuple(rgba.reshape(-1, 4)[2]) == to_rgba(RG.NO_LATE_LOSS_COLOR)
    z = _pd().late_mean_log10_loss.ravel()
    for k in np.flatnonzero(np.isfinite(z)):
        assert tuple(rgba.reshape(-1, 4)[k]) == tuple(mesh.cmap(mesh.norm(z[k])))
