"""Torch optimisers built from adadyn's optimiser specs.

:func:`optimizer` reads only the spec's coefficient view
(:class:`~adadyn.discrete.coefficients.Coefficients`: eq. (1) of Ma, Wu & E,
m <- h g + r m, v <- p g^2 + q v, x <- x - eta_t (m / c1) / (sqrt(v / c2) + eps))
and returns a :class:`torch.optim.Optimizer` with the same update:

* ``torch.optim.Adam`` (fused path; foreach on a device without fused kernels) for Adam and PyTorch-convention AMSGrad
  (h = 1 - r, p = 1 - q, bias correction, eps outside);
* ``torch.optim.RMSprop`` for eq. (2) (h = 1, r = 0, p = 1 - q, no bias correction);
* ``torch.optim.Adagrad`` for h = p = q = 1, r = 0 (with its initial accumulator);
* ``torch.optim.SGD`` for GD;
* :class:`MomentOptimizer` for every other eq. (1) method (Family, eps inside the
  square root, Adam without bias correction, AMSGrad's optax and Reddi
  conventions), :class:`AdaFixOptimizer` (Bae, Ryu & Shin, Algorithm 1),
  :class:`SignOptimizer` (signGD, eq. (5) discretised) and :class:`LionOptimizer`
  (Chen et al. 2023). These are written with ``torch._foreach_*`` operations in
  the order of the Numba kernels (:mod:`adadyn.discrete.kernels`), so they give
  the kernels' arithmetic operation by operation.

Every optimiser applies the spec's schedule: step t (1-based) uses
eta_t = eta * schedule.factor(t). The number of steps taken lives in
``param_groups[i]["k"]`` and the time reached (the sum of the eta_t) in
``param_groups[i]["time"]``, so ``state_dict()`` carries them and a reloaded
optimiser continues bit for bit. ``moments()`` gives the live first and second
moments of the coefficient view for recording.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import torch

from adadyn.discrete.coefficients import Coefficients
from adadyn.validation import check_optimizer

__all__ = ["optimizer", "MomentOptimizer", "AdaFixOptimizer", "SignOptimizer", "LionOptimizer"]

_BLOCK = 1024  # schedule factors are computed this many steps at a time


class _Scheduled:
    """Mixin: the spec's schedule and step count, shared by every optimiser here."""

    #: m is not stored when r = 0: it equals h * (the last gradient) (the kernels' m)
    m_is_last_grad = False
    #: AdaFix evaluates the gradient at the new point: its step needs a closure
    needs_closure = False

    def _init_schedule(self, spec, coeffs: Coefficients) -> None:
        self.spec = spec
        self.coefficients = coeffs
        self._constant = coeffs.schedule.kind == 0
        self._f0 = 1
        self._fac = np.ones(0)
        for g in self.param_groups:
            g.setdefault("k", 0)
            g.setdefault("time", 0.0)

    def eta_at(self, t: int) -> float:
        """eta_t = eta * schedule.factor(t) for the 1-based step t."""
        eta = self.coefficients.eta
        if self._constant:
            return eta
        i = t - self._f0
        if not 0 <= i < self._fac.shape[0]:
            self._f0, i = t, 0
            self._fac = np.asarray(self.coefficients.schedule.factor(np.arange(t, t + _BLOCK)), dtype=np.float64)
        return eta * float(self._fac[i])

    def _advance(self) -> float:
        """Begin the next step: every group's lr becomes eta_t; returns eta_t."""
        t = self.param_groups[0]["k"] + 1
        eta = self.eta_at(t)
        for g in self.param_groups:
            g["lr"] = eta
            g["k"] = t
            g["time"] = g["time"] + eta
        return eta

    @property
    def steps_taken(self) -> int:
        return int(self.param_groups[0]["k"])

    @property
    def time(self) -> float:
        """Continuous time reached: the sum of the step sizes taken."""
        return float(self.param_groups[0]["time"])

    def _all_params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _state_list(self, key):
        ps = self._all_params()
        if not ps or any(key not in self.state.get(p, {}) for p in ps):
            return None
        return [self.state[p][key] for p in ps]

    def moments(self):
        """``(m, v)``: lists of the live moment tensors (one per parameter), or None
        for a moment the method does not have or has not created yet (zero, or v0)."""
        return None, None


# ---------------------------------------------------------------- torch.optim's own algorithms
def _fused_ok(params) -> bool:
    """Whether torch has fused optimiser kernels for every tensor of ``params`` (floating
    point, on a device such as the CPU or CUDA); torch checks only at the first step."""
    try:
        from torch.optim.optimizer import _get_fused_kernels_supported_devices
        devices = set(_get_fused_kernels_supported_devices())
    except ImportError:  # pragma: no cover - an older or newer torch: the two devices fused since 2.4
        devices = {"cpu", "cuda"}
    tensors = [t for p in params for t in (p["params"] if isinstance(p, dict) else [p])]
    return all(isinstance(t, torch.Tensor) and t.is_floating_point() and t.device.type in devices
               for t in tensors)


class TorchAdam(_Scheduled, torch.optim.Adam):
    """``torch.optim.Adam`` (foreach) under the spec's schedule: Adam, eq. (3), and
    AMSGrad in PyTorch's convention (the running max of the raw v)."""

    def __init__(self, params, spec, c: Coefficients):
        params = list(params)
        kw = dict(lr=c.eta, betas=(c.r, c.q), eps=c.eps, amsgrad=c.amsgrad == "raw")
        if _fused_ok(params):  # one kernel per step for all the parameters
            torch.optim.Adam.__init__(self, params, fused=True, **kw)
        else:
            torch.optim.Adam.__init__(self, params, foreach=True, **kw)
        self._init_schedule(spec, c)

    def step(self, closure=None):
        self._advance()
        return torch.optim.Adam.step(self, closure)

    def moments(self):
        return self._state_list("exp_avg"), self._state_list("exp_avg_sq")


class TorchRMSprop(_Scheduled, torch.optim.RMSprop):
    """``torch.optim.RMSprop`` (foreach, no momentum, not centred): eq. (2)."""

    m_is_last_grad = True

    def __init__(self, params, spec, c: Coefficients):
        torch.optim.RMSprop.__init__(self, params, lr=c.eta, alpha=c.q, eps=c.eps, foreach=True)
        self._init_schedule(spec, c)

    def step(self, closure=None):
        self._advance()
        return torch.optim.RMSprop.step(self, closure)

    def moments(self):
        return None, self._state_list("square_avg")


class TorchAdagrad(_Scheduled, torch.optim.Adagrad):
    """``torch.optim.Adagrad`` (foreach, lr_decay = 0): v <- v + g^2."""

    m_is_last_grad = True

    def __init__(self, params, spec, c: Coefficients):
        torch.optim.Adagrad.__init__(self, params, lr=c.eta, eps=c.eps, initial_accumulator_value=c.v0,
                                     foreach=True)
        self._init_schedule(spec, c)

    def step(self, closure=None):
        self._advance()
        return torch.optim.Adagrad.step(self, closure)

    def moments(self):
        return None, self._state_list("sum")


class TorchSGD(_Scheduled, torch.optim.SGD):
    """``torch.optim.SGD`` (foreach, no momentum): gradient descent."""

    def __init__(self, params, spec, c: Coefficients):
        torch.optim.SGD.__init__(self, params, lr=c.eta, foreach=True)
        self._init_schedule(spec, c)

    def step(self, closure=None):
        self._advance()
        return torch.optim.SGD.step(self, closure)


# ---------------------------------------------------------------- the kernels' updates in foreach ops
class _Foreach(_Scheduled, torch.optim.Optimizer):
    def __init__(self, params, spec, c: Coefficients, **scalars):
        torch.optim.Optimizer.__init__(self, params, {"lr": c.eta})
        self._init_schedule(spec, c)
        g0 = self.param_groups[0]
        for key, val in scalars.items():
            g0.setdefault(key, val)

    def _with_grads(self):
        ps = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        return ps, [p.grad for p in ps]

    def _state(self, ps, key, fill):
        out = []
        for p in ps:
            st = self.state[p]
            if key not in st:
                st[key] = torch.full_like(p, fill, memory_format=torch.preserve_format)
            out.append(st[key])
        return out


class SignOptimizer(_Foreach):
    """signGD: x <- x - eta_t sign(g), sign(0) = 0."""

    @torch.no_grad()
    def step(self, closure=None):
        eta = self._advance()
        ps, gs = self._with_grads()
        if ps:
            s = torch._foreach_sign(gs)
            torch._foreach_mul_(s, eta)
            torch._foreach_sub_(ps, s)
        return None


class LionOptimizer(_Foreach):
    """Lion (Chen et al. 2023), no weight decay: u = sign(beta1 m + (1 - beta1) g),
    x <- x - eta_t u, m <- beta2 m + (1 - beta2) g (``sign_mix`` = beta1, r = beta2)."""

    @torch.no_grad()
    def step(self, closure=None):
        eta = self._advance()
        c = self.coefficients
        ps, gs = self._with_grads()
        if not ps:
            return None
        ms = self._state(ps, "m", 0.0)
        u = torch._foreach_mul(ms, c.sign_mix)
        torch._foreach_add_(u, torch._foreach_mul(gs, 1.0 - c.sign_mix))
        torch._foreach_sign_(u)
        torch._foreach_mul_(u, eta)
        torch._foreach_sub_(ps, u)
        torch._foreach_mul_(ms, c.r)
        torch._foreach_add_(ms, torch._foreach_mul(gs, c.h))
        return None

    def moments(self):
        return self._state_list("m"), None


class MomentOptimizer(_Foreach):
    """The general moment method of eq. (1) of Ma, Wu & E, operation by operation
    as :mod:`adadyn.discrete.kernels` computes it::

        m <- r m + h g,  v <- q v + p g^2,  c1 = 1 - r^k, c2 = sqrt(1 - q^k) (bias correction, else 1)
        den = sqrt(v') / c2 + eps   or   sqrt(v' / c2^2 + eps)   (eps inside)
        x <- x - (eta_t / c1) m / den

    with v' = v, or AMSGrad's running max of v ("raw") or of v / c2^2 ("hat",
    then v' = max * c2^2). r^k and q^k are running products, as in the kernels.
    """

    def __init__(self, params, spec, c: Coefficients):
        super().__init__(params, spec, c, p1=1.0, p2=1.0)
        self.m_is_last_grad = c.r == 0.0

    def _update_v(self, gs, eta) -> bool:
        return True

    @torch.no_grad()
    def step(self, closure=None):
        if self.needs_closure and closure is None:
            raise ValueError(f"{self.spec.name} evaluates the gradient at the new point: call step(closure) "
                             "with a closure that recomputes the loss and its gradient on the same batch")
        eta = self._advance()
        c = self.coefficients
        g0 = self.param_groups[0]
        ps, gs = self._with_grads()
        if not ps:
            return None
        g0["p1"] *= c.r
        g0["p2"] *= c.q
        if c.bias_correction:
            stp = eta / (1.0 - g0["p1"])
            c2 = math.sqrt(1.0 - g0["p2"])
        else:
            stp, c2 = eta, 1.0
        update_v = self._update_v(gs, eta)
        if self.needs_closure:
            xs = [p.clone() for p in ps]
            g_old = [g.clone() for g in gs]
        if self.m_is_last_grad:
            num = torch._foreach_mul(gs, c.h)
        else:
            num = self._state(ps, "m", 0.0)
            torch._foreach_mul_(num, c.r)
            torch._foreach_add_(num, torch._foreach_mul(gs, c.h))
        vs = self._state(ps, "v", c.v0)
        if update_v:
            torch._foreach_mul_(vs, c.q)
            g2 = torch._foreach_mul(gs, gs)
            torch._foreach_mul_(g2, c.p)
            torch._foreach_add_(vs, g2)
        vi = vs
        if c.amsgrad == "raw":
            vi = self._state(ps, "aux", 0.0)
            torch._foreach_maximum_(vi, vs)
        elif c.amsgrad == "hat":
            aux = self._state(ps, "aux", 0.0)
            torch._foreach_maximum_(aux, torch._foreach_div(vs, c2 * c2))
            vi = torch._foreach_mul(aux, c2 * c2)
        if c.eps_inside:
            den = torch._foreach_div(vi, c2 * c2)
            torch._foreach_add_(den, c.eps)
            torch._foreach_sqrt_(den)
        else:
            den = torch._foreach_sqrt(vi)
            torch._foreach_mul_(den, 1.0 / c2)
            torch._foreach_add_(den, c.eps)
        upd = torch._foreach_mul(num, stp)
        torch._foreach_div_(upd, den)
        torch._foreach_sub_(ps, upd)
        if self.needs_closure:
            self._after_step(closure, ps, xs, g_old)
        return None

    def _after_step(self, closure, ps, xs, g_old):
        pass

    def moments(self):
        return (None if self.m_is_last_grad else self._state_list("m")), self._state_list("v")


class AdaFixOptimizer(MomentOptimizer):
    """AdaFix, Algorithm 1 of Bae, Ryu & Shin: Adam whose v is updated only while
    max_i |g_i| >= L eta_t; after the step L <- max(L, |g(x_{t+1}) - g_t| / |x_{t+1} - x_t|)
    with the gradient at the new point on the same batch (``step(closure)``).
    ``param_groups[0]["L"]`` is the estimate, ``["frozen"]`` the number of steps with v frozen."""

    needs_closure = True

    def __init__(self, params, spec, c: Coefficients):
        super().__init__(params, spec, c)
        g0 = self.param_groups[0]
        g0.setdefault("L", float(c.L0))
        g0.setdefault("frozen", 0)

    def _update_v(self, gs, eta) -> bool:
        gmax = float(torch.stack(torch._foreach_norm(gs, float("inf"))).max())
        g0 = self.param_groups[0]
        upd = gmax >= g0["L"] * eta
        if not upd:
            g0["frozen"] += 1
        return upd

    def _after_step(self, closure, ps, xs, g_old):
        with torch.enable_grad():
            closure()
        gnew = [p.grad if p.grad is not None else torch.zeros_like(p) for p in ps]
        dg = torch._foreach_sub(gnew, g_old)
        dx = torch._foreach_sub(ps, xs)
        num = float(sum(float((t * t).sum()) for t in dg))
        den2 = float(sum(float((t * t).sum()) for t in dx))
        g0 = self.param_groups[0]
        if den2 > 0.0 and math.isfinite(num):
            g0["L"] = max(g0["L"], math.sqrt(num / den2))


def _torch_class(c: Coefficients):
    if c.method == "gd":
        return TorchSGD
    if c.method == "sign":
        return SignOptimizer
    if c.method == "lion":
        return LionOptimizer
    if c.method == "adafix":
        return AdaFixOptimizer
    plain = not c.eps_inside and c.amsgrad in ("none", "raw")
    if (plain and c.bias_correction and c.h == 1.0 - c.r and c.p == 1.0 - c.q and c.v0 == 0.0
            and 0.0 <= c.r < 1.0 and 0.0 <= c.q < 1.0):
        return TorchAdam
    if plain and not c.bias_correction and c.amsgrad == "none" and c.r == 0.0 and c.h == 1.0:
        if c.p == 1.0 - c.q and c.v0 == 0.0 and 0.0 <= c.q < 1.0:
            return TorchRMSprop
        if c.p == 1.0 and c.q == 1.0:
            return TorchAdagrad
    return MomentOptimizer


def optimizer(spec, params: Iterable) -> torch.optim.Optimizer:
    """A torch optimiser with the update of ``spec``, read from ``spec.coefficients()``.

    Parameters
    ----------
    spec : adadyn.discrete.specs.Optimizer
        Any spec: GD, SignGD, RMSprop, Adam, AMSGrad (each convention), AdaFix,
        Adagrad, Family, Lion, with any schedule and eps placement.
    params : iterable of torch.Tensor or of parameter-group dicts
        What ``torch.optim`` optimisers take (e.g. ``model.parameters()``).

    Returns
    -------
    torch.optim.Optimizer
        torch's own Adam/RMSprop/Adagrad/SGD where they compute the same update,
        else one of this module's foreach optimisers (see the module docstring).
        Step t uses eta_t = eta * spec.schedule.factor(t); ``moments()`` returns
        the live (m, v) tensors. AdaFix needs ``step(closure)``.

    Raises
    ------
    TypeError
        If ``spec`` is not an optimiser spec or ``params`` holds no tensors.
    """
    check_optimizer(spec)
    params = list(params)
    if not params:
        raise ValueError("params is empty: give the model's parameters (model.parameters())")
    for p in params:
        if isinstance(p, dict):
            continue
        if not isinstance(p, torch.Tensor) or not p.is_floating_point():
            raise TypeError(f"params must be floating-point torch tensors, got {type(p).__name__}")
    c = spec.coefficients()
    return _torch_class(c)(params, spec, c)
