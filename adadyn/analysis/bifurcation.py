"""Natural-parameter continuation of fixed points and periodic orbits, with
bifurcation detection and orbit-diagram data.

As eta grows past the critical learning rate a multiplier of the fixed point
(x*, 0, 0) leaves the unit circle through -1 (period doubling): for RMSprop on
f = lambda x^2/2 the multipliers are 1 - eta lambda/eps and alpha, and the
2-cycle of :mod:`adadyn.analysis.orbits` is born at eta = 2 eps/lambda
(section 3 and Figure 6 of Ma, Wu & E).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.analysis.linearization import as_state_vector
from adadyn.discrete.map import state_map
from adadyn.analysis.orbits import newton_orbit

__all__ = ["Bifurcation", "Continuation", "continuation"]


@dataclass(frozen=True)
class Bifurcation:
    """A parameter value where a multiplier crosses the unit circle.

    ``kind`` is 'period-doubling' (real multiplier through -1), 'fold' (through
    +1: fold, transcritical or pitchfork) or 'neimark-sacker' (complex pair).
    ``value`` is located by bisection to ``width`` (the final bracket width).
    """

    kind: str
    value: float
    width: float
    multiplier: complex


@dataclass(frozen=True, eq=False)
class Continuation:
    """Result of :func:`continuation`.

    Attributes
    ----------
    param : str
        Name of the varied hyperparameter (a field of the optimiser spec).
    values : ndarray (N,)
    found : ndarray of bool (N,)
        Newton converged at that value (branch followed from the previous one).
    points : ndarray (N, n)
        The branch: state z_0 of the orbit (NaN where not found).
    multipliers : ndarray (N, n) complex
        Floquet multipliers (eigenvalues of DF^period), decreasing modulus.
    stable : ndarray of bool (N,)
    bifurcations : tuple of Bifurcation
    diagram_param, diagram_x : ndarray
        Orbit-diagram data: for every value, the ``record`` x values (coordinate
        ``component``) visited after ``transient`` steps of the discrete map.
    """

    param: str
    period: int
    blocks: tuple
    values: np.ndarray
    found: np.ndarray
    points: np.ndarray = field(repr=False)
    multipliers: np.ndarray = field(repr=False)
    stable: np.ndarray = field(repr=False)
    bifurcations: tuple
    diagram_param: np.ndarray = field(repr=False)
    diagram_x: np.ndarray = field(repr=False)
    component: int = 0

    def __repr__(self) -> str:
        b = ", ".join(f"{x.kind} at {self.param}={x.value:.10g}" for x in self.bifurcations) or "none"
        return (f"Continuation({self.param} in [{self.values[0]:.4g}, {self.values[-1]:.4g}], "
                f"{len(self.values)} values, period={self.period}, found {int(self.found.sum())}, "
                f"bifurcations: {b})")


def _with(opt, param, val):
    try:
        return opt.replace(**{param: float(val)})
    except TypeError:
        raise ValueError(f"param must be a hyperparameter field of {type(opt).__name__}, got {param!r}") from None


def _solve(opt, obj, z0, period, tol, max_iter):
    F = state_map(opt, obj)
    z, ok, _, _ = newton_orbit(F, z0, period, tol=tol, max_iter=max_iter)
    if not ok:
        return F, z, None
    try:
        M = F.orbit_jacobian(z, period)[1]
    except ValueError:
        return F, z, None
    mu = np.linalg.eigvals(M)
    return F, z, (M, mu[np.argsort(-np.abs(mu), kind="stable")])


def _test_functions(M):
    n = M.shape[0]
    mu = np.linalg.eigvals(M)
    cpx = np.abs(mu.imag) > 1e-12 * max(1.0, np.max(np.abs(mu)))
    ns = np.max(np.abs(mu[cpx])) - 1.0 if np.any(cpx) else -1.0
    return {"period-doubling": np.linalg.det(M + np.eye(n)), "fold": np.linalg.det(M - np.eye(n)),
            "neimark-sacker": ns}


def _crossing_kind(mu_a, mu_b):
    """Which multiplier left (or entered) the unit circle between two values."""
    out_a, out_b = np.abs(mu_a) > 1.0, np.abs(mu_b) > 1.0
    if out_a.sum() == out_b.sum():
        return None
    mu = mu_b if out_b.sum() > out_a.sum() else mu_a
    outside = mu[np.abs(mu) > 1.0]
    cross = outside[np.argmin(np.abs(outside))]
    if abs(cross.imag) > 1e-9 * abs(cross):
        return "neimark-sacker", cross
    return ("period-doubling" if cross.real < 0 else "fold"), cross


def continuation(opt, obj, guess, values, *, param: str = "eta", period: int = 1, tol: float = 1e-12,
                 max_iter: int = 50, locate: bool = True, diagram: bool = True, diagram_start=None,
                 transient: int = 2000, record: int = 64, component: int = 0) -> Continuation:
    """Follow a fixed point (``period=1``) or periodic orbit as ``param`` varies.

    Parameters
    ----------
    opt : Optimizer
        The spec at which the others are held (only ``param`` changes;
        e.g. varying eta keeps beta1, beta2/alpha, eps fixed).
    obj : Objective
    guess : array_like or State
        Starting state for the first value (x alone: m = v = 0).
    values : array_like
        Parameter values in the order to follow them (monotone).
    param : str
        A field of the spec: 'eta', 'alpha', 'beta1', 'beta2', 'eps', ...
    period : int
    tol, max_iter
        Newton settings (see :func:`adadyn.analysis.periodic_orbit`).
    locate : bool
        Refine every detected crossing by bisection on det(M + I) (period
        doubling), det(M - I) (fold) or max |mu| - 1 (Neimark-Sacker).
    diagram : bool
        Also compute orbit-diagram data by iterating the discrete map (the
        Numba kernel) from ``diagram_start`` for ``transient`` steps and
        recording ``record`` more.
    diagram_start : array_like or State, optional
        Default: the guess with x shifted by 1e-3 (1 + |x|), so that an unstable
        fixed point is left.
    component : int
        Which coordinate of x the diagram records.

    Returns
    -------
    Continuation
    """
    from adadyn.discrete.run import run

    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size < 1 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty array of finite numbers")
    F0 = state_map(_with(opt, param, values[0]), obj)
    z = as_state_vector(F0, guess)
    n = F0.size
    N = values.size
    pts = np.full((N, n), np.nan)
    mus = np.full((N, n), np.nan, dtype=complex)
    found = np.zeros(N, dtype=bool)
    Ms = [None] * N
    for i, val in enumerate(values):
        _, zi, res = _solve(_with(opt, param, val), obj, z, period, tol, max_iter)
        if res is not None:
            found[i] = True
            pts[i] = zi
            Ms[i], mus[i] = res
            z = zi
    bifs = []
    for i in range(N - 1):
        if not (found[i] and found[i + 1]):
            continue
        ck = _crossing_kind(mus[i], mus[i + 1])
        if ck is None:
            continue
        kind, mu = ck
        lo, hi = values[i], values[i + 1]
        if locate:
            fa = _test_functions(Ms[i])[kind]
            zl = pts[i]
            for _ in range(200):
                if abs(hi - lo) <= 1e-14 * max(abs(lo), abs(hi)):
                    break
                mid = 0.5 * (lo + hi)
                _, zm, res = _solve(_with(opt, param, mid), obj, zl, period, tol, max_iter)
                if res is None:
                    break
                fm = _test_functions(res[0])[kind]
                if np.sign(fm) == np.sign(fa):
                    lo, fa, zl = mid, fm, zm
                else:
                    hi = mid
        bifs.append(Bifurcation(kind, float(0.5 * (lo + hi)), float(abs(hi - lo)), complex(mu)))
    dp, dx = np.empty(0), np.empty(0)
    if diagram:
        if not 0 <= component < F0.dim:
            raise ValueError(f"component must be in [0, {F0.dim}), got {component}")
        if diagram_start is None:
            zs = as_state_vector(F0, guess).copy()
            zs[:F0.dim] += 1e-3 * (1.0 + np.abs(zs[:F0.dim]))
        else:
            zs = as_state_vector(F0, diagram_start)
        dps, dxs = [], []
        for val in values:
            o = _with(opt, param, val)
            Fv = state_map(o, obj)
            tr = run(o, obj, steps=int(transient), state=Fv.to_state(zs), record_state=False)
            tr = run(o, obj, steps=max(int(record) - 1, 0), state=tr.final_state)
            xs = tr.x[:, component]
            dps.append(np.full(xs.shape, val))
            dxs.append(xs)
        dp, dx = np.concatenate(dps), np.concatenate(dxs)
    return Continuation(param, int(period), F0.blocks, values, found, pts, mus, found & (np.max(
        np.abs(np.nan_to_num(mus, nan=np.inf)), axis=1) < 1.0), tuple(bifs), dp, dx, int(component))
