"""Results kept on disk: ``result.save(path)`` and :func:`load` (``docs/results.md``).

One file format for :class:`~adadyn.Trajectory`, :class:`~adadyn.flows.FlowSolution`,
:class:`~adadyn.analysis.PhaseDiagram`, :class:`~adadyn.analysis.HyperSweep` and
:class:`~adadyn.sweep.SweepResult`: a NumPy ``.npz`` archive whose arrays are the
result's arrays under their field names, plus one record ``__adadyn__`` holding a
JSON document (format name :data:`FORMAT`, version :data:`VERSION`, the class,
the optimiser or flow spec, the objective's name and identity, the status and the
scalar fields). Nothing is pickled: ``np.load(path, allow_pickle=False)`` reads
every file, and :func:`load` rebuilds the result with every array bit for bit
and every spec equal to the saved one. A trajectory's final state (a
:class:`~adadyn.State`, or a network run's ``NetState``, whose tensors are stored
as arrays) is kept, so a loaded run continues bit for bit.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "VERSION", "ResultFileError", "ObjectiveMismatch", "SavedObjective", "save", "load"]

#: Format name written into every file.
FORMAT = "adadyn-result"
#: Format version written by this adadyn; :func:`load` reads versions 1..VERSION.
VERSION = 1
#: Name of the archive record holding the JSON metadata.
META = "__adadyn__"


class ResultFileError(ValueError):
    """A file that :func:`load` cannot read: damaged, not an adadyn result, or newer."""


class ObjectiveMismatch(ValueError):
    """``load(path, objective=...)`` with an objective other than the saved one."""


@dataclass(frozen=True)
class SavedObjective:
    """What a result file records of its objective: its name and identity digest.

    A loaded result carries this in place of the objective (functions are not
    stored); pass ``objective=`` to :func:`load` to attach the objective itself.
    """

    name: str
    identity: str | None = None
    kind: str = ""

    def value(self, *args, **kwargs):
        raise ValueError(f"the objective {self.name!r} of a loaded result is not stored in the file; "
                         "pass objective=... to adadyn.load to attach it")

    grad = value_and_grad = value


# ---------------------------------------------------------------- specs as JSON
def _jsonable(name, val):
    if val is None or isinstance(val, (bool, str)):
        return val
    if isinstance(val, (np.bool_, np.integer, np.floating)):
        return val.item()
    if isinstance(val, (int, float)):
        return val
    if dataclasses.is_dataclass(val) and not isinstance(val, type):
        return spec_to_json(val)
    if isinstance(val, (list, tuple)):
        return [_jsonable(name, v) for v in val]
    if isinstance(val, dict) and all(isinstance(k, str) for k in val):
        return {k: _jsonable(f"{name}[{k!r}]", v) for k, v in val.items()}
    raise TypeError(f"{name} = {val!r} ({type(val).__name__}) cannot be written to a result file "
                    "(numbers, strings, booleans, lists, dicts and adadyn specs can)")


def spec_to_json(spec) -> dict | None:
    """An adadyn spec (a frozen dataclass: optimiser, schedule, flow) as JSON-able data."""
    if spec is None:
        return None
    cls = type(spec)
    if not (dataclasses.is_dataclass(spec) and cls.__module__.startswith("adadyn.")):
        raise TypeError(f"{cls.__name__} is not an adadyn spec; only adadyn's own dataclass specs "
                        "(optimisers, schedules, flows) are written to result files")
    fields = {f.name: _jsonable(f"{cls.__name__}.{f.name}", getattr(spec, f.name))
              for f in dataclasses.fields(spec) if f.init}
    return {"class": cls.__name__, "module": cls.__module__, "fields": fields}


def _spec_value(val):
    if isinstance(val, dict) and set(val) == {"class", "module", "fields"}:
        return spec_from_json(val)
    return val


def _spec_bases(module: str) -> tuple:
    """The spec base classes a file may name (flows only when it names a flow module)."""
    from adadyn.discrete.schedules import Schedule
    from adadyn.discrete.specs import Optimizer

    if module.startswith("adadyn.flows."):
        from adadyn.flows.fields import Flow

        return Optimizer, Schedule, Flow
    return Optimizer, Schedule


def spec_from_json(doc):
    """Inverse of :func:`spec_to_json`: only classes of adadyn's own modules are rebuilt."""
    if doc is None:
        return None
    module, name = doc["module"], doc["class"]
    if not (isinstance(module, str) and module.startswith("adadyn.") and isinstance(name, str)
            and name.isidentifier()):
        raise ResultFileError(f"spec class {module}.{name} is not an adadyn class")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ResultFileError(f"spec class {module}.{name} does not exist in this adadyn") from None
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and issubclass(cls, _spec_bases(module))):
        raise ResultFileError(f"{module}.{name} is not an optimiser, schedule or flow spec")
    return cls(**{k: _spec_value(v) for k, v in doc["fields"].items()})


def objective_to_json(obj) -> dict | None:
    """Name, identity digest (None without a recipe) and class of an objective."""
    if obj is None:
        return None
    if isinstance(obj, SavedObjective):
        return {"name": obj.name, "identity": obj.identity, "kind": obj.kind}
    try:
        ident = obj.identity()
    except (ValueError, AttributeError, TypeError):
        ident = None
    return {"name": str(getattr(obj, "name", type(obj).__name__)), "identity": ident,
            "kind": type(obj).__name__}


def objective_from_json(doc, objective=None, path=None):
    """The objective to attach to a loaded result: ``objective`` (checked against the
    saved identity) or a :class:`SavedObjective`."""
    if doc is None:
        return objective
    if objective is None:
        return SavedObjective(doc["name"], doc["identity"], doc.get("kind", ""))
    if doc["identity"] is not None:
        mine = objective_to_json(objective)["identity"]
        if mine != doc["identity"]:
            raise ObjectiveMismatch(f"objective: {path} was saved with objective {doc['name']!r} "
                             f"(identity {doc['identity'][:12]}...), not {getattr(objective, 'name', objective)!r} "
                             f"(identity {str(mine)[:12]}...)")
    return objective


# ---------------------------------------------------------------- the file
class Record:
    """Arrays and JSON metadata of one result, as written to and read from a file."""

    def __init__(self, cls: str, arrays=None, meta=None, path=None):
        self.cls, self.arrays, self.meta, self.path = cls, dict(arrays or {}), dict(meta or {}), path

    def put(self, name: str, arr) -> None:
        """Store an array (None is recorded as absent)."""
        if arr is None:
            self.meta.setdefault("none", []).append(name)
        else:
            self.arrays[name] = np.asarray(arr)

    def get(self, name: str):
        """The array ``name`` (None when it was saved as None)."""
        if name in self.meta.get("none", ()):
            return None
        try:
            return self.arrays[name]
        except KeyError:
            raise ResultFileError(f"{self.path}: damaged {self.cls} file, the array {name!r} is missing") from None

    def group(self, prefix: str) -> dict:
        """Every array saved as ``prefix.<name>``, by name (in saved order)."""
        names = self.meta.get("groups", {}).get(prefix, [])
        return {n: self.get(f"{prefix}.{n}") for n in names}

    def put_group(self, prefix: str, arrays: dict) -> None:
        self.meta.setdefault("groups", {})[prefix] = list(arrays)
        for n, a in arrays.items():
            self.put(f"{prefix}.{n}", a)

    def __getitem__(self, key):
        try:
            return self.meta[key]
        except KeyError:
            raise ResultFileError(f"{self.path}: damaged {self.cls} file, the field {key!r} is missing") from None


def _is_result_file(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return f"{META}.npy" in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def write(rec: Record, path, extra: dict | None = None) -> Path:
    """Write ``rec`` to ``path`` (exactly that name) through a temporary file in the
    same directory and an atomic rename; an existing file is replaced only when it is
    an adadyn result file; a symbolic link is refused (never written through)."""
    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"path: {path} is a directory; give a file name such as {path / 'result.npz'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path: the directory {path.parent} does not exist")
    if (path.exists() or path.is_symlink()) and (path.is_symlink() or not _is_result_file(path)):
        raise FileExistsError(f"path: {path} exists and is not an adadyn result file; "
                              "refusing to replace it (remove it or choose another name)")
    arrays = dict(rec.arrays)
    for name, val in (extra or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name in arrays or name == META:
            raise ValueError(f"extra: names must be identifiers not used by the result, got {name!r}")
        arrays[name] = np.asarray(val)
    meta = dict(rec.meta, format=FORMAT, version=VERSION, **{"class": rec.cls})
    for name, a in arrays.items():
        if a.dtype.kind == "O":
            raise TypeError(f"{rec.cls}.{name} is an object array; result files hold numeric and string arrays only")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{META: np.array(json.dumps(meta, allow_nan=True))}, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path


def read(path) -> Record:
    """The :class:`Record` in ``path``, with clear errors for damaged, foreign or newer files."""
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"path: no such file: {path}")
    if not zipfile.is_zipfile(path):
        raise ResultFileError(f"{path}: damaged or not an adadyn result file (not a complete .npz archive)")
    try:
        z = np.load(path, allow_pickle=False)
        with z:
            if META not in z.files:
                raise ResultFileError(f"{path}: not an adadyn result file (no {META} record); "
                                      "read its arrays with numpy.load")
            meta = json.loads(str(z[META][()]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ResultFileError(f"{path}: not an adadyn result file (its {META} record names no "
                                      f"format {FORMAT!r})")
            ver = meta.get("version")
            if not isinstance(ver, int) or isinstance(ver, bool) or ver < 1:
                raise ResultFileError(f"{path}: damaged adadyn result file (format version {ver!r})")
            if ver > VERSION:
                raise ResultFileError(f"{path}: written by a newer adadyn (result format version {ver}); "
                                      f"this adadyn reads versions 1 to {VERSION}: upgrade adadyn to load it")
            arrays = {k: z[k] for k in z.files if k != META}
    except ResultFileError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ResultFileError(f"{path}: damaged or not an adadyn result file "
                              f"({type(exc).__name__}: {exc})") from None
    return Record(str(meta.get("class")), arrays, meta, path)


# The result classes import this module (their ``save`` methods); it finds them by name
# (:data:`_HOME`), as a file names its class, so that neither imports the other.
_STATE = ("x", "m", "v", "aux", "scalars")

#: Where each name a file may hold lives.
_HOME = {
    "State": "adadyn.discrete.trajectory", "Trajectory": "adadyn.discrete.trajectory",
    "FlowSolution": "adadyn.flows.solution", "Grid": "adadyn.sweep.grid", "SweepResult": "adadyn.sweep.engine",
    "_from_result": "adadyn.analysis.hyper", "_package": "adadyn.analysis.phase", "NetState": "adadyn.nn",
}


def _home(name: str):
    return getattr(importlib.import_module(_HOME[name]), name)


# ---------------------------------------------------------------- codecs: Trajectory
def _enc_trajectory(tr) -> Record:
    State = _home("State")
    rec = Record("Trajectory")
    for name in ("x", "m", "v", "loss", "grad_norm", "time", "step"):
        rec.put(name, getattr(tr, name))
    fs = tr.final_state
    if isinstance(fs, State):
        for name in _STATE:
            rec.put(f"final_{name}", getattr(fs, name))
        rec.meta.update(final_state="State", final_k=int(fs.k))
    elif type(fs).__name__ == "NetState":    # a network run's: a tree of tensors, numbers and dicts
        rec.meta.update(final_state="NetState", net_state=_tree_out(rec, "net", {
            f.name: getattr(fs, f.name) for f in dataclasses.fields(fs) if f.init}))
    elif fs is None:
        rec.meta["final_state"] = None
    else:
        raise TypeError(f"final_state: a {type(fs).__name__} cannot be written to a result file")
    arr = {k: v for k, v in tr.extras.items() if isinstance(v, np.ndarray)}
    rec.put_group("extras", arr)
    rec.meta.update(
        status=tr.status.value, stop_step=int(tr.stop_step), record_every=int(tr.record_every),
        opt=spec_to_json(tr.opt), objective=objective_to_json(tr.objective),
        extras_json={k: _jsonable(f"extras[{k!r}]", v) for k, v in tr.extras.items() if k not in arr})
    return rec


def _dec_trajectory(rec: Record, objective):
    State, Trajectory = _home("State"), _home("Trajectory")
    fs = None
    if rec["final_state"] == "State":
        fs = State(*(rec.get(f"final_{n}") for n in _STATE), int(rec["final_k"]))
    elif rec["final_state"] == "NetState":
        fields = _tree_in(rec, rec["net_state"])    # needs torch: a clear error without it
        fs = _home("NetState")(**fields)
    extras = dict(rec.group("extras"))
    extras.update(rec.meta.get("extras_json", {}))
    return Trajectory(
        x=rec.get("x"), m=rec.get("m"), v=rec.get("v"), loss=rec.get("loss"), grad_norm=rec.get("grad_norm"),
        time=rec.get("time"), step=rec.get("step"), status=rec["status"], stop_step=int(rec["stop_step"]),
        final_state=fs, opt=spec_from_json(rec["opt"]), objective=objective_from_json(rec["objective"], objective,
                                                                                      rec.path),
        record_every=int(rec["record_every"]), extras=extras)


def _tree_out(rec: Record, prefix: str, val):
    """A network state (tensors, arrays, numbers, strings, lists, tuples, dicts with str
    or int keys) as JSON, its tensors and arrays stored as ``prefix.<n>`` arrays."""
    if val is None or isinstance(val, (bool, int, float, str)):
        return {"v": val}
    if isinstance(val, np.ndarray):
        name = f"{prefix}.{len(rec.arrays)}"
        rec.put(name, val)
        return {"array": name}
    if type(val).__module__ == "torch" and type(val).__name__ == "Tensor":
        name = f"{prefix}.{len(rec.arrays)}"
        rec.put(name, val.detach().cpu().numpy())
        return {"tensor": name}
    if isinstance(val, (list, tuple)):
        return {type(val).__name__: [_tree_out(rec, prefix, v) for v in val]}
    if isinstance(val, dict) and all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in val):
        return {"dict": [[k, _tree_out(rec, prefix, v)] for k, v in val.items()]}
    raise TypeError(f"final_state: a {type(val).__name__} cannot be written to a result file")


def _tree_in(rec: Record, node):
    kind, val = next(iter(node.items()))
    if kind == "v":
        return val
    if kind == "array":
        return rec.get(val)
    if kind == "tensor":
        try:
            from adadyn.nn._tensors import from_array
        except ImportError:
            raise ResultFileError(f"{rec.path}: holds a network state; loading it needs torch "
                                  '(pip install "adadyn[torch]")') from None
        return from_array(rec.get(val))
    if kind in ("list", "tuple"):
        items = [_tree_in(rec, v) for v in val]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _tree_in(rec, v) for k, v in val}
    raise ResultFileError(f"{rec.path}: damaged network state (node {kind!r})")


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
            raise ValueError(f"t = {float(bad)!r} is not one of the {self.t.size} stored times: a loaded FlowSolution "
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
    a = {n: rec.get(n) for n in _FLOW_ARRAYS}
    parts = [a["x"].T] + [(a[h] if a[h] is not None else a[r]).T for h, r in (("m_hat", "m"), ("v_hat", "v"))
                          if (a[h] if a[h] is not None else a[r]) is not None]
    events = dict(rec.group("events"))
    events.update(rec.meta.get("events_json", {}))
    return _home("FlowSolution")(
        flow=spec_from_json(rec["flow"]), status=rec["status"], sol=StoredPoints(a["t"], np.vstack(parts)),
        events=events, objective=objective_from_json(rec["objective"], objective, rec.path),
        **a, **{n: rec[n] for n in _FLOW_SCALARS})


# ---------------------------------------------------------------- sweeps
def _enc_grid(rec: Record, grid) -> None:
    rec.meta["grid_dims"] = [list(d) for d in grid.dims]
    rec.put_group("grid", dict(grid.axes))


def _dec_grid(rec: Record):
    Grid = _home("Grid")
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
    return _home("SweepResult")(grid=_dec_grid(rec), data=rec.group("data"), status=rec.get("status"),
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
    return _home("_from_result")(_dec_sweep_result(rec), step=rec.get("step"), opt=spec_from_json(rec["opt"]),
                        **{n: rec[n] for n in _HYPER})


def _enc_phase(pd) -> Record:
    rec = _enc_hyper(pd.sweep, "PhaseDiagram")
    rec.put("phase_a", pd.a)
    rec.put("phase_b", pd.b)
    rec.meta["eta"] = _jsonable("eta", pd.eta)
    return rec


def _dec_phase(rec: Record, objective=None):
    return _home("_package")(_dec_hyper(rec), rec.get("phase_a"), rec.get("phase_b"), rec["eta"])


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
    except ObjectiveMismatch:
        raise
    except ResultFileError as exc:
        if str(rec.path) in str(exc):
            raise
        raise ResultFileError(f"{rec.path}: {exc}") from None
    except (TypeError, KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ResultFileError(f"{rec.path}: damaged {rec.cls} file ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------- front doors
def save(result, path, *, extra: dict | None = None) -> Path:
    """Write ``result`` to ``path`` (a ``.npz`` archive; the name is used as given).

    Parameters
    ----------
    result : Trajectory, FlowSolution, PhaseDiagram, HyperSweep or SweepResult
    path : path-like
        The file. An existing file is replaced only if it is an adadyn result file.
    extra : dict of str to array_like, optional
        Further arrays written beside the result under these names (``np.load``
        reads them; :func:`load` ignores them).

    Returns
    -------
    Path
        The file written.
    """
    return write(encode(result), path, extra)


def load(path, *, objective=None):
    """Read a result written by ``result.save(path)``.

    Parameters
    ----------
    path : path-like
    objective : Objective, optional
        Attach this objective to the result (its identity must match the saved
        one when both have one). Without it the result carries a
        :class:`SavedObjective` (name and identity only).

    Returns
    -------
    Trajectory, FlowSolution, PhaseDiagram, HyperSweep or SweepResult
        Every array bit for bit as saved and every spec equal to the saved one.
        A trajectory's ``final_state`` continues the run bit for bit
        (``adadyn.run(opt, obj, steps=n, state=loaded.final_state)``). A loaded
        ``FlowSolution`` has no dense output (see ``docs/results.md``).

    Raises
    ------
    FileNotFoundError
        No such file.
    ResultFileError
        (a ValueError) The file is damaged, not an adadyn result, or was written
        by a newer adadyn; the message names the file.
    """
    return decode(read(path), objective)
