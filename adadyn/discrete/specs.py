"""Optimiser specs: frozen, validated dataclasses (hyperparameters only, no state).

Every spec lowers to the kernel's ``(kind, hp)`` through :meth:`Optimizer.kernel_params`;
the moment methods all lower to eq. (1) of Ma, Wu & E with constant
(h, r, p, q). Names follow the papers and PyTorch (see DESIGN.md):
``beta1`` is the momentum factor beta, ``beta2``/``alpha`` the second-moment
factor alpha, ``a``/``b`` the memory rates with beta2 = 1 - a*eta and
beta1 = 1 - b*eta.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from adadyn.discrete import kernels as K
from adadyn.discrete.schedules import Constant, Schedule


def _check_eta(eta):
    if not (isinstance(eta, (int, float, np.floating)) and math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")


def _check_factor(name, val, *, allow_one=False):
    ok = isinstance(val, (int, float, np.floating)) and math.isfinite(val)
    hi_ok = (val <= 1.0) if allow_one else (val < 1.0)
    if not (ok and 0.0 <= val and hi_ok):
        rng = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{name} must be in {rng}, got {val!r}")


def _check_eps(eps):
    if not (isinstance(eps, (int, float, np.floating)) and math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")


def _check_rate(name, val, eta):
    if not (isinstance(val, (int, float, np.floating)) and math.isfinite(val) and val > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {val!r}")
    if val * eta > 1.0:
        raise ValueError(f"{name} * eta must be <= 1 so that the factor 1 - {name}*eta is in [0, 1); "
                         f"got {name}={val!r}, eta={eta!r}")


@dataclass(frozen=True)
class Optimizer:
    """Base spec. ``eta`` is the base step size; ``schedule`` scales it per step."""

    eta: float
    kind: ClassVar[int] = K.KIND_GD
    name: ClassVar[str] = "optimizer"

    def __post_init__(self):
        _check_eta(self.eta)
        if not isinstance(self.schedule, Schedule):
            raise ValueError(f"schedule must be a Schedule (Constant, InverseSqrt, ...), got {self.schedule!r}")

    def _hp(self) -> np.ndarray:
        hp = np.zeros(K.N_HP)
        hp[K.HP_ETA] = self.eta
        return hp

    def kernel_params(self) -> tuple[int, np.ndarray]:
        """``(kind, hp)`` as the Numba kernels take them (see :mod:`adadyn.discrete.kernels`)."""
        return self.kind, self._hp()

    def replace(self, **changes) -> "Optimizer":
        """A copy with some hyperparameters changed (``a``/``b`` accepted where defined)."""
        return dataclasses.replace(self, **changes)

    @property
    def has_moments(self) -> bool:
        return self.kind in (K.KIND_MOMENT, K.KIND_ADAFIX)

    @property
    def uses_aux(self) -> bool:
        """True when the state's ``aux`` array is live (AMSGrad's running max)."""
        return False


@dataclass(frozen=True)
class GD(Optimizer):
    """Gradient descent, x <- x - eta grad f(x)."""

    schedule: Schedule = field(default_factory=Constant)
    kind: ClassVar[int] = K.KIND_GD
    name: ClassVar[str] = "GD"


@dataclass(frozen=True)
class SignGD(Optimizer):
    """Sign gradient descent, x <- x - eta sign(grad f(x)) (sign(0) = 0); eq. (5) discretised."""

    schedule: Schedule = field(default_factory=Constant)
    kind: ClassVar[int] = K.KIND_SIGN
    name: ClassVar[str] = "signGD"


@dataclass(frozen=True)
class _Moment(Optimizer):
    kind: ClassVar[int] = K.KIND_MOMENT

    # subclasses define _coeffs() -> (h, r, p, q, bias_correction, eps_inside, amsgrad)
    def _hp(self):
        hp = super()._hp()
        h, r, p, q, bc, ein, ams = self._coeffs()
        hp[K.HP_H], hp[K.HP_R], hp[K.HP_P], hp[K.HP_Q] = h, r, p, q
        hp[K.HP_EPS] = self.eps
        hp[K.HP_BC] = float(bc)
        hp[K.HP_EPS_IN] = float(ein)
        hp[K.HP_AMS] = float(ams)
        return hp


@dataclass(frozen=True)
class RMSprop(_Moment):
    """RMSprop, eq. (2) of Ma, Wu & E (PyTorch ``RMSprop`` without momentum/centering).

    v <- alpha v + (1 - alpha) g^2,  x <- x - eta g / (sqrt(v) + eps).
    ``eps_inside=True`` uses g / sqrt(v + eps) instead (Keras, optax).
    """

    alpha: float = 0.99
    eps: float = 1e-8
    eps_inside: bool = False
    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "RMSprop"

    def __post_init__(self):
        super().__post_init__()
        _check_factor("alpha", self.alpha)
        _check_eps(self.eps)

    @classmethod
    def from_a(cls, eta: float, a: float, eps: float = 1e-8, **kw) -> "RMSprop":
        """RMSprop with alpha = 1 - a*eta (the scaling of Prop. 2)."""
        _check_eta(eta)
        _check_rate("a", a, eta)
        return cls(eta=eta, alpha=1.0 - a * eta, eps=eps, **kw)

    @property
    def a(self) -> float:
        """Memory rate a = (1 - alpha) / eta."""
        return (1.0 - self.alpha) / self.eta

    def _coeffs(self):
        return 1.0, 0.0, 1.0 - self.alpha, self.alpha, False, self.eps_inside, K.AMS_NONE


@dataclass(frozen=True)
class Adam(_Moment):
    """Adam, eq. (3) of Ma, Wu & E and ``torch.optim.Adam``.

    m <- beta1 m + (1 - beta1) g,  v <- beta2 v + (1 - beta2) g^2,
    x <- x - eta (m / (1 - beta1^k)) / (sqrt(v / (1 - beta2^k)) + eps).
    ``bias_correction=False`` drops the two factors (the t -> infinity autonomous map).
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    bias_correction: bool = True
    eps_inside: bool = False
    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "Adam"

    def __post_init__(self):
        super().__post_init__()
        _check_factor("beta1", self.beta1)
        _check_factor("beta2", self.beta2)
        _check_eps(self.eps)

    @classmethod
    def from_ab(cls, eta: float, a: float, b: float, eps: float = 1e-8, **kw):
        """Adam with beta2 = 1 - a*eta, beta1 = 1 - b*eta (the scaling of Prop. 2)."""
        _check_eta(eta)
        _check_rate("a", a, eta)
        _check_rate("b", b, eta)
        return cls(eta=eta, beta1=1.0 - b * eta, beta2=1.0 - a * eta, eps=eps, **kw)

    @property
    def a(self) -> float:
        """Second-moment memory rate a = (1 - beta2) / eta."""
        return (1.0 - self.beta2) / self.eta

    @property
    def b(self) -> float:
        """First-moment memory rate b = (1 - beta1) / eta."""
        return (1.0 - self.beta1) / self.eta

    def _coeffs(self):
        return (1.0 - self.beta1, self.beta1, 1.0 - self.beta2, self.beta2,
                self.bias_correction, self.eps_inside, K.AMS_NONE)


@dataclass(frozen=True)
class AMSGrad(Adam):
    """AMSGrad (Reddi, Kale & Kumar 2018): Adam with a running max of the second moment.

    ``variant="pytorch"`` (default): ``torch.optim.Adam(amsgrad=True)``, the max
    is over the raw v and bias correction is applied afterwards.
    ``variant="optax"``: the max is over the bias-corrected v_hat (optax's
    ``amsgrad``). ``variant="reddi"``: the paper's Algorithm 2, the max over
    the raw v with no bias correction (pair with ``schedule=InverseSqrt()`` for
    their alpha_t = alpha/sqrt(t)).
    """

    variant: str = "pytorch"
    name: ClassVar[str] = "AMSGrad"

    def __post_init__(self):
        super().__post_init__()
        if self.variant not in ("pytorch", "optax", "reddi"):
            raise ValueError(f"variant must be one of 'pytorch', 'optax', 'reddi', got {self.variant!r}")

    @property
    def uses_aux(self) -> bool:
        return True

    def _coeffs(self):
        bc = self.bias_correction and self.variant != "reddi"
        ams = K.AMS_HAT if self.variant == "optax" else K.AMS_RAW
        return 1.0 - self.beta1, self.beta1, 1.0 - self.beta2, self.beta2, bc, self.eps_inside, ams


@dataclass(frozen=True)
class Adagrad(_Moment):
    """Adagrad (Duchi et al. 2011; ``torch.optim.Adagrad`` with lr_decay = 0):
    v <- v + g^2, x <- x - eta g / (sqrt(v) + eps); eq. (1) with h = p = q = 1, r = 0."""

    eps: float = 1e-10
    initial_accumulator_value: float = 0.0
    eps_inside: bool = False
    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "Adagrad"

    def __post_init__(self):
        super().__post_init__()
        _check_eps(self.eps)
        if not (math.isfinite(self.initial_accumulator_value) and self.initial_accumulator_value >= 0):
            raise ValueError(f"initial_accumulator_value must be >= 0, got {self.initial_accumulator_value!r}")

    def _coeffs(self):
        return 1.0, 0.0, 1.0, 1.0, False, self.eps_inside, K.AMS_NONE


@dataclass(frozen=True)
class Family(_Moment):
    """The general adaptive method of eq. (1) of Ma, Wu & E with constant coefficients:
    m <- h g + r m,  v <- p g^2 + q v,  x <- x - eta m / (sqrt(v) + eps)."""

    h: float = 1.0
    r: float = 0.0
    p: float = 1.0
    q: float = 0.0
    eps: float = 1e-8
    eps_inside: bool = False
    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "family"

    def __post_init__(self):
        super().__post_init__()
        for nm in ("h", "r", "p", "q"):
            val = getattr(self, nm)
            if not (isinstance(val, (int, float, np.floating)) and math.isfinite(val)):
                raise ValueError(f"{nm} must be a finite number, got {val!r}")
        _check_factor("r", self.r, allow_one=True)
        _check_factor("q", self.q, allow_one=True)
        if self.p < 0:
            raise ValueError(f"p must be >= 0 (v must stay non-negative), got {self.p!r}")
        _check_eps(self.eps)

    def _coeffs(self):
        return self.h, self.r, self.p, self.q, False, self.eps_inside, K.AMS_NONE


@dataclass(frozen=True)
class AdaFix(Adam):
    """AdaFix, Algorithm 1 of Bae, Ryu & Shin: Adam whose second moment is frozen
    once the gradient is small against a running Lipschitz estimate.

    Each step: if max_i |g_i| >= L eta, v is updated as in Adam, else kept;
    after the step l = |grad f_t(x_{t+1}) - g_t| / |x_{t+1} - x_t| and
    L <- max(L, l), starting from ``L0``. The algorithm's line 9 prints
    m_hat / v_hat; we use Adam's m_hat / (sqrt(v_hat) + eps), which the text
    ("a variant of ADAM ... fixing the second momentum") describes.
    """

    L0: float = 0.0
    name: ClassVar[str] = "AdaFix"
    kind: ClassVar[int] = K.KIND_ADAFIX

    def __post_init__(self):
        super().__post_init__()
        if not (math.isfinite(self.L0) and self.L0 >= 0):
            raise ValueError(f"L0 must be a finite number >= 0, got {self.L0!r}")

    def _hp(self):
        hp = super()._hp()
        hp[K.HP_L0] = self.L0
        return hp


OPTIMIZERS = {cls.name: cls for cls in (GD, SignGD, RMSprop, Adam, AMSGrad, Adagrad, Family, AdaFix)}
