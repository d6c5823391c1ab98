"""The Numba kernels: one generic driver loop and the step of every optimiser.

State layout (shared by every optimiser, so the driver, the map Jacobians and
the grid sweeps need no per-optimiser code):

``x, m, v, aux``  float64[d]: iterate, first moment, second moment, and the
                  running max of the second moment (AMSGrad) -- zero otherwise;
``s``             float64[NSCAL]: ``s[S_TIME]`` continuous time reached (the sum
                  of the step sizes taken), ``s[S_P1]``, ``s[S_P2]`` the powers
                  r^k, q^k of the moment factors (Adam's bias correction
                  1 - beta^k), ``s[S_L]`` AdaFix's Lipschitz estimate,
                  ``s[S_FROZEN]`` how many steps AdaFix kept v frozen;
``k``             steps taken so far.

Every moment method is eq. (1) of Ma, Wu & E with constant coefficients::

    m <- h g + r m,    v <- p g^2 + q v,    x <- x - eta_t (m / c1) / (sqrt(v / c2) + eps)

with c1 = 1 - r^k, c2 = 1 - q^k under bias correction and 1 otherwise. The
hyperparameters travel as ``hp = [eta, h, r, p, q, eps, bias_correction,
eps_inside, amsgrad, L0]`` (see ``HP_*``). The x update is arranged as PyTorch
arranges it, ``x -= (eta / c1) * m / (sqrt(v) * (1 / sqrt(c2)) + eps)`` (PyTorch
divides by sqrt(c2) per coordinate; one reciprocal per step is faster), so that
``torch.optim`` agreement is limited by rounding, not by algebra.
"""
from __future__ import annotations

import numpy as np
from numba import prange, types

from adadyn._jit import VALUE_GRAD_T, Lazy, b1, f8, i8, jit, mat, vec
from adadyn.discrete.schedules import schedule_factor as sched_factor
from adadyn.discrete.step import bias_factors, lion_coord, moment_coord, scaled_norm, sign

KIND_GD, KIND_SIGN, KIND_MOMENT, KIND_ADAFIX, KIND_LION = 0, 1, 2, 3, 4
HP_ETA, HP_H, HP_R, HP_P, HP_Q, HP_EPS, HP_BC, HP_EPS_IN, HP_AMS, HP_L0, HP_MIX = range(11)
N_HP = 11
S_TIME, S_P1, S_P2, S_L, S_FROZEN = range(5)
NSCAL = 5
AMS_NONE, AMS_RAW, AMS_HAT = 0, 1, 2
# the codes of adadyn.status.STATUS_CODES (module constants so the kernels see literals)
STATUS_OK, STATUS_DIVERGED, STATUS_CONVERGED = 0, 1, 2
N_STATS = 6  # mean log10 loss, std log10 loss, min loss, max loss, n in window, last loss

_KINDS = {"gd": KIND_GD, "sign": KIND_SIGN, "moment": KIND_MOMENT, "adafix": KIND_ADAFIX, "lion": KIND_LION}
_AMS = {"none": AMS_NONE, "raw": AMS_RAW, "hat": AMS_HAT}


def lower(c) -> tuple[int, np.ndarray]:
    """``(kind, hp)`` for the kernels from a :class:`~adadyn.discrete.coefficients.Coefficients`.

    The only place that writes the ``HP_*`` slots; everything outside
    :mod:`adadyn.discrete` reads the named coefficient view instead.
    """
    hp = np.zeros(N_HP)
    hp[HP_ETA] = c.eta
    hp[HP_H], hp[HP_R], hp[HP_P], hp[HP_Q] = c.h, c.r, c.p, c.q
    hp[HP_EPS] = c.eps
    hp[HP_BC] = float(c.bias_correction)
    hp[HP_EPS_IN] = float(c.eps_inside)
    hp[HP_AMS] = float(_AMS[c.amsgrad])
    hp[HP_L0] = c.L0
    hp[HP_MIX] = c.sign_mix
    return _KINDS[c.method], hp


@jit
def run_core(kind, hp, skind, sp, vg, data, lo, hi, has_box, x, m, v, aux, s, k0,
             steps, every, gtol, rec_x, rec_m, rec_v, rec_loss, rec_gn, rec_time, rec_state,
             window, stats):
    """The one driver loop: ``steps`` steps from state (x, m, v, aux, s) after k0 steps.

    Records every ``every`` steps (row j is the state after j*every steps of
    this call, with f and |grad f| there); accumulates late-window statistics
    of the loss over the last ``window`` steps into ``stats``. Stops early on a
    non-finite loss or gradient (diverged) or |grad f| <= gtol (converged).
    Returns (status, steps taken, rows recorded).
    """
    d = x.shape[0]
    g = np.empty(d)
    gs = np.empty(d)
    xs = np.empty(d)
    nrec = 0
    status = STATUS_OK
    n = 0
    w0 = steps - window + 1
    sl = 0.0
    sl2 = 0.0
    lmin = np.inf
    lmax = -np.inf
    nw = 0
    f = np.nan
    cnt = 1
    while True:
        t = float(k0 + n + 1)
        f = vg(x, t, data, g)
        gn2 = 0.0
        for i in prange(d):
            gn2 += g[i] * g[i]
        gnorm = scaled_norm(g, gn2)
        if not (np.isfinite(f) and np.isfinite(gnorm)):
            status = STATUS_DIVERGED
            break
        if n >= w0:
            lf = np.log10(max(abs(f), 1e-300))
            sl += lf
            sl2 += lf * lf
            lmin = min(lmin, f)
            lmax = max(lmax, f)
            nw += 1
        cnt -= 1
        if cnt == 0 and nrec < rec_loss.shape[0]:
            cnt = every
            rec_loss[nrec] = f
            rec_gn[nrec] = gnorm
            rec_time[nrec] = s[S_TIME]
            if rec_state:
                for i in prange(d):
                    rec_x[nrec, i] = x[i]
                    rec_m[nrec, i] = m[i]
                    rec_v[nrec, i] = v[i]
            nrec += 1
        if gtol > 0.0 and gnorm <= gtol:
            status = STATUS_CONVERGED
            break
        if n == steps:
            break
        # ---- one step at index t with g = grad f_t(x), through the coordinate functions
        # of adadyn.discrete.step (inlined: a call passing a dozen arrays would cost more
        # than the step itself at small d).
        eta = hp[HP_ETA] * sched_factor(skind, sp, t)
        if kind == KIND_GD:
            for i in prange(d):
                x[i] -= eta * g[i]
        elif kind == KIND_SIGN:
            for i in prange(d):
                x[i] -= eta * sign(g[i])
        elif kind == KIND_LION:
            mix = hp[HP_MIX]
            h = hp[HP_H]
            r = hp[HP_R]
            for i in prange(d):
                dx, m[i] = lion_coord(g[i], m[i], mix, h, r, eta)
                x[i] -= dx
        else:
            h = hp[HP_H]
            r = hp[HP_R]
            p = hp[HP_P]
            q = hp[HP_Q]
            eps = hp[HP_EPS]
            s[S_P1] *= r
            s[S_P2] *= q
            stp, c2, ic2 = bias_factors(eta, s[S_P1], s[S_P2], hp[HP_BC] != 0.0)
            update_v = True
            if kind == KIND_ADAFIX:
                # Algorithm 1, line 4: "if max_i g_{t,i} >= L eta"; read as the largest
                # magnitude (with the sign as printed, an all-negative gradient would
                # freeze v, which the text's "all elements exceed the bound" rules out).
                gmax = 0.0
                for i in range(d):
                    gmax = max(gmax, abs(g[i]))
                update_v = gmax >= s[S_L] * eta
                if not update_v:
                    s[S_FROZEN] += 1.0
                for i in range(d):
                    xs[i] = x[i]
            ams = hp[HP_AMS]
            eps_in = hp[HP_EPS_IN] != 0.0
            if ams == 0.0 and not eps_in and update_v:
                # the common case (RMSprop, Adam, Adagrad): literal flags fold the branches
                # away so that the loop vectorises; same operations, same bits
                for i in prange(d):
                    dx, m[i], v[i], _ = moment_coord(g[i], m[i], v[i], 0.0, h, r, p, q, eps, stp, c2, ic2,
                                                     False, 0.0, True)
                    x[i] -= dx
            else:
                for i in prange(d):
                    dx, m[i], v[i], aux[i] = moment_coord(g[i], m[i], v[i], aux[i], h, r, p, q, eps, stp,
                                                          c2, ic2, eps_in, ams, update_v)
                    x[i] -= dx
        if has_box:
            for i in prange(d):
                x[i] = min(max(x[i], lo[i]), hi[i])
        if kind == KIND_ADAFIX:
            vg(x, t, data, gs)
            num = 0.0
            den2 = 0.0
            for i in range(d):
                num += (gs[i] - g[i]) ** 2
                den2 += (x[i] - xs[i]) ** 2
            if den2 > 0.0 and np.isfinite(num):
                s[S_L] = max(s[S_L], np.sqrt(num / den2))
        s[S_TIME] += eta
        n += 1
    if nw > 0:
        mu = sl / nw
        stats[0] = mu
        stats[1] = np.sqrt(max(sl2 / nw - mu * mu, 0.0))
    else:
        stats[0] = np.nan
        stats[1] = np.nan
    stats[2] = lmin
    stats[3] = lmax
    stats[4] = nw
    stats[5] = f
    return status, n, nrec


RUN_SIG = types.UniTuple(i8, 3)(
    i8, vec, i8, vec, VALUE_GRAD_T, vec, vec, vec, b1,   # kind, hp, skind, sp, vg, data, lo, hi, has_box
    vec, vec, vec, vec, vec, i8,                          # x, m, v, aux, s, k0
    i8, i8, f8,                                           # steps, every, gtol
    mat, mat, mat, vec, vec, vec, b1,                     # rec_x, rec_m, rec_v, rec_loss, rec_gn, rec_time, rec_state
    i8, vec,                                              # window, stats
)
#: The serial driver; it releases the GIL, so grid sweeps run many points at once on
#: Python threads (:func:`adadyn.discrete.run_grid`) without a second compiled variant.
run_kernel = Lazy(run_core, RUN_SIG, tag="serial", nogil=True)
#: The same driver compiled with ``parallel=True``: its ``prange`` loops over
#: coordinates run on all cores and vectorise (LLVM cannot prove the serial
#: loop's arrays do not alias). For large d only: each parallel region costs
#: microseconds to launch. x, m, v are bit-identical to the serial driver; the
#: recorded gradient norm may differ in the last bits (a parallel reduction).
run_kernel_parallel = Lazy(run_core, RUN_SIG, tag="parallel", parallel=True)
PARALLEL_MIN_DIM = 50_000


def _map_step(kind, hp, x, m, v, aux, g, x1, m1, v1, aux1):
    """The autonomous map F(z) (bias correction dropped, constant eta): the step of
    :func:`run_core` at t -> infinity, through the same coordinate functions.
    ``g`` is the gradient at x; the new state goes to (x1, m1, v1, aux1)."""
    eta = hp[HP_ETA]
    d = x.shape[0]
    for i in range(d):
        m1[i] = m[i]
        v1[i] = v[i]
        aux1[i] = aux[i]
        if kind == KIND_GD:
            x1[i] = x[i] - eta * g[i]
        elif kind == KIND_SIGN:
            x1[i] = x[i] - eta * sign(g[i])
        elif kind == KIND_LION:
            dx, m1[i] = lion_coord(g[i], m[i], hp[HP_MIX], hp[HP_H], hp[HP_R], eta)
            x1[i] = x[i] - dx
        else:
            dx, m1[i], v1[i], aux1[i] = moment_coord(
                g[i], m[i], v[i], aux[i], hp[HP_H], hp[HP_R], hp[HP_P], hp[HP_Q], hp[HP_EPS],
                eta, 1.0, 1.0, hp[HP_EPS_IN] != 0.0, hp[HP_AMS], True)
            x1[i] = x[i] - dx


map_step = Lazy(_map_step, types.none(i8, vec, vec, vec, vec, vec, vec, vec, vec, vec, vec))
