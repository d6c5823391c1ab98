"""Lyapunov spectra of discrete maps by the QR method (Benettin et al. 1980).

Regular oscillation (a stable periodic orbit: every exponent < 0, equal to
ln|Floquet multiplier| / period) and chaotic spiking (a positive exponent) of
the late phase (sections 3-4 of Ma, Wu & E) are told apart by the sign of the
largest exponent. :func:`qr_lyapunov` works on any map with a Jacobian (the
logistic map at r = 4, whose exponent is ln 2, checks it);
:func:`lyapunov_exponents` plugs in an optimiser's map from
:mod:`adadyn.analysis.maps`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from adadyn.analysis.linearization import as_state_vector
from adadyn.discrete.map import state_map
from adadyn.discrete.trajectory import State
from adadyn.validation import check_int

__all__ = ["LyapunovSpectrum", "qr_lyapunov", "lyapunov_exponents"]


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """Lyapunov exponents of a discrete map.

    Attributes
    ----------
    exponents : ndarray (k,)
        Per step, in decreasing order (-inf for an exactly zero multiplier
        direction, e.g. RMSprop with alpha = 0).
    exponents_per_time : ndarray (k,) or None
        exponents / eta: per unit of continuous time t = eta*k (optimiser maps).
    steps, transient : int
        Steps averaged over, and steps discarded before.
    history : ndarray (n_check, k)
        Running estimates at ``history_steps`` (to judge convergence).
    history_steps : ndarray (n_check,)
    final_state : ndarray
        The state reached.
    """

    exponents: np.ndarray
    exponents_per_time: np.ndarray | None
    steps: int
    transient: int
    history: np.ndarray = field(repr=False)
    history_steps: np.ndarray = field(repr=False)
    final_state: np.ndarray = field(repr=False)

    @property
    def max_exponent(self) -> float:
        return float(self.exponents[0])

    @property
    def chaotic(self) -> bool:
        """True when the largest exponent is positive (beyond the running estimate's
        last-half drift, a rough error bar)."""
        h = self.history[:, 0]
        drift = float(np.max(np.abs(h[len(h) // 2:] - h[-1]))) if len(h) > 1 else 0.0
        return bool(self.exponents[0] > max(drift, 1e-12))

    def __repr__(self) -> str:
        with np.printoptions(precision=6, threshold=8):
            return f"LyapunovSpectrum(exponents={self.exponents} per step, steps={self.steps})"


def qr_lyapunov(step: Callable, jacobian: Callable, z0, steps: int, *, transient: int = 0,
                n_exponents: int | None = None, n_history: int = 50) -> LyapunovSpectrum:
    """Lyapunov spectrum of the map z -> step(z) with Jacobian ``jacobian(z)``.

    Parameters
    ----------
    step : callable
        z (n,) -> z' (n,).
    jacobian : callable
        z -> DF(z), (n, n).
    z0 : array_like (n,)
    steps : int
        Steps averaged over (after ``transient`` discarded steps).
    n_exponents : int, optional
        The k largest exponents (default all n).
    n_history : int
        How many running estimates to keep.

    Notes
    -----
    Q_{j+1} R_{j+1} = DF(z_j) Q_j (reduced QR, renormalised every step), from a
    fixed random orthonormal Q_0; the exponents are (1/N) sum_j ln |diag R_j|. The statistical error of a
    chaotic average decays like N^(-1/2).
    """
    z = np.atleast_1d(np.asarray(z0, dtype=np.float64)).copy()
    n = z.shape[0]
    k = n if n_exponents is None else int(n_exponents)
    if not 1 <= k <= n:
        raise ValueError(f"n_exponents must be in [1, {n}], got {n_exponents}")
    steps, transient = int(steps), int(transient)
    if steps < 1 or transient < 0:
        raise ValueError("steps must be >= 1 and transient >= 0")
    for _ in range(transient):
        z = np.atleast_1d(step(z))
    # a generic (seeded, hence reproducible) start frame: e_1 could be an eigenvector
    Q = np.linalg.qr(np.random.default_rng(0).standard_normal((n, n)))[0][:, :k]
    sums = np.zeros(k)
    checks = np.unique(np.linspace(1, steps, min(n_history, steps)).astype(int))
    hist = np.empty((checks.size, k))
    c = 0
    with np.errstate(divide="ignore"):
        for j in range(1, steps + 1):
            J = np.atleast_2d(jacobian(z))
            Q, R = np.linalg.qr(J @ Q)
            sums += np.log(np.abs(np.diag(R)))
            z = np.atleast_1d(step(z))
            if j == checks[c]:
                hist[c] = sums / j
                c += 1
    lam = sums / steps
    order = np.argsort(-lam, kind="stable")
    return LyapunovSpectrum(lam[order], None, steps, transient, hist[:, order], checks, z)


def lyapunov_exponents(opt, obj, x0=None, steps: int = 10_000, *, state=None, transient: int = 1000,
                       n_exponents: int | None = None, exact: bool | None = False) -> LyapunovSpectrum:
    """Lyapunov spectrum of the discrete map of ``opt`` on ``obj`` along the orbit of x0.

    Parameters
    ----------
    opt : Optimizer
        See :func:`adadyn.discrete.map.state_map` (Adam: t -> infinity map).
    obj : Objective
    x0 : array_like, optional
        Start x with m = v = 0 (or a full state vector); or give ``state``.
        Finite (NaN or inf raises ValueError naming ``x0`` / ``state``).
    steps, transient : int
        Steps averaged over after ``transient`` discarded steps (the transient is
        run by the Numba kernel, ~100 ns/step; the averaged steps need a Jacobian
        and a QR each, ~50-100 us at d = 10).
    n_exponents : int, optional
        Only the largest few (cheaper for big states).
    exact : bool, optional
        Sympy Hessians (slow; default False: compiled or finite-difference Hessian).

    Returns
    -------
    LyapunovSpectrum
        Exponents per step and per unit of continuous time (divided by eta),
        for the state layout ``state_map(opt, obj).blocks``.
    """
    F = state_map(opt, obj, exact=exact)
    if (x0 is None) == (state is None):
        raise ValueError("give exactly one of x0 and state")
    name = "x0" if state is None else "state"
    start = x0 if state is None else state
    if not isinstance(start, State):
        try:
            start = np.asarray(start, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be an array of numbers or a State, got {type(start).__name__}") from None
        if not np.all(np.isfinite(start)):
            raise ValueError(f"{name} must be finite (no NaN or inf), got {start}")
    z0 = as_state_vector(F, start)
    if not np.all(np.isfinite(z0)):
        raise ValueError(f"{name} must be finite (no NaN or inf), got {z0}")
    steps = check_int("steps", steps, lo=1)
    transient = check_int("transient", transient, lo=0)
    if transient:
        # the transient needs no Jacobians: the Numba kernel iterates the same map (bit for bit)
        from adadyn.discrete.run import run

        tr = run(opt, obj, steps=int(transient), state=F.to_state(z0), record_state=False)
        if tr.status == "diverged":
            raise ValueError(f"the orbit diverged during the transient ({tr.message})")
        z0 = F.pack(tr.final_state)
    res = qr_lyapunov(F, F.jacobian, z0, steps, n_exponents=n_exponents)
    return LyapunovSpectrum(res.exponents, res.exponents / F.eta, res.steps, int(transient), res.history,
                            res.history_steps, res.final_state)
