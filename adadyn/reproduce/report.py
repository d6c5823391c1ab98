"""The HTML report of ``adadyn reproduce all``: ``DIR/index.html``.

One self-contained page (inline style, no script, no external resource, so it reads
offline from the directory it sits in): a verdict table (name, paper, claim,
verdict, scale, wall time), then one section per reproduction with its criterion,
its rows (the paper's number next to the measured one), its notes (the data used,
the settings that differ from the paper) and its figures, linked relative to the
page. :func:`render_html` builds the text, :func:`write_html` writes the one file.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

__all__ = ["render_html", "write_html", "data_used"]

_STYLE = """
body { font-family: sans-serif; max-width: 76rem; margin: 1rem auto; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem 0; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.reproduces { background: #d8f0d8; } td.partly { background: #f6ecc8; }
td.does-not-reproduce { background: #f4d4d4; }
td.no { color: #a00; font-weight: bold; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.3rem 0; }
section { border-top: 2px solid #ccc; margin-top: 1.5rem; }
.criterion { background: #f4f4f4; padding: 0.4rem; }
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _cls(verdict: str) -> str:
    return verdict.replace(" ", "-")


def data_used(rep) -> str:
    """The data a reproduction read, as recorded in ``rep.values['data']`` (``'-'`` when
    the entry records none: an objective defined by formula)."""
    d = rep.values.get("data") if isinstance(rep.values, dict) else None
    return "-" if d is None else str(d)


def _rel(path, out: Path) -> str:
    """``path`` relative to the page's directory ``out`` (POSIX separators)."""
    p = Path(path)
    if not p.is_absolute():
        p = out / p
    return Path(os.path.relpath(p.resolve(), out.resolve())).as_posix()


def _summary(reps) -> list[str]:
    lines = ['<table id="verdicts">', "<thead><tr><th>name</th><th>paper</th><th>claim</th><th>verdict</th>"
             "<th>data</th><th>scale</th><th>wall time</th></tr></thead>", "<tbody>"]
    for r in reps:
        scale = f"{r.scale:g}" + (", full" if r.full else "")
        lines.append(f'<tr data-name="{_e(r.name)}"><td><a href="#{_e(r.name)}">{_e(r.name)}</a></td>'
                     f"<td>{_e(r.paper)}</td><td>{_e(r.claim)}</td>"
                     f'<td class="verdict {_cls(r.verdict)}">{_e(r.verdict)}</td><td>{_e(data_used(r))}</td>'
                     f"<td>{_e(scale)}</td><td>{r.seconds:.1f} s</td></tr>")
    lines += ["</tbody>", "</table>"]
    return lines


def _section(r, out: Path) -> list[str]:
    lines = [f'<section id="{_e(r.name)}">', f"<h2>{_e(r.name)}: {_e(r.paper)}, {_e(r.claim)}</h2>",
             f'<p><b>Verdict: <span class="verdict">{_e(r.verdict)}</span>.</b></p>',
             f'<p class="criterion">Criterion: {_e(r.criterion)}</p>',
             "<table><thead><tr><th>quantity</th><th>paper</th><th>measured</th><th>agrees</th></tr></thead><tbody>"]
    for row in r.rows:
        mark, cls = ("", "") if row.ok is None else (("yes", "") if row.ok else ("no", ' class="no"'))
        note = f" ({_e(row.note)})" if row.note else ""
        lines.append(f"<tr><td>{_e(row.quantity)}</td><td>{_e(row.paper)}</td><td>{_e(row.measured)}{note}</td>"
                     f"<td{cls}>{mark}</td></tr>")
    lines.append("</tbody></table>")
    if r.notes:
        lines += ["<ul>"] + [f"<li>{_e(n)}</li>" for n in r.notes] + ["</ul>"]
    for p in r.figures:
        rel = _rel(p, out)
        lines.append(f'<p><img src="{_e(rel)}" alt="{_e(Path(p).stem)}"></p>')
    scale = f"scale {r.scale:g}" + (", the paper's sizes (--full)" if r.full else "")
    lines += [f"<p><i>{r.seconds:.1f} s wall time, {_e(scale)}; data: {_e(data_used(r))}.</i></p>", "</section>"]
    return lines


def render_html(reps, out_dir) -> str:
    """The page for the reproductions ``reps`` whose figures live under ``out_dir``."""
    out = Path(out_dir)
    counts = {v: sum(r.verdict == v for r in reps) for v in ("reproduces", "partly", "does not reproduce")}
    total = sum(r.seconds for r in reps)
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             "<title>adadyn reproductions</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
             "<h1>adadyn reproductions</h1>",
             f"<p>{len(reps)} reproductions: " + ", ".join(f"{n} {_e(v)}" for v, n in counts.items())
             + f"; {total:.0f} s wall time in all. Each verdict is computed from the rows marked yes/no by the "
               "criterion stated in its section: all yes, reproduces; some, partly; none, does not reproduce.</p>"]
    lines += _summary(reps)
    for r in reps:
        lines += _section(r, out)
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)


def write_html(reps, out_dir) -> Path:
    """Write ``out_dir/index.html`` (one file) for ``reps`` and return its path."""
    out = Path(out_dir)
    path = out / "index.html"
    path.write_text(render_html(reps, out), encoding="utf-8")
    return path
