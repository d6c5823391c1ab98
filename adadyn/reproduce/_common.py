"""Small helpers shared by the paper modules: figure saving and number formatting."""
from __future__ import annotations

from pathlib import Path


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
