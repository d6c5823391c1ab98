"""Stability plots, the ``adadyn stability`` command and its demo section."""
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import adadyn as ad  # noqa: E402
from adadyn.plotting import stability as P  # noqa: E402


def test_eigenvalue_plot_draws_the_spectrum_and_its_boundary(quad10):
    lin = ad.analysis.linearize(ad.RMSprop(1e-9, alpha=0.9, eps=1e-8), quad10, np.zeros(10))
    ax = P.plot_eigenvalues(lin)
    pts = ax.lines[0]
    np.testing.assert_allclose(np.sort(pts.get_xdata()), np.sort(lin.map_eigenvalues.real))
    circle = ax.lines[1]
    np.testing.assert_allclose(np.hypot(circle.get_xdata(), circle.get_ydata()), 1.0, rtol=1e-12)
    ax2 = P.plot_eigenvalues(lin, which="flow", symlog=True)
    np.testing.assert_allclose(np.sort(ax2.lines[0].get_xdata()), np.sort(lin.flow_eigenvalues.real))
    assert ax2.get_xscale() == "symlog" and ax2.lines[1].get_xdata()[0] == 0.0  # the imaginary axis
    with pytest.raises(ValueError, match="which"):
        P.plot_eigenvalues(lin, which="both")
    plt.close("all")


def test_orbit_diagram_plot_contains_the_attractor():
    obj = ad.objectives.quadratic([[1.0]])
    cont = ad.analysis.continuation(ad.RMSprop(1e-4, alpha=0.9, eps=1e-4), obj, [0.0],
                                    np.linspace(1e-4, 4e-4, 7), record=4, transient=2000)
    ax = P.plot_orbit_diagram(cont)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), cont.diagram_x)
    vlines = [ln for ln in ax.lines if ln.get_label().startswith("period-doubling")]
    assert len(vlines) == 1 and vlines[0].get_xdata()[0] == pytest.approx(2e-4, rel=1e-10)
    plt.close("all")


def test_figure6_plot_has_one_curve_per_alpha_and_the_cycle_lines():
    ax = P.plot_figure6(alphas=(0.5, 0.9), steps=500)
    labels = [ln.get_label() for ln in ax.lines]
    assert labels[:2] == ["alpha = 0.5", "alpha = 0.9"]
    ys = sorted(ln.get_ydata()[0] for ln in ax.lines[2:])
    np.testing.assert_allclose(ys, [-(0.005 - 1e-8), 0.005 - 1e-8])
    plt.close("all")


def _numbers(text, key):
    m = re.search(key + r"\s*=\s*\[?\+?-?([0-9.e+-]+)", text)
    assert m, (key, text)
    return float(m.group(1))


def test_cli_stability_reports_eta_c_and_the_two_cycle(capsys):
    from adadyn.cli import main

    rc = main(["stability", "--optimizer", "rmsprop", "--eta", "0.01", "--eps", "1e-4", "--lam", "2",
               "--alpha", "0.5"])
    out = capsys.readouterr().out
    assert rc == 0
    assert _numbers(out, "eta_c") == pytest.approx(2 * 1e-4 / 2, rel=1e-5)
    assert "2-cycle: x = [0.00495, -0.00495]" in out
    assert "eigenvalues [-199, 0.5]" in out
    rc = main(["stability", "--optimizer", "gd", "--eta", "0.001", "--objective", "rosenbrock", "--dim", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and "is below it" in out and "none expected" in out
    rc = main(["stability", "--objective", "expr", "--expr", "__import__('os').system('true')"])
    assert rc == 2 and "error" in capsys.readouterr().err


def test_demo_section_writes_figures(tmp_path):
    from adadyn.commands.stability import demo

    text = demo(tmp_path)
    for name in ("stability_eigenvalues.png", "figure6_rmsprop_two_cycle.png", "orbit_diagram_rmsprop.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    assert _numbers(text, "period doubling detected at eta") == pytest.approx(2e-4, rel=1e-10)
    assert "closed form +-(eta/2 - eps/lambda) = +-0.00499999" in text
