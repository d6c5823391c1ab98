"""``adadyn reproduce all``'s HTML report (adadyn.reproduce.report), rendered in a real
headless Chromium: every image loads and the verdict table says what the results say.

The results are a tiny fake set (three Reproduction objects with small PNG figures), not a
real ``reproduce all``.
"""
import html
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from adadyn.reproduce.registry import Reproduction
from adadyn.reproduce.report import render_html, write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _png(path, k):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5))
    ax = fig.subplots()
    ax.plot(np.arange(5), np.arange(5) ** k)
    fig.savefig(path, dpi=40)
    return path


def fake_results(out):
    """Three results, one per verdict, with figures (one in a subdirectory) and awkward text."""
    (out / "sub").mkdir(parents=True, exist_ok=True)
    reps = []
    for i, (name, oks) in enumerate((("fake-a", [True, True]), ("fake-b", [True, False]), ("fake-c", [False]))):
        r = Reproduction(name, "Paper & Co 2020", f"claim <{i}> with \"quotes\"")
        for j, ok in enumerate(oks):
            r.add(f"row {j}", "paper says", f"measured {j}", ok, note="n < 1")
        r.add("context", "-", "3")
        r.values["data"] = ["2-class digits", "Fashion-MNIST (/usr/share/datasets/fashion-mnist)", None][i]
        r.notes.append(f"note {i}: a < b")
        r.figures.append(_png(out / ("sub" if i == 1 else ".") / f"{name}.png", i + 1))
        r.decide(f"rule {i}: all rows yes")
        r.seconds, r.scale = 1.5 + i, 1.0
        reps.append(r)
    return reps


def test_page_escapes_text_and_links_figures_relative(tmp_path):
    reps = fake_results(tmp_path)
    page = render_html(reps, tmp_path)
    assert "<{0}>" not in page and html.escape('claim <0> with "quotes"') in page
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert srcs == ["fake-a.png", "sub/fake-b.png", "fake-c.png"]
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    verdicts = re.findall(r'<td class="verdict [^"]+">([^<]+)</td>', page)
    assert verdicts == ["reproduces", "partly", "does not reproduce"] == [r.verdict for r in reps]
    for r in reps:
        assert html.escape(r.criterion) in page
    assert "Fashion-MNIST (/usr/share/datasets/fashion-mnist)" in page and "2.5 s" in page
    path = write_html(reps, tmp_path)
    assert path == tmp_path / "index.html" and path.read_text(encoding="utf-8") == page


_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (im) { return !(im.complete && im.naturalWidth > 0); });
  var rows = Array.prototype.slice.call(document.querySelectorAll("#verdicts tbody tr"));
  var got = rows.map(function (tr) { return tr.dataset.name + "=" + tr.querySelector("td.verdict").textContent; });
  var out = document.createElement("pre");
  out.id = "result";
  out.textContent = "images " + imgs.length + " broken " + bad.length + " rows " + got.join(";");
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (Debian package `chromium`) on PATH")
def test_page_renders_in_headless_chromium_with_every_image_loaded(tmp_path):
    reps = fake_results(tmp_path / "out")
    page = write_html(reps, tmp_path / "out").read_text(encoding="utf-8")
    # the check script goes into a copy next to the page (the page itself carries no script)
    check = tmp_path / "out" / "check.html"
    check.write_text(page.replace("</body>", _CHECK + "\n</body>"), encoding="utf-8")
    (tmp_path / "out" / "broken.html").write_text(
        page.replace("fake-c.png", "missing.png").replace("</body>", _CHECK + "\n</body>"), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             "--disable-sync", "--disable-component-update", "--virtual-time-budget=5000"]

    def render(name):
        prof = tmp_path / f"profile-{name}"
        res = subprocess.run([CHROMIUM, *flags, f"--user-data-dir={prof}", "--dump-dom",
                              (tmp_path / "out" / name).as_uri()], capture_output=True, text=True,
                             env={**os.environ, "HOME": str(tmp_path)})
        m = re.search(r'<pre id="result">([^<]*)</pre>', res.stdout)
        assert m, f"no result in Chromium's DOM (rc {res.returncode}): {res.stderr[-500:]}"
        return html.unescape(m.group(1))

    want = ";".join(f"{r.name}={r.verdict}" for r in reps)
    assert render("check.html") == f"images 3 broken 0 rows {want}"
    # the check can fail: a page whose image is missing reports it broken
    assert render("broken.html") == f"images 3 broken 1 rows {want}"


def test_reproduce_all_prints_each_header_before_running_and_writes_index_html(tmp_path, monkeypatch, capsys):
    import adadyn.reproduce as R
    from adadyn.commands.reproduce import main
    from adadyn.reproduce.registry import Entry

    def make(name, ok):
        def fn(out, full, scale):
            print(f"RUNNING {name}")
            r = Reproduction(name, "P", f"claim {name}")
            r.add("q", "p", "m", ok)
            r.figures.append(_png(out / f"{name}.png", 1))
            r.decide("rule")
            return r
        return Entry(name, "P", f"claim {name}", 7.0, fn)

    monkeypatch.setattr(R, "entries", lambda: [make("fake-x", True), make("fake-y", False)])
    assert main(["all", "--out", str(tmp_path / "o")]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = {key: next(i for i, s in enumerate(lines) if s.startswith(key))
          for key in ("== fake-x", "RUNNING fake-x", "fake-x: P", "== fake-y", "RUNNING fake-y", "fake-y: P", "wrote")}
    assert list(at.values()) == sorted(at.values())
    assert "~7 s measured at load 4-6 on 2 cores" in lines[at["== fake-x"]]
    page = (tmp_path / "o" / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<td class="verdict [^"]+">([^<]+)</td>', page) == ["reproduces", "does not reproduce"]
    assert (tmp_path / "o" / "index.md").exists()


def test_single_entry_prints_its_header_first(tmp_path, capsys):
    from adadyn.commands.reproduce import main

    assert main(["mwe-eq11", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("== mwe-eq11: ") and "measured at load 4-6 on 2 cores" in out[0]
    assert out[1].startswith("mwe-eq11: ")
