"""Late-phase regimes of a loss curve: convergence, oscillation, spike, divergence, transient.

Ma, Wu & E (section 4, Figures 7 and 8) sort the late phase of Adam (eq. (3))
into three patterns over the memory rates (a, b) of beta2 = 1 - a*eta,
beta1 = 1 - b*eta: *spikes* (b >> a: sudden rises of the loss by orders of
magnitude, each followed by a slow recovery), *oscillation* (a ~ b: small, fast
oscillation at a low level) and *divergence* (a >> b: "the loss is large and
blows up", Figure 7 right). :func:`classify` adds *convergence* (the loss falls
steadily or sits still) and *transient* (the run has not settled).

"divergence" is the paper's word for a loss that stays far above its minimum on the
window's time scale, not necessarily a blow-up: every label has a short meaning
(:data:`REGIME_MEANINGS`, :attr:`Regime.meaning`), printed and plotted with it
(:meth:`Regime.describe`: "divergence (stays high)"), and a run that actually blew up
(non-finite loss, status 'diverged', or a late loss :data:`BLOWUP_DECADES` decades above
its start) reads "divergence (blew up)".

Every feature is measured on the late window itself, in decades of |f - f*|
and in optimiser steps (never relative to the start, never in samples), so the
label does not change when the start is moved, the record stride changes, or
the objective is multiplied by a constant. "Large" is measured against the
step-size scale: the loss-implied distance to the minimum in steps of the
run's own length, r/s ~ 2 / |d ln(f - f*) / d step| (docs/regimes.md derives
it). :func:`classify_many` computes the same features for many curves at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import adadyn.analysis.regime_features as _rf

__all__ = ["Regime", "REGIMES", "REGIME_MEANINGS", "BLOWUP_DECADES", "BLEW_UP", "RegimeArray", "classify",
           "classify_many", "describe_label", "blew_up", "DEFAULTS"]

#: The labels, in the order used by the integer codes of phase diagrams.
REGIMES = ("convergence", "oscillation", "spike", "divergence", "transient")

#: What each label means, in a few words; the same on quadratics and networks. Every
#: printed or plotted label carries it (:func:`describe_label`). "divergence" is the
#: paper's word (Ma, Wu & E, Figures 7-8) for a loss that stays far above its minimum on
#: the window's time scale; a run that actually blew up is marked :data:`BLEW_UP`.
REGIME_MEANINGS = {
    "convergence": "falls steadily or sits still",
    "oscillation": "small fast ripple near the minimum",
    "spike": "sudden rises, slow recoveries",
    "divergence": "stays high",
    "transient": "not settled yet",
}

#: Said of a run that actually blew up: a non-finite loss, a run stopped as diverged, or
#: a late loss :data:`BLOWUP_DECADES` or more decades above its start.
BLEW_UP = "blew up"

#: Decades above the first sample (``Regime.level``) from which a late loss reads as blown up.
#: A display threshold only: no classification rule reads it.
BLOWUP_DECADES = 3.0


def blew_up(level, nonfinite=False):
    """Whether runs blew up: ``nonfinite`` (a non-finite loss or status 'diverged') or a late
    mean loss ``level`` >= :data:`BLOWUP_DECADES` decades above the first sample.

    Elementwise on arrays (``level`` nan counts as not blown up unless ``nonfinite``).
    """
    lv = np.asarray(level, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = np.asarray(nonfinite, dtype=bool) | (np.nan_to_num(lv, nan=-np.inf) >= BLOWUP_DECADES)
    return bool(out) if out.ndim == 0 else out


def describe_label(label: str, blown_up: bool = False, sep: str = " ") -> str:
    """``label`` with its meaning: "divergence (stays high)"; a run that blew up reads
    "divergence (blew up)" (another label keeps its meaning and adds "; blew up").
    ``sep`` goes between the label and the parenthesis (``"\\n"`` for a two-line title).

    Raises
    ------
    ValueError
        ``label`` is not one of :data:`REGIMES`.
    """
    if label not in REGIME_MEANINGS:
        raise ValueError(f"label must be one of {REGIMES}, got {label!r}")
    if blown_up:
        said = BLEW_UP if label == "divergence" else f"{REGIME_MEANINGS[label]}; {BLEW_UP}"
    else:
        said = REGIME_MEANINGS[label]
    return f"{label}{sep}({said})"

#: Default options of :func:`classify` (calibrated on the calibration part of
#: ``scripts/make_regime_dataset.py``; see docs/regimes.md).
DEFAULTS = dict(window=0.25, floor=1e-28, spike_height=2.0, min_spikes=2, ripple=10.0,
                baseline_window=0.1, trend_min=0.0, trend_snr=2.0, flat_tol=0.01, steady=4.0,
                far=4.0, accel=1.5, cycle_min=0.05, spike_quantile=0.3)

#: optimisers whose step is of order eta per coordinate (the gradient rules read eta as
#: the step-size scale); GD's step is eta |g| and Adagrad's shrinks, so they are not here
ETA_STEP_OPTIMIZERS = ("Adam", "AMSGrad", "RMSprop", "signGD", "Lion")

_EMPTY_I = np.empty(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Regime:
    """The late-phase regime of one run and the features behind it.

    Attributes
    ----------
    label : str
        One of :data:`REGIMES`; :attr:`meaning` says what it means, :meth:`describe`
        prints both ("divergence (stays high)", or "divergence (blew up)" when
        :attr:`blew_up`).
    reason : str
        Which rule decided the label.
    level : float
        Late mean of log10(|f - f*| / reference), decades relative to the first
        sample (read by the blow-up rule: ``level >= 2`` is divergence).
    trend : float
        Change of the fitted log10 |f - f*| across the late window (decades; < 0 falling).
    residual_std : float
        Standard deviation of the late log-loss around its linear fit (decades).
    spike_count : int
        Spikes in the late window (excursions above the rolling median that rise more than
        ``spike_height`` decades above the rolling ``spike_quantile`` and at least that much
        above the level held since the previous spike).
    spike_heights, spike_steps, spike_onsets : ndarray
        Peak height above the low (``spike_quantile``) baseline (decades), step of the
        peak, step of the valley where its rise begins.
    osc_amplitude : float
        Half the 5-95 % spread of the log-loss around the baseline (decades).
    osc_frequency : float
        Upward crossings of the baseline per step (at the resolution of the record).
    nonfinite : bool
        The run produced a non-finite loss (or stopped as diverged).
    reference : float
        |f_0 - f*| of the first finite sample (only for ``level``).
    window : (int, int)
        First and last step of the late window.
    step_ratio : float
        Loss-implied distance to the minimum in steps of the run's own length,
        2 c / |d ln(f - f*)/d step|, c the resolved fraction (see ``smoothness``).
    smoothness : float
        Mean |change| of the log-loss over two samples / over one sample: 2 for
        drift resolved by the record, about 1 (or below) for fluctuation faster
        than the stride.
    trend_halves : (float, float)
        Slopes of the log-loss fitted on each half of the window (decades per window).
    log_level : float
        Late mean of log10 |f - f*|.
    floor : float
        log10 of the resolution floor below which |f - f*| is clipped.
    spread : float
        5-95 % spread of the late log-loss (decades).
    grad_ratio : float
        Gradient-implied distance to the minimum in step sizes, the late median of
        2 |f - f*| / (|grad f| eta); nan when the gradient norm or the step size is unknown.
    grad_ratio_ends : (float, float)
        Its medians over the first and the last tenth of the late window (nan when unknown).
    residual_std_halves : float
        Standard deviation of the late log-loss around the lines fitted on each half of the
        window (decades): the noise against which a change of rate between the halves is read.
    """

    label: str
    reason: str
    level: float
    trend: float
    residual_std: float
    spike_count: int
    spike_heights: np.ndarray
    spike_steps: np.ndarray
    spike_onsets: np.ndarray
    osc_amplitude: float
    osc_frequency: float
    nonfinite: bool
    reference: float
    window: tuple = field(default=(0, 0))
    step_ratio: float = np.nan
    smoothness: float = np.nan
    trend_halves: tuple = (np.nan, np.nan)
    log_level: float = np.nan
    floor: float = np.nan
    spread: float = np.nan
    grad_ratio: float = np.nan
    grad_ratio_ends: tuple = (np.nan, np.nan)
    residual_std_halves: float = np.nan

    @property
    def code(self) -> int:
        """Index of :attr:`label` in :data:`REGIMES`."""
        return REGIMES.index(self.label)

    @property
    def meaning(self) -> str:
        """What :attr:`label` means, in a few words (:data:`REGIME_MEANINGS`)."""
        return REGIME_MEANINGS[self.label]

    @property
    def blew_up(self) -> bool:
        """The run blew up: a non-finite loss (or status 'diverged'), or a late loss
        :data:`BLOWUP_DECADES` or more decades above the first sample."""
        return blew_up(self.level, self.nonfinite)

    def describe(self, sep: str = " ") -> str:
        """The label with its meaning, e.g. "divergence (stays high)" or "divergence (blew up)"
        (``sep`` between the two, as in :func:`describe_label`)."""
        return describe_label(self.label, self.blew_up, sep)

    def __repr__(self) -> str:
        return (f"Regime({self.describe()}, log_level={self.log_level:.3g}, trend={self.trend:.3g} dec, "
                f"spikes={self.spike_count}, osc_amplitude={self.osc_amplitude:.3g} dec, "
                f"step_ratio={self.step_ratio:.3g}, nonfinite={self.nonfinite}, reason={self.reason!r})")


# ---------------------------------------------------------------- options
#: options of the first release that the late-window rules no longer read
_RETIRED = ("growth", "min_decrease")


def _params(kw) -> np.ndarray:
    retired = [k for k in _RETIRED if k in kw]
    if retired:
        import warnings

        warnings.warn(f"classify option(s) {retired} are ignored: labels no longer refer to the start "
                      "(docs/regimes.md)", DeprecationWarning, stacklevel=3)
        kw = {k: v for k, v in kw.items() if k not in _RETIRED}
    unknown = set(kw) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown classify option(s) {sorted(unknown)}; allowed: {sorted(DEFAULTS)}")
    o = {**DEFAULTS, **kw}

    def num(name, lo, hi=np.inf, lo_open=True):
        v = o[name]
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {type(o[name]).__name__}") from None
        ok = np.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]"
            raise ValueError(f"{name} must be a finite number in {rng}, got {o[name]!r}")
        return v

    P = np.empty(_rf.N_PARAMS)
    P[_rf.P_WINDOW] = num("window", 0.0, 1.0)
    P[_rf.P_FLOOR] = num("floor", 0.0, 1.0)
    P[_rf.P_SPIKE_HEIGHT] = num("spike_height", 0.0)
    ms = o["min_spikes"]
    if isinstance(ms, bool) or not isinstance(ms, (int, np.integer)) or ms < 1:
        raise ValueError(f"min_spikes must be an integer >= 1, got {ms!r}")
    P[_rf.P_MIN_SPIKES] = int(ms)
    P[_rf.P_RIPPLE] = num("ripple", 0.0)
    P[_rf.P_BASELINE] = num("baseline_window", 0.0, 1.0)
    P[_rf.P_TREND_MIN] = num("trend_min", 0.0, lo_open=False)
    P[_rf.P_TREND_SNR] = num("trend_snr", 0.0)
    P[_rf.P_FLAT_TOL] = num("flat_tol", 0.0, lo_open=False)
    P[_rf.P_STEADY] = num("steady", 1.0, lo_open=False)
    P[_rf.P_FAR] = num("far", 0.0)
    P[_rf.P_ACCEL] = num("accel", 1.0, lo_open=False)
    P[_rf.P_CYCLE_MIN] = num("cycle_min", 0.0, lo_open=False)
    P[_rf.P_BASE_Q] = num("spike_quantile", 0.0, 0.5, lo_open=False)
    return P


def _check_step_size(eta):
    if eta is None:
        return np.nan
    try:
        e = float(eta)
    except (TypeError, ValueError):
        raise TypeError(f"step_size must be a real number, got {type(eta).__name__}") from None
    if not (np.isfinite(e) and e > 0):
        raise ValueError(f"step_size must be a finite number > 0, got {eta!r}")
    return e


def _check_fstar(f_star):
    f = float(0.0 if f_star is None else f_star)
    if not np.isfinite(f):
        raise ValueError(f"f_star must be a finite number, got {f_star!r}")
    return f


def _step_array(step, n):
    if step is None:
        return np.arange(n, dtype=np.float64)
    s = np.asarray(step, dtype=np.float64).reshape(-1)
    if s.shape != (n,):
        raise ValueError(f"step must have one entry per loss sample ({n}), got shape {s.shape}")
    if not np.all(np.isfinite(s)) or np.any(np.diff(s) <= 0):
        raise ValueError("step must be finite and strictly increasing")
    return np.ascontiguousarray(s)


def _traj_gradient(tr):
    """(|grad f| record, eta) of a Trajectory whose optimiser steps by about eta per
    coordinate (:data:`ETA_STEP_OPTIMIZERS`), else (None, None). Used only when the minimum
    value f* is known (the objective's ``min_value`` or an explicit ``f_star``)."""
    opt = getattr(tr, "opt", None)
    gn = getattr(tr, "grad_norm", None)
    if opt is None or gn is None or getattr(opt, "name", None) not in ETA_STEP_OPTIMIZERS:
        return None, None
    eta = getattr(opt, "eta", None)
    gn = np.asarray(gn, dtype=np.float64)
    if eta is None or gn.shape != np.shape(tr.loss):
        return None, None
    return gn, float(eta)


def _check_known(f_star_known):
    if f_star_known is None or isinstance(f_star_known, (bool, np.bool_)):
        return f_star_known
    raise TypeError(f"f_star_known must be True, False or None, got {type(f_star_known).__name__}")


def _unpack(traj_or_loss, step, f_star, f_star_known=None):
    """loss, step, f* (or its lower bound), whether f* is the minimum value, whether the run is
    known to have diverged, and the trajectory's gradient-norm record and step size (None when
    unknown)."""
    diverged = False
    gn = eta = None
    known = _check_known(f_star_known)
    if hasattr(traj_or_loss, "loss") and hasattr(traj_or_loss, "status"):
        tr = traj_or_loss
        loss = np.asarray(tr.loss, dtype=np.float64)
        step = np.asarray(tr.step) if step is None else step
        diverged = tr.status == "diverged"
        obj = getattr(tr, "objective", None)
        mv = getattr(obj, "min_value", None)
        bound = getattr(obj, "lower_bound", None)
        given = f_star is not None or mv is not None
        if known is None:
            # a network's training loss (its objective has a lower_bound, no min_value): the
            # minimum value is unknown, only bounded below
            known = given or bound is None
        if f_star is None:
            f_star = mv if mv is not None else (bound if bound is not None and not known else 0.0)
        # 2 |f - f*| / |g| is a distance only when f* is the minimum value: the gradient
        # rules need it (a network's f* is unknown, and 0 is not its minimum value)
        if known and (given or f_star_known):
            gn, eta = _traj_gradient(tr)
    else:
        try:
            loss = np.asarray(traj_or_loss, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError("traj_or_loss must be a Trajectory or a 1-D array of real numbers") from None
    if loss.ndim != 1:
        raise ValueError(f"loss must be one-dimensional, got shape {loss.shape}")
    if loss.shape[0] < 4:
        raise ValueError(f"need at least 4 loss samples, got {loss.shape[0]}")
    known = True if known is None else bool(known)
    return np.ascontiguousarray(loss), _step_array(step, loss.shape[0]), _check_fstar(f_star), known, diverged, gn, eta


def _check_gradient(grad_norm, step_size, shape):
    """grad_norm as a float array of ``shape`` and step_size > 0, or (None, None)."""
    if grad_norm is None and step_size is None:
        return None, None
    if grad_norm is None or step_size is None:
        raise ValueError("grad_norm and step_size must be given together")
    try:
        g = np.asarray(grad_norm, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("grad_norm must be an array of real numbers") from None
    if g.shape != shape:
        raise ValueError(f"grad_norm must have the shape of the loss {shape}, got {g.shape}")
    return g, step_size


def _regime(out, step, peaks, onsets, heights, cnt) -> Regime:
    code = int(out[_rf.F_CODE])
    return Regime(
        REGIMES[code], _rf.REASONS[int(out[_rf.F_REASON])], float(out[_rf.F_LEVEL]), float(out[_rf.F_TREND]),
        float(out[_rf.F_RSTD]), int(cnt), heights[:cnt].copy(), step[peaks[:cnt]].astype(np.int64),
        step[onsets[:cnt]].astype(np.int64), float(out[_rf.F_AMP]), float(out[_rf.F_FREQ]),
        bool(out[_rf.F_NONFINITE]), float(out[_rf.F_REFERENCE]),
        (int(out[_rf.F_WIN0]), int(out[_rf.F_WIN1])), float(out[_rf.F_STEP_RATIO]),
        float(out[_rf.F_SMOOTH]), (float(out[_rf.F_TREND1]), float(out[_rf.F_TREND2])),
        float(out[_rf.F_LOG_LEVEL]), float(out[_rf.F_FLOOR]), float(out[_rf.F_SPREAD]),
        float(out[_rf.F_GRAD_RATIO]), (float(out[_rf.F_GRAD_FIRST]), float(out[_rf.F_GRAD_LAST])),
        float(out[_rf.F_RSTD_HALVES]))


def classify(traj_or_loss, step=None, *, f_star: float | None = None, diverged: bool = False,
             reference: float | None = None, grad_norm=None, step_size: float | None = None,
             use_gradient: bool = True, f_star_known: bool | None = None, **kw) -> Regime:
    """Classify the late phase of a run (Ma, Wu & E, section 4, Figures 7-8).

    Parameters
    ----------
    traj_or_loss : Trajectory or array_like
        A :class:`~adadyn.Trajectory` (its ``loss``, ``step``, ``status`` and the
        objective's ``min_value`` are used) or a 1-D loss history (>= 4 samples).
    step : array_like, optional
        Steps of the loss samples, strictly increasing (default ``arange(len(loss))``).
        Spikes, ripples and rates are measured in these steps; the record must
        resolve the dynamics it is asked about (docs/regimes.md: stride <= 20
        steps for the regimes of Figure 7 at eta = 1e-3).
    f_star : float, optional
        Minimum value subtracted from the loss (default: the objective's
        ``min_value`` when known, else 0); with ``f_star_known=False`` only a lower
        bound of the minimum value (default: the objective's ``lower_bound``, else 0).
    diverged : bool
        The run is known to have stopped on a non-finite value (taken from a
        Trajectory's ``status`` automatically).
    f_star_known : bool, optional
        Whether ``f_star`` is the minimum value (True) or only a lower bound of it
        (False: a network's training loss, whose minimum value is unknown and >= 0).
        Default: False for a Trajectory whose objective has a ``lower_bound`` and no
        ``min_value`` (the problems and objectives of :mod:`adadyn.nn`) when ``f_star``
        is not given; True otherwise. With f* unknown the loss-implied distance to
        the minimum (``step_ratio``) is only an upper bound (|d ln(f - f*)| >=
        |d ln(f - bound)|), so a stationary loss is read as divergence only when it
        has not fallen a decade below its first sample (rule 5, docs/regimes.md), and
        the gradient rules are off (they need the minimum value).
    reference : float, optional
        Scale of ``level`` (default |f_0 - f*|); the blow-up rule reads ``level``.
    grad_norm, step_size : array_like and float, optional
        |grad f| at the loss samples and the step size eta of an optimiser whose step
        is of order eta per coordinate; given together. They enable the gradient
        rules (``grad_ratio``, docs/regimes.md).
    use_gradient : bool
        Take them from a Trajectory of one of :data:`ETA_STEP_OPTIMIZERS` when the
        minimum value is known (``f_star`` given, or the objective's ``min_value``:
        2 |f - f*| / |g| is a distance only when f* is the minimum value). On by
        default: sweeps and phase diagrams record |grad f| too and apply the same
        rules, so a run's label is the one it gets in a sweep. ``False`` gives the
        loss-only label.
    **kw
        Options (defaults in :data:`DEFAULTS`): ``window`` (late window, fraction
        of the recorded step span, (0, 1]); ``floor`` (|f - f*| is clipped below
        at ``floor`` times its largest recorded value, and at the rounding
        resolution 4 eps |f*|); ``spike_height`` (decades); ``min_spikes``;
        ``ripple`` (steps over which the upper envelope bridges the zig-zag of a
        spike's decay); ``baseline_window`` (rolling-median width, fraction of the
        late window); ``trend_min`` and ``trend_snr`` (a change of the log-loss
        across the window larger than ``flat_tol``, at least ``trend_min`` decades and
        ``trend_snr`` times the residual spread is a trend); ``flat_tol`` (decades: a still
        loss); ``steady`` and ``accel`` (a trend is steady when the slopes of the
        two halves of the window have its sign, and the second is at most ``accel``
        times steeper and at most ``steady`` times flatter than the first, or when the change
        of rate is not resolved: the bend |s2 - s1| / 4 below ``trend_snr`` times the
        residual spread around the two half lines);
        ``far`` (the step-size scale: a stationary loss whose implied distance
        to the minimum exceeds ``far`` steps is "large"); ``cycle_min`` (a still loss
        whose gradient-implied distance to the minimum is at least ``cycle_min`` and
        below ``far`` step sizes is a cycle, oscillation); ``spike_quantile`` (in
        [0, 0.5]: the spike height is measured above this rolling quantile of the
        ``baseline_window``, the order statistic of rank round(q (w - 1)); 0.5 is the
        median of the first release).

    Returns
    -------
    Regime

    Raises
    ------
    ValueError
        Fewer than 4 samples, a non-1-D loss, a ``step`` of the wrong shape or
        not increasing, a non-finite ``f_star``, an option out of range.
    TypeError
        An unknown option or a non-numeric input.

    Notes
    -----
    Rules, in order (docs/regimes.md): a non-finite loss or a ``'diverged'``
    run -> divergence; the late loss held high (its lower quartile 2 decades or more
    above the first sample) -> divergence, unless the gradient puts the iterate within
    ``far`` step sizes of the minimum; at least ``min_spikes`` spikes -> spike; a late loss 2
    decades or more above the first sample (``level >= 2``) -> divergence, unless
    the gradient puts the iterate within ``far`` step sizes of the minimum; a still loss
    or one at the resolution floor -> convergence; a trend that is steady (or whose
    change of rate between the window's halves is within the noise) ->
    convergence when falling, divergence when rising (geometric blow-up), a
    trend that is not steady -> transient; with the gradient known, a steady fall
    whose iterate is still ``far`` or more step sizes from the minimum at the
    window's end is no arrival: transient when the distance, shrinking at the
    window's rate, reaches ``far`` within one more window, else divergence; a stationary loss whose implied
    distance to the minimum exceeds ``far`` steps -> divergence ("the loss
    stays large"); otherwise -> oscillation. With f* unknown (``f_star_known=False``) that
    distance is only an upper bound and the last rule reads the loss against itself: quarter
    medians of the window falling one after the other by 0.3 decade in all -> convergence; a
    stationary loss read "far" -> oscillation when it is a decade or more below its first
    sample, divergence otherwise.
    """
    loss, steps, fs, known, was_div, gn, eta = _unpack(traj_or_loss, step, f_star, f_star_known)
    if not use_gradient:
        gn = eta = None
    P = _params(kw)
    n = loss.shape[0]
    if grad_norm is not None or step_size is not None:
        if not known:
            raise ValueError("grad_norm and step_size need the minimum value (f_star_known=False: f* unknown); "
                             "2 |f - f*| / |grad f| is a distance only when f* is the minimum value")
        gn, eta = _check_gradient(grad_norm, step_size, loss.shape)
    eta = _check_step_size(eta)
    out = np.empty(_rf.N_FEATURES)
    peaks = np.empty(n, dtype=np.int64)
    onsets = np.empty(n, dtype=np.int64)
    heights = np.empty(n)
    cnt = _rf.curve_features(loss, steps, fs, bool(diverged or was_div), P, out, peaks, onsets, heights, gn, eta,
                             known)
    if reference is not None:
        ref = float(reference)
        if not (np.isfinite(ref) and ref > 0):
            raise ValueError(f"reference must be a finite number > 0, got {reference!r}")
        out[_rf.F_LEVEL] = out[_rf.F_LOG_LEVEL] - np.log10(ref)
        out[_rf.F_REFERENCE] = ref
    return _regime(out, steps, peaks, onsets, heights, cnt)


# ---------------------------------------------------------------- many curves
class RegimeArray:
    """Regimes of G curves as (G,) arrays (:func:`classify_many`).

    Attributes ``label`` (str), ``code``, ``reason``, ``spike_count``,
    ``osc_amplitude``, ``osc_frequency``, ``level``, ``trend``, ``residual_std``,
    ``nonfinite``, ``step_ratio``, ``smoothness``, ``log_level``, ``spread``, ``grad_ratio``,
    ``grad_ratio_first``, ``grad_ratio_last``, ``residual_std_halves``, ``meaning`` (:data:`REGIME_MEANINGS`),
    ``blew_up`` (see :attr:`Regime.blew_up`); ``describe()`` gives the labels with their meanings;
    ``regimes`` builds the full :class:`Regime` objects (with spike positions)
    on first access.
    """

    def __init__(self, feats, counts, loss, step, f_star, diverged, P, gnorm, eta, known=None):
        self._f, self._loss, self._step, self._fs, self._div, self._P = feats, loss, step, f_star, diverged, P
        self._known = np.ones(len(counts), dtype=np.bool_) if known is None else known
        self._gn, self._eta = gnorm, eta
        self.code = feats[:, _rf.F_CODE].astype(np.int64)
        self.label = np.array(REGIMES)[self.code]
        self.reason = np.array(_rf.REASONS)[feats[:, _rf.F_REASON].astype(np.int64)]
        self.spike_count = counts.copy()
        self.osc_amplitude = feats[:, _rf.F_AMP].copy()
        self.osc_frequency = feats[:, _rf.F_FREQ].copy()
        self.level = feats[:, _rf.F_LEVEL].copy()
        self.trend = feats[:, _rf.F_TREND].copy()
        self.residual_std = feats[:, _rf.F_RSTD].copy()
        self.nonfinite = feats[:, _rf.F_NONFINITE].astype(bool)
        self.step_ratio = feats[:, _rf.F_STEP_RATIO].copy()
        self.smoothness = feats[:, _rf.F_SMOOTH].copy()
        self.log_level = feats[:, _rf.F_LOG_LEVEL].copy()
        self.spread = feats[:, _rf.F_SPREAD].copy()
        self.grad_ratio = feats[:, _rf.F_GRAD_RATIO].copy()
        self.grad_ratio_first = feats[:, _rf.F_GRAD_FIRST].copy()
        self.grad_ratio_last = feats[:, _rf.F_GRAD_LAST].copy()
        self.residual_std_halves = feats[:, _rf.F_RSTD_HALVES].copy()
        self.meaning = np.array([REGIME_MEANINGS[r] for r in REGIMES])[self.code]
        self.blew_up = blew_up(self.level, self.nonfinite | self._div)
        self._regimes = None

    def __len__(self) -> int:
        return self.code.shape[0]

    @property
    def regimes(self) -> list:
        """One :class:`Regime` per curve (computed on first access)."""
        if self._regimes is None:
            n = self._loss.shape[1]
            out = np.empty(_rf.N_FEATURES)
            peaks = np.empty(n, dtype=np.int64)
            onsets = np.empty(n, dtype=np.int64)
            heights = np.empty(n)
            regs = []
            for g in range(len(self)):
                cnt = _rf.curve_features(self._loss[g], self._step, self._fs[g], self._div[g], self._P, out,
                                         peaks, onsets, heights, self._gn[g] if self._gn.shape[1] else None,
                                         self._eta[g], bool(self._known[g]))
                regs.append(_regime(out, self._step, peaks, onsets, heights, cnt))
            self._regimes = regs
        return self._regimes

    def describe(self) -> np.ndarray:
        """Each label with its meaning (:func:`describe_label`), shape (G,)."""
        return np.array([describe_label(lab, bu) for lab, bu in zip(self.label, self.blew_up)], dtype=str)

    def __repr__(self) -> str:
        counts = {r: int(np.sum(self.code == i)) for i, r in enumerate(REGIMES)}
        said = "; ".join(f"{r} = {REGIME_MEANINGS[r]}" for r, c in counts.items() if c)
        return f"RegimeArray({len(self)} curves, {counts}; {said}; {BLEW_UP}: {int(np.sum(self.blew_up))})"


def classify_many(loss, step=None, *, f_star=None, diverged=None, grad_norm=None, step_size=None,
                  f_star_known=True, **kw) -> RegimeArray:
    """Classify G loss curves at once: :func:`classify` row by row, compiled.

    Parameters
    ----------
    loss : array_like, shape (G, n)
        Loss histories sharing the steps ``step`` (n >= 4).
    step : array_like, shape (n,), optional
        Steps of the samples (default ``arange(n)``).
    f_star : float or array_like of shape (G,), optional
        Minimum value(s) (default 0), or lower bounds of them where ``f_star_known``
        is False.
    f_star_known : bool or array_like of bool, shape (G,)
        Whether ``f_star`` is the minimum value (default) or only a lower bound of
        it (a network's training loss): as in :func:`classify`.
    diverged : bool or array_like of bool, shape (G,), optional
        Runs known to have stopped on a non-finite value.
    grad_norm : array_like, shape (G, n), optional
        |grad f| at the samples, with ``step_size`` (float or (G,)): the gradient
        rules of :func:`classify`.
    **kw
        Options of :func:`classify`.

    Returns
    -------
    RegimeArray
        Labels identical to ``classify(loss[g], step, f_star=f_star[g],
        f_star_known=f_star_known[g], diverged=diverged[g], **kw)`` for every g (same compiled code); curves
        run in parallel (Numba ``prange``, one curve per iteration).
    """
    try:
        L = np.asarray(loss, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("loss must be a (G, n) array of real numbers") from None
    if L.ndim != 2:
        raise ValueError(f"loss must be two-dimensional (G, n), got shape {L.shape}")
    G, n = L.shape
    if n < 4:
        raise ValueError(f"need at least 4 loss samples per curve, got {n}")
    L = np.ascontiguousarray(L)
    st = _step_array(step, n)
    fs = np.broadcast_to(np.asarray(0.0 if f_star is None else f_star, dtype=np.float64), (G,)).copy()
    if not np.all(np.isfinite(fs)):
        raise ValueError("f_star must be finite")
    dv = np.zeros(G, dtype=np.bool_) if diverged is None else np.broadcast_to(
        np.asarray(diverged, dtype=np.bool_), (G,)).copy()
    try:
        kn = np.broadcast_to(np.asarray(f_star_known), (G,))
    except ValueError:
        raise ValueError(f"f_star_known must be a bool or one per curve ({G}), got shape "
                         f"{np.shape(f_star_known)}") from None
    if kn.dtype != np.bool_:
        raise TypeError(f"f_star_known must be bools, got dtype {kn.dtype}")
    kn = kn.copy()
    P = _params(kw)
    gn, eta = _check_gradient(grad_norm, step_size, L.shape)
    if gn is not None and not kn.all():
        raise ValueError("grad_norm and step_size need the minimum value (f_star_known=False: f* unknown); "
                         "2 |f - f*| / |grad f| is a distance only when f* is the minimum value")
    if gn is None:
        gn, et = np.empty((G, 0)), np.full(G, np.nan)
    else:
        gn = np.ascontiguousarray(gn)
        et = np.broadcast_to(np.asarray(eta, dtype=np.float64), (G,)).copy()
        for e in et:
            _check_step_size(e)
    feats = np.empty((G, _rf.N_FEATURES))
    counts = np.zeros(G, dtype=np.int64)
    if G:
        from adadyn._threads import spread

        def block(a, b):
            peaks, onsets, heights = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n)
            _rf.features_block(L[a:b], st, fs[a:b], kn[a:b], dv[a:b], P, feats[a:b], counts[a:b], peaks, onsets,
                               heights, gn[a:b], et[a:b])

        spread(G, 64, block)
    return RegimeArray(feats, counts, L, st, fs, dv, P, gn, et, kn)
