"""abs, sign, max and min with almost-everywhere derivatives, for symbolic objectives.

sympy differentiates ``Abs`` into ``sign`` and ``sign`` into ``2*DiracDelta``, which
no code printer can evaluate (and which is zero wherever it is defined). The
objectives of adadyn use the a.e. (classical, away from the kink) derivatives
instead, with the symmetric convention at the kink:

* d|z|/dz = sign(z) (so 0 at z = 0), d sign(z)/dz = 0;
* d max(a, b)/da = (1 + sign(a - b))/2, d max(a, b)/db = (1 - sign(a - b))/2
  (1/2 each at a tie), and min(a, b) likewise with the roles swapped;
* hence the second derivative of |z|, max and min is 0 everywhere.

These are the derivatives that the subgradient-style analyses of non-smooth
problems use; they equal the true derivatives off the measure-zero set of kinks.
:func:`canonical` rewrites sympy's ``Abs``, ``sign``, ``Max``, ``Min`` and
``Heaviside`` into the classes below, whose ``fdiff`` implement the rules, so
that every derivative taken later (the compiled gradient and Hessian and the
30-digit Hessian of :func:`adadyn.objectives.hessian.hessian_at`) follows them.

The compiled code calls :func:`sign_nb`, :func:`max_nb` and :func:`min_nb`,
which propagate NaN (``max(nan, 1)`` is NaN, not 1).
"""
from __future__ import annotations

import sympy as sp

from adadyn._jit import jit

__all__ = ["AbsAE", "SignAE", "MaxAE", "MinAE", "canonical", "max_ae", "min_ae"]


def _num(z):
    return isinstance(z, sp.Number)


class SignAE(sp.Function):
    """sign(z) with derivative 0 (a.e.); sign(0) = 0."""

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, z):
        if _num(z):
            if z is sp.nan:
                return sp.nan
            return sp.Integer(1) if z.is_positive else (sp.Integer(-1) if z.is_negative else sp.Integer(0))
        if isinstance(z, SignAE):
            return z

    def fdiff(self, argindex=1):
        return sp.Integer(0)

    def _eval_evalf(self, prec):
        z = self.args[0].evalf(prec)
        return self.func(z) if _num(z) else None

    def _sympystr(self, printer):
        return f"sign({printer._print(self.args[0])})"


class AbsAE(sp.Function):
    """|z| with derivative sign(z) (:class:`SignAE`)."""

    nargs = 1
    is_real = True
    is_nonnegative = True

    @classmethod
    def eval(cls, z):
        if _num(z):
            return abs(z)
        if isinstance(z, AbsAE):
            return z

    def fdiff(self, argindex=1):
        return SignAE(self.args[0])

    def _eval_evalf(self, prec):
        z = self.args[0].evalf(prec)
        return abs(z) if _num(z) else None

    def _sympystr(self, printer):
        return f"abs({printer._print(self.args[0])})"


class MaxAE(sp.Function):
    """max(a, b); d/da = (1 + sign(a - b))/2, d/db = (1 - sign(a - b))/2."""

    nargs = 2
    is_real = True

    @classmethod
    def eval(cls, a, b):
        if _num(a) and _num(b):
            return sp.nan if (a is sp.nan or b is sp.nan) else (a if a >= b else b)

    def fdiff(self, argindex=1):
        s = SignAE(self.args[0] - self.args[1])
        return (1 + s) / 2 if argindex == 1 else (1 - s) / 2

    def _eval_evalf(self, prec):
        a, b = (x.evalf(prec) for x in self.args)
        return self.func(a, b) if _num(a) and _num(b) else None

    def _sympystr(self, printer):
        return f"max({printer._print(self.args[0])}, {printer._print(self.args[1])})"


class MinAE(sp.Function):
    """min(a, b); d/da = (1 - sign(a - b))/2, d/db = (1 + sign(a - b))/2."""

    nargs = 2
    is_real = True

    @classmethod
    def eval(cls, a, b):
        if _num(a) and _num(b):
            return sp.nan if (a is sp.nan or b is sp.nan) else (a if a <= b else b)

    def fdiff(self, argindex=1):
        s = SignAE(self.args[0] - self.args[1])
        return (1 - s) / 2 if argindex == 1 else (1 + s) / 2

    def _eval_evalf(self, prec):
        a, b = (x.evalf(prec) for x in self.args)
        return self.func(a, b) if _num(a) and _num(b) else None

    def _sympystr(self, printer):
        return f"min({printer._print(self.args[0])}, {printer._print(self.args[1])})"


def max_ae(*args):
    """max of two or more arguments, folded left into :class:`MaxAE`."""
    out = args[0]
    for a in args[1:]:
        out = MaxAE(out, a)
    return out


def min_ae(*args):
    """min of two or more arguments, folded left into :class:`MinAE`."""
    out = args[0]
    for a in args[1:]:
        out = MinAE(out, a)
    return out


def _heaviside(z, *_):
    return (1 + SignAE(z)) / 2  # sympy's Heaviside(0) = 1/2 as well


_REWRITE = {sp.Abs: AbsAE, sp.sign: SignAE, sp.Max: max_ae, sp.Min: min_ae, sp.Heaviside: _heaviside}


def canonical(expr):
    """``expr`` with sympy's Abs, sign, Max, Min and Heaviside replaced by the
    a.e.-differentiable classes of this module (bottom-up, no evaluation of
    anything but the replaced nodes)."""
    if not any(expr.has(f) for f in _REWRITE):
        return expr
    memo: dict = {}

    def walk(e):
        if e in memo:
            return memo[e]
        if not e.args:
            out = e
        else:
            args = [walk(a) for a in e.args]
            rule = _REWRITE.get(type(e))
            out = rule(*args) if rule is not None else (e.func(*args) if args != list(e.args) else e)
        memo[e] = out
        return out

    return walk(expr)


# ------------------------------------------------------------------ compiled helpers
@jit
def sign_nb(z):
    """sign(z): -1, 0 or 1 (the sign of zero kept), NaN for NaN."""
    if z > 0.0:
        return 1.0
    if z < 0.0:
        return -1.0
    return z


@jit
def max_nb(a, b):
    """max(a, b), NaN when either is NaN."""
    if a >= b:
        return a
    if b > a:
        return b
    return a + b


@jit
def min_nb(a, b):
    """min(a, b), NaN when either is NaN."""
    if a <= b:
        return a
    if b < a:
        return b
    return a + b
