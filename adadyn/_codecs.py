"""Each result class to and from a :class:`adadyn.persist.Record` (format version 1)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from adadyn.persist import (
    Record, ResultFileError, _jsonable, objective_from_json, objective_to_json, spec_from_json, spec_to_json,
)

_STATE = ("x", "m", "v", "aux", "scalars")


# ---------------------------------------------------------------- Trajectory
def _enc_trajectory(tr) -> Record:
    from adadyn.discrete.trajectory import State

    rec = Record("Trajectory")
    for name in ("x", "m", "v", "loss", "grad_norm", "time", "step"):
        rec.put(name, getattr(tr, name))
    fs = tr.final_state
    if isinstance(fs, State):
        for name in _STATE:
            rec.put(f"final_{name}", getattr(fs, name))
        rec.meta.update(final_state="State", final_k=int(fs.k))
    else:   # a network run's NetState holds torch tensors: not stored (docs/results.md)
        rec.meta["final_state"] = None if fs is None else f"{type(fs).__name__} (not saved)"
    arr = {k: v for k, v in tr.extras.items() if isinstance(v, np.ndarray)}
    rec.put_group("extras", arr)
    rec.meta.update(
        status=tr.status.value, stop_step=int(tr.stop_step), record_every=int(tr.record_every),
        opt=spec_to_json(tr.opt), objective=objective_to_json(tr.objective),
        extras_json={k: _jsonable(f"extras[{k!r}]", v) for k, v in tr.extras.items() if k not in arr})
    return rec


def _dec_trajectory(rec: Record, objective):
    from adadyn.discrete.trajectory import State, Trajectory

    fs = None
    if rec["final_state"] == "State":
        fs = State(*(rec.get(f"final_{n}") for n in _STATE), int(rec["final_k"]))
    extras = dict(rec.group("extras"))
    extras.update(rec.meta.get("extras_json", {}))
    return Trajectory(
        x=rec.get("x"), m=rec.get("m"), v=rec.get("v"), loss=rec.get("loss"), grad_norm=rec.get("grad_norm"),
        time=rec.get("time"), step=rec.get("step"), status=rec["status"], stop_step=int(rec["stop_step"]),
        final_state=fs, opt=spec_from_json(rec["opt"]), objective=objective_from_json(rec["objective"], objective,
                                                                                      rec.path),
        record_every=int(rec["record_every"]), extras=extras)


# ---------------------------------------------------------------- FlowSolution
_FLOW_ARRAYS = ("t", "x", "m", "v", "loss", "grad_norm", "m_hat", "v_hat")
_FLOW_SCALARS = ("message", "stop_time", "t_end", "nfev", "njev", "nlu", "n_steps", "method")


class StoredPoints:
    """The ``sol`` of a loaded :class:`~adadyn.flows.FlowSolution`: the integrated state
    at the stored times ``t`` exactly, and nowhere else.

    scipy's dense output (an ``OdeSolution``) cannot be stored without pickle, so a
    loaded solution evaluates ``x_at``, ``m_at``, ``v_at`` at its stored times only
    (bit for bit the stored rows); other times raise a ValueError. Re-solve with
    :func:`adadyn.flows.solve` for dense output.
    """

    def __init__(self, t: np.ndarray, y: np.ndarray):
        self.t, self.y = t, y  # y: (n_state, len(t))

    def __call__(self, t):
        ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
        idx = np.searchsorted(self.t, ts, side="right") - 1
        ok = (idx >= 0) & (self.t[np.maximum(idx, 0)] == ts)
        if not np.all(ok):
            bad = ts[~ok][0]
            raise ValueError(f"t = {bad!r} is not one of the {self.t.size} stored times: a loaded FlowSolution "
                             "has no dense output (scipy's OdeSolution is not stored; see docs/results.md). "
                             "Evaluate at sol.t, interpolate x yourself, or re-solve with adadyn.flows.solve")
        out = self.y[:, idx]
        return out[:, 0] if np.ndim(t) == 0 else out

    def __repr__(self) -> str:
        return f"StoredPoints({self.t.size} times, no dense output)"


def _enc_flow(sol) -> Record:
    rec = Record("FlowSolution")
    for name in _FLOW_ARRAYS:
        rec.put(name, getattr(sol, name))
    ev_arr = {k: v for k, v in sol.events.items() if isinstance(v, np.ndarray)}
    rec.put_group("events", ev_arr)
    rec.meta.update({n: _jsonable(n, getattr(sol, n)) for n in _FLOW_SCALARS})
    rec.meta.update(flow=spec_to_json(sol.flow), status=sol.status.value, objective=objective_to_json(sol.objective),
                    events_json={k: _jsonable(f"events[{k!r}]", v) for k, v in sol.events.items() if k not in ev_arr})
    return rec


def _dec_flow(rec: Record, objective):
    from adadyn.flows.solution import FlowSolution

    a = {n: rec.get(n) for n in _FLOW_ARRAYS}
    parts = [a["x"].T] + [(a[h] if a[h] is not None else a[r]).T for h, r in (("m_hat", "m"), ("v_hat", "v"))
                          if (a[h] if a[h] is not None else a[r]) is not None]
    events = dict(rec.group("events"))
    events.update(rec.meta.get("events_json", {}))
    return FlowSolution(
        flow=spec_from_json(rec["flow"]), status=rec["status"], sol=StoredPoints(a["t"], np.vstack(parts)),
        events=events, objective=objective_from_json(rec["objective"], objective, rec.path),
        **a, **{n: rec[n] for n in _FLOW_SCALARS})


# ---------------------------------------------------------------- sweeps
def _enc_grid(rec: Record, grid) -> None:
    rec.meta["grid_dims"] = [list(d) for d in grid.dims]
    rec.put_group("grid", dict(grid.axes))


def _dec_grid(rec: Record):
    from adadyn.sweep.grid import Grid

    axes = rec.group("grid")
    g = Grid()
    for names in rec["grid_dims"]:
        part = {n: axes[n] for n in names}
        g = g * (Grid(part) if len(names) == 1 else Grid.zip(part))
    return g


def _enc_sweep_result(res, cls="SweepResult") -> Record:
    rec = Record(cls)
    _enc_grid(rec, res.grid)
    rec.put_group("data", res.data)
    rec.put("status", res.status)
    rec.meta.update(success=bool(res.success), message=str(res.message), computed=int(res.computed),
                    loaded=int(res.loaded), path=None if res.path is None else str(res.path), key=str(res.key))
    return rec


def _dec_sweep_result(rec: Record, objective=None):
    from adadyn.sweep.engine import SweepResult

    return SweepResult(grid=_dec_grid(rec), data=rec.group("data"), status=rec.get("status"),
                       success=bool(rec["success"]), message=rec["message"], computed=int(rec["computed"]),
                       loaded=int(rec["loaded"]), path=None if rec["path"] is None else Path(rec["path"]),
                       key=rec["key"])


_HYPER = ("objective", "steps", "record_every", "window", "f_star", "classify_kw", "full_history")


def _enc_hyper(hs, cls="HyperSweep") -> Record:
    rec = _enc_sweep_result(hs.sweep, cls)
    rec.put("step", hs.step)
    rec.meta.update(opt=spec_to_json(hs.opt), **{n: _jsonable(n, getattr(hs, n)) for n in _HYPER})
    return rec


def _dec_hyper(rec: Record, objective=None):
    from adadyn.analysis.hyper import _from_result

    return _from_result(_dec_sweep_result(rec), step=rec.get("step"), opt=spec_from_json(rec["opt"]),
                        **{n: rec[n] for n in _HYPER})


def _enc_phase(pd) -> Record:
    rec = _enc_hyper(pd.sweep, "PhaseDiagram")
    rec.put("phase_a", pd.a)
    rec.put("phase_b", pd.b)
    rec.meta["eta"] = _jsonable("eta", pd.eta)
    return rec


def _dec_phase(rec: Record, objective=None):
    from adadyn.analysis.phase import _package

    return _package(_dec_hyper(rec), rec.get("phase_a"), rec.get("phase_b"), rec["eta"])


_CODECS = {
    "Trajectory": (_enc_trajectory, _dec_trajectory),
    "FlowSolution": (_enc_flow, _dec_flow),
    "SweepResult": (_enc_sweep_result, _dec_sweep_result),
    "HyperSweep": (_enc_hyper, _dec_hyper),
    "PhaseDiagram": (_enc_phase, _dec_phase),
}


def encode(result) -> Record:
    """The :class:`Record` of a result (one of the classes of :data:`_CODECS`)."""
    name = type(result).__name__
    if name not in _CODECS or not type(result).__module__.startswith("adadyn."):
        raise TypeError(f"result must be a Trajectory, FlowSolution, PhaseDiagram, HyperSweep or SweepResult, "
                        f"got {type(result).__name__}")
    return _CODECS[name][0](result)


def decode(rec: Record, objective=None):
    """The result held by ``rec``."""
    if rec.cls not in _CODECS:
        raise ResultFileError(f"{rec.path}: holds an unknown result class {rec.cls!r} "
                              f"(this adadyn reads {', '.join(_CODECS)})")
    try:
        return _CODECS[rec.cls][1](rec, objective)
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ResultFileError(f"{rec.path}: damaged {rec.cls} file ({type(exc).__name__}: {exc})") from None
