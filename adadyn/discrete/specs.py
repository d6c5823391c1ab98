"""Optimiser specs: frozen, validated dataclasses (hyperparameters only, no state).

Every spec describes its update once, as a named :class:`~adadyn.discrete.coefficients.Coefficients`
view (:meth:`Optimizer.coefficients`); the moment methods are eq. (1) of Ma, Wu & E
with constant (h, r, p, q). The Numba kernels get ``(kind, hp)`` lowered from that
view (:meth:`Optimizer.kernel_params`). Names follow the papers and PyTorch
(``docs/conventions.md``):
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
from adadyn.discrete.coefficients import Coefficients
from adadyn.discrete.schedules import Constant, Schedule
from adadyn._checks import check_factor, check_nonnegative, check_positive, check_real


def _check_eta(eta):
    check_positive("eta", eta)


def _check_factor(name, val, *, allow_one=False):
    check_factor(name, val, allow_one=allow_one)


def _check_eps(eps):
    check_nonnegative("eps", eps)


def _check_rate(name, val, eta):
    check_positive(name, val)
    if val * eta > 1.0:
        raise ValueError(f"{name} * eta must be <= 1 so that the factor 1 - {name}*eta is in [0, 1); "
                         f"got {name}={val!r}, eta={eta!r}")
    if not 1.0 - val * eta < 1.0:
        raise ValueError(f"{name} * eta = {val * eta!r} is below rounding: the factor 1 - {name}*eta "
                         f"rounds to 1; got {name}={val!r}, eta={eta!r}")


def _check_flags(spec):
    """Every bool field is True or False (not a number, string or None)."""
    for f in dataclasses.fields(spec):
        if f.type in ("bool", bool):
            val = getattr(spec, f.name)
            if not isinstance(val, (bool, np.bool_)):
                raise TypeError(f"{f.name} must be True or False, got {val!r}")
            object.__setattr__(spec, f.name, bool(val))


@dataclass(frozen=True)
class Optimizer:
    """Base spec. ``eta`` is the base step size; ``schedule`` scales it per step.

    A subclass declares its hyperparameters as dataclass fields, validates them
    in ``__post_init__`` and describes its update in :meth:`coefficients`; that
    is all a new optimiser needs on the Python side (``docs/extending.md``).
    """

    eta: float
    name: ClassVar[str] = "optimizer"

    def __post_init__(self):
        _check_eta(self.eta)
        _check_flags(self)
        if not isinstance(self.schedule, Schedule):
            raise ValueError(f"schedule must be a Schedule (Constant, InverseSqrt, ...), got {self.schedule!r}")

    def coefficients(self) -> Coefficients:
        """The named coefficient view of the update (:mod:`adadyn.discrete.coefficients`)."""
        return Coefficients("gd", self.eta, schedule=self.schedule)

    def kernel_params(self) -> tuple[int, np.ndarray]:
        """``(kind, hp)`` as the Numba kernels take them (lowered from :meth:`coefficients`)."""
        return K.lower(self.coefficients())

    @property
    def kind(self) -> int:
        """The kernel's method code (lowered from the coefficient view)."""
        return self.kernel_params()[0]

    def replace(self, **changes) -> "Optimizer":
        """A copy with some hyperparameters changed; ``a``/``b`` are the memory
        rates, applied at the new eta (see :meth:`with_rates`)."""
        a, b = changes.pop("a", None), changes.pop("b", None)
        new = dataclasses.replace(self, **changes) if changes else self
        return new.with_rates(a=a, b=b) if (a is not None or b is not None) else new

    def with_rates(self, a: float | None = None, b: float | None = None, eta: float | None = None) -> "Optimizer":
        """A copy with memory rates ``a`` (second moment) and/or ``b`` (first moment)
        at step size ``eta`` (default: this spec's): beta2 (RMSprop's alpha) = 1 - a*eta,
        beta1 = 1 - b*eta, the scaling of Prop. 2 of Ma, Wu & E.

        Raises
        ------
        ValueError
            If the optimiser has no such rate, or a rate is not in (0, 1/eta].
        """
        eta = self.eta if eta is None else check_positive("eta", eta)
        changes = {"eta": eta}
        for rate, val in (("a", a), ("b", b)):
            if val is None:
                continue
            field_name = self._RATE_FIELDS.get(rate)
            if field_name is None:
                have = sorted(self._RATE_FIELDS) or "none"
                raise ValueError(f"{self.name} has no memory rate {rate!r} (its rates: {have})")
            _check_rate(rate, val, eta)
            changes[field_name] = 1.0 - float(val) * eta
        return dataclasses.replace(self, **changes)

    #: memory rate -> the factor it sets (1 - rate*eta); subclasses fill it
    _RATE_FIELDS: ClassVar[dict] = {}

    @property
    def has_moments(self) -> bool:
        return self.coefficients().has_v

    @property
    def uses_aux(self) -> bool:
        """True when the state's ``aux`` array is live (AMSGrad's running max)."""
        return self.coefficients().amsgrad != "none"


@dataclass(frozen=True)
class GD(Optimizer):
    """Gradient descent, x <- x - eta grad f(x)."""

    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "GD"


@dataclass(frozen=True)
class SignGD(Optimizer):
    """Sign gradient descent, x <- x - eta sign(grad f(x)) (sign(0) = 0); eq. (5) discretised."""

    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "signGD"

    def coefficients(self) -> Coefficients:
        return Coefficients("sign", self.eta, schedule=self.schedule)


@dataclass(frozen=True)
class RMSprop(Optimizer):
    """RMSprop, eq. (2) of Ma, Wu & E (PyTorch ``RMSprop`` without momentum/centering).

    v <- alpha v + (1 - alpha) g^2,  x <- x - eta g / (sqrt(v) + eps).
    ``eps_inside=True`` uses g / sqrt(v + eps) instead (Keras, optax).
    """

    alpha: float = 0.99
    eps: float = 1e-8
    eps_inside: bool = False
    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "RMSprop"
    _RATE_FIELDS: ClassVar[dict] = {"a": "alpha"}

    def __post_init__(self):
        super().__post_init__()
        _check_factor("alpha", self.alpha)
        _check_eps(self.eps)

    @classmethod
    def from_a(cls, eta: float, a: float, eps: float = 1e-8, **kw) -> "RMSprop":
        """RMSprop with alpha = 1 - a*eta (the scaling of Prop. 2)."""
        _check_eta(eta)
        _check_rate("a", a, eta)
        return cls(eta=eta, eps=eps, **kw).with_rates(a=a)

    @property
    def a(self) -> float:
        """Memory rate a = (1 - alpha) / eta."""
        return (1.0 - self.alpha) / self.eta

    def coefficients(self) -> Coefficients:
        return Coefficients("moment", self.eta, h=1.0, r=0.0, p=1.0 - self.alpha, q=self.alpha,
                            eps=self.eps, eps_inside=self.eps_inside, schedule=self.schedule)


@dataclass(frozen=True)
class Adam(Optimizer):
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
    _RATE_FIELDS: ClassVar[dict] = {"a": "beta2", "b": "beta1"}

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
        return cls(eta=eta, eps=eps, **kw).with_rates(a=a, b=b)

    @property
    def a(self) -> float:
        """Second-moment memory rate a = (1 - beta2) / eta."""
        return (1.0 - self.beta2) / self.eta

    @property
    def b(self) -> float:
        """First-moment memory rate b = (1 - beta1) / eta."""
        return (1.0 - self.beta1) / self.eta

    def coefficients(self) -> Coefficients:
        return Coefficients("moment", self.eta, h=1.0 - self.beta1, r=self.beta1, p=1.0 - self.beta2,
                            q=self.beta2, eps=self.eps, eps_inside=self.eps_inside,
                            bias_correction=self.bias_correction, schedule=self.schedule)


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

    def coefficients(self) -> Coefficients:
        return dataclasses.replace(
            super().coefficients(), amsgrad="hat" if self.variant == "optax" else "raw",
            bias_correction=self.bias_correction and self.variant != "reddi")


@dataclass(frozen=True)
class Adagrad(Optimizer):
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
        check_nonnegative("initial_accumulator_value", self.initial_accumulator_value)

    def coefficients(self) -> Coefficients:
        return Coefficients("moment", self.eta, h=1.0, r=0.0, p=1.0, q=1.0, eps=self.eps,
                            eps_inside=self.eps_inside, v0=float(self.initial_accumulator_value),
                            schedule=self.schedule)


@dataclass(frozen=True)
class Family(Optimizer):
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
            check_real(nm, getattr(self, nm))
        _check_factor("r", self.r, allow_one=True)
        _check_factor("q", self.q, allow_one=True)
        if self.p < 0:
            raise ValueError(f"p must be >= 0 (v must stay non-negative), got {self.p!r}")
        _check_eps(self.eps)

    def coefficients(self) -> Coefficients:
        return Coefficients("moment", self.eta, h=self.h, r=self.r, p=self.p, q=self.q, eps=self.eps,
                            eps_inside=self.eps_inside, schedule=self.schedule)


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

    def __post_init__(self):
        super().__post_init__()
        check_nonnegative("L0", self.L0)

    def coefficients(self) -> Coefficients:
        return dataclasses.replace(super().coefficients(), method="adafix", L0=float(self.L0))


@dataclass(frozen=True)
class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic discovery of optimization algorithms"), no weight decay:

    u = sign(beta1 m + (1 - beta1) g),  x <- x - eta u,  m <- beta2 m + (1 - beta2) g.

    Like signGD its map is discontinuous where a component of
    beta1 m + (1 - beta1) g vanishes; elsewhere it is locally affine in m and
    constant in x (see :func:`adadyn.analysis.linearize`).
    """

    beta1: float = 0.9
    beta2: float = 0.99
    schedule: Schedule = field(default_factory=Constant)
    name: ClassVar[str] = "Lion"

    def __post_init__(self):
        super().__post_init__()
        _check_factor("beta1", self.beta1, allow_one=True)
        _check_factor("beta2", self.beta2)

    def coefficients(self) -> Coefficients:
        return Coefficients("lion", self.eta, h=1.0 - self.beta2, r=self.beta2, sign_mix=self.beta1,
                            schedule=self.schedule)


OPTIMIZERS = {cls.name: cls for cls in (GD, SignGD, RMSprop, Adam, AMSGrad, Adagrad, Family, AdaFix, Lion)}
