"""Plots people can find: every submodule of adadyn.plotting is an attribute, every public
plotting function is listed in docs/plotting.md with a thumbnail, and its example runs."""
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import adadyn as ad

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plotting.md"
SUBMODULES = ("discrete", "flows", "stability", "regimes", "nn")


def _public_plotters():
    out = []
    for sub in SUBMODULES:
        mod = importlib.import_module(f"adadyn.plotting.{sub}")
        out += [(sub, n) for n in mod.__all__ if n.startswith("plot_") and callable(getattr(mod, n))]
    return out


def test_submodules_are_attributes():
    for sub in SUBMODULES:
        mod = getattr(ad.plotting, sub)
        assert mod is importlib.import_module(f"adadyn.plotting.{sub}")
        assert sub in dir(ad.plotting)
    from adadyn.plotting.flows import plot_flow_vs_discrete

    assert ad.plotting.flows.plot_flow_vs_discrete is plot_flow_vs_discrete
    assert ad.plotting.plot_flow_vs_discrete is plot_flow_vs_discrete       # the flat name still works
    assert ad.plotting.nn.plot_state_space is ad.plotting.regimes.plot_state_space
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ad.plotting.nope


def test_submodules_load_lazily_and_nn_plots_need_no_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import adadyn as ad\n"
            "assert 'adadyn.plotting.flows' not in sys.modules\n"
            "f = ad.plotting.flows.plot_gap_vs_eta\n"
            "assert 'adadyn.plotting.flows' in sys.modules and 'adadyn.plotting.stability' not in sys.modules\n"
            "assert callable(ad.plotting.nn.plot_network_phase)\n"
            "print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "PATH": ""})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_every_public_plotting_function_is_listed_with_a_thumbnail():
    text = DOC.read_text()
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r"^\| `(\w+\.plot_\w+)\(.*?\| !\[\]\((gallery/plotting/\w+\.png)\) \|$", text, re.M)}
    found = _public_plotters()
    assert len(found) >= 17
    for sub, name in found:
        key = f"{sub}.{name}"
        assert key in rows, f"{key} is not listed in docs/plotting.md"
        png = ROOT / "docs" / rows[key]
        assert png.stat().st_size > 3000, png
        with png.open("rb") as fh:
            head = fh.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(head[16:20], "big") <= 400  # small
    assert set(rows) == {f"{s}.{n}" for s, n in found}   # and nothing listed that does not exist


def test_gallery_script_names_every_thumbnail():
    r = subprocess.run([sys.executable, "scripts/make_plotting_gallery.py", "--check"], capture_output=True,
                       text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "PATH": ""})
    assert r.returncode == 0, r.stderr
    listed = {Path(p).name for p in r.stdout.split()}
    made = {m for m in re.findall(r"gallery/plotting/(\w+\.png)", DOC.read_text())}
    assert made == listed


def test_the_doc_example_runs(capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (block,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    exec(compile(block, str(DOC), "exec"), {})
    assert capsys.readouterr().out.strip().startswith(("spike\n(", "oscillation\n(", "convergence\n(",
                                                        "divergence\n(", "transient\n("))
    plt.close("all")
