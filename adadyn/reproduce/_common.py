"""Small helpers shared by the paper modules: figure saving and number formatting."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def figure(nrows: int = 1, ncols: int = 1, size=(6.0, 4.0), **kw):
    """A new matplotlib figure and axes (Agg canvas, no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, constrained_layout=True)
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def save(fig, out: Path, name: str, dpi: int = 110) -> Path:
    """Write ``fig`` to ``out/name`` and return the path."""
    path = Path(out) / name
    fig.savefig(path, dpi=dpi)
    return path


def g(x: float, digits: int = 4) -> str:
    """A number in ``%g`` style with ``digits`` significant digits."""
    return f"{x:.{digits}g}"


def steps_at(default: int, full_value: int, full: bool, scale: float, minimum: int = 10) -> int:
    """Steps (or sizes) for a run: the paper's ``full_value`` when ``full``, else
    ``default * scale`` (at least ``minimum``)."""
    return int(full_value) if full else max(int(minimum), int(round(default * scale)))


def score_fig8_regions(rep, pd, grid) -> tuple[float, float]:
    """Figure 8's three regions of an (a, b) phase diagram on the grid ``grid`` x ``grid``:
    b >= 10a should spike, a/3 <= b <= 3a oscillate, a >= 10b diverge (a row each in
    ``rep``, passing at a 60 % share); returns the median late log10 loss of the a ~ b and
    a >> b regions."""
    from adadyn.analysis.regimes import describe_label

    A, B = np.meshgrid(grid, grid, indexing="ij")
    ratio = B / A
    regions = (("spike", "b >= 10 a", ratio >= 10.0),
               ("oscillation", "a/3 <= b <= 3a", (ratio >= 1 / 3) & (ratio <= 3)),
               ("divergence", "a >= 10 b", ratio <= 0.1))
    for want, where, mask in regions:
        labs, cnt = np.unique(pd.regime[mask], return_counts=True)
        frac = float(np.mean(pd.regime[mask] == want))
        rep.values[f"frac_{want}"] = frac
        rep.add(f"region {where}: share labelled {want}", describe_label(want), f"{100 * frac:.0f} % ("
                + ", ".join(f"{lab} {c}" for lab, c in zip(labs, cnt)) + ")", frac >= 0.6)
    osc = float(np.median(pd.late_mean_log10_loss[regions[1][2]]))
    div = float(np.median(pd.late_mean_log10_loss[regions[2][2]]))
    return osc, div
