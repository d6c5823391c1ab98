"""Grid axes on the command line: ``NAME=lo:hi:n[:log|lin]``, ``NAME=v1,v2,...`` or ``NAME=v``.

``lo:hi:n`` is n points from lo to hi, log-spaced unless ``:lin`` is given
(``docs/cli.md``). Values must be finite and distinct; an axis has at most
:data:`MAX_AXIS` points.
"""
from __future__ import annotations

import math

import numpy as np

from adadyn.commands.errors import CLIError

#: most points on one axis
MAX_AXIS = 10_000


def parse_values(text: str, what: str, *, positive: bool = False) -> np.ndarray:
    """The values of ``lo:hi:n[:log|lin]``, ``v1,v2,...`` or ``v``; ``what`` names the option
    in errors (:class:`CLIError`)."""
    text = text.strip()
    form = f"{what} must be lo:hi:n[:log|lin] (n points, log-spaced by default), v1,v2,... or one number"
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("log", "lin")):
            raise CLIError(f"{form}; got {text[:80]!r}")
        try:
            lo, hi = float(parts[0]), float(parts[1])
            n = int(parts[2])
        except ValueError:
            raise CLIError(f"{form}; got {text[:80]!r}") from None
        spacing = parts[3] if len(parts) == 4 else "log"
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise CLIError(f"{what}: lo and hi must be finite, got {text[:80]!r}")
        if not 1 <= n <= MAX_AXIS:
            raise CLIError(f"{what}: n must be an integer in [1, {MAX_AXIS}], got {n}")
        if n > 1 and lo == hi:
            raise CLIError(f"{what}: lo == hi gives {n} equal values")
        if spacing == "log":
            if not (lo > 0 and hi > 0):
                raise CLIError(f"{what}: log spacing of lo:hi:n needs lo, hi > 0 (add :lin for a linear axis), got {text[:80]!r}")
            vals = np.logspace(math.log10(lo), math.log10(hi), n)
            vals[0] = lo
            if n > 1:
                vals[-1] = hi  # exact ends
        else:
            vals = np.linspace(lo, hi, n)
    else:
        try:
            vals = np.array([float(s) for s in text.split(",")])
        except ValueError:
            raise CLIError(f"{form}; got {text[:80]!r}") from None
        if vals.size > MAX_AXIS:
            raise CLIError(f"{what}: at most {MAX_AXIS} values, got {vals.size}")
    if not np.all(np.isfinite(vals)):
        raise CLIError(f"{what}: values must be finite, got {text[:80]!r}")
    if positive and not np.all(vals > 0):
        raise CLIError(f"{what}: values must be > 0, got {text[:80]!r}")
    if np.unique(vals).size != vals.size:
        raise CLIError(f"{what}: values must be distinct, got {text[:80]!r}")
    return vals


def parse_axis(text: str, names) -> tuple[str, np.ndarray]:
    """``NAME=VALUES`` -> ``(NAME, values)``; NAME must be one of ``names``."""
    if "=" not in text:
        raise CLIError(f"--axis must be NAME=VALUES such as eta=1e-3:1e-1:8:log, got {text[:80]!r}")
    name, _, spec = text.partition("=")
    name = name.strip()
    if name not in names:
        raise CLIError(f"--axis {name[:40]!r}: not a hyperparameter of this optimiser (axes: {', '.join(names)})")
    return name, parse_values(spec, f"--axis {name}")


def parse_axes(texts, names) -> dict[str, np.ndarray]:
    """Several ``--axis`` options -> an ordered dict; a repeated name is refused."""
    axes: dict[str, np.ndarray] = {}
    for t in texts or ():
        name, vals = parse_axis(t, names)
        if name in axes:
            raise CLIError(f"--axis {name} given twice")
        axes[name] = vals
    return axes
