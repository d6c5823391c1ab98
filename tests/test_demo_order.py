"""``adadyn demo`` prints each section's header before the section runs (a section can take a minute)."""
import types

from adadyn import cli


def test_demo_prints_each_header_before_its_section_runs(tmp_path, capsys, monkeypatch):
    seen = {}

    def section(name):
        def demo(out):
            seen[name] = capsys.readouterr().out  # what the user saw while this section ran
            return f"{name} text"
        return types.SimpleNamespace(__name__=f"adadyn.commands.{name}", demo=demo)

    monkeypatch.setattr(cli, "_section_modules", lambda: [section("first"), section("second")])
    assert cli.main(["demo", "--out", str(tmp_path / "d")]) == 0
    rest = capsys.readouterr().out
    assert seen["first"].strip() == "== first =="
    assert seen["second"].splitlines()[:2] == ["first text", "(first: 0.0 s)"]
    assert seen["second"].strip().endswith("== second ==")
    assert rest.startswith("second text\n(second: 0.0 s)")
    summary = (tmp_path / "d" / "summary.txt").read_text()
    assert summary.startswith("== first (0.0 s) ==\nfirst text\n")
