"""Modified (order-2) flows: backward error analysis of the optimisers' maps.

The flows of Ma, Wu & E (eqs. (4)-(8)) follow a discrete run to O(eta). The
modified flow adds the O(eta) term of backward error analysis: its solution
matches the run to O(eta^2) at the step times t_k = k eta. For a map
z_{k+1} = z_k + eta F1(z, t_k) + eta^2 F2(z, t_k) + O(eta^3) the field
f = F1 + eta (F2 - (Df1 F1 + d F1/dt) / 2) has a time-eta flow map equal to the
step up to O(eta^3) (derivation, coefficients and measured orders:
``docs/modified-flows.md``). Worked out, every correction reads one rule:

* what a step reads from the *old* state (the gradient g(x_k)) is the flow's
  value :data:`LAG` = 1/2 step earlier: g~ = g + (eta/2) H u, u the order-1
  velocity (``-x'``);
* what it reads from the *new* state (RMSprop's v_{k+1}, Adam's m_{k+1},
  v_{k+1} in the x update) is the value :data:`LEAD` = 1/2 step later;
* a memory factor 1 - a eta is the rate -log(1 - a eta)/eta = a + eta a^2/2
  (:data:`RATE2` = 1/2) of the exponential it approximates; with Adam's bias
  correction the rate is time dependent (:func:`bias_rate`).

GD (Barrett & Dherin, ICLR 2021): x' = -g - (eta/2) H g.
RMSprop, q = g / (sqrt(v) + eps): v' = r_a (g~^2 - v),
x' = -q - (eta/2) (H q / (sqrt(v) + eps) + (dq/dv) v').
Adam, P = m / (sqrt(v) + eps) (m, v bias-corrected with bias correction):
m' = r_b(t) (g~ - m), v' = r_a(t) (g~^2 - v), x' = -P - (eta/2) ((dP/dm) m' + (dP/dv) v').
Cattaneo, Klusowski & Shigida (ICML 2024) derive Adam's x equation in another
form; the one here is derived from eq. (3) of Ma, Wu & E and checked with sympy.

The fields need H u, a Hessian-vector product (``obj.hvp``). Their Jacobian needs
third derivatives, which the objectives do not provide: :meth:`jacobian` takes
central differences of the field (2 n_state field evaluations). Explicit solvers
(DOP853) need no Jacobian and are what :func:`convergence_order` uses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import gammainc

from adadyn.flows.fields import AdamFlow, Flow, GDFlow, RMSpropFlow
from adadyn.validation import check_nonnegative, check_positive, check_vector, check_x0

__all__ = ["ModifiedGDFlow", "ModifiedRMSpropFlow", "ModifiedAdamFlow", "MODIFIED_FLOWS",
           "bias_rate", "compare", "convergence_order", "LAG", "LEAD", "RATE2"]

#: How far back (in steps) the step reads the gradient: g(x_k) = g(x(t + eta/2 - eta)).
LAG = 0.5
#: How far forward (in steps) the x update reads the moments it has just updated.
LEAD = 0.5
#: -log(1 - a eta)/eta = a + RATE2 a^2 eta + O(eta^2): the exponential rate of a memory factor.
RATE2 = 0.5


class _NumpyOps:
    """The elementary functions of the fields, for float arrays (a sympy test passes its own)."""

    sqrt = staticmethod(lambda v: np.sqrt(np.maximum(v, 0.0)))
    #: 1 - e^{-u}
    one_minus_exp = staticmethod(lambda u: -np.expm1(-u))
    #: 1 - e^{-u} (1 + u), the regularised incomplete gamma P(2, u): accurate at small u
    p2 = staticmethod(lambda u: gammainc(2.0, u))

    @staticmethod
    def div0(num, den):
        """num / den, and 0 where num = 0 (the limit along the flow, as eq. (11))."""
        num = np.asarray(num, dtype=np.float64)
        den = np.asarray(den, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = num / den
        return np.where(num == 0.0, 0.0, out)


NUMPY_OPS = _NumpyOps()


def bias_rate(rate: float, t, eta: float, ops=NUMPY_OPS):
    """The modified rate of a bias-corrected moment at time t.

    The step m_hat <- m_hat + rho_k (g - m_hat) has rho_k = r eta / (1 - (1 - r eta)^(k+1)).
    Its modified equation has rate R0(t) + eta R1(t) with R0 = r / (1 - e^{-rt})
    (eq. (8)) and R1 = RATE2 r^2 (1 - e^{-rt} (1 + rt)) / (1 - e^{-rt})^2, which
    tends to r^2/4 as t -> 0 (the 1/t^2 terms of the expansion cancel) and to
    RATE2 r^2 as t -> infinity (the rate without bias correction).
    """
    u = rate * t
    c = ops.one_minus_exp(u)
    return rate / c + eta * RATE2 * rate * rate * ops.p2(u) / (c * c)


def plain_rate(rate: float, eta: float) -> float:
    """The modified rate of a moment without bias correction: r + RATE2 r^2 eta."""
    return rate + RATE2 * rate * rate * eta


# ---------------------------------------------------------------------- the fields, written once
def gd_field(g, hvp, eta):
    """x' = -g - LAG eta H g (Barrett & Dherin 2021)."""
    return -g - LAG * eta * hvp(g)


def rmsprop_field(g, v, hvp, eta, a, eps, ops=NUMPY_OPS):
    """(x', v') of the modified RMSprop flow (eq. (7) plus its O(eta) terms)."""
    s = ops.sqrt(v)
    den = s + eps
    q = ops.div0(g, den)
    hq = hvp(q)
    gt = g + LAG * eta * hq
    dv = plain_rate(a, eta) * (gt * gt - v)
    dq_dv_dv = -ops.div0(g * dv, 2.0 * s * den * den)
    dx = -q - eta * (LAG * ops.div0(hq, den) + LEAD * dq_dv_dv)
    return dx, dv


def adam_field(g, m, v, hvp, t, eta, a, b, eps, bias, ops=NUMPY_OPS):
    """(x', m', v') of the modified Adam flow (eq. (8) plus its O(eta) terms); m, v
    are the bias-corrected moments when ``bias`` is true."""
    s = ops.sqrt(v)
    den = s + eps
    P = ops.div0(m, den)
    gt = g + LAG * eta * hvp(P)
    if bias:
        ra, rb = bias_rate(a, t, eta, ops), bias_rate(b, t, eta, ops)
    else:
        ra, rb = plain_rate(a, eta), plain_rate(b, eta)
    dm = rb * (gt - m)
    dv = ra * (gt * gt - v)
    dx = -P - LEAD * eta * (ops.div0(dm, den) - ops.div0(m * dv, 2.0 * s * den * den))
    return dx, dm, dv


# ---------------------------------------------------------------------- the flow specs
class _Modified(Flow):
    """Shared machinery of the order-2 flows (evaluated in Python, not by the kernels)."""

    order: ClassVar[int] = 2
    #: flows.solve evaluates these flows through :meth:`rhs` / :meth:`jacobian`.
    evaluates_itself: ClassVar[bool] = True
    preferred_method: ClassVar[str] = "LSODA"

    def _hvp(self, obj, x):
        if obj.diagonal is not None:
            diag = obj.diagonal
            return lambda u: diag * u
        H = obj.hessian(x)
        return lambda u: H @ u

    def rhs(self, obj, t: float, y) -> np.ndarray:
        """The modified field at (t, y) on ``obj`` (one gradient and one Hessian)."""
        y = self._xy(obj, y)
        d = obj.dim
        x = np.ascontiguousarray(y[:d])
        with np.errstate(all="ignore"):
            return np.concatenate(self._field(y, obj.grad(x), self._hvp(obj, x), float(t), d))

    def jacobian(self, obj, t: float, y) -> np.ndarray:
        """dF/dy by central differences of :meth:`rhs` (the exact Jacobian needs third
        derivatives of f); steps 6e-6 relative, floored at 6e-6 for x, m and kept
        inside v > 0 for v."""
        y = self._xy(obj, y)
        n, d = y.shape[0], obj.dim
        h = 6e-6 * np.maximum(np.abs(y), 1.0)
        if self.has_v:
            h[n - d:] = 6e-6 * np.maximum(np.abs(y[n - d:]), 1e-300)
        J = np.empty((n, n))
        for j in range(n):
            yp, ym = y.copy(), y.copy()
            yp[j] += h[j]
            ym[j] -= h[j]
            J[:, j] = (self.rhs(obj, t, yp) - self.rhs(obj, t, ym)) / (2.0 * h[j])
        return J

    def field(self, y, g, t: float = np.inf) -> np.ndarray:
        raise ValueError(f"the {self.name} needs Hessian-vector products: evaluate it with "
                         "rhs(obj, t, y), or field_with(y, g, hvp, t)")

    def jacobian_at(self, y, g, H, t: float = np.inf) -> np.ndarray:
        raise ValueError(f"the {self.name} has no Jacobian from (g, H) alone (it needs third "
                         "derivatives); use jacobian(obj, t, y)")

    def field_with(self, y, g, hvp, t: float) -> np.ndarray:
        """The field at ``y`` given the gradient g and a callable u -> H u at its x block."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        return np.concatenate(self._field(y, g, hvp, float(t), g.shape[0]))


@dataclass(frozen=True)
class ModifiedGDFlow(_Modified):
    """x' = -grad f - (eta/2) H grad f = -grad (f + (eta/4) |grad f|^2): GD's modified
    flow (implicit gradient regularisation, Barrett & Dherin, ICLR 2021), O(eta^2)
    from GD's iterates at t_k = k eta."""

    eta: float = 0.01
    name: ClassVar[str] = "modified GD flow"

    def __post_init__(self):
        check_positive("eta", self.eta)

    @property
    def base(self) -> GDFlow:
        return GDFlow()

    def _field(self, y, g, hvp, t, d):
        return (gd_field(g, hvp, self.eta),)

    def initial_state(self, obj, x0, m0, v0, t_final):
        x0 = check_x0(x0, obj.dim)
        return 0.0, x0.copy(), x0.copy()


@dataclass(frozen=True)
class ModifiedRMSpropFlow(_Modified):
    """The modified RMSprop flow: eq. (7) plus its O(eta) terms (see the module
    docstring), O(eta^2) from RMSprop with alpha = 1 - a eta started at v0 > 0.

    From v0_i = 0 with g_i != 0 it is undefined: the correction grows like
    eta t^{-3/2} (not integrable), and the run itself has an O(sqrt(eta)) initial
    layer that no flow started at (x0, 0) removes (``docs/modified-flows.md``).
    """

    a: float = 1.0
    eps: float = 1e-8
    eta: float = 0.01
    name: ClassVar[str] = "modified RMSprop flow"
    has_v: ClassVar[bool] = True

    def __post_init__(self):
        check_positive("a", self.a)
        check_nonnegative("eps", self.eps)
        check_positive("eta", self.eta)

    @property
    def base(self) -> RMSpropFlow:
        return RMSpropFlow(a=self.a, eps=self.eps)

    def _field(self, y, g, hvp, t, d):
        return rmsprop_field(g, y[d:], hvp, self.eta, self.a, self.eps)

    def initial_state(self, obj, x0, m0, v0, t_final):
        x0 = check_x0(x0, obj.dim)
        v = np.zeros(obj.dim) if v0 is None else check_vector("v0", v0, obj.dim)
        if np.any(v < 0):
            raise ValueError("v0 must be >= 0 componentwise")
        g0 = obj.grad(x0)
        if np.any((v == 0) & (g0 != 0)):
            raise ValueError("the modified RMSprop flow needs v0_i > 0 where grad f(x0)_i != 0 "
                             "(from v = 0 its O(eta) term grows like t^(-3/2), and the run has an "
                             "O(sqrt(eta)) initial layer); start from e.g. v0 = grad f(x0)**2, or "
                             "use the order-1 flow")
        y = np.concatenate([x0, v])
        return 0.0, y, y.copy()


@dataclass(frozen=True)
class ModifiedAdamFlow(_Modified):
    """The modified Adam flow: eq. (8) plus its O(eta) terms (see the module
    docstring), O(eta^2) from Adam with beta2 = 1 - a eta, beta1 = 1 - b eta.

    With ``bias_correction=True`` the state is (x, m_hat, v_hat), the rates are
    time dependent (:func:`bias_rate`) and the solve starts from the regular
    solution: m_hat(0) = g~(0), v_hat(0) = g~(0)^2 with g~ = g + (eta/2) H P, the
    gradient half a step before t = 0 (:meth:`initial_state`). The raw moments
    reported use the discrete factors 1 - (1 - b eta)^(t/eta), 1 - (1 - a eta)^(t/eta).
    """

    a: float = 1.0
    b: float = 10.0
    eps: float = 1e-8
    bias_correction: bool = True
    eta: float = 0.01
    name: ClassVar[str] = "modified Adam flow"
    has_m: ClassVar[bool] = True
    has_v: ClassVar[bool] = True
    preferred_method: ClassVar[str] = "Radau"

    def __post_init__(self):
        check_positive("a", self.a)
        check_positive("b", self.b)
        check_nonnegative("eps", self.eps)
        check_positive("eta", self.eta)
        if not isinstance(self.bias_correction, (bool, np.bool_)):
            raise ValueError(f"bias_correction must be a bool, got {self.bias_correction!r}")
        for r, nm in ((self.a, "a"), (self.b, "b")):
            if r * self.eta >= 1.0:
                raise ValueError(f"{nm} * eta must be < 1 (a memory factor 1 - {nm} eta in (0, 1)), "
                                 f"got {nm}={r!r}, eta={self.eta!r}")

    @property
    def base(self) -> AdamFlow:
        return AdamFlow(a=self.a, b=self.b, eps=self.eps, bias_correction=self.bias_correction)

    def _field(self, y, g, hvp, t, d):
        return adam_field(g, y[d:2 * d], y[2 * d:], hvp, t, self.eta, self.a, self.b, self.eps,
                          self.bias_correction)

    def raw_moments(self, t, m_hat, v_hat):
        """Raw m, v from the bias-corrected ones at time(s) t, with the discrete
        factors: m = (1 - beta1^(t/eta)) m_hat, v = (1 - beta2^(t/eta)) v_hat."""
        if not self.bias_correction:
            return m_hat, v_hat
        t = np.asarray(t, dtype=np.float64)
        cb = -np.expm1(t * math.log1p(-self.b * self.eta) / self.eta)
        ca = -np.expm1(t * math.log1p(-self.a * self.eta) / self.eta)
        return cb * m_hat, ca * v_hat

    def initial_state(self, obj, x0, m0, v0, t_final):
        d = obj.dim
        x0 = check_x0(x0, d)
        m = np.zeros(d) if m0 is None else check_vector("m0", m0, d)
        v = np.zeros(d) if v0 is None else check_vector("v0", v0, d)
        if np.any(v < 0):
            raise ValueError("v0 must be >= 0 componentwise")
        if not self.bias_correction:
            if self.eps == 0 and np.any(v == 0):
                raise ValueError("the modified Adam flow with eps = 0 needs v0 > 0 componentwise")
            y = np.concatenate([x0, m, v])
            return 0.0, y, y.copy()
        if np.any(m != 0) or np.any(v != 0):
            raise ValueError("the bias-corrected Adam flow starts from m = v = 0; pass "
                             "bias_correction=False to start from other m0, v0")
        return _adam_bias_start(self, obj, x0, t_final)


def _adam_bias_start(flow: ModifiedAdamFlow, obj, x0, t_final):
    """Start of the bias-corrected modified Adam flow at t0 = delta (1e-9 scale).

    m_hat' = r_b(t) (g~ - m_hat) with r_b ~ 1/t: the regular solution has
    m_hat(0) = g~(0), v_hat(0) = g~(0)^2, where g~ = g + LAG eta H P depends on
    m_hat, v_hat through P (a fixed point, contracting for eta |H| << sqrt(v) + eps).
    An error e in the start moments decays like e delta / t (the 1/t relaxation),
    so its effect on x is O(e delta log(t/delta)): the start only has to be near
    the regular solution (a hand mutation starting from m_hat = g0 changes no
    measured gap); x(delta) = x0 - delta P(0).
    """
    eta, eps = flow.eta, flow.eps
    g0 = obj.grad(x0)
    H = obj.hessian(x0)
    m, v = g0.copy(), g0 * g0
    for _ in range(4):
        P = _NumpyOps.div0(m, np.sqrt(v) + eps)        # 0 where g0_i = 0 (eps = 0 allowed)
        m = g0 + LAG * eta * (H @ P)
        v = m * m
    delta = 1e-9 * min(1.0, 1.0 / flow.a, 1.0 / flow.b, t_final)
    y_zero = np.concatenate([x0, m, v])
    y0 = np.concatenate([x0 - delta * _NumpyOps.div0(m, np.sqrt(v) + eps), m, v])
    return delta, y0, y_zero


MODIFIED_FLOWS = {cls.name: cls for cls in (ModifiedGDFlow, ModifiedRMSpropFlow, ModifiedAdamFlow)}


def modified_of(flow: Flow, eta: float) -> _Modified:
    """The order-2 flow of an order-1 flow spec at step size ``eta``."""
    check_positive("eta", eta)
    if isinstance(flow, GDFlow):
        return ModifiedGDFlow(eta=eta)
    if isinstance(flow, RMSpropFlow) and not flow.eps_inside:
        return ModifiedRMSpropFlow(a=flow.a, eps=flow.eps, eta=eta)
    if isinstance(flow, AdamFlow) and not flow.eps_inside:
        return ModifiedAdamFlow(a=flow.a, b=flow.b, eps=flow.eps, bias_correction=flow.bias_correction,
                                eta=eta)
    raise ValueError(f"no order-2 flow for {flow!r}: order=2 covers the GD, RMSprop and Adam flows "
                     "(eps outside the root, memory rates held)")


from adadyn.flows.modified_compare import compare, convergence_order  # noqa: E402
