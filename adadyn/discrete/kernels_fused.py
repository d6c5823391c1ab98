"""One pass over memory per step for separable objectives (large d).

When an objective declares a separable gradient (``Structure(kind="separable" or
"diagonal")``: coordinate i of the gradient depends on x_i only) the gradient,
the loss, the gradient norm and the update are fused into one pass over x, m, v
and the objective's data, instead of the three passes of
:func:`adadyn.discrete.kernels.run_core` (gradient, norm, update).

The driver is written once, :func:`_fused_core`, against a global ``_coord``:
``_coord(xi, i, t, data) -> (f_i, g_i)``. :func:`fused_kernel` compiles a copy
of it bound to an objective's coordinate function (cached on disk for the
library's diagonal quadratic, compiled once per process for user functions).

Stopping early needs the state *before* the step that revealed the stop (a
non-finite value, |g| <= gtol, or a norm that overflowed), but a fused pass has
already overwritten it. So the kernel keeps a checkpoint of the state every
``CHECKPOINT`` steps (aligned with the record stride, a few percent of the
traffic) and returns it; :func:`adadyn.run` then restores it and replays the
last few steps with the reference driver, which stops exactly where the unfused
run stops. The iterates are the same operations in the same order as
``run_core`` (both step through :mod:`adadyn.discrete.step`), so x, m, v are
bit-identical; the loss and the norm are summed in parallel with reassociation allowed
(``fastmath={"reassoc", "nsz"}``, which only reductions can use here) and may differ in
their last bits.
"""
from __future__ import annotations

import hashlib

import numpy as np
from numba import prange, types

from adadyn._jit import f8, i8, jit, b1, mat, vec, variant
from adadyn.discrete.kernels import (
    HP_AMS, HP_BC, HP_EPS, HP_EPS_IN, HP_ETA, HP_H, HP_MIX, HP_P, HP_Q, HP_R, KIND_GD, KIND_LION,
    KIND_MOMENT, KIND_SIGN, S_P1, S_P2, S_TIME, STATUS_DIVERGED, STATUS_OK, sched_factor,
)
from adadyn.discrete.step import bias_factors, lion_coord, moment_coord, sign

#: steps between checkpoints (rounded up to a multiple of the record stride)
CHECKPOINT = 64
FUSED_KINDS = (KIND_GD, KIND_SIGN, KIND_MOMENT, KIND_LION)
#: dimension from which :func:`adadyn.run` takes the fused path by default
FUSED_MIN_DIM = 50_000

COORD_SIG = types.UniTuple(f8, 2)(f8, i8, f8, vec)


def _coord(xi, i, t, data):  # replaced by the objective's coordinate function in each copy
    raise NotImplementedError


def _fused_core(kind, hp, skind, sp, data, x, m, v, aux, s, k0, steps, every,
                rec_x, rec_m, rec_v, rec_loss, rec_gn, rec_time, rec_state, ck_x, ck_m, ck_v, ck_aux, ck_s, out):
    """Run up to ``steps`` fused steps; ``out`` = [status, steps done, rows recorded,
    replay flag, checkpoint step, checkpoint row, last loss]. With the replay flag set
    the caller restores the checkpoint and replays from it with the reference driver."""
    d = x.shape[0]
    period = max(1, (CHECKPOINT + every - 1) // every) * every
    nrec = 0
    n = 0
    status = STATUS_OK
    f = np.nan
    replay = 0
    ck_n = 0
    ck_r = 0
    while True:
        t = float(k0 + n + 1)
        if n % period == 0:
            for i in prange(d):
                ck_x[i] = x[i]
                ck_m[i] = m[i]
                ck_v[i] = v[i]
                ck_aux[i] = aux[i]
            for j in range(s.shape[0]):
                ck_s[j] = s[j]
            ck_n = n
            ck_r = nrec
        rec = n % every == 0 and nrec < rec_loss.shape[0]
        if rec and rec_state:
            for i in prange(d):
                rec_x[nrec, i] = x[i]
                rec_m[nrec, i] = m[i]
                rec_v[nrec, i] = v[i]
        tm = s[S_TIME]
        if n == steps:
            f = 0.0
            gn2 = 0.0
            for i in prange(d):
                fi, gi = _coord(x[i], i, t, data)
                f += fi
                gn2 += gi * gi
            if not (np.isfinite(f) and np.isfinite(gn2)):
                replay = 1
            elif rec:
                rec_loss[nrec] = f
                rec_gn[nrec] = np.sqrt(gn2)
                rec_time[nrec] = tm
                nrec += 1
            break
        eta = hp[HP_ETA] * sched_factor(skind, sp, t)
        f = 0.0
        gn2 = 0.0
        if kind == KIND_GD:
            for i in prange(d):
                fi, gi = _coord(x[i], i, t, data)
                f += fi
                gn2 += gi * gi
                x[i] -= eta * gi
        elif kind == KIND_SIGN:
            for i in prange(d):
                fi, gi = _coord(x[i], i, t, data)
                f += fi
                gn2 += gi * gi
                x[i] -= eta * sign(gi)
        elif kind == KIND_LION:
            mix = hp[HP_MIX]
            h = hp[HP_H]
            r = hp[HP_R]
            for i in prange(d):
                fi, gi = _coord(x[i], i, t, data)
                f += fi
                gn2 += gi * gi
                dx, m[i] = lion_coord(gi, m[i], mix, h, r, eta)
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
            ams = hp[HP_AMS]
            eps_in = hp[HP_EPS_IN] != 0.0
            if ams == 0.0 and not eps_in:
                for i in prange(d):
                    fi, gi = _coord(x[i], i, t, data)
                    f += fi
                    gn2 += gi * gi
                    dx, m[i], v[i], _ = moment_coord(gi, m[i], v[i], 0.0, h, r, p, q, eps, stp, c2, ic2,
                                                     False, 0.0, True)
                    x[i] -= dx
            else:
                for i in prange(d):
                    fi, gi = _coord(x[i], i, t, data)
                    f += fi
                    gn2 += gi * gi
                    dx, m[i], v[i], aux[i] = moment_coord(gi, m[i], v[i], aux[i], h, r, p, q, eps, stp, c2,
                                                          ic2, eps_in, ams, True)
                    x[i] -= dx
        if not (np.isfinite(f) and np.isfinite(gn2)):
            # the state before this step is gone: replay from the checkpoint
            replay = 1
            break
        if rec:
            rec_loss[nrec] = f
            rec_gn[nrec] = np.sqrt(gn2)
            rec_time[nrec] = tm
            nrec += 1
        s[S_TIME] += eta
        n += 1
    out[0] = status
    out[1] = n
    out[2] = nrec
    out[3] = replay
    out[4] = ck_n
    out[5] = ck_r
    out[6] = f


FUSED_SIG = types.none(
    i8, vec, i8, vec, vec, vec, vec, vec, vec, vec, i8, i8, i8,
    mat, mat, mat, vec, vec, vec, b1, vec, vec, vec, vec, vec, vec,
)

_compiled: dict = {}


def _code_bytes(code) -> bytes:
    """A process-independent rendering of a code object (nested code objects recursed,
    so no memory address enters it)."""
    if code is None:
        return b""
    consts = [_code_bytes(c) if hasattr(c, "co_code") else repr(c).encode() for c in code.co_consts]
    return b"|".join([code.co_code, repr(code.co_names).encode(), *consts])


def fused_kernel(coord, *, cache: bool):
    """The fused driver bound to ``coord`` (a Numba function ``(xi, i, t, data) -> (f_i, g_i)``),
    compiled once per coordinate function (on disk too when ``cache``)."""
    key = id(coord)
    if key not in _compiled:
        import types as _types

        fn = _fused_core
        glb = dict(fn.__globals__)
        glb["_coord"] = coord
        clone = _types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__qualname__ = fn.__qualname__
        clone.__module__ = fn.__module__
        # Numba's cache index tracks this file only, not the coordinate function's:
        # a digest of its code in the name keeps a cached copy from outliving an edit.
        py = getattr(coord, "py_func", coord)
        digest = hashlib.sha1(_code_bytes(getattr(py, "__code__", None))).hexdigest()[:10]
        clone = variant(clone, f"{getattr(py, '__name__', 'coord')}_{digest}")
        _compiled[key] = (coord, jit(FUSED_SIG, parallel=True, cache=cache, fastmath={"reassoc", "nsz"})(clone))
    return _compiled[key][1]
