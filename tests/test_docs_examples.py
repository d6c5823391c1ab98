"""Every example in README.md and docs/*.md runs as written.

Picked up from every Markdown file of the README and ``docs/`` (new pages included):

* each fenced ``python`` block is executed, in a fresh namespace, in a temporary working
  directory (blocks that use ``adadyn.nn`` or torch are skipped, with the reason, when
  torch is not installed, and carry the ``torch`` mark that CI's torch pass selects);
* each ``adadyn ...`` command in a fenced shell block (``bash``, ``sh``, ``shell``,
  ``console`` or an untyped fence whose lines are commands; the ``adadyn`` parts of a line
  joined by ``&&`` or ``;``) runs through :func:`adadyn.cli.main` there and must exit 0;
* each inline ``adadyn COMMAND ...`` in the prose: a complete command (options or
  arguments, no placeholders such as ``NAME``, ``DIR``, ``[--full]``) runs as above; a
  mention of a command alone, or a synopsis with placeholders, must name a command that
  exists (``adadyn COMMAND --help`` exits 0); ``adadyn reproduce NAME`` must name an entry
  of ``adadyn reproduce --list`` (each reproduction runs in tests/test_reproduce*.py, minutes
  in all, beyond this file's budget). Inline text whose first word is not a command
  followed by a space (``adadyn nn-train: error: ...``, ``adadyn nn-train/nn-phase``) is prose.

A block or inline command preceded by ``<!-- no-run: REASON -->`` (a reason is required) is
not run; use it sparingly, for text that is not meant to run as written (a synopsis).
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELLS = ("bash", "sh", "shell", "console")
FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NO_RUN = re.compile(r"<!--\s*no-run:\s*(.*?)\s*-->\s*$", re.S)
INLINE = re.compile(r"(?<!`)`(adadyn [^`]+)`")
PLACEHOLDER = re.compile(r"\[|\]|<|>|\.\.\.|\||^[A-Z][A-Z_]*$")


def _no_run(before: str, where: str):
    """The reason of a ``<!-- no-run: REASON -->`` right before an example (None without one)."""
    m = NO_RUN.search(before[-400:])
    if m is None:
        return None
    assert m.group(1), f"{where}: <!-- no-run: --> needs a reason"
    return m.group(1)


def _commands(line: str) -> list:
    """The ``adadyn`` commands of a shell line (``a && adadyn x; adadyn y`` -> two)."""
    line = line.split(" #", 1)[0].strip()
    if line.startswith("$ "):
        line = line[2:]
    return [p.strip() for p in re.split(r"&&|;|\|\|", line) if p.strip().startswith("adadyn ")]


def _examples():
    out = []
    for page in PAGES:
        text = page.read_text()
        rel = page.relative_to(ROOT).as_posix()
        fenced = []
        for m in FENCE.finditer(text):
            fenced.append(m.span())
            line = text.count("\n", 0, m.start()) + 1
            where = f"{rel}:{line}"
            lang, body = m.group(1).lower(), m.group(2)
            skip = _no_run(text[:m.start()], where)
            if lang == "python":
                out.append(("python", where, body, skip))
            elif lang in SHELLS or (lang == "" and body.strip().startswith("adadyn ")):
                for k, ln in enumerate(body.splitlines()):
                    for cmd in _commands(ln):
                        out.append(("command", f"{rel}:{line + 1 + k}", cmd, skip))
        for m in INLINE.finditer(text):
            if any(a <= m.start() < b for a, b in fenced):
                continue
            where = f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
            out.append(("inline", where, " ".join(m.group(1).split()), _no_run(text[:m.start()], where)))
    return out


def _needs_torch(code: str) -> bool:
    return bool(re.search(r"\bimport torch\b|from adadyn import nn\b|adadyn\.nn\b|\bad\.nn\b|\bnn\.", code))


def _subcommands() -> set:
    from adadyn.cli import build_parser

    p = build_parser()
    sub = next(a for a in p._actions if a.__class__.__name__ == "_SubParsersAction")
    return set(sub.choices)


def _command_needs_torch(text: str) -> bool:
    """``adadyn nn-*``, and ``adadyn reproduce NAME`` of an entry that requires torch (the
    registry knows every entry; ``--list`` shows only those whose requirements are installed)."""
    if re.match(r"adadyn nn-", text):
        return True
    m = re.match(r"adadyn reproduce ([\w-]+)", text)
    if m is None:
        return False
    from adadyn.reproduce import registry

    entry = {e.name: e for e in registry.entries(include_unavailable=True)}.get(m.group(1))
    return entry is not None and "torch" in entry.requires


def _params():
    params = []
    for kind, where, text, skip in _examples():
        marks = [pytest.mark.slow]
        torch_needed = _needs_torch(text) if kind == "python" else _command_needs_torch(text)
        if torch_needed:
            marks.append(pytest.mark.torch)
        params.append(pytest.param(kind, text, skip, torch_needed, id=f"{where} {text.splitlines()[0][:60]}",
                                   marks=marks))
    return params


_LIST = []


def _reproductions(capsys) -> set:
    """The names ``adadyn reproduce --list`` prints (first word of each line), read once."""
    if not _LIST:
        _LIST.append({ln.split()[0] for ln in _cli(["reproduce", "--list"], capsys).splitlines() if ln.strip()})
    return _LIST[0]


def _cli(argv, capsys) -> str:
    from adadyn.cli import main

    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, f"exit code {code}: {out.err.strip()[-500:]}"
    return out.out


def _run_python(code: str, where: str) -> None:
    import sys

    import matplotlib.pyplot as plt

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    state = dict(sys.modules["adadyn.nn.threads"]._torch_state) if "adadyn.nn.threads" in sys.modules else None
    try:
        exec(compile(code, where, "exec"), {"__name__": "__docs_example__"})  # the project's own docs
    finally:
        plt.close("all")
        if threads is not None:  # an example's nn.set_num_threads stays in the example
            torch.set_num_threads(threads)
        if state is not None:
            sys.modules["adadyn.nn.threads"]._torch_state.update(state)


@pytest.mark.parametrize("kind, text, skip, torch_needed", _params())
def test_example_runs_as_written(kind, text, skip, torch_needed, tmp_path, monkeypatch, capsys):
    if skip:
        pytest.skip(f"marked no-run: {skip}")
    if torch_needed:
        pytest.importorskip("torch", reason="the example needs torch (pip install \"adadyn[torch]\")")
    monkeypatch.chdir(tmp_path)
    if kind == "python":
        _run_python(text, "example")
        return
    argv = shlex.split(text)[1:]
    assert argv, f"a bare 'adadyn' is not an example: {text!r}"
    first = next((a for a in argv if not a.startswith("-")), "")
    if kind == "inline" and (first.endswith(":") or "/" in first):
        return  # prose about the command (an error message, a pair of commands), not a command
    synopsis = any(PLACEHOLDER.search(a) for a in argv)
    if first and not PLACEHOLDER.search(first):
        assert first in _subcommands(), f"{text!r}: {first!r} is not an adadyn command"
    if kind == "inline" and (argv == [first] or synopsis):
        _cli([first, "--help"] if first in _subcommands() else ["--help"], capsys)
        return
    assert not synopsis, f"{text!r} has placeholders: write a runnable command or mark it no-run"
    if kind == "inline" and first == "reproduce" and not argv[1].startswith("-"):
        assert argv[1] in _reproductions(capsys), f"{text!r}: no reproduction named {argv[1]!r}"
        return
    _cli(argv, capsys)


def test_the_extraction_finds_the_examples_it_must():
    """Guards the extractor: the README's blocks and commands are all found, and a no-run
    marker needs a reason."""
    found = [(k, w, t) for k, w, t, _ in _examples()]
    readme = [f for f in found if f[1].startswith("README.md")]
    assert sum(k == "python" for k, _, _ in readme) >= 2
    assert any(k == "command" and t.startswith("adadyn demo") for k, _, t in readme)
    assert not any(t.startswith("pip") or t.startswith("python") for k, _, t in found if k == "command")
    assert any(k == "inline" and t.startswith("adadyn run --optimizer") for k, _, t in readme)
    assert _commands("python -m venv .venv && pip install . && adadyn demo --out d  # note") == \
        ["adadyn demo --out d"]
    assert _no_run("text\n<!-- no-run: a synopsis -->\n", "x") == "a synopsis"
    with pytest.raises(AssertionError, match="reason"):
        _no_run("<!-- no-run: -->\n", "x")
    assert PLACEHOLDER.search("DIR") and PLACEHOLDER.search("[--full]") and not PLACEHOLDER.search("mwe-fig3")
