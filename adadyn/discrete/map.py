"""The discrete map F(z) an optimiser iterates, its exact Jacobian DF(z), and the
Jacobian of its limit flow (eqs. (1), (2), (3), (7), (8), (11) of Ma, Wu & E).

State vector
------------
z stacks the blocks of the optimiser's state that are real dynamical variables:

===========================  ===================  ==============
optimiser                    blocks               size of z
===========================  ===================  ==============
GD, SignGD                   ``x``                d
Lion                         ``x, m``             2d
RMSprop, Adagrad, r = 0      ``x, v``             2d
Adam, Family with r != 0     ``x, m, v``          3d
AMSGrad                      ``x, m, v, aux``     4d
===========================  ===================  ==============

With r = 0 (RMSprop, Adagrad) the kernel's m is overwritten by h*g every step,
so it is not a state variable: keeping it would only add d spurious zero
eigenvalues. For the moment methods the map is eq. (1) with constant
coefficients::

    m' = r m + h g(x),   v' = q v + p g(x)^2,   w = max(aux, v') (AMSGrad) or v',
    x' = x - eta m' / (sqrt(w) + eps)        (eps_inside: m' / sqrt(w + eps)).

Adam's bias correction makes the map non-autonomous; here it is dropped, i.e.
F is the t -> infinity autonomous map (1 - beta^t -> 1), which is the map the
late phase iterates. It equals the kernel's step exactly when the spec has
``bias_correction=False``.

The singularity at v = 0
------------------------
d sqrt(w)/dw is infinite at w = 0, and it multiplies m' in dx'/dw. Where
w_i = 0 and m'_i = 0 (a stationary point: g = 0 and m = 0), the term
m'_i * sqrt(w_i) is o(|(m'_i, w_i)|) because |m' sqrt(w)| <= |(m', w)|^{3/2};
the map is therefore Frechet differentiable there and the term contributes
nothing. This is the limit eq. (11) takes: at (x*, 0, 0) the x-block of the
RMSprop map is I - (eta/eps) H and that of the flow -H/eps. Where w_i = 0 but
m'_i != 0, or eps = 0, the map has no derivative and :class:`ValueError` is raised.

Sign maps (signGD, Lion)
------------------------
signGD and Lion move x by -eta sign(u) with u = g (signGD) or
u = beta1 m + (1 - beta1) g (Lion). The map is discontinuous where a component
of u vanishes and locally affine elsewhere: there dx'/dx = I (x only moves by a
locally constant step), and for Lion dm'/dx = (1 - beta2) H, dm'/dm = beta2 I.
So its Jacobian has eigenvalue 1 in every x direction and beta2 in the m
directions: no fixed point off the discontinuity is hyperbolic, and periodic
orbits come in continua (e.g. signGD's 2-cycles x, x - eta for 0 < x < eta on
x^2/2). Linearising a sign map describes the local behaviour on one side of the
switching surfaces only; at u_i = 0 :class:`ValueError` is raised.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.discrete import kernels as K
from adadyn.discrete.coefficients import Coefficients
from adadyn.discrete.schedules import Constant
from adadyn.discrete.specs import Optimizer
from adadyn.discrete.trajectory import State
from adadyn.objectives.base import Objective
from adadyn.objectives.hessian import hessian_at
from adadyn.validation import check_objective, check_optimizer

__all__ = ["StateMap", "state_map"]


@dataclass(frozen=True, eq=False)
class StateMap:
    """The autonomous discrete map of an optimiser on an objective.

    Build it with :func:`state_map`. ``F = StateMap(...)``; ``F(z)`` is one step,
    ``F.jacobian(z)`` its exact Jacobian, ``F.iterate(z, n)`` n steps and
    ``F.orbit_jacobian(z, n)`` the Jacobian of F^n by the chain rule.
    """

    opt: Optimizer = field(repr=False)
    obj: Objective = field(repr=False)
    blocks: tuple
    dim: int
    coef: Coefficients
    hessian_exact: bool | None = field(default=None, repr=False)

    # the coefficient view, by name (eq. (1) of Ma, Wu & E)
    eta = property(lambda self: self.coef.eta)
    h = property(lambda self: self.coef.h)
    r = property(lambda self: self.coef.r)
    p = property(lambda self: self.coef.p)
    q = property(lambda self: self.coef.q)
    eps = property(lambda self: self.coef.eps)
    eps_inside = property(lambda self: self.coef.eps_inside)
    amsgrad = property(lambda self: self.coef.amsgrad != "none")
    sign = property(lambda self: self.coef.method in ("sign", "lion"))

    @property
    def size(self) -> int:
        """Length of the state vector z."""
        return len(self.blocks) * self.dim

    @property
    def moments(self) -> bool:
        return "v" in self.blocks

    def index(self, block: str) -> slice:
        """The slice of z holding ``block`` ('x', 'm', 'v' or 'aux')."""
        i = self.blocks.index(block)
        return slice(i * self.dim, (i + 1) * self.dim)

    def split(self, z) -> dict:
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        if z.shape[0] != self.size:
            raise ValueError(f"z must have length {self.size} (blocks {self.blocks}, d={self.dim}), "
                             f"got {z.shape[0]}")
        d = self.dim
        parts = {b: z[i * d:(i + 1) * d] for i, b in enumerate(self.blocks)}
        for b in ("m", "v", "aux"):
            parts.setdefault(b, np.zeros(d))
        return parts

    def pack(self, state: State) -> np.ndarray:
        """z from a :class:`~adadyn.discrete.trajectory.State`."""
        return np.concatenate([getattr(state, b) for b in self.blocks])

    def to_state(self, z, k: int = 0) -> State:
        """A :class:`State` holding z (m = 0 when m is not a state variable).

        The bias-correction powers are set to 0, i.e. the t -> infinity state,
        so a kernel step from it is the autonomous map even with bias correction on.
        """
        s = self.split(z)
        st = State.initial(self.opt, s["x"], s["m"], s["v"])
        aux = s["aux"].copy()
        sc = st.scalars.copy()
        sc[K.S_P1] = 0.0
        sc[K.S_P2] = 0.0
        return State(st.x, st.m, st.v, aux, sc, int(k))

    def point(self, x, m=None, v=None, aux=None) -> np.ndarray:
        """z = (x, m, v[, aux]) with the missing blocks zero."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.dim:
            raise ValueError(f"x must have length {self.dim}, got {x.shape[0]}")
        given = {"x": x, "m": m, "v": v, "aux": aux}
        out = []
        for b in self.blocks:
            val = given[b]
            out.append(np.zeros(self.dim) if val is None
                       else np.broadcast_to(np.asarray(val, dtype=np.float64), (self.dim,)))
        return np.concatenate(out)

    # ------------------------------------------------------------------ the map
    def _grad(self, x):
        return self.obj.value_and_grad(x)[1]

    def _step(self, s, g):
        """(x', m', v', aux') by the kernels' own step (:func:`adadyn.discrete.kernels.map_step`)."""
        kind, hp = K.lower(self.coef)
        d = self.dim
        out = [np.empty(d) for _ in range(4)]
        c = np.ascontiguousarray
        K.map_step(kind, hp, c(s["x"]), c(s["m"]), c(s["v"]), c(s["aux"]), np.array(g, dtype=np.float64), *out)
        return out

    def _parts(self, z, g=None):
        s = self.split(z)
        x = s["x"]
        g = self._grad(x) if g is None else np.broadcast_to(np.asarray(g, dtype=np.float64), (self.dim,))
        if not self.moments:
            return s, g, None, None, None, None
        _, m1, v1, aux1 = self._step(s, g)
        w = aux1 if self.amsgrad else v1
        den = np.sqrt(w + self.eps) if self.eps_inside else np.sqrt(w) + self.eps
        return s, g, m1, v1, w, den

    def _direction(self, s, g):
        """The vector whose sign a sign map steps along (g, or Lion's interpolation)."""
        if self.coef.method == "lion":
            c1 = self.coef.sign_mix
            return c1 * s["m"] + (1.0 - c1) * g
        return g

    def __call__(self, z) -> np.ndarray:
        """F(z): one step of the autonomous map, computed by the kernels' own step."""
        s = self.split(z)
        x1, m1, v1, aux1 = self._step(s, self._grad(s["x"]))
        out = {"x": x1, "m": m1, "v": v1, "aux": aux1}
        return np.concatenate([out[b] for b in self.blocks])

    def iterate(self, z, n: int) -> np.ndarray:
        """F^n(z)."""
        z = np.asarray(z, dtype=np.float64).copy()
        for _ in range(int(n)):
            z = self(z)
        return z

    def jacobian(self, z, H: np.ndarray | None = None, g=None) -> np.ndarray:
        """DF(z), exact up to the accuracy of the Hessian (see :func:`hessian_at`).

        ``H`` and ``g`` override the Hessian and gradient at x. ``g=0`` gives the
        Jacobian at an exact stationary point: at v = 0 the Jacobian changes on
        the scale |g| ~ eps (the coefficient m'/sqrt(w) is h g/(sqrt(p)|g|)), so
        a rounding-level gradient at a numerically found x* would otherwise leave
        O(eta |g| / eps^2) terms instead of the limit of eq. (11).

        Raises
        ------
        ValueError
            Where F has no derivative: SignGD at a zero gradient component,
            w = 0 with m' != 0, or w = 0 with eps = 0 (see the module docstring).
        """
        s, g, m1, v1, w, den = self._parts(z, g)
        d = self.dim
        x = s["x"]
        if H is None:
            H = hessian_at(self.obj, x, self.hessian_exact)[0]
        n = self.size
        J = np.zeros((n, n))
        ix = self.index("x")
        if not self.moments:
            if self.sign:
                if np.any(self._direction(s, g) == 0.0):
                    raise ValueError(f"the {self.opt.name} map is not differentiable where a component of "
                                     "its sign argument is 0 (see 'Sign maps' in adadyn.discrete.map)")
                J[ix, ix] = np.eye(d)
                if "m" in self.blocks:
                    im = self.index("m")
                    J[im, ix] = self.h * H
                    J[im, im] = self.r * np.eye(d)
            else:
                J[ix, ix] = np.eye(d) - self.eta * H
            return J
        # rows of the intermediate quantities m', v', w as functions of z
        Dm = np.zeros((d, n))
        Dm[:, ix] = self.h * H
        if "m" in self.blocks:
            Dm[:, self.index("m")] = self.r * np.eye(d)
        Dv = np.zeros((d, n))
        Dv[:, ix] = 2.0 * self.p * g[:, None] * H
        Dv[:, self.index("v")] = self.q * np.eye(d)
        if self.amsgrad:
            # at a tie v' == aux the max is not differentiable; we take the aux branch
            grow = v1 > s["aux"]
            Dw = np.where(grow[:, None], Dv, 0.0)
            ia = self.index("aux")
            Dw[~grow, :] = 0.0
            Dw[np.arange(d)[~grow], ia.start + np.arange(d)[~grow]] = 1.0
        else:
            Dw = Dv
        if np.any(den == 0.0):
            raise ValueError("sqrt(w) + eps = 0 (eps = 0 at v = 0): the map is singular there")
        coef = np.zeros(d)
        if self.eps_inside:
            coef = m1 / (2.0 * np.sqrt(w + self.eps) * den * den)
        else:
            pos = w > 0.0
            coef[pos] = m1[pos] / (2.0 * np.sqrt(w[pos]) * den[pos] ** 2)
            bad = (~pos) & (m1 != 0.0)
            if np.any(bad):
                raise ValueError("the map has no derivative where w = 0 but m' != 0 "
                                 f"(components {np.flatnonzero(bad).tolist()})")
            # w = 0 and m' = 0: the o(|.|) limit of the module docstring, coefficient 0
        Dx = np.zeros((d, n))
        Dx[:, ix] = np.eye(d)
        Dx -= self.eta * (Dm / den[:, None] - coef[:, None] * Dw)
        rows = {"x": Dx, "m": Dm, "v": Dv, "aux": Dw}
        for b in self.blocks:
            J[self.index(b), :] = rows[b]
        return J

    def orbit_jacobian(self, z, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(points, M): the n points z, F(z), ..., F^{n-1}(z) and the Jacobian
        M = DF(z_{n-1}) ... DF(z_0) of F^n at z (chain rule)."""
        z = np.asarray(z, dtype=np.float64).copy()
        pts = np.empty((int(n), self.size))
        M = np.eye(self.size)
        for j in range(int(n)):
            pts[j] = z
            M = self.jacobian(z) @ M
            z = self(z)
        return pts, M


def state_map(opt: Optimizer, obj: Objective, *, exact: bool | None = None) -> StateMap:
    """The autonomous map of ``opt`` on ``obj`` (see the module docstring).

    Parameters
    ----------
    opt : Optimizer
        GD, SignGD, Lion, RMSprop, Adam (bias correction dropped: the t -> infinity map),
        AMSGrad, Adagrad or Family, with a constant schedule.
    obj : Objective
        A time-independent objective.
    exact : bool, optional
        Passed to :func:`~adadyn.objectives.hessian.hessian_at` for every Jacobian.
    """
    check_optimizer(opt)
    check_objective(obj)
    c = opt.coefficients()
    if c.method == "adafix":
        raise ValueError("AdaFix switches v on and off: its map is not smooth; use Adam for linearisation")
    if not isinstance(c.schedule, Constant):
        raise ValueError("the map is autonomous only with a constant schedule; got "
                         f"{type(c.schedule).__name__}")
    if obj.time_dependent:
        raise ValueError("the map of an online (time-dependent) objective is not autonomous")
    d = obj.dim
    if c.method in ("gd", "sign"):
        blocks = ("x",)
    elif c.method == "lion":
        blocks = ("x", "m")
    else:
        ams = c.amsgrad != "none"
        blocks = ("x",) + (("m",) if (c.r != 0.0 or ams) else ()) + ("v",) + (("aux",) if ams else ())
    return StateMap(opt, obj, blocks, d, c, exact)
