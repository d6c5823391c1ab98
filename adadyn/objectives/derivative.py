"""Exact symbolic derivatives with cost proportional to the result.

``sympy.diff`` of a product of n factors builds all n product-rule terms before
dropping the zero ones, so the gradient of ``x1*x2*...*x200`` takes minutes.
:class:`Differentiator` applies the same rules (sum, product, power and chain
rule through each function's ``fdiff``, hence the a.e. rules of
:mod:`adadyn.objectives.nonsmooth`) but only to the arguments that contain the
variable, with the free symbols of every node memoised, and it counts the size of
what it produces: past :data:`MAX_DERIVATIVE_SIZE` tree nodes it stops with an
:class:`~adadyn.objectives.parser.ExpressionError` rather than running on.
"""
from __future__ import annotations

import sympy as sp

from adadyn.objectives.parser import ExpressionError

#: Largest total size (tree nodes) of the gradient, or of the Hessian's nonzero
#: upper triangle, that adadyn generates code for.
MAX_DERIVATIVE_SIZE = 300_000


class Differentiator:
    """Derivatives of one expression, sharing the memo of free symbols and sizes."""

    def __init__(self, what: str = "derivatives"):
        self._free: dict = {}
        self._size: dict = {}
        self._diff: dict = {}
        self._occ: dict = {}
        self.what = what
        self.total = 0

    def free(self, e) -> frozenset:
        f = self._free.get(e)
        if f is None:
            f = frozenset([e]) if isinstance(e, sp.Symbol) else frozenset().union(*map(self.free, e.args))
            self._free[e] = f
        return f

    def size(self, e) -> int:
        s = self._size.get(e)
        if s is None:
            s = 1 + sum(map(self.size, e.args))
            self._size[e] = s
        return s

    def _containing(self, e, x) -> list:
        """Indices of the arguments of ``e`` that contain ``x`` (indexed once per node)."""
        occ = self._occ.get(e)
        if occ is None:
            occ = {}
            for i, a in enumerate(e.args):
                for s in self.free(a):
                    occ.setdefault(s, []).append(i)
            self._occ[e] = occ
        return occ.get(x, [])

    def count(self, e):
        """Add ``e``'s size to the running total; refuse past the limit."""
        self.total += self.size(e)
        if self.total > MAX_DERIVATIVE_SIZE:
            raise ExpressionError(
                f"the {self.what} would exceed {MAX_DERIVATIVE_SIZE} expression nodes "
                "(MAX_DERIVATIVE_SIZE); rewrite the formula (e.g. as a sum of simpler terms) or use "
                "Objective.from_numba")
        return e

    def d(self, e, x):
        """de/dx, exact."""
        if x not in self.free(e):
            return sp.Integer(0)
        if e == x:
            return sp.Integer(1)
        key = (e, x)
        out = self._diff.get(key)
        if out is not None:
            return out
        if isinstance(e, sp.Add):
            out = sp.Add(*[self.d(e.args[i], x) for i in self._containing(e, x)])
        elif isinstance(e, sp.Mul):
            args = e.args
            out = sp.Add(*[sp.Mul(*args[:i], self.d(args[i], x), *args[i + 1:]) for i in self._containing(e, x)])
        elif isinstance(e, sp.Pow):
            b, c = e.args
            if x not in self.free(c):
                out = c * b ** (c - 1) * self.d(b, x)
            else:
                out = e * (self.d(c, x) * sp.log(b) + c * self.d(b, x) / b)
        elif isinstance(e, sp.Function):
            out = sp.Add(*[e.fdiff(i + 1) * self.d(a, x) for i, a in enumerate(e.args) if x in self.free(a)])
        else:  # pragma: no cover - check_expression admits nothing else
            out = sp.diff(e, x)
        self._diff[key] = out
        return out

    def gradient(self, e, xs) -> list:
        """[de/dx for x in xs], counted against the size limit."""
        f = self.free(e)
        return [self.count(self.d(e, x)) if x in f else sp.Integer(0) for x in xs]
