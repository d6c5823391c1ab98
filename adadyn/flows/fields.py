"""The flow specs: continuous-time limits of the optimisers (Ma, Wu & E, section 2.2).

A flow is a frozen dataclass holding its constants; it knows its state layout
(``x`` and, where it has them, ``m`` and ``v``) and evaluates its vector field and
the field's analytic Jacobian (built from the objective's Hessian) through the
Numba kernels of :mod:`adadyn.flows.kernels`. :func:`adadyn.flows.solve` is the
one front door that integrates any of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from adadyn.flows import kernels as FK
from adadyn.validation import check_nonnegative, check_positive


def _check_bool(name, val):
    if not isinstance(val, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {val!r}")


@dataclass(frozen=True)
class Flow:
    """Base class of the flow specs (no state, only constants)."""

    kind: ClassVar[int] = -1
    name: ClassVar[str] = "flow"
    has_m: ClassVar[bool] = False
    has_v: ClassVar[bool] = False
    #: True for the discontinuous signGD flow, solved as a Filippov system.
    filippov: ClassVar[bool] = False

    def params(self) -> np.ndarray:
        """``p = [a, b, eps]`` as the kernels take them."""
        p = np.zeros(FK.N_P)
        p[FK.P_A] = getattr(self, "a", 0.0)
        p[FK.P_B] = getattr(self, "b", 0.0)
        p[FK.P_EPS] = getattr(self, "eps", 0.0)
        p[FK.P_INSIDE] = float(getattr(self, "eps_inside", False))
        return p

    @property
    def kernel_kind(self) -> int:
        return self.kind

    @property
    def blocks(self) -> tuple:
        """Names of the state blocks, in order (each of length d)."""
        return ("x",) + (("m",) if self.has_m else ()) + (("v",) if self.has_v else ())

    def n_state(self, d: int) -> int:
        """Length of the state vector for an objective of dimension d."""
        return d * (1 + int(self.has_m) + int(self.has_v))

    def split(self, y: np.ndarray, d: int):
        """``(x, m, v)`` views of a state vector (or of an (n_state, n) array);
        m, v are None where the flow has no such block. For :class:`AdamFlow` with
        bias correction these are the bias-corrected m_hat, v_hat."""
        x = y[:d]
        k = d
        m = v = None
        if self.has_m:
            m = y[k:k + d]
            k += d
        if self.has_v:
            v = y[k:k + d]
        return x, m, v

    # -- Python-level evaluation (the solver uses the same kernels) -----------------
    def _xy(self, obj, y):
        y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(-1))
        if y.shape != (self.n_state(obj.dim),):
            raise ValueError(f"y must have shape ({self.n_state(obj.dim)},) "
                             f"(x{', m' if self.has_m else ''}{', v' if self.has_v else ''}), got {y.shape}")
        return y

    def rhs(self, obj, t: float, y) -> np.ndarray:
        """The vector field F(t, y) on the objective ``obj``."""
        self._smooth("field")
        y = self._xy(obj, y)
        return self.field(y, obj.grad(y[:obj.dim].copy()), t)

    def jacobian(self, obj, t: float, y) -> np.ndarray:
        """The analytic Jacobian dF/dy at (t, y), from ``obj.hessian`` (exact when
        the objective has one, else central differences)."""
        self._smooth("Jacobian")
        y = self._xy(obj, y)
        x = np.ascontiguousarray(y[:obj.dim])
        return self.jacobian_at(y, obj.grad(x), obj.hessian(x), t)

    # -- the field from (y, g, H): what the linearisation calls with its own g and H --
    def _smooth(self, what):
        if self.filippov:
            raise ValueError(f"the signGD flow is discontinuous (no {what} to evaluate); "
                             "use flows.solve, which treats it as a Filippov system")

    def field(self, y, g, t: float = np.inf) -> np.ndarray:
        """The vector field at state ``y`` given the gradient ``g`` at its x block.

        ``t = inf`` (default) is the autonomous t -> infinity field: for the
        bias-corrected Adam flow the factors 1 - e^{-at}, 1 - e^{-bt} of eq. (8)
        are 1 there and (m_hat, v_hat) = (m, v).
        """
        self._smooth("field")
        y = np.array(y, dtype=np.float64).reshape(-1)
        g = np.array(g, dtype=np.float64).reshape(-1)
        out = np.empty_like(y)
        FK._field(self.kernel_kind, self.params(), float(t), y, g, out)
        return out

    def check_differentiable(self, y, g) -> None:
        """Raise ValueError where the field has no derivative: sqrt(v) + eps = 0
        (eps = 0 at v = 0), or v_i = 0 (eps outside the root) with a nonzero
        numerator (g_i for RMSprop, m_i for Adam), where d sqrt(v)/dv = inf
        multiplies it. Where the numerator is 0 the derivative is the limit 0
        (eq. (11) at (x*, v = 0)); :meth:`jacobian_at` returns that."""
        if not self.has_v:
            return
        d = np.size(g)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        v = y[-d:]
        inside = getattr(self, "eps_inside", False)
        if np.any((v + self.eps if inside else np.sqrt(np.maximum(v, 0.0)) + self.eps) == 0.0):
            raise ValueError("sqrt(v) + eps = 0 (eps = 0 at v = 0): the flow is singular there")
        num = y[d:2 * d] if self.has_m else np.asarray(g, dtype=np.float64).reshape(-1)
        if not inside and np.any((v <= 0) & (num != 0)):
            raise ValueError("the flow has no derivative where v = 0 but its numerator is not 0")

    def jacobian_at(self, y, g, H, t: float = np.inf) -> np.ndarray:
        """The Jacobian of :meth:`field` at ``y`` given g and the Hessian H at x
        (``t = inf``: the t -> infinity field). Where v_i = 0 the derivative through
        sqrt(v_i) is taken as its limit 0 when its numerator (g_i, or m_i) is 0,
        as in eq. (11)."""
        self._smooth("Jacobian")
        y = np.array(y, dtype=np.float64).reshape(-1)   # writable, contiguous copies
        g = np.array(g, dtype=np.float64).reshape(-1)
        H = np.array(H, dtype=np.float64)
        J = np.empty((y.shape[0], y.shape[0]))
        FK.flow_jac(self.kernel_kind, self.params(), float(t), y, g, H, J)
        return J


@dataclass(frozen=True)
class GDFlow(Flow):
    """Gradient flow x' = -grad f(x): the eta -> 0 limit of :class:`adadyn.GD`."""

    kind: ClassVar[int] = FK.K_GD
    name: ClassVar[str] = "GD flow"


@dataclass(frozen=True)
class SignGDFlow(Flow):
    """signGD flow x' = -sign(grad f(x)), eq. (5) of Ma, Wu & E.

    The field is discontinuous on the surfaces g_i = 0; :func:`adadyn.flows.solve`
    integrates it as a Filippov system (sliding motion on the surfaces, finite-time
    stop on PL functions, Prop. 4). See :mod:`adadyn.flows.filippov`.
    """

    name: ClassVar[str] = "signGD flow"
    filippov: ClassVar[bool] = True


@dataclass(frozen=True)
class EpsSignFlow(Flow):
    """eps-sign flow x' = -g / (|g| + eps), eq. (4) of Ma, Wu & E.

    The eta -> 0 limit of RMSprop and Adam at fixed (alpha, beta) (Prop. 1).
    Near a minimum its linearisation is -H/eps, so the flow is stiff for small eps.
    """

    eps: float = 1e-8
    kind: ClassVar[int] = FK.K_EPSSIGN
    name: ClassVar[str] = "eps-sign flow"

    def __post_init__(self):
        check_positive("eps", self.eps)


@dataclass(frozen=True)
class RMSpropFlow(Flow):
    """RMSprop flow, eq. (7): v' = a (g^2 - v), x' = -g / (sqrt(v) + eps).

    The eta -> 0 limit of RMSprop with alpha = 1 - a*eta (Prop. 2). Linearised at
    (x*, v = 0) its eigenvalues are -lambda/eps and -a (eq. (11)). With
    ``eps_inside=True`` the denominator is sqrt(v + eps) (the same limit for
    RMSprop with eps inside the root; eigenvalues -lambda/sqrt(eps) and -a).
    """

    a: float = 1.0
    eps: float = 1e-8
    eps_inside: bool = False
    kind: ClassVar[int] = FK.K_RMSPROP
    name: ClassVar[str] = "RMSprop flow"
    has_v: ClassVar[bool] = True

    def __post_init__(self):
        check_positive("a", self.a)
        check_nonnegative("eps", self.eps)
        _check_bool("eps_inside", self.eps_inside)


@dataclass(frozen=True)
class AdamFlow(Flow):
    """Adam flow, eq. (8): v' = a (g^2 - v), m' = b (g - m),
    x' = -(1 - e^{-bt})^{-1} m / (sqrt((1 - e^{-at})^{-1} v) + eps).

    The eta -> 0 limit of Adam with beta2 = 1 - a*eta, beta1 = 1 - b*eta (Prop. 2);
    ``eps_inside=True``: sqrt(v_hat + eps) in the denominator.
    With ``bias_correction=True`` the state integrated is (x, m_hat, v_hat), the
    bias-corrected moments, whose equations are regular along the solution from
    m = v = 0 at t = 0 (see :mod:`adadyn.flows.kernels`); solutions still report
    the raw m, v of eq. (8) as well. ``bias_correction=False`` drops both factors.
    """

    a: float = 1.0
    b: float = 10.0
    eps: float = 1e-8
    bias_correction: bool = True
    eps_inside: bool = False
    name: ClassVar[str] = "Adam flow"
    has_m: ClassVar[bool] = True
    has_v: ClassVar[bool] = True

    def __post_init__(self):
        check_positive("a", self.a)
        check_positive("b", self.b)
        check_nonnegative("eps", self.eps)
        _check_bool("bias_correction", self.bias_correction)
        _check_bool("eps_inside", self.eps_inside)

    @property
    def kernel_kind(self) -> int:
        return FK.K_ADAM if self.bias_correction else FK.K_ADAM_RAW

    def raw_moments(self, t, m_hat, v_hat):
        """Raw m, v of eq. (8) from the bias-corrected ones at time(s) t
        (m = (1 - e^{-bt}) m_hat, v = (1 - e^{-at}) v_hat)."""
        if not self.bias_correction:
            return m_hat, v_hat
        t = np.asarray(t, dtype=np.float64)
        return -np.expm1(-self.b * t) * m_hat, -np.expm1(-self.a * t) * v_hat


FLOWS = {cls.name: cls for cls in (GDFlow, SignGDFlow, EpsSignFlow, RMSpropFlow, AdamFlow)}


def _rounded_repr(self) -> str:
    """``AdamFlow(a=1, b=10, ...)``: floats to 12 significant digits, so rates computed as
    (1 - beta) / eta read as the numbers they stand for, not 1.0000000000000009."""
    import dataclasses

    parts = []
    for f in dataclasses.fields(self):
        if not f.repr:
            continue
        v = getattr(self, f.name)
        parts.append(f"{f.name}={format(v, '.12g') if isinstance(v, float) else repr(v)}")
    return f"{type(self).__name__}({', '.join(parts)})"


def _all_flows(cls):
    yield cls
    for sub in cls.__subclasses__():
        yield from _all_flows(sub)


for _cls in _all_flows(Flow):
    _cls.__repr__ = _rounded_repr
