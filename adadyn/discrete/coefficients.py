"""The coefficient view: one named description of an optimiser's update.

Every spec (:mod:`adadyn.discrete.specs`) returns a :class:`Coefficients` from
``spec.coefficients()``. The Numba kernels, the discrete map and its Jacobian,
the critical learning rate, the preconditioned sharpness, :func:`adadyn.flows.limit`
and the torch back end all read this view; nothing outside :mod:`adadyn.discrete`
decodes the kernels' parameter slots.

The moment methods are eq. (1) of Ma, Wu & E with constant coefficients::

    m <- r m + h g,    v <- q v + p g^2,
    x <- x - eta_t (m / c1) / (sqrt(v / c2) + eps)        (eps outside, the default)
    x <- x - eta_t (m / c1) / sqrt(v / c2 + eps)          (eps_inside=True)

with c1 = 1 - r^k, c2 = 1 - q^k under bias correction (else 1), and for AMSGrad
v replaced in the update by a running max (of the raw v: ``amsgrad="raw"``, as
PyTorch; of the bias-corrected v_hat: ``amsgrad="hat"``, as optax). Lion
(Chen et al. 2023) is ``method="lion"``: x <- x - eta_t sign(sign_mix m + (1 - sign_mix) g),
then m <- r m + h g.
"""
from __future__ import annotations

from dataclasses import dataclass

METHODS = ("gd", "sign", "moment", "adafix", "lion")
AMSGRAD = ("none", "raw", "hat")


@dataclass(frozen=True)
class Coefficients:
    """The update of an optimiser spec, by name (see the module docstring).

    Attributes
    ----------
    method : {"gd", "sign", "moment", "adafix", "lion"}
        GD; signGD; a moment method of eq. (1); AdaFix (eq. (1) plus Bae, Ryu &
        Shin's freezing of v); Lion.
    eta : float
        Base step size; the step at step t is ``eta * schedule.factor(t)``.
    h, r : float
        First moment m <- r m + h g (Lion: its second factor, r = beta2, h = 1 - beta2).
    p, q : float
        Second moment v <- q v + p g^2.
    eps : float
        The denominator's epsilon.
    eps_inside : bool
        sqrt(v + eps) instead of sqrt(v) + eps.
    bias_correction : bool
        Divide m by 1 - r^k and v by 1 - q^k (Adam).
    amsgrad : {"none", "raw", "hat"}
        AMSGrad's running max, over v ("raw", PyTorch) or over v_hat ("hat", optax).
    sign_mix : float
        Lion's beta1: the weight of m in the update direction.
    L0 : float
        AdaFix's initial Lipschitz estimate.
    v0 : float
        Initial value of every v_i (Adagrad's ``initial_accumulator_value``).
    schedule : Schedule
        Step-size schedule.
    """

    method: str
    eta: float
    h: float = 0.0
    r: float = 0.0
    p: float = 0.0
    q: float = 0.0
    eps: float = 0.0
    eps_inside: bool = False
    bias_correction: bool = False
    amsgrad: str = "none"
    sign_mix: float = 0.0
    L0: float = 0.0
    v0: float = 0.0
    schedule: object = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.amsgrad not in AMSGRAD:
            raise ValueError(f"amsgrad must be one of {AMSGRAD}, got {self.amsgrad!r}")

    @property
    def has_m(self) -> bool:
        """True when m is a dynamical variable (it carries memory: r != 0)."""
        return self.method in ("moment", "adafix", "lion") and self.r != 0.0

    @property
    def has_v(self) -> bool:
        """True for the methods with a second moment."""
        return self.method in ("moment", "adafix")

    @property
    def rates(self) -> tuple[float | None, float | None]:
        """The memory rates (a, b) of Prop. 2's scaling when the coefficients have
        that form (p = 1 - q, h = 1 - r): a = (1 - q)/eta, b = (1 - r)/eta; None
        where a moment has no such rate (RMSprop: b is None)."""
        a = b = None
        if self.has_v and self.q < 1.0 and abs(self.p - (1.0 - self.q)) <= 1e-15:
            a = (1.0 - self.q) / self.eta
        if self.method in ("moment", "adafix") and self.r != 0.0 and abs(self.h - (1.0 - self.r)) <= 1e-15:
            b = (1.0 - self.r) / self.eta
        return a, b
