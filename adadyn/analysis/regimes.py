"""Late-phase regimes of a loss curve: convergence, oscillation, spike, divergence.

Ma, Wu & E (section 4, Figures 7 and 8) sort the late phase of Adam (eq. (3))
into three patterns over the memory rates (a, b) of beta2 = 1 - a*eta,
beta1 = 1 - b*eta: *spikes* (b >> a: sudden rises of the loss by orders of
magnitude, each followed by a slow recovery), *oscillation* (a ~ b: small, fast
oscillation at a low level) and *divergence* (a >> b: the loss stays large or
blows up). :func:`classify` adds *convergence* (the loss still falls steadily,
or sits still) and measures the features behind the label.

Every feature is computed from the normalised log-loss
``y = log10(|f - f*| / |f_0 - f*|)`` (decades below the start), so multiplying
the objective by a positive constant changes no feature and no label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter

__all__ = ["Regime", "REGIMES", "classify"]

#: The labels, in the order used by the integer codes of phase diagrams.
REGIMES = ("convergence", "oscillation", "spike", "divergence")


@dataclass(frozen=True, eq=False)
class Regime:
    """The late-phase regime of one run and the features behind it.

    Levels and heights are in decades (log10 units) of the loss measured from
    f*, relative to the reference (initial) loss; steps are optimiser steps.

    Attributes
    ----------
    label : str
        One of :data:`REGIMES`.
    reason : str
        Which rule decided the label.
    level : float
        Late mean of log10(|f - f*| / ref): negative = below the start.
    trend : float
        Change of the fitted log-loss across the late window (decades; < 0 falling).
    residual_std : float
        Standard deviation of the late log-loss around its linear fit (decades).
    spike_count : int
        Number of excursions higher than ``spike_height`` above the rolling baseline.
    spike_heights, spike_steps, spike_onsets : ndarray
        Peak height above the baseline (decades), step of the peak, and step of
        the lowest point between the previous spike (or the window start) and
        the peak, where the rise begins.
    osc_amplitude : float
        Half the 5-95 % spread of log-loss around the baseline (decades).
    osc_frequency : float
        Upward crossings of the baseline per step (cycles per step at the
        resolution of the record).
    nonfinite : bool
        The run produced a non-finite loss (or stopped as diverged).
    reference : float
        |f_0 - f*| used for normalisation (scales with the objective).
    window : (int, int)
        First and last step of the late window.
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

    @property
    def code(self) -> int:
        """Index of :attr:`label` in :data:`REGIMES`."""
        return REGIMES.index(self.label)

    def __repr__(self) -> str:
        return (f"Regime({self.label!r}, level={self.level:.3g} dec, trend={self.trend:.3g} dec, "
                f"spikes={self.spike_count}, osc_amplitude={self.osc_amplitude:.3g} dec, "
                f"nonfinite={self.nonfinite}, reason={self.reason!r})")


def _check_pos(name, val, allow_zero=False):
    ok = np.isfinite(val) and (val >= 0 if allow_zero else val > 0)
    if not ok:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {rng}, got {val!r}")
    return float(val)


def _unpack(traj_or_loss, step, f_star):
    """loss, step, f*, and whether the run is known to have diverged."""
    diverged = False
    if hasattr(traj_or_loss, "loss") and hasattr(traj_or_loss, "status"):
        tr = traj_or_loss
        loss = np.asarray(tr.loss, dtype=np.float64)
        step = np.asarray(tr.step) if step is None else step
        diverged = tr.status == "diverged"
        if f_star is None:
            mv = getattr(getattr(tr, "objective", None), "min_value", None)
            f_star = 0.0 if mv is None else mv
    else:
        loss = np.asarray(traj_or_loss, dtype=np.float64)
    if loss.ndim != 1:
        raise ValueError(f"loss must be one-dimensional, got shape {loss.shape}")
    if step is None:
        step = np.arange(loss.shape[0])
    step = np.asarray(step, dtype=np.float64).reshape(-1)
    if step.shape != loss.shape:
        raise ValueError(f"step must have the shape of loss {loss.shape}, got {step.shape}")
    return loss, step, float(0.0 if f_star is None else f_star), diverged


def _spikes(y, e, spike_height, ripple):
    """Excursions of e = y - baseline that reach spike_height and rise at least that
    much above the lowest point since the previous spike; an excursion ends when e
    returns to the baseline."""
    peaks, onsets = [], []
    n = y.shape[0]
    if ripple > 1:
        # the upper envelope over a few samples bridges the fast zig-zag on a spike's
        # decay, which would otherwise dip to the baseline and look like new spikes
        e = maximum_filter1d(e, size=ripple, mode="nearest")
        y = maximum_filter1d(y, size=ripple, mode="nearest")
    i = 0
    last_end = 0
    while i < n:
        if e[i] > spike_height:
            j = i
            while j < n and e[j] > 0.0:
                j += 1
            k = i + int(np.argmax(e[i:j]))
            lo = last_end + int(np.argmin(y[last_end:k + 1]))
            # a ripple on the decay of the previous spike dips to the baseline but does
            # not rise spike_height above its own valley: not a new spike
            if y[k] - y[lo] >= spike_height or not peaks:
                peaks.append(k)
                onsets.append(lo)
                last_end = k
            i = j
        else:
            i += 1
    return np.array(peaks, dtype=np.int64), np.array(onsets, dtype=np.int64)


def classify(
    traj_or_loss,
    step=None,
    *,
    f_star: float | None = None,
    diverged: bool = False,
    reference: float | None = None,
    window: float = 0.25,
    floor: float = 1e-30,
    spike_height: float = 2.0,
    min_spikes: int = 2,
    ripple: int = 5,
    baseline_window: float = 0.1,
    trend_min: float = 0.1,
    trend_snr: float = 2.0,
    growth: float = 1.0,
    flat_tol: float = 0.01,
    min_decrease: float = 6.0,
) -> Regime:
    """Classify the late phase of a run (Ma, Wu & E, section 4, Figures 7-8).

    Parameters
    ----------
    traj_or_loss : Trajectory or array_like
        A :class:`~adadyn.Trajectory` (its ``loss``, ``step``, ``status`` and the
        objective's ``min_value`` are used) or a 1-D loss history.
    step : array_like, optional
        Steps of the loss samples (default ``arange(len(loss))``).
    f_star : float, optional
        Minimum value subtracted from the loss (default: the objective's
        ``min_value`` when known, else 0).
    diverged : bool
        The run is known to have stopped on a non-finite value (taken from a
        Trajectory's ``status`` automatically).
    reference : float, optional
        Scale of the loss, |f_0 - f*| by default (the first sample). Features
        are in decades relative to it, which makes the label invariant under
        f -> c f, c > 0.
    window : float in (0, 1]
        Late window, as a fraction of the recorded samples (the last quarter by default).
    floor : float
        Relative floor: |f - f*| / reference is clipped below at ``floor``
        (exact zeros and rounding noise at the minimum count as converged).
    spike_height : float
        A spike rises more than this many decades above the rolling median
        baseline (it ends when the loss is back at the baseline).
    min_spikes : int
        Spikes needed in the late window for the label 'spike'.
    ripple : int
        Spikes are found on the upper envelope of the log-loss over this many
        samples, so that a fast zig-zag on the decay of one spike is not counted
        as more spikes (1: no envelope).
    baseline_window : float in (0, 1]
        Width of the rolling-median baseline, as a fraction of the late window.
    trend_min : float
        A fall of at least this many decades across the window ...
    trend_snr : float
        ... and at least ``trend_snr`` times the residual spread means 'convergence'
        (a steady fall dominates the fluctuations).
    growth : float
        A rise of more than this many decades across the window (with the same
        signal-to-noise rule) that ends within ``min_decrease`` decades of the
        start means 'divergence'.
    flat_tol : float
        Residual spread and |trend| below this (decades) mean the loss sits still:
        'convergence' (to a fixed point, possibly not the minimum).
    min_decrease : float
        A late level fewer than this many decades below the start means the loss
        stays large: 'divergence' (the a >> b regime of Figure 8). Calibrated on
        ``scripts/make_regime_dataset.py``: there the a >> b runs sit 1.9-4.3
        decades below their start, oscillating and spiking Adam runs 9.5-17
        (with 4, three of 50 large-loss curves were called oscillation).

    Returns
    -------
    Regime

    Notes
    -----
    Rules, in order: non-finite values or a ``'diverged'`` trajectory ->
    divergence; a rise that ends within ``min_decrease`` decades of the start ->
    divergence; at least ``min_spikes`` spikes ->
    spike; a still loss or a steady fall -> convergence; a late level within
    ``min_decrease`` decades of the start -> divergence; anything else
    (stationary, fluctuating, no spikes) -> oscillation.
    """
    loss, steps, f_star, was_diverged = _unpack(traj_or_loss, step, f_star)
    diverged = bool(diverged or was_diverged)
    if not (0.0 < window <= 1.0):
        raise ValueError(f"window must be in (0, 1], got {window!r}")
    if not (0.0 < baseline_window <= 1.0):
        raise ValueError(f"baseline_window must be in (0, 1], got {baseline_window!r}")
    for nm, val in (("floor", floor), ("spike_height", spike_height), ("trend_snr", trend_snr),
                    ("growth", growth)):
        _check_pos(nm, val)
    for nm, val in (("trend_min", trend_min), ("flat_tol", flat_tol), ("min_decrease", min_decrease)):
        _check_pos(nm, val, allow_zero=True)
    if int(ripple) < 1:
        raise ValueError(f"ripple must be >= 1, got {ripple!r}")
    if int(min_spikes) < 1:
        raise ValueError(f"min_spikes must be >= 1, got {min_spikes!r}")
    if loss.shape[0] < 4:
        raise ValueError(f"need at least 4 loss samples, got {loss.shape[0]}")

    finite = np.isfinite(loss)
    nonfinite = bool(diverged or not finite.all())
    dev = np.abs(loss - f_star)
    if reference is None:
        reference = dev[0] if finite[0] and dev[0] > 0 else (np.max(dev[finite]) if finite.any() else 1.0)
        reference = float(reference) if reference > 0 else 1.0  # a run started at f*
    else:
        reference = _check_pos("reference", reference)
    n = loss.shape[0]
    n_late = max(4, int(round(window * n)))
    i0 = n - n_late
    late_dev = dev[i0:]
    late_ok = np.isfinite(late_dev)
    win = (int(steps[i0]), int(steps[-1]))
    empty = np.empty(0, dtype=np.int64)
    if nonfinite and late_ok.sum() < 4:
        return Regime("divergence", "non-finite loss", np.inf, np.nan, np.nan, 0, np.empty(0), empty,
                      empty, np.nan, np.nan, True, float(reference), win)
    y = np.log10(np.maximum(late_dev[late_ok] / reference, floor))
    s = steps[i0:][late_ok]

    span = max(s[-1] - s[0], 1.0)
    u = (s - s[0]) / span
    slope, icpt = np.polyfit(u, y, 1)
    resid = y - (slope * u + icpt)
    rstd = float(np.std(resid))
    trend = float(slope)
    level = float(np.mean(y))

    w = max(3, int(round(baseline_window * y.shape[0])) | 1)
    base = median_filter(y, size=w, mode="reflect")
    h = w // 2
    if y.shape[0] > w:  # a padded window is biased by where the cut falls: hold the last full one
        base[:h] = base[h]
        base[-h:] = base[-h - 1]
    e = y - base
    pk, on = _spikes(y, e, spike_height, int(ripple))
    if pk.size:
        # report the true peak and valley near the envelope's
        r = int(ripple) // 2
        pk = np.array([max(0, p - r) + int(np.argmax(y[max(0, p - r):p + r + 1])) for p in pk])
        on = np.array([max(0, o - r) + int(np.argmin(y[max(0, o - r):o + r + 1])) for o in on])
    amp = 0.5 * float(np.percentile(e, 95) - np.percentile(e, 5))
    ups = np.count_nonzero((e[:-1] <= 0) & (e[1:] > 0))
    freq = ups / span

    def out(label, reason):
        return Regime(label, reason, level, trend, rstd, int(pk.shape[0]), e[pk] if pk.size else np.empty(0),
                      s[pk].astype(np.int64), s[on].astype(np.int64), amp, float(freq), nonfinite,
                      float(reference), win)

    if nonfinite:
        return out("divergence", "non-finite loss")
    rising = trend > growth and trend > trend_snr * rstd
    end_level = float(np.mean(y[-max(1, y.shape[0] // 10):]))
    if rising and end_level > -min_decrease:
        return out("divergence", f"loss rising to within {min_decrease:g} decades of the start")
    if pk.shape[0] >= int(min_spikes):
        return out("spike", f"{pk.shape[0]} spikes above {spike_height:g} decades")
    if rstd <= flat_tol and abs(trend) <= flat_tol:
        return out("convergence", "loss still")
    if -trend >= trend_min and -trend >= trend_snr * rstd:
        return out("convergence", "loss falling")
    if level > -min_decrease:
        return out("divergence", f"loss stays within {min_decrease:g} decades of the start")
    if rising:
        # a jump from a very low loss (the first loss of stability after a fast descent)
        # that settles far below the start: the late phase has just begun
        return out("oscillation", "fluctuation without spikes after a rise from a lower loss")
    return out("oscillation", "stationary fluctuation without spikes")
