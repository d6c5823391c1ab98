"""Every quantitative result of the four papers, reproducible by name.

``adadyn reproduce --list`` lists them; :func:`run` runs one and returns its
:class:`~adadyn.reproduce.registry.Reproduction` (the paper's numbers next to the
measured ones, figures, and a verdict with its criterion); :func:`run_all` runs
them all and writes a Markdown index page.
"""
from __future__ import annotations

from pathlib import Path

from adadyn.reproduce.registry import VERDICTS, Entry, Reproduction, Row, entries, get

__all__ = ["VERDICTS", "Entry", "Reproduction", "Row", "entries", "get", "run", "run_all", "write_index"]


def run(name: str, out_dir="reproductions", full: bool = False, scale: float = 1.0) -> Reproduction:
    """Run the reproduction ``name`` (see :func:`entries`), figures into ``out_dir``."""
    return get(name).run(out_dir, full=full, scale=scale)


def write_index(reps, out_dir) -> Path:
    """Write ``out_dir/index.md``: a summary table and every reproduction's section."""
    out = Path(out_dir)
    lines = ["# adadyn reproductions", "", "| name | paper | claim | verdict | time |", "|---|---|---|---|---|"]
    for r in reps:
        lines.append(f"| [`{r.name}`](#{r.name}) | {r.paper} | {r.claim} | {r.verdict} | {r.seconds:.1f} s |")
    lines.append("")
    for r in reps:
        lines += [f'<a id="{r.name}"></a>', "", r.markdown(relative_to=out.resolve()), ""]
    path = out / "index.md"
    path.write_text("\n".join(lines))
    return path


def run_all(out_dir="reproductions", full: bool = False, scale: float = 1.0, progress=None, names=None):
    """Run every available reproduction (or those in ``names``) into ``out_dir`` and write
    its index page ``out_dir/index.md``.

    Returns ``(reproductions, index_path)``. ``progress`` is called with each
    finished :class:`Reproduction`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reps = []
    for e in (entries() if names is None else [get(n) for n in names]):
        rep = e.run(out.resolve(), full=full, scale=scale)
        reps.append(rep)
        if progress is not None:
            progress(rep)
    return reps, write_index(reps, out)
