"""The command line writes the figures and summaries its siblings write: phase-diagram's
summary.txt with the a x b table, flow --out with the runs beside their flow."""
import numpy as np

from adadyn.cli import main


def test_phase_diagram_writes_a_summary_with_the_label_table(tmp_path, capsys):
    out = tmp_path / "pd"
    rc = main(["phase-diagram", "--a", "0.1,100", "--b", "0.1,1,100", "--steps", "3000", "--no-progress",
               "--out", str(out)])
    assert rc == 0
    text = (out / "summary.txt").read_text()
    assert text.strip() in capsys.readouterr().out
    with np.load(out / "phase_diagram.npz") as z:
        regime = z["regime"]
    lines = text.splitlines()
    assert lines[0].startswith("Adam (eta = 0.001, beta1 = 1 - b eta, beta2 = 1 - a eta) on random quadratic")
    for r in ("convergence", "oscillation", "spike", "divergence", "transient"):
        assert f"  {r}: {int(np.sum(regime == r))}   (" in text
    header = [ln for ln in lines if ln.startswith("a \\ b")][0]
    assert header.split()[3:] == ["0.1", "1", "100"]
    rows = lines[lines.index(header) + 1:lines.index(header) + 3]
    assert [r.split()[0] for r in rows] == ["0.1", "100"]
    assert [r.split()[1:] for r in rows] == regime.tolist()          # the table is the stored grid
    assert lines[-1].startswith("key: ") and "divergence = stays high" in text


def test_flow_out_draws_the_runs_beside_their_flow(tmp_path, monkeypatch):
    import matplotlib.figure

    saved = []
    real = matplotlib.figure.Figure.savefig

    def spy(fig, path, *a, **k):
        saved.append([ax for ax in fig.axes])
        return real(fig, path, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    png = tmp_path / "flow.png"
    assert main(["flow", "--T", "0.5", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    (axes,) = saved
    left, right = axes
    assert [ln.get_label() for ln in left.lines][-1] == "Adam flow" and len(left.lines) == 4
    assert right.get_xscale() == "log" and right.get_ylabel().startswith("gap sup_t")
