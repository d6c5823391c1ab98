"""Every quantitative result of the four papers, reproducible by name.

``adadyn reproduce --list`` lists them; :func:`run` runs one and returns its
:class:`~adadyn.reproduce.registry.Reproduction` (the paper's numbers next to the
measured ones, figures, and a verdict with its criterion); :func:`run_all` runs
them all and writes a Markdown index page.
"""
from __future__ import annotations

from pathlib import Path

from adadyn.reproduce.registry import VERDICTS, Entry, Reproduction, Row, entries, get

__all__ = ["VERDICTS", "Entry", "Reproduction", "Row", "entries", "get", "run", "run_all", "render_index", "write_index",
           "example_main"]


def run(name: str, out_dir="reproductions", full: bool = False, scale: float = 1.0, data=None) -> Reproduction:
    """Run the reproduction ``name`` (see :func:`entries`), figures into ``out_dir``;
    ``data``: a directory of local datasets (see :meth:`Entry.run`)."""
    return get(name).run(out_dir, full=full, scale=scale, data=data)


def render_index(reps, out_dir) -> str:
    """The text of ``out_dir/index.md``: a summary table and every reproduction's section
    (figure links relative to ``out_dir``)."""
    out = Path(out_dir)
    lines = ["# adadyn reproductions", "", "| name | paper | claim | verdict | time |", "|---|---|---|---|---|"]
    for r in reps:
        lines.append(f"| [`{r.name}`](#{r.name}) | {r.paper} | {r.claim} | {r.verdict} | {r.seconds:.1f} s |")
    lines.append("")
    for r in reps:
        lines += [f'<a id="{r.name}"></a>', "", r.markdown(relative_to=out.resolve()), ""]
    return "\n".join(lines)


def write_index(reps, out_dir) -> Path:
    """Write ``out_dir/index.md`` (:func:`render_index`) and ``out_dir/index.html``
    (:func:`adadyn.reproduce.report.render_html`); returns the path of ``index.md``."""
    from adadyn._safe_io import OutputDir
    from adadyn.reproduce.report import render_html

    out = OutputDir(out_dir, option="out_dir", shared=True)  # the entries' figures are already there
    path = out.write_text("index.md", render_index(reps, out.path))
    out.write_text("index.html", render_html(reps, out.path))
    return path


def run_all(out_dir="reproductions", full: bool = False, scale: float = 1.0, progress=None, names=None,
            data=None):
    """Run every available reproduction (or those in ``names``) into ``out_dir`` and write
    its index page ``out_dir/index.md``.

    Returns ``(reproductions, index_path)``. ``progress`` is called with each
    finished :class:`Reproduction`; ``data`` (a directory of local datasets) goes to
    the entries that read one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    reps = []
    for e in (entries() if names is None else [get(n) for n in names]):
        rep = e.run(out.resolve(), full=full, scale=scale, data=data)
        reps.append(rep)
        if progress is not None:
            progress(rep)
    return reps, write_index(reps, out)


def example_main(names, description: str, argv=None) -> None:
    """The command line of the scripts in ``examples/``: run the reproductions ``names``
    with ``--out DIR``, ``--full`` and ``--scale S`` and print each one's report."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default="examples_out", help="directory for the figures")
    p.add_argument("--full", action="store_true", help="the paper's sizes")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the default sizes")
    args = p.parse_args(argv)
    for name in names:
        print(run(name, args.out, full=args.full, scale=args.scale).text())
