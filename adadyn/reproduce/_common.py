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


#: where Debian's ``dataset-fashion-mnist`` package puts the four IDX files
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist_or_none(nn, data=None, **kw):
    """Fashion-MNIST through ``nn.fashion_mnist`` (keywords ``kw``: classes, per_class, ...)
    from ``data`` when given, else from wherever ``nn.fashion_mnist()`` finds it without a
    path, else from :data:`FASHION_SYSTEM_DIR`; ``(problem, where)`` with the directory read
    (text), or ``None`` when no copy is found (then the caller uses its bundled fallback and
    says so). A directory that holds malformed files raises
    :class:`adadyn.nn.datasets.DatasetError`."""
    if data is not None:
        return nn.fashion_mnist(data, **kw), str(data)
    try:
        prob = nn.fashion_mnist(**kw)   # auto-discovery, when the data module offers it
    except (TypeError, nn.datasets.DatasetError, OSError):
        prob = None
    if prob is not None:
        return prob, "found by nn.fashion_mnist()"
    if (FASHION_SYSTEM_DIR / "train-images-idx3-ubyte.gz").is_file() or \
            (FASHION_SYSTEM_DIR / "train-images-idx3-ubyte").is_file():
        return nn.fashion_mnist(FASHION_SYSTEM_DIR, **kw), str(FASHION_SYSTEM_DIR)
    return None


def rises(loss, decades: float = 2.0, start: float = 0.1) -> int:
    """How many times the loss climbs to ``decades`` or more above its running minimum after
    the first ``start`` fraction of the record: upward crossings of
    log10(L_k / min_{j <= k} L_j) >= ``decades`` for k >= ``start`` * len (a loss that blows
    up once counts 1; a spike train counts each spike)."""
    L = np.asarray(loss, dtype=float)
    L = L[np.isfinite(L)]
    if L.size < 2:
        return 0
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.log10(L / np.minimum.accumulate(L)) >= decades
    k0 = max(1, int(L.size * start))
    return int(np.count_nonzero(up[k0:] & ~up[k0 - 1:-1]))
