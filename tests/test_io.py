"""Results kept and reloaded (adadyn.persist), exported (pandas, xarray), shown (HTML),
sweeps in a memory budget, and the import graph of the modules touched."""
from __future__ import annotations

import ast
import dataclasses
import json
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import adadyn as ad
from adadyn import persist
from adadyn.analysis import hyperparameter_sweep, phase_diagram
from adadyn.analysis.hyper import _budget_history
from adadyn.sweep import Grid, OptimizerTask, run_sweep


# ------------------------------------------------------------------ helpers
def same(a, b, where="") -> None:
    """a and b hold the same bits (arrays: dtype, shape and bytes, so NaN payloads too)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, (where, a.dtype, b.dtype, a.shape, b.shape)
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (where, list(a), list(b))
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, ad.State):
        for f in ("x", "m", "v", "aux", "scalars", "k"):
            same(getattr(a, f), getattr(b, f), f"{where}.{f}")
    elif isinstance(a, Grid):
        assert a == b and a.dims == b.dims, where
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def same_fields(a, b, skip=()) -> None:
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        if f.name not in skip:
            same(getattr(a, f.name), getattr(b, f.name), f"{type(a).__name__}.{f.name}")


@pytest.fixture(scope="module")
def obj():
    return ad.objectives.random_quadratic(3, seed=2)


@pytest.fixture(scope="module")
def x0():
    return np.array([1.0, -0.5, 2.0])


# ------------------------------------------------------------------ Trajectory
def test_trajectory_round_trip_is_bit_for_bit_and_continues_bit_for_bit(tmp_path, obj, x0):
    # AMSGrad keeps a running max in aux and an InverseSqrt schedule reads k: both must
    # come back for the continuation to give the same bits.
    opt = ad.AMSGrad(3e-2, beta1=0.8, variant="reddi", schedule=ad.InverseSqrt())
    tr = ad.run(opt, obj, x0, 301, record_every=7)
    tr = dataclasses.replace(tr, extras={"sharpness": np.array([np.nan, -np.inf] + [1.5] * (len(tr) - 2)),
                                         "note": "hand-made"})
    path = tr.save(tmp_path / "run.npz")
    back = ad.load(path)
    same_fields(tr, back, skip=("objective",))
    assert back.opt == opt and back.objective.name == obj.name and back.objective.identity == obj.identity()
    assert np.isnan(back.sharpness[0]) and back.message == tr.message
    a = ad.run(opt, obj, steps=250, state=tr.final_state, record_every=5)
    b = ad.run(back.opt, obj, steps=250, state=back.final_state, record_every=5)
    same_fields(a, b, skip=("objective", "opt"))
    whole = ad.run(opt, obj, x0, 551, record_every=1)
    same(b.final_state.x, whole.final_state.x)


def test_the_file_is_a_plain_npz_with_a_versioned_header(tmp_path, obj, x0):
    tr = ad.run(ad.Adam(1e-2), obj, x0, 50)
    p = tr.save(tmp_path / "t.npz", extra={"note": np.arange(3)})
    with np.load(p, allow_pickle=False) as z:
        meta = json.loads(str(z[persist.META][()]))
        same(z["loss"], tr.loss)
        same(z["final_x"], tr.final_state.x)
        same(z["note"], np.arange(3))
    assert (meta["format"], meta["version"], meta["class"]) == ("adadyn-result", 1, "Trajectory")
    assert meta["opt"]["class"] == "Adam" and meta["status"] == "ok" and meta["stop_step"] == 50


def test_a_diverged_run_keeps_its_status_and_rows(tmp_path, x0):
    obj = ad.objectives.Objective.from_expr("x1**4 + x2**2 + x3**2")
    tr = ad.run(ad.GD(5.0), obj, x0, 40)
    assert tr.status == "diverged"
    back = ad.load(tr.save(tmp_path / "d.npz"), objective=obj)
    same_fields(tr, back)
    assert back.status == "diverged" and back.message == tr.message and back.objective is obj


def test_load_refuses_newer_damaged_and_foreign_files(tmp_path, obj, x0):
    tr = ad.run(ad.Adam(1e-2), obj, x0, 20)
    good = tr.save(tmp_path / "good.npz")
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    newer = tmp_path / "newer.npz"
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop(persist.META)[()]))
    meta["version"] = persist.VERSION + 1
    np.savez(newer, **{persist.META: np.array(json.dumps(meta))}, **arrays)
    with pytest.raises(persist.ResultFileError, match=r"newer.npz: written by a newer adadyn \(result format version 2"):
        ad.load(newer)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(persist.ResultFileError, match="cut.npz: damaged or not an adadyn result file"):
        ad.load(cut)
    flipped = tmp_path / "flipped.npz"
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("loss.npy")
    at = info.header_offset + 30 + len(info.filename) + info.compress_size - 3   # inside loss's data
    data[at] ^= 0x55
    flipped.write_bytes(bytes(data))
    with pytest.raises(persist.ResultFileError, match="flipped.npz: damaged or not an adadyn result file .*CRC"):
        ad.load(flipped)
    missing = tmp_path / "missing.npz"
    with zipfile.ZipFile(missing, "w") as zf:
        for n, data in members.items():
            if n != "loss.npy":
                zf.writestr(n, data)
    with pytest.raises(persist.ResultFileError, match="missing.npz: damaged Trajectory file, the array 'loss'"):
        ad.load(missing)
    plain = tmp_path / "plain.npz"
    np.savez(plain, loss=tr.loss)
    with pytest.raises(persist.ResultFileError, match="plain.npz: not an adadyn result file"):
        ad.load(plain)
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        ad.load(tmp_path / "nothere.npz")
    other = ad.objectives.random_quadratic(3, seed=3)
    with pytest.raises(persist.ObjectiveMismatch, match="objective: .*good.npz was saved with objective"):
        ad.load(good, objective=other)


def _rewrite(src, dst, edit):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop(persist.META)[()]))
    edit(meta)
    np.savez(dst, **{persist.META: np.array(json.dumps(meta))}, **arrays)
    return dst


def test_load_rebuilds_only_valid_adadyn_specs(tmp_path, obj, x0):
    good = ad.run(ad.Adam(1e-2), obj, x0, 20).save(tmp_path / "good.npz")
    foreign = _rewrite(good, tmp_path / "foreign.npz",
                       lambda m: m["opt"].update(module="adadyn.persist", **{"class": "SavedObjective"}))
    with pytest.raises(persist.ResultFileError, match="foreign.npz: adadyn.persist.SavedObjective is not an optimiser"):
        ad.load(foreign)
    outside = _rewrite(good, tmp_path / "outside.npz", lambda m: m["opt"].update(module="os"))
    with pytest.raises(persist.ResultFileError, match="outside.npz: spec class os.Adam is not an adadyn class"):
        ad.load(outside)
    bad = _rewrite(good, tmp_path / "bad.npz", lambda m: m["opt"]["fields"].update(eta=-1.0))
    with pytest.raises(persist.ResultFileError, match="bad.npz: damaged Trajectory file .*eta must be"):
        ad.load(bad)


def test_save_replaces_only_its_own_files_and_never_writes_through_a_link(tmp_path, obj, x0):
    tr = ad.run(ad.Adam(1e-2), obj, x0, 20)
    foreign = tmp_path / "notes.npz"
    foreign.write_text("mine")
    with pytest.raises(FileExistsError, match="not an adadyn result file"):
        tr.save(foreign)
    assert foreign.read_text() == "mine"
    target = tmp_path / "target.npz"
    tr.save(target)
    before = target.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        tr.save(link)
    tr2 = ad.run(ad.Adam(2e-2), obj, x0, 20)
    tr2.save(target)  # an adadyn result file is replaced
    assert ad.load(target).opt == ad.Adam(2e-2) and target.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "notes.npz", "target.npz"]
    with pytest.raises(TypeError, match="result must be a Trajectory"):
        persist.save({"loss": 1}, tmp_path / "x.npz")


def test_the_cli_trajectory_is_readable_by_load(tmp_path, capsys):
    from adadyn.cli import main

    assert main(["run", "--optimizer", "adam", "--eta", "1e-2", "--steps", "300", "--record-every", "10",
                 "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    obj = ad.objectives.random_quadratic(10, seed=0)
    ref = ad.run(ad.Adam(1e-2), obj, np.full(10, 0.1), 300, record_every=10)
    back = ad.load(tmp_path / "trajectory.npz", objective=obj)
    same_fields(ref, back, skip=("opt",))
    assert back.opt.eta == 1e-2 and back.opt.name == "Adam"
    with np.load(tmp_path / "trajectory.npz") as z:
        assert int(z["final_step"]) == 300 and float(z["final_loss"]) == ref.loss[-1]


# ------------------------------------------------------------------ FlowSolution
@pytest.mark.parametrize("flow", [ad.flows.AdamFlow(a=2.0, b=20.0), ad.flows.RMSpropFlow(a=3.0, eps=1e-6)])
def test_flow_solution_round_trip_and_what_a_loaded_one_can_do(tmp_path, obj, x0, flow):
    sol = ad.flows.solve(flow, obj, x0, 1.5)
    back = ad.load(sol.save(tmp_path / "f.npz"), objective=obj)
    same_fields(sol, back, skip=("sol",))
    assert back.flow == flow and back.objective is obj
    same(back.x_at(sol.t), sol.x)               # at the stored times: the stored rows, bit for bit
    same(back.x_at(sol.t[4]), sol.x[4])
    if sol.m is not None:
        same(back.m_at(sol.t), sol.m)            # raw m from the stored m_hat, as solve() computed it
    same(back.v_at(sol.t), sol.v)
    assert back.loss_at(sol.t[5]) == obj.value(sol.x[5])
    mid = 0.5 * (sol.t[2] + sol.t[3])
    np.testing.assert_allclose(sol.x_at(mid), back.x_at(sol.t[2]), rtol=0.5)  # the original is dense
    with pytest.raises(ValueError, match="not one of the .* stored times: a loaded FlowSolution has no dense output"):
        back.x_at(mid)


SPECS = [ad.GD(0.1, schedule=ad.CosineAnnealing(period=77, eta_min_ratio=0.125)), ad.SignGD(1e-3),
         ad.RMSprop(1e-3, alpha=0.9, eps=0.0, eps_inside=True), ad.Adam(1e-3, bias_correction=False),
         ad.AMSGrad(1e-3, variant="reddi"), ad.Adagrad(0.1, initial_accumulator_value=0.5),
         ad.Family(2e-3, h=0.3, r=0.6, p=0.2, q=0.7), ad.AdaFix(2e-3, L0=5.0), ad.Lion(1e-4, beta1=0.95),
         ad.Adam(1.0 / 3.0, schedule=ad.ExponentialDecay(rate=1.0 / 7.0)),
         ad.flows.AdamFlow(a=1.0 / 3.0, b=7.0, eps_inside=True), ad.flows.SignGDFlow(), ad.flows.GDFlow(),
         ad.flows.EpsSignFlow(eps=1e-3), ad.flows.RMSpropFlow(a=2.5)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: repr(s)[:40])
def test_every_spec_survives_its_json(spec):
    back = persist.spec_from_json(json.loads(json.dumps(persist.spec_to_json(spec))))
    assert type(back) is type(spec) and back == spec and repr(back) == repr(spec)


def test_signgd_flow_solution_keeps_its_events(tmp_path, obj, x0):
    sol = ad.flows.solve(ad.flows.SignGDFlow(), obj, x0, 5.0)
    back = ad.load(sol.save(tmp_path / "sg.npz"))
    same_fields(sol, back, skip=("sol", "objective"))
    assert back.stop_time == sol.stop_time and back.status == "converged"


# ------------------------------------------------------------------ sweeps
@pytest.fixture(scope="module")
def pd(obj, x0):
    return phase_diagram(obj, x0, [0.5, 5.0, 50.0], [1.0, 30.0], 1e-2, 400)


def test_phase_diagram_round_trip(tmp_path, pd):
    back = ad.load(pd.save(tmp_path / "pd.npz"))
    same_fields(pd, back, skip=("sweep", "opt"))
    assert back.opt == pd.opt
    same_fields(pd.sweep, back.sweep, skip=("sweep", "opt"))
    same_fields(pd.sweep.sweep, back.sweep.sweep)
    r0, r1 = pd.at(5.0, 30.0), back.at(5.0, 30.0)
    assert r0.label == r1.label and r0.spike_count == r1.spike_count


def test_hyper_sweep_and_sweep_result_round_trip_with_zipped_axes(tmp_path, obj, x0):
    hs = hyperparameter_sweep(ad.RMSprop(1e-2), obj, x0, 200, {"eta": [1e-2, 2e-2], "a": [1.0, 10.0]},
                              zip_axes=True, classify_kw={"window": 0.5})
    back = ad.load(hs.save(tmp_path / "hs.npz"))
    same_fields(hs, back, skip=("sweep", "opt"))
    assert back.opt == hs.opt and back.grid.dims == (("eta", "a"),)
    task = OptimizerTask(ad.Adam(1e-2), obj, x0, 100, record_every=10)
    res = run_sweep(task, Grid(b=[1.0, 10.0]) * Grid(eps=[1e-8, 1e-3, 0.1]))
    back = ad.load(res.save(tmp_path / "res.npz"))
    same_fields(res, back)
    same(back["loss"], res["loss"])


def test_to_xarray_matches_the_arrays(pd, obj, x0):
    pytest.importorskip("xarray")
    ds = pd.to_xarray()
    assert ds["regime"].dims == ("a", "b") and ds["loss"].dims == ("a", "b", "step")
    same(ds["a"].values, pd.a)
    same(ds["step"].values, pd.step)
    for name in ("regime", "regime_code", "spike_count", "late_mean_log10_loss", "level", "final_loss", "status"):
        same(ds[name].values, getattr(pd, name), name)
    same(ds["loss"].sel(a=50.0, b=1.0).values, pd.loss[2, 0])
    same(ds["grad_norm"].values, pd.grad_norm)
    same(ds["final_x"].isel(coordinate=1).values, pd.final_x[..., 1])
    assert ds.attrs["eta"] == 1e-2 and ds.attrs["steps"] == 400 and ds.attrs["optimizer"] == repr(pd.opt)
    hs = hyperparameter_sweep(ad.RMSprop(1e-2), obj, x0, 200, {"eta": [1e-2, 2e-2], "a": [1.0, 10.0]},
                              zip_axes=True)
    hx = hs.to_xarray()
    assert hx["regime"].dims == ("eta",) and hx["a"].dims == ("eta",)
    same(hx["a"].values, hs.axes["a"])
    same(hx["trend"].values, hs.trend)
    sx = hs.sweep.to_xarray()
    same(sx["late_min_loss"].values, hs.late_min_loss)
    assert sx["loss"].dims == ("eta", "loss_dim0")


def test_to_dataframe_matches_the_arrays(obj, x0):
    pytest.importorskip("pandas")
    tr = ad.run(ad.Adam(1e-2), obj, x0, 100, record_every=3)
    df = tr.to_dataframe()
    assert list(df.columns[:4]) == ["step", "time", "loss", "grad_norm"]
    for i in range(3):
        same(df[f"x_{i}"].to_numpy(), np.ascontiguousarray(tr.x[:, i]))
        same(df[f"v_{i}"].to_numpy(), np.ascontiguousarray(tr.v[:, i]))
    same(df["loss"].to_numpy(), tr.loss)
    same(df["step"].to_numpy(), tr.step)
    assert df.attrs["status"] == "ok" and df.attrs["optimizer"] == repr(tr.opt)
    lean = ad.run(ad.Adam(1e-2), obj, x0, 100, record_every=3, record_state=False).to_dataframe()
    assert list(lean.columns) == ["step", "time", "loss", "grad_norm"]


def test_missing_pandas_or_xarray_names_the_extra(monkeypatch, pd, obj, x0):
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r'pandas is needed .* pip install "adadyn\[export\]"'):
        ad.run(ad.Adam(1e-2), obj, x0, 5).to_dataframe()
    with pytest.raises(ImportError, match=r'xarray is needed .* pip install "adadyn\[export\]"'):
        pd.to_xarray()


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, tag

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> str:
    c = _Checker()
    c.feed(html)
    c.close()
    assert c.stack == [] and html.startswith("<table>")
    return " ".join(c.text)


def test_repr_html_is_valid_escaped_and_states_the_key_numbers(tmp_path, pd, x0):
    obj = ad.objectives.Objective.from_expr("x1**2 + x2**2 + x3**2", name="<script>&bowl")
    tr = ad.run(ad.Adam(1e-2), obj, x0, 120, record_every=10)
    h = tr._repr_html_()
    assert "<script>" not in h and "&lt;script&gt;&amp;bowl" in h
    text = _parse(h)
    assert "<script>&bowl" in text and f"{tr.loss[-1]:.6g}" in text and "120" in text and "13 (every 10" in text
    sol = ad.flows.solve(ad.flows.GDFlow(), obj, x0, 1.0)
    text = _parse(sol._repr_html_())
    assert f"{sol.loss[-1]:.6g}" in text and f"{len(sol.t)}" in text and "GDFlow" in text
    text = _parse(pd._repr_html_())
    counts = pd.counts()
    assert "3 x 2" in text and "0.01" in text and "401 of 401" in text
    for k, v in counts.items():
        if v:
            assert f"{k} {v}" in text
    assert _parse(pd.sweep._repr_html_()) and "Grid(a[3] x b[2])" in _parse(pd.sweep.sweep._repr_html_())


# ------------------------------------------------------------------ memory budget
def test_budget_arithmetic():
    # 65,536 points x 2,001 records of loss and |grad f|, d = 10: 2.1 GB in full
    assert _budget_history(None, 2**30, 65536, 2001, 10, True) == (2**30 - 65536 * 8 * 26) // (65536 * 16)
    assert _budget_history(None, 2**30, 65536, 2001, 10, True) == 1011
    # loss only: 65,536 x (208 + 8 x 2,001) = 1.063e9 bytes fits in 2**30 = 1.074e9; 4,001 records do not
    assert _budget_history(None, 2**30, 65536, 2001, 10, False) is None
    assert _budget_history(None, 2**30, 65536, 4001, 10, False) == 2022
    assert _budget_history(None, 2**30, 64, 2001, 10, True) is None        # fits: keep all
    assert _budget_history(None, None, 65536, 2001, 10, True) is None      # no budget
    assert _budget_history(50, 10, 65536, 2001, 10, True) == 50            # explicit history wins
    assert _budget_history(None, 1, 4, 100, 2, True) == 2                  # at least first and last
    with pytest.raises(ValueError, match="memory_budget must be"):
        _budget_history(None, -5, 4, 100, 2, True)


def test_a_tiny_budget_thins_the_histories_and_changes_no_label(obj, x0, pd):
    n_full = pd.loss.shape[-1]
    fixed = 8 * (obj.dim + 16)
    budget = 6 * (fixed + 2 * 8 * 40)   # 6 points: room for 40 records of loss and |grad f|
    thin = phase_diagram(obj, x0, pd.a, pd.b, 1e-2, 400, memory_budget=budget)
    assert thin.loss.shape == (3, 2, 40) and n_full == 401
    assert thin.loss.nbytes + thin.grad_norm.nbytes + 6 * fixed <= budget
    for name in ("regime", "regime_code", "spike_count", "osc_amplitude", "level", "trend",
                 "late_mean_log10_loss", "late_std_log10_loss", "final_loss", "final_x", "status"):
        same(getattr(thin, name), getattr(pd, name), name)
    kept = np.searchsorted(pd.step, thin.step)
    same(thin.step, pd.step[kept])
    same(thin.loss, np.ascontiguousarray(pd.loss[..., kept]))
    assert thin.step[0] == 0 and thin.step[-1] == 400 and not thin.sweep.full_history
    with pytest.raises(ValueError, match="thinned"):
        thin.regimes
    full = phase_diagram(obj, x0, pd.a, pd.b, 1e-2, 400, memory_budget=None)
    same(full.loss, pd.loss)


# ------------------------------------------------------------------ import graph
def _import_graph():
    root = Path(ad.__file__).parent
    mods = {}
    for f in root.rglob("*.py"):
        parts = list(f.relative_to(root.parent).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph = {}
    for name, f in mods.items():
        out = set()
        for node in ast.walk(ast.parse(f.read_text())):  # module- and function-level imports
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    out.add(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module)
        graph[name] = {m for m in out if m in mods}
    return graph


def _reaches(graph, a, b) -> bool:
    seen, todo = {a}, [a]
    while todo:
        for m in graph[todo.pop()]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return b in seen


@pytest.mark.parametrize("low, high", [("adadyn.analysis.hyper", "adadyn.analysis.phase"),
                                       ("adadyn.discrete.specs", "adadyn.validation"),
                                       ("adadyn.persist", "adadyn.discrete.trajectory"),
                                       ("adadyn.persist", "adadyn.analysis.phase")])
def test_no_import_cycle(low, high):
    g = _import_graph()
    assert _reaches(g, high, low), f"{high} should use {low}"
    assert not _reaches(g, low, high), f"{low} imports {high} (directly or through others): an import cycle"
