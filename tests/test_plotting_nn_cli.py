"""nn-train --sharpness-every plots the sharpness against the threshold."""
import pytest

torch = pytest.importorskip("torch")


def test_nn_train_writes_the_sharpness_figure(tmp_path, capsys):
    from adadyn.cli import main

    out = tmp_path / "n"
    rc = main(["nn-train", "--problem", "digits2", "--widths", "64,8,2", "--steps", "60", "--sharpness-every",
               "20", "--threads", "1", "--out", str(out)])
    assert rc == 0
    assert (out / "sharpness.png").stat().st_size > 10_000
    assert f"figure: {out / 'sharpness.png'}" in (out / "summary.txt").read_text()
    rc = main(["nn-train", "--problem", "digits2", "--widths", "64,8,2", "--steps", "20", "--threads", "1",
               "--out", str(tmp_path / "m")])
    assert rc == 0 and not (tmp_path / "m" / "sharpness.png").exists()   # only when recorded
