"""Compiled late-phase features of loss curves (the engine of :mod:`adadyn.analysis.regimes`).

One Numba function, :func:`curve_features`, computes every feature and the label
of one curve; :func:`many_features` runs it over the rows of a (G, n) array
(blocks of rows on threads, one independent curve at a time, so the result is
bit-identical at any thread count). :func:`adadyn.analysis.classify` and
:func:`adadyn.analysis.classify_many` both call it, which makes their labels
identical by construction. The rules are documented in ``docs/regimes.md``.
"""
from __future__ import annotations

import math

import numpy as np

from adadyn._jit import jit

# ---------------------------------------------------------------- parameter slots
P_WINDOW, P_FLOOR, P_SPIKE_HEIGHT, P_MIN_SPIKES, P_RIPPLE, P_BASELINE, P_TREND_MIN, P_TREND_SNR, \
    P_FLAT_TOL, P_STEADY, P_FAR, P_ACCEL, N_PARAMS = range(13)

# ---------------------------------------------------------------- feature slots
(F_CODE, F_REASON, F_LEVEL, F_TREND, F_RSTD, F_SPIKES, F_AMP, F_FREQ, F_NONFINITE, F_REFERENCE,
 F_WIN0, F_WIN1, F_TREND1, F_TREND2, F_STEP_RATIO, F_SMOOTH, F_LOG_LEVEL, F_FLOOR, F_SPREAD,
 N_FEATURES) = range(20)

# label codes, in the order of REGIMES
C_CONV, C_OSC, C_SPIKE, C_DIV, C_TRANS = range(5)

#: reason codes -> text (the Regime's ``reason``)
REASONS = (
    "non-finite loss",                                            # 0
    "too few finite late samples",                                # 1
    "repeated spikes",                                            # 2
    "loss still",                                                 # 3
    "loss at the resolution floor",                               # 4
    "loss falling steadily (geometric or slower)",                # 5
    "loss rising steadily (blowing up)",                          # 6
    "loss still changing at a changing rate: not settled",        # 7
    "stationary loss far above the step-size scale",              # 8
    "stationary fluctuation at the step-size scale",              # 9
)


@jit
def _mean_abs_diff(y, lag):
    """Mean |y[i + lag] - y[i]| (lag samples), or 0 when the series is too short."""
    n = y.shape[0]
    if n <= lag:
        return 0.0
    acc = 0.0
    for i in range(n - lag):
        acc += abs(y[i + lag] - y[i])
    return acc / (n - lag)


@jit
def _linfit(u, y, lo, hi):
    """Least-squares slope and intercept of y[lo:hi] on u[lo:hi]."""
    n = hi - lo
    mu = 0.0
    my = 0.0
    for i in range(lo, hi):
        mu += u[i]
        my += y[i]
    mu /= n
    my /= n
    suu = 0.0
    suy = 0.0
    for i in range(lo, hi):
        suu += (u[i] - mu) * (u[i] - mu)
        suy += (u[i] - mu) * (y[i] - my)
    slope = suy / suu if suu > 0.0 else 0.0
    return slope, my - slope * mu


@jit
def _rolling_median(y, w):
    """Centred running median of odd width w; the half-windows at each end hold the
    nearest full window's median (a window cut at the edge is biased)."""
    n = y.shape[0]
    out = np.empty(n)
    if n <= w:
        med = np.median(y)
        out[:] = med
        return out
    h = w // 2
    if w > 401:
        # wide windows: the median at every q-th centre, held in between (O(n w / q))
        q = w // 200
        i = h
        while i < n - h:
            med = np.median(y[i - h:i + h + 1])
            for t in range(i, min(i + q, n - h)):
                out[t] = med
            i += q
        for i in range(h):
            out[i] = out[h]
        for i in range(n - h, n):
            out[i] = out[n - h - 1]
        return out
    buf = np.sort(y[:w].copy())
    out[h] = buf[h]
    for i in range(h + 1, n - h):
        old = y[i - h - 1]
        new = y[i + h]
        j = 0
        while j < w - 1 and buf[j] != old:
            j += 1
        # remove old (shift left), then insert new from the right, keeping buf sorted
        for t in range(j, w - 1):
            buf[t] = buf[t + 1]
        k = w - 1
        while k > 0 and buf[k - 1] > new:
            buf[k] = buf[k - 1]
            k -= 1
        buf[k] = new
        out[i] = buf[h]
    for i in range(h):
        out[i] = out[h]
    for i in range(n - h, n):
        out[i] = out[n - h - 1]
    return out


@jit
def _envelope(x, r):
    """Running maximum over r samples (centred, edges clamped)."""
    n = x.shape[0]
    if r <= 1:
        return x.copy()
    out = np.empty(n)
    lo_off = r // 2
    hi_off = r - 1 - lo_off
    for i in range(n):
        a = max(0, i - lo_off)
        b = min(n, i + hi_off + 1)
        m = x[a]
        for t in range(a + 1, b):
            if x[t] > m:
                m = x[t]
        out[i] = m
    return out


@jit
def _spikes(y, e, height, r, peaks, onsets):
    """Excursions of e = y - baseline above ``height`` that also rise ``height`` above
    the lowest point since the previous spike; found on the r-sample upper envelope,
    then moved to the true peak and valley. Returns their number."""
    n = y.shape[0]
    ee = _envelope(e, r)
    yy = _envelope(y, r)
    cnt = 0
    i = 0
    last_end = 0
    while i < n:
        if ee[i] > height:
            j = i
            while j < n and ee[j] > 0.0:
                j += 1
            k = i
            for t in range(i, j):
                if ee[t] > ee[k]:
                    k = t
            lo = last_end
            for t in range(last_end, k + 1):
                if yy[t] < yy[lo]:
                    lo = t
            if yy[k] - yy[lo] >= height or cnt == 0:
                peaks[cnt] = k
                onsets[cnt] = lo
                cnt += 1
                last_end = k
            i = j
        else:
            i += 1
    h = r // 2
    for c in range(cnt):
        p = peaks[c]
        a = max(0, p - h)
        b = min(n, p + h + 1)
        best = a
        for t in range(a, b):
            if y[t] > y[best]:
                best = t
        peaks[c] = best
        o = onsets[c]
        a = max(0, o - h)
        b = min(n, o + h + 1)
        best = a
        for t in range(a, b):
            if y[t] < y[best]:
                best = t
        onsets[c] = best
    return cnt


@jit
def curve_features(loss, step, f_star, diverged, P, out, peaks, onsets, heights):
    """Features and label of one loss curve into ``out`` (slots F_*); spike peak and
    onset sample indices (into the late window's finite samples, offset by the
    window's first sample) into ``peaks``/``onsets``, heights (decades) into
    ``heights``. Returns the number of spikes written."""
    n = loss.shape[0]
    out[:] = np.nan
    nonfinite = diverged
    mall = 0.0
    ref = np.nan
    for i in range(n):
        if not np.isfinite(loss[i]):
            nonfinite = True
        else:
            d = abs(loss[i] - f_star)
            if d > mall:
                mall = d
            if not np.isfinite(ref):
                ref = d
    if not (ref > 0.0):
        ref = mall if mall > 0.0 else 1.0
    out[F_REFERENCE] = ref
    out[F_NONFINITE] = 1.0 if nonfinite else 0.0
    span_all = step[n - 1] - step[0]
    s_lo = step[n - 1] - P[P_WINDOW] * span_all
    i0 = n - 1
    while i0 > 0 and step[i0 - 1] >= s_lo:
        i0 -= 1
    i0 = min(i0, n - 4)
    out[F_WIN0] = step[i0]
    out[F_WIN1] = step[n - 1]
    # the finite late samples
    m = 0
    for i in range(i0, n):
        if np.isfinite(loss[i]):
            m += 1
    if m < 4:
        out[F_CODE] = C_DIV
        out[F_REASON] = 0 if nonfinite else 1
        out[F_SPIKES] = 0.0
        return 0
    floor = max(P[P_FLOOR] * mall, 4.0 * 2.220446049250313e-16 * abs(f_star), 1e-300)
    lfloor = math.log10(floor)
    out[F_FLOOR] = lfloor
    y = np.empty(m)
    s = np.empty(m)
    first = np.empty(m, dtype=np.int64)
    j = 0
    for i in range(i0, n):
        if np.isfinite(loss[i]):
            y[j] = math.log10(max(abs(loss[i] - f_star), floor))
            s[j] = step[i]
            first[j] = i
            j += 1
    span = max(s[m - 1] - s[0], 1.0)
    u = (s - s[0]) / span
    slope, icpt = _linfit(u, y, 0, m)
    ss = 0.0
    my = 0.0
    for i in range(m):
        r = y[i] - (slope * u[i] + icpt)
        ss += r * r
        my += y[i]
    rstd = math.sqrt(ss / m)
    my /= m
    out[F_TREND] = slope
    out[F_RSTD] = rstd
    out[F_LOG_LEVEL] = my
    out[F_LEVEL] = my - math.log10(ref)
    half = m // 2
    s1, _ = _linfit(u, y, 0, half)
    s2, _ = _linfit(u, y, half, m)
    out[F_TREND1] = s1
    out[F_TREND2] = s2
    # baseline and spikes; sizes in steps, converted with the record's stride
    stride = span / (m - 1)
    w = max(3, int(round(P[P_BASELINE] * m)) | 1)
    base = _rolling_median(y, w)
    e = y - base
    r_samp = max(1, int(round(P[P_RIPPLE] / stride)))
    cnt = _spikes(y, e, P[P_SPIKE_HEIGHT], r_samp, peaks, onsets)
    for c in range(cnt):
        heights[c] = e[peaks[c]]
    out[F_SPIKES] = cnt
    out[F_AMP] = 0.5 * (np.percentile(e, 95.0) - np.percentile(e, 5.0))
    out[F_SPREAD] = np.percentile(y, 95.0) - np.percentile(y, 5.0)
    ups = 0
    for i in range(m - 1):
        if e[i] <= 0.0 and e[i + 1] > 0.0:
            ups += 1
    out[F_FREQ] = ups / span
    # the step-size scale: distance to the minimum in steps, r/s ~ 2 / |d ln f / d step|,
    # counting only the part of the sample-to-sample change that is resolved drift
    d1 = _mean_abs_diff(y, 1)
    d2 = _mean_abs_diff(y, 2)
    d4 = _mean_abs_diff(y, 4)
    smooth = min(d2 / d1 if d1 > 0.0 else 2.0, d4 / d2 if d2 > 0.0 else 2.0)
    out[F_SMOOTH] = smooth
    # drift resolved over 1, 2 and 4 samples doubles its change with the lag (smooth = 2);
    # fluctuation faster than the stride, or an aliased beat of one, does not
    resolved = min(max(2.0 * (smooth - 1.5), 0.0), 1.0)
    rate = math.log(10.0) * d1 / stride  # |d ln f| per step
    out[F_STEP_RATIO] = 2.0 * resolved / rate if rate > 0.0 else np.inf
    for c in range(cnt):  # report positions as record indices
        peaks[c] = first[peaks[c]]
        onsets[c] = first[onsets[c]]

    # ---------------------------------------------------------- the rules
    code = C_OSC
    reason = 9
    tmin = P[P_TREND_MIN]
    snr = P[P_TREND_SNR]
    flat = P[P_FLAT_TOL]
    tail = max(1, m // 10)
    at_floor = True
    for i in range(m - tail, m):
        if y[i] > lfloor + 1e-9:
            at_floor = False
    if nonfinite:
        code, reason = C_DIV, 0
    elif cnt >= P[P_MIN_SPIKES]:
        code, reason = C_SPIKE, 2
    elif rstd <= flat and abs(slope) <= flat:
        code, reason = C_CONV, 3
    elif at_floor:
        code, reason = C_CONV, 4
    elif abs(slope) > flat and abs(slope) >= tmin and abs(slope) >= snr * rstd:
        st = P[P_STEADY]
        # steady: both halves move the same way, the second no more than ``accel`` times
        # faster (a geometric or slower trend) and no more than ``steady`` times slower
        steady = (s1 * slope > 0.0 and s2 * slope > 0.0 and abs(s2) <= P[P_ACCEL] * abs(s1)
                  and abs(s1) <= st * abs(s2))
        if not steady:
            code, reason = C_TRANS, 7
        elif slope < 0.0:
            code, reason = C_CONV, 5
        else:
            code, reason = C_DIV, 6
    elif out[F_STEP_RATIO] >= P[P_FAR]:
        code, reason = C_DIV, 8
    out[F_CODE] = code
    out[F_REASON] = reason
    return cnt


@jit(nogil=True)
def many_features(loss, step, f_star, diverged, P, out, counts):
    """curve_features over the rows of ``loss`` (G, n); scalar features into out (G, N_FEATURES).
    Serial and without the GIL: :func:`adadyn.analysis.regimes.classify_many` spreads
    blocks of rows over threads (:mod:`adadyn._threads`)."""
    G, n = loss.shape
    for g in range(G):
        peaks = np.empty(n, dtype=np.int64)
        onsets = np.empty(n, dtype=np.int64)
        heights = np.empty(n)
        counts[g] = curve_features(loss[g], step, f_star[g], diverged[g], P, out[g], peaks, onsets, heights)
