"""Preconditioned sharpness along a run, next to the adaptive edge of stability.

With the preconditioner frozen, one Adam step (eq. (3) of Ma, Wu & E) on a
quadratic with Hessian H is heavy-ball momentum on the preconditioned Hessian
P H, P = diag(1 / (sqrt(v_hat) + eps)). An eigen-direction with curvature mu of
P H obeys z^2 - (1 + beta1 - eta (1 - beta1) mu) z + beta1 = 0, which loses
stability through z = -1 at

    mu = (2 + 2 beta1) / ((1 - beta1) eta)        (38 / eta at beta1 = 0.9),

the "adaptive edge of stability" of Cohen et al. (2022). For the general
moment method of eq. (1) (m <- h g + r m) the same computation gives
2 (1 + r) / (h eta): 2/eta for RMSprop (eq. (2)) and GD.

P H is not symmetric; its eigenvalues are those of the symmetric
P^{1/2} H P^{1/2}, which is what is computed: dense ``eigvalsh`` for small d,
Lanczos (``scipy.sparse.linalg.eigsh``) on Hessian-vector products otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adadyn.analysis.regimes import Regime, classify

__all__ = ["Sharpness", "preconditioned_sharpness", "stability_threshold"]


def stability_threshold(opt, k: int | None = None) -> float:
    """Largest stable eigenvalue of the preconditioned Hessian for ``opt``.

    (2 + 2 beta1) / ((1 - beta1) eta) for Adam, 2 / eta for RMSprop and GD; in
    general 2 (1 + r) / (h eta_k) for eq. (1) with m <- h g + r m. ``k`` is the
    number of steps taken (the step size of step k + 1 under a schedule).
    """
    c = opt.coefficients()
    if c.method not in ("gd", "moment", "adafix"):
        raise ValueError(f"no preconditioned stability threshold for {opt.name} "
                         "(needs GD, RMSprop, Adam or another eq. (1) method)")
    eta = opt.eta if k is None else opt.eta * float(opt.schedule.factor(k + 1))
    if c.method == "gd":
        return 2.0 / eta
    return 2.0 * (1.0 + c.r) / (c.h * eta)


@dataclass(frozen=True, eq=False)
class Sharpness:
    """Top eigenvalue of the preconditioned Hessian along a run.

    Attributes
    ----------
    step, time : ndarray
        Step k of each row and continuous time (eta * k for a constant step).
    sharpness : ndarray
        lambda_max(P^{1/2} H P^{1/2}) with P = diag(1/(sqrt(v_hat_k) + eps)); NaN at k = 0.
    threshold : ndarray
        :func:`stability_threshold` at each row.
    loss : ndarray
        The loss at each row.
    regime : Regime
        Classification of the loss curve (spikes are taken from it).
    spike_steps, spike_onsets : ndarray
        Peak and start of the rise of each detected spike.
    crossed : ndarray of bool
        The ratio sharpness/threshold crossed 1 upwards between the previous
        spike's peak (or the start of the analysed window) and this spike's peak.
    crossing_step : ndarray
        Step of the last such crossing (NaN when none).
    lead_steps : ndarray
        ``spike_onsets - crossing_step``: how long before the rise began the
        threshold was crossed (negative: the crossing came during the rise).
    peak_lead_steps : ndarray
        ``spike_steps - crossing_step``: how long before the peak.
    above_at_onset : ndarray of bool
        Sharpness above the threshold at the spike's onset.
    late_fraction_above : float
        Fraction of the late-window rows with sharpness above the threshold.
    late_median_ratio : float
        Median of sharpness / threshold over the late window.
    """

    step: np.ndarray
    time: np.ndarray
    sharpness: np.ndarray
    threshold: np.ndarray
    loss: np.ndarray
    regime: Regime
    spike_steps: np.ndarray
    spike_onsets: np.ndarray
    crossed: np.ndarray
    crossing_step: np.ndarray
    lead_steps: np.ndarray
    peak_lead_steps: np.ndarray
    above_at_onset: np.ndarray
    late_fraction_above: float
    late_median_ratio: float

    @classmethod
    def from_series(cls, steps, time, sharpness, threshold, loss, regime) -> "Sharpness":
        """Relate a sharpness series to the spikes of ``regime`` (a :class:`Regime` of the
        loss): for each spike, the last upward crossing of sharpness/threshold = 1 since the
        previous spike (or the late window's start), and whether the ratio is above 1 at the
        spike's onset. Used for discrete runs and for networks (:mod:`adadyn.nn`)."""
        steps = np.asarray(steps)
        ratio = np.asarray(sharpness) / np.asarray(threshold)
        ups = np.flatnonzero((ratio[:-1] <= 1.0) & (ratio[1:] > 1.0)) + 1
        up_steps = steps[ups].astype(float)
        pk, on = regime.spike_steps, regime.spike_onsets
        crossed = np.zeros(pk.shape[0], dtype=bool)
        cstep = np.full(pk.shape[0], np.nan)
        above = np.zeros(pk.shape[0], dtype=bool)
        prev = float(regime.window[0])
        for i, (p, o) in enumerate(zip(pk, on)):
            sel = up_steps[(up_steps > prev) & (up_steps <= p)]
            if sel.size:
                crossed[i] = True
                cstep[i] = sel[-1]
            jo = int(np.searchsorted(steps, o))
            above[i] = bool(jo < ratio.shape[0] and ratio[jo] > 1.0)
            prev = float(p)
        late = steps >= regime.window[0]
        rl = ratio[late & np.isfinite(ratio)]
        return cls(
            step=steps, time=np.asarray(time), sharpness=np.asarray(sharpness), threshold=np.asarray(threshold),
            loss=np.asarray(loss), regime=regime, spike_steps=pk, spike_onsets=on, crossed=crossed,
            crossing_step=cstep, lead_steps=on - cstep, peak_lead_steps=pk - cstep, above_at_onset=above,
            late_fraction_above=float(np.mean(rl > 1.0)) if rl.size else np.nan,
            late_median_ratio=float(np.median(rl)) if rl.size else np.nan,
        )

    @property
    def ratio(self) -> np.ndarray:
        """sharpness / threshold (> 1: locally unstable with the frozen preconditioner)."""
        return self.sharpness / self.threshold

    def __repr__(self) -> str:
        n = self.spike_steps.shape[0]
        return (f"Sharpness(rows={self.step.shape[0]}, late median ratio={self.late_median_ratio:.3g}, "
                f"late fraction above={self.late_fraction_above:.3g}, spikes={n}, "
                f"preceded by a crossing={int(self.crossed.sum())}/{n})")


def _preconditioner(opt, v, k):
    c = opt.coefficients()
    if c.method == "gd":
        return np.ones_like(v)
    if not c.has_v or c.amsgrad != "none":
        raise ValueError(f"preconditioned sharpness needs the preconditioner from v; {opt.name} "
                         "(signGD, Lion, AMSGrad's running max) is not supported")
    c2 = 1.0 - c.q ** k if c.bias_correction else 1.0
    vh = v / c2
    if c.eps_inside:
        return 1.0 / np.sqrt(vh + c.eps)
    return 1.0 / (np.sqrt(vh) + c.eps)


def _top_eig(obj, x, s, dense: bool, tol: float):
    if dense:
        H = obj.hessian(x)
        return float(np.linalg.eigvalsh(s[:, None] * H * s[None, :])[-1])
    from scipy.sparse.linalg import LinearOperator, eigsh

    d = x.shape[0]
    if obj.has_hessian and d <= 2000 and getattr(obj, "numba_backed", True):
        H = obj.hessian(x)  # hvp would form H on every product anyway
        mv = lambda u: s * (H @ (s * u))  # noqa: E731
    else:
        mv = lambda u: s * obj.hvp(x, s * np.ravel(u))  # noqa: E731
    op = LinearOperator((d, d), matvec=mv, dtype=np.float64)
    v0 = np.ones(d) / np.sqrt(d)
    return float(eigsh(op, k=1, which="LA", tol=tol, v0=v0, return_eigenvectors=False)[0])


def preconditioned_sharpness(
    traj,
    obj=None,
    *,
    every: int = 1,
    method: str = "auto",
    dense_max: int = 400,
    tol: float = 1e-8,
    classify_kw: dict | None = None,
) -> Sharpness:
    """lambda_max(diag(1/(sqrt(v_hat)+eps)) H) along ``traj``, with the stability threshold.

    Parameters
    ----------
    traj : Trajectory
        A run with recorded state (``record_state=True``); row j uses x, v and
        the step index k = ``traj.step[j]`` (v_hat = v / (1 - beta2^k), eq. (3)).
    obj : Objective, optional
        Defaults to ``traj.objective``.
    every : int
        Use every ``every``-th recorded row.
    method : {'auto', 'dense', 'lanczos'}
        'auto' is dense ``eigvalsh`` for d <= ``dense_max``, else Lanczos with
        Hessian-vector products.
    tol : float
        Relative tolerance of Lanczos.
    classify_kw : dict, optional
        Options for :func:`~adadyn.analysis.classify`, which finds the spikes
        (default: the last half of the run, ``window=0.5``).

    Returns
    -------
    Sharpness
        Per row: sharpness, threshold, loss; per detected spike: whether and how
        long before its onset the threshold was crossed.
    """
    if obj is None:
        obj = traj.objective
    every = int(every)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    if traj.x.shape[0] == 0:
        raise ValueError("traj has no recorded state; run with record_state=True")
    opt = traj.opt
    dense = method == "dense" or (method == "auto" and obj.dim <= dense_max)
    rows = np.arange(0, traj.x.shape[0], every)
    steps = np.asarray(traj.step)[rows]
    sharp = np.full(rows.shape[0], np.nan)
    thr = np.empty(rows.shape[0])
    for n, (j, k) in enumerate(zip(rows, steps)):
        thr[n] = stability_threshold(opt, int(k))
        if k == 0:
            continue  # v = 0: the preconditioner is 1/eps, not a state Adam iterates from
        s = np.sqrt(_preconditioner(opt, traj.v[j], int(k)))
        sharp[n] = _top_eig(obj, np.ascontiguousarray(traj.x[j]), s, dense, tol)
    loss = np.asarray(traj.loss)[rows]

    kw = {"window": 0.5}
    kw.update(classify_kw or {})
    reg = classify(loss, steps, f_star=(obj.min_value if obj.min_value is not None else 0.0), **kw)
    return Sharpness.from_series(steps, np.asarray(traj.time)[rows], sharp, thr, loss, reg)
