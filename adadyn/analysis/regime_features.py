"""Compiled late-phase features of loss curves (the engine of :mod:`adadyn.analysis.regimes`).

One Numba kernel, :func:`features_block`, computes every feature and the label of
each row of a (G, n) array, one independent curve at a time (blocks of rows go to
threads, so the result is bit-identical at any thread count).
:func:`adadyn.analysis.classify` calls it with one row and
:func:`adadyn.analysis.classify_many` with many, which makes their labels
identical by construction. The rules are documented in ``docs/regimes.md``.

Compile time (docs/regimes.md, "Compile time"): Numba compiles every jitted
function as a module of its own, then links and re-optimises the code of every
callee inside its caller, and compiles a callee again for each distinct literal
argument. The kernel is therefore written as one function with a single small
helper (:func:`_select`), and computes its order statistics with that quickselect
instead of ``np.median`` / ``np.percentile`` / ``np.sort``, whose Numba
implementations cost seconds of compilation each; the order statistics, and every
value derived from them, are those of NumPy.
"""
from __future__ import annotations

import math

import numpy as np

from numba import types

from adadyn._jit import jit, lazy

# ---------------------------------------------------------------- parameter slots
P_WINDOW, P_FLOOR, P_SPIKE_HEIGHT, P_MIN_SPIKES, P_RIPPLE, P_BASELINE, P_TREND_MIN, P_TREND_SNR, \
    P_FLAT_TOL, P_STEADY, P_FAR, P_ACCEL, P_CYCLE_MIN, P_BASE_Q, N_PARAMS = range(15)

# ---------------------------------------------------------------- feature slots
(F_CODE, F_REASON, F_LEVEL, F_TREND, F_RSTD, F_SPIKES, F_AMP, F_FREQ, F_NONFINITE, F_REFERENCE,
 F_WIN0, F_WIN1, F_TREND1, F_TREND2, F_STEP_RATIO, F_SMOOTH, F_LOG_LEVEL, F_FLOOR, F_SPREAD,
 F_GRAD_RATIO, F_GRAD_FIRST, F_GRAD_LAST, F_RSTD_HALVES, N_FEATURES) = range(24)

# label codes, in the order of REGIMES
C_CONV, C_OSC, C_SPIKE, C_DIV, C_TRANS = range(5)

#: decades of the late loss (mean log10) above the first sample at which a run has blown up
#: (the paper's divergence: "the loss is large and blows up"); read after the spike rule
BLOWUP = 2.0

#: decades of the late loss (mean log10) below the first sample at which a stationary loss with
#: the minimum value unknown has made progress (rule 5 with f* unknown: oscillation, not divergence)
PROGRESS = 1.0

#: decades by which the medians of the late window's quarters, falling one after the other, show
#: a loss still making progress when f* is unknown (the written network rule's convergence clause)
QUARTER_FALL = 0.3

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
    "still loss, iterate held a fraction of a step from the minimum (a cycle)",  # 10
    "slow loss changes, but the iterate within `far` step sizes of the minimum",  # 11
    "stationary loss, iterate `far` or more step sizes from the minimum",         # 12
    "loss falling steadily, iterate `far` or more step sizes from the minimum and arriving: not settled",  # 13
    "loss falling steadily, but the iterate stays `far` or more step sizes from the minimum",  # 14
    "late loss 2 or more decades above the first sample (blown up)",  # 15
    "stationary loss a decade or more below its start; f* unknown, so the loss-implied distance is "
    "only an upper bound",                                        # 16
    "stationary loss within a decade of its start (f* unknown): the loss stays large",  # 17
    "quarter medians of the late loss falling one after the other (f* unknown): still falling",  # 18
)




@jit
def _select(buf, cnt, k):
    """The k-th smallest (0-based) of buf[:cnt], reordering buf[:cnt] in place so that
    buf[k + 1:cnt] holds the larger ones (quickselect, median-of-three pivot)."""
    lo = 0
    hi = cnt - 1
    while hi > lo:
        mid = (lo + hi) >> 1
        if buf[mid] < buf[lo]:
            buf[mid], buf[lo] = buf[lo], buf[mid]
        if buf[hi] < buf[lo]:
            buf[hi], buf[lo] = buf[lo], buf[hi]
        if buf[hi] < buf[mid]:
            buf[hi], buf[mid] = buf[mid], buf[hi]
        pivot = buf[mid]
        a = lo
        b = hi
        while a <= b:
            while buf[a] < pivot:
                a += 1
            while buf[b] > pivot:
                b -= 1
            if a <= b:
                buf[a], buf[b] = buf[b], buf[a]
                a += 1
                b -= 1
        if k <= b:
            hi = b
        elif k >= a:
            lo = a
        else:
            break
    return buf[k]


@jit
def _median(buf, cnt):
    """Median of buf[:cnt] (NumPy's: the mean of the two middle values for even cnt),
    reordering buf[:cnt] in place."""
    k = (cnt >> 1) - 1 if cnt & 1 == 0 else cnt >> 1
    med = _select(buf, cnt, k)
    if cnt & 1 == 0:
        nxt = buf[k + 1]
        for t in range(k + 2, cnt):
            if buf[t] < nxt:
                nxt = buf[t]
        med = (med + nxt) / 2
    return med


@jit
def _quarter_fall(y, m):
    """q0 - q3 for the medians q0 > q1 > q2 > q3 of the four quarters of y[:m] (split as
    ``np.array_split(y[:m], 4)``), else -inf."""
    buf = np.empty(m)
    prev = np.inf
    q0 = np.nan
    lo = 0
    for k in range(4):
        hi = lo + m // 4 + (1 if k < m % 4 else 0)
        for i in range(lo, hi):
            buf[i - lo] = y[i]
        q = _median(buf, hi - lo)
        if not q < prev:
            return -np.inf
        if k == 0:
            q0 = q
        prev = q
        lo = hi
    return q0 - prev


_F2 = types.float64[:, ::1]
_F1 = types.float64[::1]
_I1 = types.int64[::1]
#: (loss, step, f_stars, known, diverged, P, feats, counts, peaks, onsets, heights, gnorm, eta)
FEATURES_SIG = types.none(_F2, _F1, _F1, types.boolean[::1], types.boolean[::1], _F1, _F2, _I1, _I1, _I1, _F1, _F2,
                          _F1)


@lazy(FEATURES_SIG, nogil=True)
def features_block(loss, step, f_stars, known, diverged, P, feats, counts, peaks, onsets, heights, gnorm, eta):
    """Features and label of each row of ``loss`` (G, n) into ``feats[g]`` (slots F_*) and
    the number of its spikes into ``counts[g]``. ``f_stars[g]`` is the minimum value when
    ``known[g]``, else only a lower bound of it (a network's training loss: f* unknown, >= 0).
    ``gnorm`` (G, n) holds |grad f| at the
    samples and ``eta`` (G,) the step size of an optimiser whose step is of order eta per
    coordinate; with ``gnorm`` of shape (G, 0) or ``eta[g]`` not > 0 the gradient rules are
    off for that row. The spike peak and onset sample indices
    (record indices) and heights (decades) of the *last* row are left in ``peaks``,
    ``onsets``, ``heights`` (length n each). Serial and without the GIL:
    :func:`adadyn.analysis.regimes.classify_many` spreads blocks of rows over threads
    (:mod:`adadyn._threads`)."""
    G, n = loss.shape
    for g in range(G):
        lossg = loss[g]
        out = feats[g]
        f_star = f_stars[g]
        for i in range(out.shape[0]):
            out[i] = np.nan
        nonfinite = diverged[g]
        mall = 0.0
        ref = np.nan
        for i in range(n):
            if not np.isfinite(lossg[i]):
                nonfinite = True
            else:
                d = abs(lossg[i] - f_star)
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
            if np.isfinite(lossg[i]):
                m += 1
        if m < 4:
            out[F_CODE] = C_DIV
            out[F_REASON] = 0 if nonfinite else 1
            out[F_SPIKES] = 0.0
            counts[g] = 0
            continue
        floor = max(P[P_FLOOR] * mall, 4.0 * 2.220446049250313e-16 * abs(f_star), 1e-300)
        lfloor = math.log10(floor)
        out[F_FLOOR] = lfloor
        y = np.empty(m)
        s = np.empty(m)
        first = np.empty(m)  # record indices (exact in float64; one np.empty type, one compile)
        j = 0
        for i in range(i0, n):
            if np.isfinite(lossg[i]):
                y[j] = math.log10(max(abs(lossg[i] - f_star), floor))
                s[j] = step[i]
                first[j] = i
                j += 1
        span = max(s[m - 1] - s[0], 1.0)
        u = np.empty(m)
        for i in range(m):
            u[i] = (s[i] - s[0]) / span

        # least-squares slopes of y on u: the window (r = 0), its halves (r = 1, 2)
        half = m // 2
        slope = icpt = s1 = s2 = 0.0
        ss_h = 0.0  # squared residuals around the two half-window lines
        for r in range(3):
            lo = half if r == 2 else 0
            hi = half if r == 1 else m
            mu = 0.0
            my = 0.0
            for i in range(lo, hi):
                mu += u[i]
                my += y[i]
            mu /= hi - lo
            my /= hi - lo
            suu = 0.0
            suy = 0.0
            for i in range(lo, hi):
                suu += (u[i] - mu) * (u[i] - mu)
                suy += (u[i] - mu) * (y[i] - my)
            sl = suy / suu if suu > 0.0 else 0.0
            if r > 0:
                for i in range(lo, hi):
                    res = y[i] - (my + sl * (u[i] - mu))
                    ss_h += res * res
            if r == 0:
                slope = sl
                icpt = my - sl * mu
            elif r == 1:
                s1 = sl
            else:
                s2 = sl
        ss = 0.0
        my = 0.0
        for i in range(m):
            res = y[i] - (slope * u[i] + icpt)
            ss += res * res
            my += y[i]
        rstd = math.sqrt(ss / m)
        my /= m
        out[F_TREND] = slope
        out[F_RSTD] = rstd
        out[F_LOG_LEVEL] = my
        out[F_LEVEL] = my - math.log10(ref)
        out[F_TREND1] = s1
        out[F_TREND2] = s2
        rstd_h = math.sqrt(ss_h / m)
        out[F_RSTD_HALVES] = rstd_h

        # baseline: centred running median of odd width w (into e); the half-windows at
        # each end hold the nearest full window's median (a window cut at the edge is
        # biased). A late window no longer than w gets its median (np.median: the mean of
        # the two middle values for an even count); windows wider than 401 samples get the
        # median at every (w // 200)-th centre, held in between (O(m w / q)).
        stride = span / (m - 1)
        w = max(3, int(round(P[P_BASELINE] * m)) | 1)
        h = w // 2
        # the spike baseline: the rolling ``spike_quantile`` of the same window (order statistic
        # of rank round(q (cnt - 1)), into el); a dense spike train lifts the median, not this
        qq = P[P_BASE_Q]
        buf = np.empty(m)
        e = np.empty(m)
        el = np.empty(m)
        if m > w and w <= 401:
            kq = int(round(qq * (w - 1)))
            for i in range(w):  # the first window, sorted by insertion
                v = y[i]
                k = i
                while k > 0 and buf[k - 1] > v:
                    buf[k] = buf[k - 1]
                    k -= 1
                buf[k] = v
            e[h] = buf[h]
            el[h] = buf[kq]
            for i in range(h + 1, m - h):
                old = y[i - h - 1]
                new = y[i + h]
                jj = 0
                while jj < w - 1 and buf[jj] != old:
                    jj += 1
                # remove old (shift left), then insert new from the right, keeping buf sorted
                for t in range(jj, w - 1):
                    buf[t] = buf[t + 1]
                k = w - 1
                while k > 0 and buf[k - 1] > new:
                    buf[k] = buf[k - 1]
                    k -= 1
                buf[k] = new
                e[i] = buf[h]
                el[i] = buf[kq]
        else:
            short = m <= w
            q = max(1, w // 200)
            c = h
            while short or c < m - h:
                lo = 0 if short else c - h
                cnt_w = m if short else w
                for t in range(cnt_w):
                    buf[t] = y[lo + t]
                med = _median(buf, np.int64(cnt_w))
                low = med if qq == 0.5 else _select(buf, np.int64(cnt_w), np.int64(int(round(qq * (cnt_w - 1)))))
                if short:
                    for t in range(m):
                        e[t] = med
                        el[t] = low
                    break
                for t in range(c, min(c + q, m - h)):
                    e[t] = med
                    el[t] = low
                c += q
        if m > w:
            for i in range(h):
                e[i] = e[h]
                el[i] = el[h]
            for i in range(m - h, m):
                e[i] = e[m - h - 1]
                el[i] = el[m - h - 1]
        for i in range(m):
            e[i] = y[i] - e[i]
            el[i] = y[i] - el[i]

        # spikes: excursions above the rolling median e whose height above the low baseline
        # el exceeds ``spike_height`` and that also rise that much above the lowest point since
        # the previous spike, found on the upper envelopes ee, ll, yy (running maxima over
        # ``ripple`` steps, centred, edges clamped), then moved to the true peak and valley
        height = P[P_SPIKE_HEIGHT]
        rr = max(1, int(round(P[P_RIPPLE] / stride)))
        ee = buf
        yy = s  # (buf and s are free from here on)
        ll = np.empty(m)
        lo_off = rr // 2
        hi_off = rr - 1 - lo_off
        for i in range(m):
            a = max(0, i - lo_off)
            b = min(m, i + hi_off + 1)
            me = e[a]
            ml = el[a]
            mx = y[a]
            for t in range(a + 1, b):
                if e[t] > me:
                    me = e[t]
                if el[t] > ml:
                    ml = el[t]
                if y[t] > mx:
                    mx = y[t]
            ee[i] = me
            ll[i] = ml
            yy[i] = mx
        cnt = 0
        i = 0
        last_end = 0
        while i < m:
            if ll[i] > height:
                jj = i + 1
                while jj < m and ee[jj] > 0.0:
                    jj += 1
                k = i
                for t in range(i, jj):
                    if ll[t] > ll[k]:
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
                i = jj
            else:
                i += 1
        hr = rr // 2
        for c in range(cnt):
            p = peaks[c]
            a = max(0, p - hr)
            b = min(m, p + hr + 1)
            best = a
            for t in range(a, b):
                if y[t] > y[best]:
                    best = t
            peaks[c] = best
            o = onsets[c]
            a = max(0, o - hr)
            b = min(m, o + hr + 1)
            best = a
            for t in range(a, b):
                if y[t] < y[best]:
                    best = t
            onsets[c] = best
        for c in range(cnt):
            heights[c] = el[peaks[c]]
        out[F_SPIKES] = cnt

        # np.percentile at 95 and 5 of e (amplitude) and of y (spread): linear
        # interpolation between the closest ranks, the arithmetic of NumPy and Numba
        # (c = 4: the lower quartile of y, read by the blow-up rule)
        e95 = e5 = y95 = y5 = y25 = 0.0
        for c in range(5):
            src = e if c < 2 else y
            for t in range(m):
                buf[t] = src[t]
            rank = 1 + (m - 1) * ((25.0 if c == 4 else 95.0 if c % 2 == 0 else 5.0) / 100.0)
            f = math.floor(rank)
            frac = rank - f
            k = int(f - 1)
            lower = _select(buf, np.int64(y.shape[0]), np.int64(k))
            upper = buf[k + 1]
            for t in range(k + 2, m):
                if buf[t] < upper:
                    upper = buf[t]
            v = lower * (1 - frac) + upper * frac
            if c == 0:
                e95 = v
            elif c == 1:
                e5 = v
            elif c == 2:
                y95 = v
            elif c == 3:
                y5 = v
            else:
                y25 = v
        out[F_AMP] = 0.5 * (e95 - e5)
        out[F_SPREAD] = y95 - y5
        ups = 0
        for i in range(m - 1):
            if e[i] <= 0.0 and e[i + 1] > 0.0:
                ups += 1
        out[F_FREQ] = ups / span

        # the step-size scale: distance to the minimum in steps, r/s ~ 2 / |d ln f / d step|,
        # counting only the part of the sample-to-sample change that is resolved drift.
        # d1, d2, d4: mean |y[i + lag] - y[i]| over lag = 1, 2, 4 samples
        d1 = d2 = d4 = 0.0
        for r in range(3):
            lag = 1 << r
            dr = 0.0
            if m > lag:
                acc = 0.0
                for i in range(m - lag):
                    acc += abs(y[i + lag] - y[i])
                dr = acc / (m - lag)
            if r == 0:
                d1 = dr
            elif r == 1:
                d2 = dr
            else:
                d4 = dr
        smooth = min(d2 / d1 if d1 > 0.0 else 2.0, d4 / d2 if d2 > 0.0 else 2.0)
        out[F_SMOOTH] = smooth
        # drift resolved over 1, 2 and 4 samples doubles its change with the lag (smooth = 2);
        # fluctuation faster than the stride, or an aliased beat of one, does not
        resolved = min(max(2.0 * (smooth - 1.5), 0.0), 1.0)
        rate = math.log(10.0) * d1 / stride  # |d ln f| per step
        out[F_STEP_RATIO] = 2.0 * resolved / rate if rate > 0.0 else np.inf
        for c in range(cnt):  # report positions as record indices
            peaks[c] = int(first[peaks[c]])
            onsets[c] = int(first[onsets[c]])

        # the gradient-implied distance to the minimum in step sizes: near a minimum
        # f - f* = d.H d / 2 and |g| = |H d|, so 2 |f - f*| / |g| is the distance along the
        # gradient (exact in one dimension); rho = its late median / eta (nan: unknown)
        # rho_first, rho_last: its medians over the first and the last tenth of the window
        # (u, no longer needed, holds the ratios in order)
        rho = rho_first = rho_last = np.nan
        if gnorm.shape[1] == n and eta[g] > 0.0:
            nr = 0
            for i in range(i0, n):
                if np.isfinite(lossg[i]) and np.isfinite(gnorm[g, i]):
                    df = abs(lossg[i] - f_star)
                    gi = gnorm[g, i]
                    u[nr] = 2.0 * df / (gi * eta[g]) if gi > 0.0 else (0.0 if df == 0.0 else np.inf)
                    nr += 1
            if nr > 0:
                tg = max(1, nr // 10)
                for c in range(3):
                    lo = nr - tg if c == 2 else 0
                    cnt_r = nr if c == 0 else tg
                    for t in range(cnt_r):
                        buf[t] = u[lo + t]
                    v = _median(buf, np.int64(cnt_r))
                    if c == 0:
                        rho = v
                    elif c == 1:
                        rho_first = v
                    else:
                        rho_last = v
        out[F_GRAD_RATIO] = rho
        out[F_GRAD_FIRST] = rho_first
        out[F_GRAD_LAST] = rho_last

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
        elif y25 - math.log10(ref) >= BLOWUP and not rho < P[P_FAR]:
            # three quarters of the late loss 100 x or more above the first sample: the loss is
            # held high (a network at (a, b) = (30, 0.3) that jumps between plateaus 1e2 ... 1e11 x
            # its start), so rises on it are no spike train (spikes "do not prevent the algorithm
            # from achieving a small training loss"); before the spike rule. With the gradient
            # known, an iterate within `far` step sizes of the minimum is not blown up
            code, reason = C_DIV, 15
        elif cnt >= P[P_MIN_SPIKES]:
            code, reason = C_SPIKE, 2
        elif out[F_LEVEL] >= BLOWUP and not rho < P[P_FAR]:
            # the late loss 100 x or more above the first sample: blown up, whatever it does
            # now (a network at (a, b) = (100, 1) that saturates at 1e5 ... 1e45 x its start);
            # with the gradient known, an iterate within `far` step sizes of the minimum is not
            # (a start at the minimum, then a cycle at the step-size scale)
            code, reason = C_DIV, 15
        elif rstd <= flat and abs(slope) <= flat:
            # a still loss with the iterate held at the step-size scale is a cycle (RMSprop's
            # symmetric 2-cycle, Figure 6, has a constant loss), not an arrival
            if rho >= P[P_CYCLE_MIN] and rho < P[P_FAR]:
                code, reason = C_OSC, 10
            else:
                code, reason = C_CONV, 3
        elif at_floor:
            code, reason = C_CONV, 4
        elif abs(slope) > flat and abs(slope) >= tmin and abs(slope) >= snr * rstd:
            st = P[P_STEADY]
            # steady: both halves move the same way, the second no more than ``accel`` times
            # faster (a geometric or slower trend) and no more than ``steady`` times slower; a
            # fall also when its change of rate is not resolved: the bend |s2 - s1| / 4 (decades:
            # the sagitta of the parabola with these half slopes) below ``trend_snr`` times the
            # residual spread around the two half lines (a noisy network fall whose halves differ
            # by noise). A rise keeps the ratio tests alone (a noisy rise is not read as a blow-up)
            steady = (s1 * slope > 0.0 and s2 * slope > 0.0
                      and ((abs(s2) <= P[P_ACCEL] * abs(s1) and abs(s1) <= st * abs(s2))
                           or (slope < 0.0 and 0.25 * abs(s2 - s1) < snr * rstd_h)))
            far = P[P_FAR]
            if not steady:
                code, reason = C_TRANS, 7
            elif slope < 0.0 and rho_last >= far:
                # a steady fall with the iterate still `far` or more step sizes from the minimum
                # at the window's end is no arrival: still arriving (transient) when, shrinking
                # at the window's rate (rho_first -> rho_last), the distance reaches `far` within
                # one more window (rho_last / far <= rho_first / rho_last); otherwise the loss
                # stays large on the window's time scale (divergence)
                if rho_last * rho_last <= rho_first * far:
                    code, reason = C_TRANS, 13
                else:
                    code, reason = C_DIV, 14
            elif slope < 0.0:
                code, reason = C_CONV, 5
            else:
                code, reason = C_DIV, 6
        elif rho == rho:
            # the gradient known: its distance in step sizes decides directly (the loss-implied
            # step_ratio counts steps of the run's own length, far below eta after a burst of
            # RMSprop with a slow v, and misses cycles faster than the stride)
            if rho >= P[P_FAR]:
                code, reason = C_DIV, 12
            elif out[F_STEP_RATIO] >= P[P_FAR]:
                code, reason = C_OSC, 11
        elif not known[g]:
            # f* unknown, only bounded below (f* >= f_stars[g]): |d ln(f - f*)| >= |d ln f|, so
            # step_ratio bounds the distance in steps from above and can show "near", never
            # "far"; the loss is read against itself instead. Quarter medians falling one after
            # the other by QUARTER_FALL in all: still making progress (a fall whose cycles hide
            # its trend from the line fit); else below PROGRESS decades under its start: a loss
            # that fell and holds (oscillation); else the loss stays large (divergence)
            if _quarter_fall(y, m) >= QUARTER_FALL:
                code, reason = C_CONV, 18
            elif out[F_STEP_RATIO] >= P[P_FAR]:
                if out[F_LEVEL] > -PROGRESS:
                    code, reason = C_DIV, 17
                else:
                    code, reason = C_OSC, 16
        elif out[F_STEP_RATIO] >= P[P_FAR]:
            code, reason = C_DIV, 8
        out[F_CODE] = code
        out[F_REASON] = reason
        counts[g] = cnt


def curve_features(loss, step, f_star, diverged, P, out, peaks, onsets, heights, gnorm=None, eta=np.nan,
                   known=True) -> int:
    """:func:`features_block` for one curve: features into ``out``, spikes into
    ``peaks``/``onsets``/``heights``; returns the number of spikes."""
    counts = np.zeros(1, dtype=np.int64)
    feats = np.empty((1, out.shape[0]))
    gn = np.empty((1, 0)) if gnorm is None else np.ascontiguousarray(gnorm, dtype=np.float64).reshape(1, -1)
    features_block(np.ascontiguousarray(loss, dtype=np.float64).reshape(1, -1), step,
                   np.array([f_star], dtype=np.float64), np.array([known], dtype=np.bool_),
                   np.array([diverged], dtype=np.bool_), P, feats, counts, peaks, onsets, heights, gn,
                   np.array([eta], dtype=np.float64))
    out[:] = feats[0]
    return int(counts[0])
