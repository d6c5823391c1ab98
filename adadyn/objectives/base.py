"""The :class:`Objective`: value, gradient and Hessian as Numba functions.

Every objective is a triple of compiled functions with the fixed signatures of
:mod:`adadyn._jit` plus a flat ``data`` array holding its numbers (a matrix, a
centre, a data set). The optimiser kernels receive the functions as
first-class function values, so one compiled and cached kernel serves every
objective.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from adadyn._jit import HESSIAN_SIG, VALUE_GRAD_SIG, Lazy, jit
from adadyn.objectives.finite_diff import fd_hessian, fd_hvp, FD_REL_STEP


def _compiled(fn):
    return fn.compiled if isinstance(fn, Lazy) else fn


def _rebuild(module: str, name: str, args: tuple, kwargs: dict) -> "Objective":
    import importlib

    return getattr(importlib.import_module(module), name)(*args, **kwargs)


def recorded(fn):
    """Decorator for objective constructors: remember the call (the objective's
    *recipe*) so the result pickles, travels to worker processes and has a
    stable :meth:`Objective.identity`."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        obj = fn(*args, **kwargs)
        obj._recipe = (fn.__module__, fn.__name__, args, kwargs)
        return obj

    return wrapper


def _hash_value(h, val) -> None:
    """Feed a recipe value into a hash: arrays by dtype, shape and bytes, containers
    element by element, everything else by ``repr`` (sympy expressions included)."""
    if isinstance(val, np.ndarray):
        arr = np.ascontiguousarray(val)
        h.update(f"ndarray{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    elif isinstance(val, (list, tuple)):
        h.update(f"{type(val).__name__}{len(val)}(".encode())
        for item in val:
            _hash_value(h, item)
        h.update(b")")
    elif isinstance(val, dict):
        h.update(f"dict{len(val)}(".encode())
        for k in sorted(val, key=repr):
            h.update(repr(k).encode() + b":")
            _hash_value(h, val[k])
        h.update(b")")
    else:
        h.update(repr(val).encode())
    h.update(b"\0")


@dataclass(frozen=True, eq=False)
class Structure:
    """Structure an objective declares, so analyses need not probe for it.

    Attributes
    ----------
    kind : {"quadratic", "diagonal", "separable"}
        ``"quadratic"``: f(x) = (x - c)^T A (x - c) / 2 with ``matrix`` A;
        ``"diagonal"``: the same with A = diag(``diagonal``) (O(d) memory);
        ``"separable"``: f(x) = sum_i f_i(x_i), so gradient coordinate i depends
        on x_i only (the condition for fusing the gradient into the update).
    matrix : ndarray (d, d), optional
    diagonal : ndarray (d,), optional
    center : ndarray (d,), optional
    coord : numba function, optional
        For separable objectives: ``coord(x_i, i, t, data) -> (f_i, g_i)`` with
        f = sum_i f_i and g_i the i-th gradient component (signature
        :data:`adadyn.discrete.kernels_fused.COORD_SIG`). With it, :func:`adadyn.run`
        fuses gradient, loss and update into one pass over memory at large d.
        Index ``data`` with unsigned offsets (``data[np.uint64(d + i)]``): a
        signed computed index makes Numba check for negative indices, which
        stops the fused loop from vectorising (about 2x slower).
    """

    kind: str
    matrix: np.ndarray | None = None
    diagonal: np.ndarray | None = None
    center: np.ndarray | None = None
    coord: object = None

    def __post_init__(self):
        if self.kind not in ("quadratic", "diagonal", "separable"):
            raise ValueError(f"structure kind must be 'quadratic', 'diagonal' or 'separable', got {self.kind!r}")
        if self.coord is not None and not self.separable:
            raise ValueError("coord (a per-coordinate gradient) needs a separable structure")
        if self.coord is not None and not hasattr(self.coord, "py_func"):
            raise TypeError(f"coord must be a numba @njit function, got {type(self.coord).__name__}")

    @property
    def separable(self) -> bool:
        return self.kind in ("diagonal", "separable")


@dataclass(frozen=True)
class Box:
    """Feasible box ``lo <= x <= hi``; iterates are projected (clipped) after each step."""

    lo: np.ndarray
    hi: np.ndarray

    def project(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.lo, self.hi)


class Objective:
    """A differentiable objective f: R^d -> R for the optimiser kernels.

    Parameters
    ----------
    dim : int
        Dimension d of x.
    value_grad : numba function
        ``value_grad(x, t, data, g) -> f`` with signature
        :data:`adadyn._jit.VALUE_GRAD_SIG`: returns f_t(x) and writes the
        gradient into ``g``. ``t`` is the step index 1, 2, ... (used only by
        time-dependent, i.e. online, objectives).
    hessian : numba function, optional
        ``hessian(x, t, data, H) -> None`` (:data:`adadyn._jit.HESSIAN_SIG`).
        When absent, :meth:`hessian` uses central finite differences of the
        gradient (see :func:`adadyn.objectives.finite_diff.fd_hessian`).
    data : array_like, optional
        Flat float64 parameters passed to both functions.
    name : str
        Label used in reprs, plots and tables.
    minimizer, min_value : optional
        A known minimiser x* and minimum f*, when the objective has them.
    bounds : (lo, hi), optional
        Feasible box; the discrete optimisers project onto it after every step
        (Reddi et al.'s online problems live on [-1, 1]).
    time_dependent : bool
        True for online objectives whose f_t changes with the step t.
    expr, symbols : optional
        The sympy expression and its symbols, for symbolic objectives; enables
        exact symbolic Jacobians in :mod:`adadyn.analysis`.
    value_grad_batch : numba function, optional
        The same function for many points at once (coordinate-major layout,
        :data:`adadyn._jit.VALUE_GRAD_BATCH_SIG`), bit-identical per point; lets
        grid sweeps vectorise across grid points.
    structure : Structure, optional
        Declared structure (a quadratic's matrix, a diagonal quadratic's
        diagonal, separability); read it through :attr:`structure`, :attr:`A`,
        :attr:`diagonal` and :attr:`separable`.
    """

    def __init__(
        self,
        dim: int,
        value_grad,
        hessian=None,
        data=None,
        *,
        name: str = "objective",
        minimizer=None,
        min_value: float | None = None,
        bounds=None,
        time_dependent: bool = False,
        expr=None,
        symbols=None,
        value_grad_batch=None,
        structure: Structure | None = None,
    ):
        dim = int(dim)
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self._value_grad = value_grad
        self._hessian = hessian
        self.data = np.ascontiguousarray(
            np.zeros(1) if data is None or np.size(data) == 0 else np.asarray(data, dtype=np.float64).ravel()
        )
        self.name = name
        self.minimizer = None if minimizer is None else np.asarray(minimizer, dtype=np.float64).reshape(dim)
        self.min_value = None if min_value is None else float(min_value)
        if bounds is not None:
            lo = np.broadcast_to(np.asarray(bounds[0], dtype=np.float64), (dim,)).copy()
            hi = np.broadcast_to(np.asarray(bounds[1], dtype=np.float64), (dim,)).copy()
            if np.any(lo > hi):
                raise ValueError("bounds must satisfy lo <= hi componentwise")
            bounds = Box(lo, hi)
        self.bounds: Box | None = bounds
        self.time_dependent = bool(time_dependent)
        self.expr = expr
        self.symbols = symbols
        self._value_grad_batch = value_grad_batch
        if structure is not None and not isinstance(structure, Structure):
            raise TypeError(f"structure must be an adadyn.objectives.Structure, got {type(structure).__name__}")
        self.structure: Structure | None = structure
        self._recipe = None
        self._g = np.empty(dim)

    # -- declared structure ----------------------------------------------------------
    @property
    def A(self) -> np.ndarray | None:
        """The matrix A of a declared quadratic f = (x - c)^T A (x - c) / 2, else None.

        Dense (d x d) for :func:`~adadyn.objectives.quadratic`; None for a
        diagonal quadratic (use :attr:`diagonal`, O(d)) and for other objectives.
        """
        s = self.structure
        return s.matrix if s is not None and s.kind == "quadratic" else None

    @property
    def diagonal(self) -> np.ndarray | None:
        """The Hessian diagonal of a declared diagonal quadratic, else None."""
        s = self.structure
        return s.diagonal if s is not None and s.kind == "diagonal" else None

    @property
    def separable(self) -> bool:
        """True when declared separable: gradient coordinate i depends on x_i only."""
        return self.structure is not None and self.structure.separable

    # -- recipe: pickling, worker transport and the sweep's identity key ------------------
    @property
    def recipe(self) -> tuple | None:
        """``(module, constructor, args, kwargs)`` that rebuilds this objective, or None
        for objectives built from process-local functions (``from_numba``, a direct
        ``Objective(...)`` call)."""
        return self._recipe

    def identity(self) -> str:
        """A SHA-256 hex digest of the recipe: equal for objectives built by the same
        call, in any process (the key under which sweeps store and resume results).

        Raises
        ------
        ValueError
            If the objective has no recipe.
        """
        import hashlib

        if self._recipe is None:
            raise ValueError(
                f"{self!r} has no recipe (it was built from functions that live only in this "
                "process), so it has no identity across processes. Use a library objective, "
                "Objective.from_expr or Objective.from_sympy.")
        h = hashlib.sha256(b"adadyn-objective/1\0")
        _hash_value(h, self._recipe)
        return h.hexdigest()

    # -- compiled functions, as the kernels take them -------------------------------
    @property
    def value_grad_fn(self):
        """The compiled ``value_grad`` function (:data:`VALUE_GRAD_SIG`)."""
        return _compiled(self._value_grad)

    @property
    def value_grad_batch_fn(self):
        """Compiled batched ``value_grad`` (:data:`adadyn._jit.VALUE_GRAD_BATCH_SIG`) or
        ``None``; :func:`adadyn.discrete.run_grid` vectorises across grid points with it."""
        return None if self._value_grad_batch is None else _compiled(self._value_grad_batch)

    @property
    def hessian_fn(self):
        """The compiled exact Hessian function, or ``None``."""
        return None if self._hessian is None else _compiled(self._hessian)

    @property
    def has_hessian(self) -> bool:
        """True when an exact Hessian is available (else finite differences are used)."""
        return self._hessian is not None

    @property
    def is_symbolic(self) -> bool:
        return self.expr is not None

    # -- Python-side evaluation ------------------------------------------------------
    def _x(self, x) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
        if x.shape != (self.dim,):
            raise ValueError(f"x must have shape ({self.dim},), got {x.shape}")
        return x

    def value_and_grad(self, x, t: float = 1.0) -> tuple[float, np.ndarray]:
        """f_t(x) and its gradient."""
        g = np.empty(self.dim)
        f = self.value_grad_fn(self._x(x), float(t), self.data, g)
        return float(f), g

    def value(self, x, t: float = 1.0) -> float:
        """f_t(x)."""
        return float(self.value_grad_fn(self._x(x), float(t), self.data, self._g))

    __call__ = value

    def grad(self, x, t: float = 1.0) -> np.ndarray:
        """The gradient of f_t at x."""
        return self.value_and_grad(x, t)[1]

    def hessian(self, x, t: float = 1.0) -> np.ndarray:
        """The Hessian of f_t at x: exact when available, else central differences
        of the gradient (:func:`~adadyn.objectives.finite_diff.fd_hessian`)."""
        x = self._x(x)
        H = np.empty((self.dim, self.dim))
        if self._hessian is not None:
            self.hessian_fn(x, float(t), self.data, H)
        else:
            fd_hessian(self.value_grad_fn, x, float(t), self.data, FD_REL_STEP, H)
        return H

    def hvp(self, x, u, t: float = 1.0) -> np.ndarray:
        """Hessian-vector product H(x) u, without forming H when no exact Hessian
        is known (one central difference of the gradient along u)."""
        x = self._x(x)
        u = self._x(u)
        if self._hessian is not None and self.dim <= 2000:
            return self.hessian(x, t) @ u
        out = np.empty(self.dim)
        fd_hvp(self.value_grad_fn, x, float(t), self.data, u, out)
        return out

    def hessian_form_grad(self, x, u, t: float = 1.0) -> np.ndarray:
        """Gradient with respect to x of u^T H(x) u at fixed u (a third-derivative-vector
        product; the gradient of the sharpness when u is the top unit eigenvector).

        Exact for formula objectives (symbolic third derivatives, built on first use),
        zero for declared quadratics, else a central difference of :meth:`hvp` along u
        (:mod:`adadyn.objectives.third`)."""
        from adadyn.objectives.third import hessian_form_grad

        return hessian_form_grad(self, self._x(x), self._x(u), t)

    def project(self, x: np.ndarray) -> np.ndarray:
        """Projection onto the feasible box (identity when unconstrained)."""
        return x if self.bounds is None else self.bounds.project(x)

    # -- pickling: rebuild from the constructor call that made the objective ---------------
    def __reduce__(self):
        recipe = self._recipe
        if recipe is None:
            raise TypeError(
                f"{self!r} cannot be pickled: it was built from functions that live only in this "
                "process. Objectives from the library, from_expr and from_sympy pickle (and so "
                "travel to process pools and dask workers)."
            )
        return _rebuild, recipe

    def __repr__(self) -> str:
        extra = ", online" if self.time_dependent else ""
        extra += ", box" if self.bounds is not None else ""
        return f"Objective({self.name!r}, dim={self.dim}{extra})"

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_sympy(cls, expr, symbols=None, *, time_symbol=None, name: str | None = None, **kw) -> "Objective":
        """Objective from a sympy expression; exact gradient and Hessian by sympy,
        compiled to cached Numba functions. See :mod:`adadyn.objectives.symbolic`.

        ``expr`` must be a sympy expression: a string is refused with a
        TypeError (it would reach ``sympy.sympify``, which executes Python; use
        :meth:`from_expr` for text). The expression passes the whitelist and
        limits of :func:`adadyn.objectives.parser.check_expression` (at most
        :data:`~adadyn.objectives.parser.MAX_DIM` symbols, bounded constants and
        depth, constants real and finite), else ``ExpressionError`` (a ValueError).
        Abs, sign, Max, Min and Heaviside are differentiated almost everywhere
        (:mod:`adadyn.objectives.nonsmooth`); the Hessian is compiled on first use.
        """
        return objective_from_sympy(expr, symbols, time_symbol=time_symbol, name=name, **kw)

    @classmethod
    def from_expr(cls, text: str, variables=None, params=None, *, name: str | None = None, **kw) -> "Objective":
        """Objective parsed safely from a formula such as ``"1 - cos(x1**2 + x2**2)"``.

        Only numbers, the variables, ``t`` (step index, makes it online), the
        names in ``params`` and whitelisted functions are accepted; no Python
        code is evaluated. The dimension (at most 1000), the size of exact
        constants, the nesting depth and the formula's size are bounded, and
        constant sub-expressions must be finite reals (``sqrt(-1)`` is refused);
        every refusal is an ``ExpressionError`` (a ValueError) naming the limit.
        See :func:`adadyn.objectives.parser.parse_expr` and ``docs/formulas.md``.
        """
        return objective_from_text(text, variables, params, name=name, **kw)

    @classmethod
    def from_numba(
        cls,
        value: Callable,
        grad: Callable,
        hessian: Callable | None = None,
        *,
        dim: int,
        name: str = "numba objective",
        **kw,
    ) -> "Objective":
        """Objective from user-written ``@njit`` functions ``value(x)``,
        ``grad(x)`` (returns an array of length ``dim``) and optionally
        ``hessian(x)`` (returns a ``(dim, dim)`` array).

        The functions are wrapped into adadyn's signatures; the wrappers are
        compiled once per process (a closure cannot be cached on disk).
        Functions taking a second argument ``t`` are treated as time dependent
        when ``time_dependent=True`` is passed.

        The functions are called once at construction, at the probe point
        ``x_i = 0.3 + 0.4 i/d`` (and ``t = 1``), to check the shapes of what
        they return: a gradient of the wrong length (which the compiled
        wrapper would otherwise copy out of unowned memory) raises a
        ValueError naming ``grad`` and the expected length. Should a function
        later return a wrong shape anyway, the wrapper writes NaN (and the run
        reports "diverged") instead of reading past the array.
        """
        for nm, fn in (("value", value), ("grad", grad), ("hessian", hessian)):
            if fn is not None and not hasattr(fn, "py_func"):
                raise TypeError(f"{nm} must be a numba @njit function, got {type(fn).__name__}")
        dim = int(dim)
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        timed = bool(kw.get("time_dependent", False))
        import numba

        probe = 0.3 + 0.4 * np.arange(dim) / dim
        for nm, fn, shape in (("value", value, ()), ("grad", grad, (dim,)), ("hessian", hessian, (dim, dim))):
            if fn is None:
                continue
            try:
                out = fn(probe.copy(), 1.0) if timed else fn(probe.copy())
            except Exception as exc:
                raise ValueError(f"calling {nm} at the probe point x = 0.3 + 0.4*arange(dim)/dim failed "
                                 f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                                 f"adadyn calls it once to check the shape of its result") from exc
            got = np.shape(out)
            if got != shape:
                expect = "a scalar" if not shape else f"an array of shape {shape}"
                length = f" (length {dim} = dim)" if nm == "grad" else ""
                raise ValueError(f"{nm} must return {expect}{length}, got shape {got} at the probe point")

        if timed:
            def vg(x, t, data, g):
                gg = grad(x, t)
                if gg.shape[0] != x.shape[0]:
                    g[:] = np.nan
                    return np.nan
                for i in range(x.shape[0]):
                    g[i] = gg[i]
                return value(x, t)
        else:
            def vg(x, t, data, g):
                gg = grad(x)
                if gg.shape[0] != x.shape[0]:
                    g[:] = np.nan
                    return np.nan
                for i in range(x.shape[0]):
                    g[i] = gg[i]
                return value(x)
        vg_c = numba.njit(VALUE_GRAD_SIG)(vg)
        h_c = None
        if hessian is not None:
            if timed:
                def hs(x, t, data, H):
                    HH = hessian(x, t)
                    if HH.shape[0] != H.shape[0] or HH.shape[1] != H.shape[1]:
                        H[:, :] = np.nan
                    else:
                        H[:, :] = HH
            else:
                def hs(x, t, data, H):
                    HH = hessian(x)
                    if HH.shape[0] != H.shape[0] or HH.shape[1] != H.shape[1]:
                        H[:, :] = np.nan
                    else:
                        H[:, :] = HH
            h_c = numba.njit(HESSIAN_SIG)(hs)
        return cls(dim, vg_c, h_c, None, name=name, **kw)


# ---------------------------------------------------------------- formula constructors
# They live here, not in adadyn.objectives.symbolic, so that symbolic never imports
# this module (no import cycle): symbolic checks and compiles, this module builds.
@recorded
def objective_from_sympy(expr, symbols=None, *, time_symbol=None, name=None, **kw) -> Objective:
    """See :meth:`Objective.from_sympy`."""
    from adadyn.objectives.symbolic import symbolic_parts

    return Objective(**symbolic_parts(expr, symbols, time_symbol=time_symbol, name=name, **kw))


@recorded
def objective_from_text(text, variables=None, params=None, *, name=None, **kw) -> Objective:
    """See :meth:`Objective.from_expr`."""
    from adadyn.objectives.symbolic import text_parts

    return Objective(**text_parts(text, variables, params, name=name, **kw))
