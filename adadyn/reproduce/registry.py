"""The registry of reproductions: one :class:`Entry` per figure or claim, one
:class:`Reproduction` per run.

A reproduction function has the signature ``fn(out_dir, full, scale) -> Reproduction``:
``out_dir`` is where it writes its figures, ``full`` selects the paper's sizes
(steps, grids, seeds), ``scale`` (default 1) multiplies the default sizes (the
tests run at ``scale`` ~ 0.05). Each returns its measured numbers next to the
paper's in :class:`Row` s, and a verdict computed from those numbers by a
criterion stated in words (:attr:`Reproduction.criterion`).

Entries declare what they need (``requires``): ``"torch"`` entries run through
:mod:`adadyn.nn` and are listed only when it imports. Entries that can read a
local dataset declare it (``datasets``, e.g. ``("cifar10",)``); their function
then takes a keyword ``data`` (the directory the user gave with ``--data``, or
None: the bundled fallback). A network result is one
more decorated function in ``adadyn/reproduce/networks.py``, e.g.::

    @reproduction("mwe-fig7-net", PAPER, "Figure 7 on a network", runtime, requires=("torch",))
    def figure7_net(out, full, scale):
        ...  # nn.train(...) returns a Trajectory: classify it, draw it with
             # ma_wu_e.regimes_figure (which reads traj.x_norm, m_norm, sqrt_v_norm)
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from adadyn.status import Status

__all__ = ["Row", "Reproduction", "Entry", "VERDICTS", "RUNTIME_BASIS", "reproduction", "entries", "get",
           "verdict_from"]

#: What the runtime estimates (:attr:`Entry.runtime`) were measured on, as ``reproduce --list`` says it.
#: Under heavier load the network entries took up to 10x longer than these estimates.
RUNTIME_BASIS = "measured at load 4-6 on 2 cores"

#: The three verdicts, best first.
VERDICTS = ("reproduces", "partly", "does not reproduce")


@dataclass(frozen=True)
class Row:
    """One quantity: what the paper states or implies next to what was measured.

    ``paper`` is the paper's number or statement as text (``"-"`` when the
    paper gives none; then ``expected`` names the independent reference, e.g.
    a closed form). ``ok`` is True/False when the row enters the verdict,
    None when it is context only.
    """

    quantity: str
    paper: str
    measured: str
    ok: bool | None = None
    note: str = ""


@dataclass
class Reproduction:
    """The result of one reproduction.

    Attributes
    ----------
    name, paper, claim : str
        Registry name, paper and the figure or claim reproduced.
    rows : list of Row
        Measured numbers next to the paper's.
    verdict : str
        One of :data:`VERDICTS`, computed from ``rows`` by ``criterion``.
    criterion : str
        The rule that turned the numbers into the verdict.
    figures : list of Path
        Figures written.
    values : dict
        The key numbers as floats (what the tests check).
    notes : list of str
        Plain statements (what does not reproduce and why, settings not in the paper).
    scale, full, seconds
        Size used and wall time.
    """

    name: str
    paper: str
    claim: str
    rows: list = field(default_factory=list)
    verdict: str = "does not reproduce"
    criterion: str = ""
    figures: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    scale: float = 1.0
    full: bool = False
    seconds: float = float("nan")

    @property
    def status(self) -> Status:
        """``ok`` when the reproduction ran (whatever the verdict)."""
        return Status.OK

    @property
    def success(self) -> bool:
        return self.status.success

    @property
    def message(self) -> str:
        return f"{self.name}: {self.verdict}"

    def add(self, quantity: str, paper: str, measured: str, ok: bool | None = None, note: str = "") -> None:
        self.rows.append(Row(quantity, paper, measured, None if ok is None else bool(ok), note))

    def decide(self, criterion: str, partly_if_any: bool = True) -> str:
        """Set the verdict from the rows' ``ok`` flags: all True -> reproduces; some
        True -> partly (when ``partly_if_any``); none -> does not reproduce."""
        self.criterion = criterion
        self.verdict = verdict_from([r.ok for r in self.rows if r.ok is not None], partly_if_any)
        return self.verdict

    def table(self) -> str:
        """The rows as a Markdown table."""
        lines = ["| quantity | paper | measured | agrees |", "|---|---|---|---|"]
        for r in self.rows:
            mark = "" if r.ok is None else ("yes" if r.ok else "**no**")
            note = f" ({r.note})" if r.note else ""
            lines.append(f"| {r.quantity} | {r.paper} | {r.measured}{note} | {mark} |")
        return "\n".join(lines)

    def text(self) -> str:
        """Plain-text report: the table, the notes and the verdict with its criterion."""
        w = max([len(r.quantity) for r in self.rows] + [8])
        out = [f"{self.name}: {self.paper}, {self.claim}"]
        for r in self.rows:
            mark = "" if r.ok is None else ("  [ok]" if r.ok else "  [NO]")
            out.append(f"  {r.quantity:<{w}}  paper: {r.paper:<28} measured: {r.measured}{mark}"
                       + (f"  ({r.note})" if r.note else ""))
        out += [f"  note: {n}" for n in self.notes]
        out.append(f"  verdict: {self.verdict}  (criterion: {self.criterion})")
        if self.figures:
            out.append("  figures: " + ", ".join(str(p) for p in self.figures))
        out.append(f"  ({self.seconds:.1f} s, scale {self.scale:g}{', full' if self.full else ''})")
        return "\n".join(out)

    def markdown(self, relative_to: Path | None = None) -> str:
        """A Markdown section: heading, verdict, table, notes and the figures."""
        out = [f"## `{self.name}` — {self.paper}, {self.claim}", "",
               f"**Verdict: {self.verdict}.** Criterion: {self.criterion}", "", self.table(), ""]
        out += [f"- {n}" for n in self.notes]
        if self.notes:
            out.append("")
        for p in self.figures:
            p = Path(p)
            rel = p.relative_to(relative_to) if relative_to is not None and p.is_relative_to(relative_to) else p
            out.append(f"![{p.stem}]({rel.as_posix()})")
        out.append(f"\n_{self.seconds:.1f} s at scale {self.scale:g}{', full sizes' if self.full else ''}._\n")
        return "\n".join(out)


def verdict_from(oks, partly_if_any: bool = True) -> str:
    """Verdict from booleans: all -> reproduces, some -> partly, none -> does not reproduce."""
    oks = list(oks)
    if oks and all(oks):
        return VERDICTS[0]
    if partly_if_any and any(oks):
        return VERDICTS[1]
    return VERDICTS[2]


@dataclass(frozen=True)
class Entry:
    """A registered reproduction.

    ``runtime`` is the measured wall time (seconds) at the default scale on two
    cores shared with other jobs, Numba cache warm: the larger of two
    ``adadyn reproduce all`` runs (load averages about 4-6; an idle machine is
    up to ~3x faster for the network entries); ``requires`` lists optional dependencies
    (``"torch"``: :mod:`adadyn.nn`; ``"sklearn"``: scikit-learn's bundled data);
    ``datasets`` the local datasets the entry reads when given a data directory
    (``"cifar10"``, ``"fashion_mnist"``; see :mod:`adadyn.nn.datasets`).
    """

    name: str
    paper: str
    claim: str
    runtime: float
    fn: Callable = field(repr=False)
    requires: tuple = ()
    datasets: tuple = ()

    def available(self) -> bool:
        """True when every required back end imports."""
        for req in self.requires:
            mod = {"torch": "adadyn.nn"}.get(req, req)
            try:
                importlib.import_module(mod)
            except ImportError:
                return False
        return True

    def run(self, out_dir, full: bool = False, scale: float = 1.0, data=None) -> Reproduction:
        """Run the reproduction, writing its figures into ``out_dir``.

        ``data`` is a directory of local datasets (nothing is downloaded); entries
        without ``datasets`` ignore it, the others read theirs from it (a missing or
        malformed file raises :class:`adadyn.nn.datasets.DatasetError`).
        """
        import time

        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
        if data is not None:
            data = Path(data)
            if not data.is_dir():
                raise ValueError(f"data must be an existing directory of local datasets, got {str(data)!r}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        if self.datasets:
            rep = self.fn(out, bool(full), float(scale), data=data)
        else:
            rep = self.fn(out, bool(full), float(scale))
        rep.seconds = time.perf_counter() - t0
        rep.scale, rep.full = float(scale), bool(full)
        return rep


_REGISTRY: dict[str, Entry] = {}

#: modules that register entries when imported, in listing order
_MODULES = ("adadyn.reproduce.ma_wu_e", "adadyn.reproduce.ma_wu_e_theory", "adadyn.reproduce.reddi",
            "adadyn.reproduce.bae_ryu_shin", "adadyn.reproduce.mazumder", "adadyn.reproduce.networks",
            "adadyn.reproduce.modified_flows", "adadyn.reproduce.central_flows", "adadyn.reproduce.network_flows")


def reproduction(name: str, paper: str, claim: str, runtime: float, requires: tuple = (), datasets: tuple = ()):
    """Decorator registering ``fn(out_dir, full, scale) -> Reproduction`` under ``name``
    (``fn(out_dir, full, scale, data=None)`` when it reads local ``datasets``)."""

    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"reproduction {name!r} registered twice")
        _REGISTRY[name] = Entry(name, paper, claim, float(runtime), fn, tuple(requires), tuple(datasets))
        return fn

    return deco


def _load() -> None:
    for mod in _MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # a missing optional dependency inside the module is an error
                raise


def entries(include_unavailable: bool = False) -> list[Entry]:
    """All registered entries (those whose back ends import, unless asked otherwise)."""
    _load()
    return [e for e in _REGISTRY.values() if include_unavailable or e.available()]


def get(name: str) -> Entry:
    """The entry called ``name``.

    Raises
    ------
    KeyError
        Unknown name (the message lists the known ones).
    """
    _load()
    if name not in _REGISTRY:
        raise KeyError(f"unknown reproduction {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
