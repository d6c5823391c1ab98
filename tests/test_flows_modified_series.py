"""The modified (order-2) flows against the discrete maps, by Taylor series in eta.

The fields of :mod:`adadyn.flows.modified` are evaluated on sympy numbers (the same
code that the solver runs on floats, with eta a sympy symbol) for a generic 2-d
quartic objective at a generic state and time. The time-eta Taylor map of the flow,
z + eta f + (eta^2/2)(Df f + df/dt), is then a polynomial in eta. It is compared
with a transcription of the optimisers' updates (eqs. (2), (3) of Ma, Wu & E, the
bias-correction factors 1 - beta^(k+1) at k = t/eta taken as they are), whose
Taylor coefficients in eta are central differences in 80-digit arithmetic. The
coefficients of eta^0, eta^1 and eta^2 must agree (local error O(eta^3)); for the
order-1 field the eta^2 coefficient must not, and changing any coefficient of the
correction (LAG, LEAD, RATE2) breaks the agreement.
"""
import functools

import numpy as np
import pytest
import sympy as sp

from adadyn.flows import modified as M

ETA, T = sp.symbols("eta t", positive=True)
X = sp.symbols("x1 x2")
MS = sp.symbols("m1 m2")
VS = sp.symbols("v1 v2", positive=True)
_R = sp.Rational
# a generic quartic: every second and third derivative is nonzero and distinct
F = (_R(3, 5) * X[0]**2 + _R(2, 7) * X[0] * X[1] + _R(4, 5) * X[1]**2 + _R(1, 3) * X[0]**3
     - _R(2, 9) * X[0]**2 * X[1] + _R(1, 4) * X[0] * X[1]**2 + _R(1, 6) * X[1]**3
     + _R(1, 8) * X[0]**4 - _R(1, 10) * X[0]**2 * X[1]**2 + _R(1, 12) * X[1]**4 + _R(1, 2) * X[0])
G = np.array([sp.diff(F, xi) for xi in X], dtype=object)
H = np.array([[sp.diff(F, xi, xj) for xj in X] for xi in X], dtype=object)
POINT = {X[0]: _R(3, 10), X[1]: -_R(1, 2), MS[0]: _R(7, 10), MS[1]: -_R(2, 5),
         VS[0]: _R(9, 10), VS[1]: _R(3, 10), T: _R(7, 10)}
A, B, EPS = _R(3, 2), _R(5, 2), _R(1, 10)


class SymOps:
    sqrt = staticmethod(np.vectorize(sp.sqrt, otypes=[object]))
    one_minus_exp = staticmethod(lambda u: 1 - sp.exp(-u))
    p2 = staticmethod(lambda u: 1 - sp.exp(-u) * (1 + u))
    div0 = staticmethod(lambda n, d: n / d)


def flow_field(kind, order, at):
    """The field as a sympy vector at the state ``at`` (symbol -> value), from the
    package's own formulas."""
    eta = ETA if order == 2 else 0
    g = np.array([gi.subs(at) for gi in G], dtype=object)
    Hs = np.array([[h.subs(at) for h in row] for row in H], dtype=object)
    m = np.array([at[k] for k in MS], dtype=object)
    v = np.array([at[k] for k in VS], dtype=object)
    hvp = Hs.dot
    if kind == "gd":
        parts = (M.gd_field(g, hvp, eta),)
    elif kind == "rmsprop":
        parts = M.rmsprop_field(g, v, hvp, eta, A, EPS, ops=SymOps)
    else:
        parts = M.adam_field(g, m, v, hvp, at[T], eta, A, B, EPS, kind == "adam", ops=SymOps)
    return sp.Matrix(np.concatenate(parts))


def state(kind):
    return {"gd": X, "rmsprop": X + VS}.get(kind, X + MS + VS)


def discrete_map(kind, eta):
    """One step of the optimiser at step size ``eta`` (a number) from the point at
    t = k eta, written from eqs. (2)/(3): raw moments m_k = (1 - beta^k) m_hat_k,
    the update, then m_hat_{k+1} = m_{k+1} / (1 - beta^(k+1))."""
    at = _AT
    g = np.array([gi.subs(at) for gi in G], dtype=object)
    x = np.array([at[k] for k in X], dtype=object)
    if kind == "gd":
        return x - eta * g
    al = 1 - A * eta
    v = np.array([at[k] for k in VS], dtype=object)
    if kind == "rmsprop":
        v1 = al * v + (1 - al) * g * g
        return np.concatenate([x - eta * g / (SymOps.sqrt(v1) + EPS), v1])
    be = 1 - B * eta
    m = np.array([at[k] for k in MS], dtype=object)
    if kind == "adam":
        k = at[T] / eta
        cb_k, ca_k, cb_1, ca_1 = 1 - be**k, 1 - al**k, 1 - be**(k + 1), 1 - al**(k + 1)
    else:
        cb_k = ca_k = cb_1 = ca_1 = 1
    m1 = (be * cb_k * m + (1 - be) * g) / cb_1
    v1 = (al * ca_k * v + (1 - al) * g * g) / ca_1
    x1 = x - eta * m1 / (SymOps.sqrt(v1) + EPS)
    return np.concatenate([x1, m1, v1])


_DPS = 80
_AT = {k: sp.Float(v, _DPS) for k, v in POINT.items()}
_H = sp.Float("1e-20", _DPS)


def flow_taylor(kind, order):
    """z + eta f + (eta^2/2)(Df f + df/dt) at the point: a polynomial in eta. Df f + df/dt
    is the derivative of s -> f(z + s f(z), t + s) at s = 0, by a central difference with
    step 1e-20 in 80-digit arithmetic (error ~1e-40)."""
    z = state(kind)
    fp = flow_field(kind, order, _AT)
    f1 = fp.subs(ETA, 0)         # z + s f1 instead of z + s f: a change at O(eta^3) only

    def shifted(s):
        at = dict(_AT)
        at.update({zi: _AT[zi] + s * f1[i] for i, zi in enumerate(z)})
        at[T] = _AT[T] + s
        return flow_field(kind, order, at)

    df = (shifted(_H) - shifted(-_H)) / (2 * _H)
    return sp.Matrix([_AT[zi] for zi in z]) + ETA * fp + ETA**2 / 2 * df


def flow_coefficients(expr, n=3):
    p = sp.Poly(sp.expand(expr), ETA)
    return [float(p.coeff_monomial(ETA**k)) for k in range(n)]


_STEP = sp.Float("1e-12", _DPS)


@functools.lru_cache(maxsize=None)
def map_coefficients(kind):
    """eta^0, eta^1, eta^2 Taylor coefficients of the map at the point, per component,
    by central differences in eta (step 1e-12, 80 digits: error ~1e-24); the map at
    eta = 0 is the identity."""
    z = np.array([_AT[k] for k in state(kind)], dtype=object)
    fp, fm = discrete_map(kind, _STEP), discrete_map(kind, -_STEP)
    c1 = (fp - fm) / (2 * _STEP)
    c2 = (fp - 2 * z + fm) / (2 * _STEP**2)
    return tuple((float(z[i]), float(c1[i]), float(c2[i])) for i in range(z.shape[0]))


def mismatch(kind, order):
    """Largest |difference| of the eta^0, eta^1, eta^2 coefficients, map - flow."""
    fl, mp = flow_taylor(kind, order), map_coefficients(kind)
    out = np.zeros(3)
    for i in range(fl.shape[0]):
        c1, c2 = flow_coefficients(fl[i]), mp[i]
        out = np.maximum(out, np.abs(np.subtract(c1, c2)))
    return out


KINDS = ["gd", "rmsprop", "adam", "adam-raw"]


@pytest.mark.parametrize("kind", KINDS)
def test_order2_field_matches_the_map_to_eta_cubed(kind):
    err = mismatch(kind, 2)
    assert np.all(err < 1e-12), err


@pytest.mark.parametrize("kind", KINDS)
def test_order1_field_misses_the_eta_squared_term(kind):
    err = mismatch(kind, 1)
    assert err[0] < 1e-12 and err[1] < 1e-12      # eqs. (7)/(8) are the O(eta) limit
    assert err[2] > 1e-3, err


@pytest.mark.parametrize("name,kinds", [("LAG", KINDS), ("LEAD", ["rmsprop", "adam", "adam-raw"]),
                                        ("RATE2", ["rmsprop", "adam", "adam-raw"])])
@pytest.mark.parametrize("delta", [-0.05, 0.05])
def test_each_coefficient_is_pinned(monkeypatch, name, kinds, delta):
    monkeypatch.setattr(M, name, getattr(M, name) + delta)
    for kind in kinds:
        err = mismatch(kind, 2)
        assert err[2] > 1e-4, (name, kind, err)
