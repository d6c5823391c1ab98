"""Numba right-hand sides and Jacobians of the smooth flows (eqs. (4), (7), (8)).

State layout ``y = [x, m, v]`` with only the blocks a flow has:

==============  ==================  =========================================
kind            y                   vector field
==============  ==================  =========================================
``K_GD``        x                   x' = -g
``K_EPSSIGN``   x                   x' = -g / (|g| + eps)                  (4)
``K_RMSPROP``   x, v                x' = -g / (sqrt(v) + eps),
                                    v' = a (g^2 - v)                       (7)
``K_ADAM``      x, m_hat, v_hat     x' = -m_hat / (sqrt(v_hat) + eps),
                                    m_hat' = b (g - m_hat) / (1 - e^{-bt}),
                                    v_hat' = a (g^2 - v_hat) / (1 - e^{-at})  (8)
``K_ADAM_RAW``  x, m, v             (8) without the bias-correction factors
==============  ==================  =========================================

with g = grad f(x). ``K_ADAM`` evolves the bias-corrected moments
m_hat = m / (1 - e^{-bt}), v_hat = v / (1 - e^{-at}) of eq. (8): differentiating
gives m_hat' = (m' - b e^{-bt} m_hat) / (1 - e^{-bt}) = b (g - m_hat) / (1 - e^{-bt}),
which (unlike eq. (8) in m, v) is finite along the solution at t -> 0 because
m_hat(0+) = g(x0) (see :func:`adadyn.flows.start.initial_state`). The factor
1 - e^{-bt} is computed as ``-expm1(-b t)`` so it keeps full precision at small t.

``eps_inside`` (p[P_INSIDE] = 1) replaces sqrt(v) + eps by sqrt(v + eps) in the
RMSprop and Adam fields (the formal analogue of eqs. (7), (8) for that placement).

Each field is written once, in :func:`_field`, from the state and the gradient g;
:func:`_rhs` evaluates g at x and calls it, and :func:`_jac` takes g and the
Hessian H as arguments (so the linearisation can pass g = 0 at an exact
stationary point, or its own Hessian). Evaluating at t = inf gives the
autonomous t -> infinity fields (the bias-correction factors -> 1).

The parameters travel as ``p = [a, b, eps, eps_inside]``. :data:`flow_rhs` and
:data:`flow_jac` have explicit signatures taking the objective's ``value_grad`` as
a first-class function, so they are compiled once and cached on disk for all
objectives; but converting a dispatcher to a first-class function costs ~30 us
per call from Python, which would dominate a solve. The solver therefore uses
:func:`specialised`: closures over one objective's compiled functions (~1 us per
call), compiled once per process and objective function (~0.5 s).
"""
from __future__ import annotations

import numpy as np
from numba import types

import numba

from adadyn._jit import VALUE_GRAD_T, Lazy, f8, i8, jit, mat, vec

K_GD, K_EPSSIGN, K_RMSPROP, K_ADAM, K_ADAM_RAW = range(5)
P_A, P_B, P_EPS, P_INSIDE = range(4)
N_P = 4

# below this sqrt(v) the d/dv of 1/(sqrt(v) + eps) is evaluated at the floor, keeping
# the Jacobian finite for tiny v > 0. Where v <= 0 the field uses max(v, 0), which is flat
# in v: the Jacobian's d/dv entry is its exact value 0 there (at v = 0 the one-sided
# derivative from below). Using the floor there instead put entries ~1e165 into the Newton
# matrix whenever rounding pushed a v_i below 0 near g_i = 0, and LSODA then failed
# ("repeated convergence failures") on 2 of 8 starts perturbed by 1e-13.
_S_FLOOR = 1e-150


@jit
def _moment_rates(kind, p, t):
    """(b, a) times the bias-correction factors 1 / (1 - e^{-bt}), 1 / (1 - e^{-at})
    for the bias-corrected Adam flow; plain (b, a) otherwise."""
    a = p[P_A]
    b = p[P_B]
    if kind == K_ADAM:
        return b / (-np.expm1(-b * t)), a / (-np.expm1(-a * t))
    return b, a


@jit
def _den(p, vi):
    """``(den, r)``: den = sqrt(v) + eps, or sqrt(v + eps) with eps inside, and
    r = 1 / (d den / dv) = 2 sqrt(.) (with eps outside, at v = 0 evaluated at the
    floor _S_FLOOR, keeping the Jacobian finite where the true derivative is infinite)."""
    eps = p[P_EPS]
    if p[P_INSIDE] != 0.0:
        s = np.sqrt(max(vi, 0.0) + eps)
        return s, 2.0 * max(s, _S_FLOOR)
    s = np.sqrt(max(vi, 0.0))
    return s + eps, 2.0 * max(s, _S_FLOOR)


@jit
def _ratio(num, den):
    """num / den, with 0/0 = 0: with eps = 0 the velocity -m/sqrt(v) (or -g/sqrt(v))
    of a component with zero numerator and v = 0 is 0, its limit along the flow
    (v_i = 0 = m_i stays so while g_i = 0)."""
    if num == 0.0:
        return 0.0
    return num / den


@jit
def _field(kind, p, t, y, g, out):
    """Write the vector field at (t, y) into ``out`` given g = grad f(x)."""
    d = g.shape[0]
    eps = p[P_EPS]
    if kind == K_GD:
        for i in range(d):
            out[i] = -g[i]
    elif kind == K_EPSSIGN:
        for i in range(d):
            out[i] = -g[i] / (abs(g[i]) + eps)
    elif kind == K_RMSPROP:
        a = p[P_A]
        for i in range(d):
            vi = y[d + i]
            out[i] = _ratio(-g[i], _den(p, vi)[0])
            out[d + i] = a * (g[i] * g[i] - vi)
    else:
        cb, ca = _moment_rates(kind, p, t)
        for i in range(d):
            mi = y[d + i]
            vi = y[2 * d + i]
            out[i] = _ratio(-mi, _den(p, vi)[0])
            out[d + i] = cb * (g[i] - mi)
            out[2 * d + i] = ca * (g[i] * g[i] - vi)


def _rhs(kind, p, t, y, vg, data, x, g, out):
    """Write the vector field at (t, y) into ``out``; ``x``, ``g`` are scratch (d,)."""
    d = x.shape[0]
    for i in range(d):
        x[i] = y[i]
    vg(x, 1.0, data, g)
    _field(kind, p, t, y, g, out)


def _jac(kind, p, t, y, g, H, J):
    """Write the Jacobian d(vector field)/dy at (t, y) into ``J`` given g = grad f(x)
    and H = Hessian of f at x (so that any Hessian source, exact or finite
    differences, can be used)."""
    d = g.shape[0]
    n = y.shape[0]
    for i in range(n):
        for j in range(n):
            J[i, j] = 0.0
    eps = p[P_EPS]
    if kind == K_GD:
        for i in range(d):
            for j in range(d):
                J[i, j] = -H[i, j]
    elif kind == K_EPSSIGN:
        # d/dg [g / (|g| + eps)] = eps / (|g| + eps)^2 (away from g = 0; there too for eps > 0)
        for i in range(d):
            c = eps / (abs(g[i]) + eps) ** 2
            for j in range(d):
                J[i, j] = -c * H[i, j]
    elif kind == K_RMSPROP:
        a = p[P_A]
        for i in range(d):
            den, r = _den(p, y[d + i])
            for j in range(d):
                J[i, j] = -H[i, j] / den
                J[d + i, j] = 2.0 * a * g[i] * H[i, j]
            # d/dv [-g / den(v)] = g den'(v) / den^2 (0 where g = 0, the v = 0 limit of eq. (11))
            if g[i] != 0.0 and y[d + i] > 0.0:
                J[i, d + i] = g[i] / (r * den * den)
            J[d + i, d + i] = -a
    else:
        cb, ca = _moment_rates(kind, p, t)
        for i in range(d):
            mi = y[d + i]
            den, r = _den(p, y[2 * d + i])
            J[i, d + i] = -1.0 / den
            if mi != 0.0 and y[2 * d + i] > 0.0:
                J[i, 2 * d + i] = mi / (r * den * den)
            for j in range(d):
                J[d + i, j] = cb * H[i, j]
                J[2 * d + i, j] = 2.0 * ca * g[i] * H[i, j]
            J[d + i, d + i] = -cb
            J[2 * d + i, 2 * d + i] = -ca


flow_rhs = Lazy(_rhs, types.none(i8, vec, f8, vec, VALUE_GRAD_T, vec, vec, vec, vec), tag="fp")
flow_jac = Lazy(_jac, types.none(i8, vec, f8, vec, vec, mat, mat), tag="fp")

# the versions the per-objective closures call (cached; x/0 gives inf, not an exception)
_rhs_nb = jit(_rhs)
_jac_nb = jit(_jac)
_SPECIALISED: dict = {}


def specialised(vg, hess):
    """``(rhs, jac)`` compiled closures over the objective functions ``vg``
    (value_grad) and ``hess`` (exact Hessian, or None: then ``jac`` is None).

    ``rhs(kind, p, t, y, data, x, g) -> dy/dt`` and ``jac(kind, p, t, y, data, x, g, H) -> J``
    (x, g (d,) and H (d, d) are scratch). Memoised per process on the functions,
    so all objectives sharing a kernel (e.g. every quadratic) share one compile.
    """
    key = (vg, hess)
    hit = _SPECIALISED.get(key)
    if hit is not None:
        return hit

    @numba.njit
    def rhs(kind, p, t, y, data, x, g):
        out = np.empty(y.shape[0])
        _rhs_nb(kind, p, t, y, vg, data, x, g, out)
        return out

    jac = None
    if hess is not None:
        @numba.njit
        def jac(kind, p, t, y, data, x, g, H):
            d = x.shape[0]
            for i in range(d):
                x[i] = y[i]
            vg(x, 1.0, data, g)
            hess(x, 1.0, data, H)
            J = np.empty((y.shape[0], y.shape[0]))
            _jac_nb(kind, p, t, y, g, H, J)
            return J

    _SPECIALISED[key] = (rhs, jac)
    return rhs, jac


@jit
def jac_separable(kind, p, t, y, g, h, k, out):
    """The nonzeros of the Jacobian for a separable objective (Hessian diag(h)).

    The flow then splits into d independent k-dimensional flows (k = number of
    blocks): coordinate i's state is (y[i], y[d + i], ...). Each one's k x k
    Jacobian is :func:`_jac` with d = 1, written to ``out[i*k*k:(i+1)*k*k]``
    row-major; :func:`separable_pattern` gives the matching rows and columns.
    """
    d = g.shape[0]
    yi = np.empty(k)
    gi = np.empty(1)
    Hi = np.empty((1, 1))
    Ji = np.empty((k, k))
    for i in range(d):
        for b in range(k):
            yi[b] = y[b * d + i]
        gi[0] = g[i]
        Hi[0, 0] = h[i]
        _jac_nb(kind, p, t, yi, gi, Hi, Ji)
        base = i * k * k
        for r in range(k):
            for c in range(k):
                out[base + r * k + c] = Ji[r, c]


def separable_pattern(d: int, k: int):
    """(rows, cols) of the nonzeros :func:`jac_separable` writes, in its order."""
    i = np.repeat(np.arange(d), k * k)
    r = np.tile(np.repeat(np.arange(k), k), d)
    c = np.tile(np.tile(np.arange(k), k), d)
    return r * d + i, c * d + i
