"""Results handed to pandas and xarray, and shown in notebooks (``docs/results.md``).

pandas and xarray are optional (the ``export`` extra: ``pip install "adadyn[export]"``)
and imported only when :meth:`~adadyn.Trajectory.to_dataframe` or a ``to_xarray``
method is called. ``_repr_html_`` gives notebooks a small table of a result's key
facts.
"""
from __future__ import annotations

import html
import json

import numpy as np

__all__ = ["trajectory_dataframe", "sweep_dataset", "hyper_dataset", "phase_dataset", "html_table"]


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is needed for this export; install the optional extra with "
                          f'pip install "adadyn[export]" (or pip install {module})') from None


# ---------------------------------------------------------------- pandas
def trajectory_dataframe(tr):
    """One row per record: ``step``, ``time``, ``loss``, ``grad_norm``, every extra
    series (``x_norm``, ``test_error``, ...), and ``x_0 .. x_{d-1}``, ``m_*``, ``v_*``
    when the state was recorded at every record. ``df.attrs`` holds the optimiser,
    the objective's name and the status."""
    pd = _require("pandas")
    n = len(tr)
    cols = {"step": tr.step, "time": tr.time, "loss": tr.loss, "grad_norm": tr.grad_norm}
    for k, v in tr.extras.items():
        if isinstance(v, np.ndarray) and v.ndim == 1 and v.shape[0] == n and k not in cols:
            cols[k] = v
    for name in ("x", "m", "v"):
        arr = getattr(tr, name)
        if arr is not None and arr.ndim == 2 and arr.shape[0] == n:
            for i in range(arr.shape[1]):
                cols[f"{name}_{i}"] = arr[:, i]
    df = pd.DataFrame(cols)
    df.attrs.update(optimizer=repr(tr.opt), objective=str(getattr(tr.objective, "name", tr.objective)),
                    status=tr.status.value, stop_step=int(tr.stop_step), record_every=int(tr.record_every))
    return df


# ---------------------------------------------------------------- xarray
def _grid_dims(grid):
    """Dimension names (the first axis of each dimension) and the coordinates of every axis."""
    dims = tuple(names[0] for names in grid.dims)
    coords = {}
    for dim, names in zip(dims, grid.dims):
        for n in names:
            coords[n] = (dim, np.asarray(grid.axes[n]))
    return dims, coords


def sweep_dataset(res):
    """A :class:`~adadyn.sweep.SweepResult` as an ``xarray.Dataset``: one dimension per
    grid dimension, named after its axis (a zipped group after its first axis, the
    others as coordinates along it); every kept output and ``status`` as variables,
    trailing dimensions named ``<output>_dim<k>``."""
    xr = _require("xarray")
    dims, coords = _grid_dims(res.grid)
    data = {"status": (dims, np.asarray(res.status))}
    for k, v in res.data.items():
        data[k] = (dims + tuple(f"{k}_dim{i}" for i in range(v.ndim - len(dims))), v)
    return xr.Dataset(data, coords=coords, attrs={"message": res.message, "success": int(res.success)})


_HYPER_VARS = ("status", "regime", "regime_code", "final_loss", "steps_done", "late_mean_log10_loss",
               "late_std_log10_loss", "late_min_loss", "late_max_loss", "spike_count", "osc_amplitude",
               "level", "trend")


def _labelled(xr, dims, coords, res, names, attrs):
    data = {n: (dims, np.asarray(getattr(res, n))) for n in names}
    data["final_x"] = (dims + ("coordinate",), res.final_x)
    data["loss"] = (dims + ("step",), res.loss)
    if res.grad_norm is not None:
        data["grad_norm"] = (dims + ("step",), res.grad_norm)
    coords = dict(coords, step=("step", res.step), coordinate=("coordinate", np.arange(res.final_x.shape[-1])))
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _attrs(res) -> dict:
    return {"optimizer": repr(res.opt), "objective": str(res.objective), "steps": int(res.steps),
            "record_every": int(res.record_every), "window": int(res.window)}


def hyper_dataset(hs):
    """A :class:`~adadyn.analysis.HyperSweep` as an ``xarray.Dataset``: dimensions named
    after the grid's axes (as :func:`sweep_dataset`), plus ``step`` (the kept records of
    ``loss`` and ``grad_norm``) and ``coordinate`` (of ``final_x``); the labels, features
    and statistics as variables; the settings as attributes."""
    xr = _require("xarray")
    dims, coords = _grid_dims(hs.grid)
    attrs = dict(_attrs(hs), f_star=float(hs.f_star), classify_kw=json.dumps(hs.classify_kw, default=repr),
                 full_history=int(hs.full_history))
    if "eta" not in hs.grid.names:
        attrs["eta"] = float(hs.opt.eta)
    return _labelled(xr, dims, coords, hs, _HYPER_VARS, attrs)


def phase_dataset(pd):
    """A :class:`~adadyn.analysis.PhaseDiagram` as an ``xarray.Dataset`` with dimensions
    ``a`` and ``b`` (and ``step``, ``coordinate``); the labels, features and late-window
    statistics as variables; eta, steps and the optimiser as attributes."""
    xr = _require("xarray")
    names = ("status", "regime", "regime_code", "final_loss", "late_mean_log10_loss", "late_std_log10_loss",
             "spike_count", "osc_amplitude", "level", "trend")
    attrs = dict(_attrs(pd), eta=float(pd.eta))
    return _labelled(xr, ("a", "b"), {"a": ("a", pd.a), "b": ("b", pd.b)}, pd, names, attrs)


# ---------------------------------------------------------------- notebooks
def html_table(title: str, rows) -> str:
    """A small two-column HTML table; every text is escaped."""
    body = "".join(f"<tr><th style=\"text-align:left\">{html.escape(str(k))}</th>"
                   f"<td style=\"text-align:left\">{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table><caption style=\"text-align:left\"><b>{html.escape(title)}</b></caption>{body}</table>"


def _num(x) -> str:
    return f"{x:.6g}" if np.isfinite(x) else str(x)


def trajectory_html(tr) -> str:
    last = _num(float(tr.loss[-1])) if len(tr) else "n/a"
    return html_table("Trajectory", [
        ("optimizer", repr(tr.opt)), ("objective", getattr(tr.objective, "name", tr.objective)),
        ("status", f"{tr.status.value}: {tr.message}"), ("steps", tr.stop_step),
        ("records", f"{len(tr)} (every {tr.record_every} steps)"), ("final loss", last),
        ("time reached", _num(float(tr.time[-1])) if len(tr) else "n/a")])


def flow_html(sol) -> str:
    return html_table("FlowSolution", [
        ("flow", repr(sol.flow)), ("method", sol.method), ("status", f"{sol.status.value}: {sol.message}"),
        ("t_end", _num(sol.t_end)), ("points", len(sol.t)), ("nfev / njev", f"{sol.nfev} / {sol.njev}"),
        ("final loss", _num(float(sol.loss[-1])))])


def _counts(res) -> str:
    return ", ".join(f"{k} {v}" for k, v in res.counts().items() if v)


def sweep_html(res) -> str:
    return html_table("SweepResult", [("grid", repr(res.grid)), ("outputs", ", ".join(res.data)),
                                      ("result", res.message), ("store", res.path)])


def hyper_html(hs) -> str:
    return html_table("HyperSweep", [
        ("optimizer", repr(hs.opt)), ("objective", hs.objective), ("grid", repr(hs.grid)),
        ("steps", hs.steps), ("records kept", f"{hs.step.size} of {hs.steps // hs.record_every + 1}"),
        ("regimes", _counts(hs)), ("result", hs.message)])


def phase_html(pd) -> str:
    return html_table("PhaseDiagram", [
        ("objective", pd.objective), ("optimizer", repr(pd.opt)),
        ("grid", f"{pd.a.size} x {pd.b.size}: a in [{pd.a.min():.4g}, {pd.a.max():.4g}], "
                 f"b in [{pd.b.min():.4g}, {pd.b.max():.4g}]"),
        ("eta", f"{pd.eta:g}"), ("steps", pd.steps),
        ("records kept", f"{pd.step.size} of {pd.steps // pd.record_every + 1}"),
        ("regimes", _counts(pd)), ("result", pd.message)])
