"""The safe formula parser and the checks every symbolic expression passes.

Text is never evaluated: :func:`parse_expr` walks Python's ``ast`` of the
formula and builds the sympy expression node by node from a whitelist (numbers,
the variables, ``t``, named parameters, ``+ - * / **`` and :data:`FUNCTIONS`).
Every cost is bounded before sympy sees anything (see ``docs/formulas.md``):

* the text length (:data:`MAX_LENGTH`), the number of AST nodes
  (:data:`MAX_NODES`) and the nesting depth (:data:`MAX_DEPTH`; chains of
  ``+ -`` and of ``* /`` are flattened, so a sum of 1000 terms is depth 1);
* the dimension (:data:`MAX_DIM`): ``x99999999999999999999`` is refused from its
  digit count, before any list of variables is made;
* exact constants (:data:`MAX_EXACT`): numerators and denominators of integers
  and fractions, literal or computed, e.g. ``10**400`` or ``9**9**9**9``, are
  refused from a logarithmic estimate before sympy computes them exactly;
* numeric exponents of a base that depends on x (:data:`MAX_EXPONENT`);
* constant sub-expressions are evaluated in float64 and must be finite reals:
  ``sqrt(-1)``, ``log(-1)``, ``acos(2)``, ``1/0``, ``exp(1000)`` are refused.

A formula that is merely undefined at some points (``log(x1)`` at x1 <= 0)
is accepted and evaluates to NaN or inf there. :func:`check_expression`
applies the same rules to sympy expressions given to
:meth:`adadyn.Objective.from_sympy`. All refusals raise :class:`ExpressionError`,
a ``ValueError`` that names the problem and the limit.
"""
from __future__ import annotations

import ast
import math

import sympy as sp

from adadyn.objectives.nonsmooth import AbsAE, MaxAE, MinAE, SignAE, canonical, max_ae, min_ae

__all__ = ["ExpressionError", "parse_expr", "check_expression", "FUNCTIONS", "CONSTANTS",
           "MAX_DIM", "MAX_LENGTH", "MAX_NODES", "MAX_DEPTH", "MAX_EXACT", "MAX_EXPONENT"]

#: Largest dimension of a symbolic objective (highest variable index ``x1000``).
MAX_DIM = 1000
#: Longest formula text, in characters.
MAX_LENGTH = 20_000
#: Most expression nodes in a formula (numbers, names, operators, calls).
MAX_NODES = 10_000
#: Deepest nesting of a formula (parentheses, calls, powers, unary signs).
MAX_DEPTH = 40
#: Largest numerator or denominator of an exact constant, literal or computed.
MAX_EXACT = 10 ** 300
#: Largest |p| of a numeric exponent in ``base**p`` when the base depends on x.
MAX_EXPONENT = 1000

_LOG10_MAX_EXACT = 300.0
_LOG10_MAX_FLOAT = math.log10(1.7976931348623157e308)

FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log,
    "sqrt": sp.sqrt, "abs": AbsAE, "Abs": AbsAE, "sign": SignAE, "tanh": sp.tanh,
    "sinh": sp.sinh, "cosh": sp.cosh, "atan": sp.atan, "asin": sp.asin, "acos": sp.acos,
    "log1p": lambda z: sp.log(1 + z), "sigmoid": lambda z: 1 / (1 + sp.exp(-z)),
    "softplus": lambda z: sp.log(1 + sp.exp(z)), "max": max_ae, "min": min_ae,
}
_VARIADIC = {"max", "min"}  # two or more arguments; every other function takes one
CONSTANTS = {"pi": sp.pi, "E": sp.E}


class ExpressionError(ValueError):
    """A formula or sympy expression that adadyn refuses, with the reason."""


def _where(node) -> str:
    col = getattr(node, "col_offset", None)
    return f" at column {col}" if col is not None else ""


def _reject(node, why):
    raise ExpressionError(f"cannot use {why}{_where(node)}; allowed: numbers, variables, t, "
                          f"+ - * / **, and the functions {sorted(FUNCTIONS)}")


def _short(e, n: int = 60) -> str:
    s = str(e)
    return s if len(s) <= n else s[: n - 3] + "..."


# ------------------------------------------------------------------ exact-number limits
def _log10_abs(z) -> float:
    """log10 |z| of a finite sympy number without big arithmetic (-inf for 0)."""
    if isinstance(z, sp.Rational):
        p, q = abs(int(z.p)), int(z.q)
        return math.log10(p) - math.log10(q) if p else -math.inf  # math.log10 takes big ints
    v = abs(float(z))
    return math.log10(v) if v > 0 else (-math.inf if v == 0 else math.inf)


def _check_exact(z, what: str = "constant") -> None:
    if isinstance(z, sp.Rational) and (abs(int(z.p)) > MAX_EXACT or int(z.q) > MAX_EXACT):
        part = "numerator" if abs(int(z.p)) > MAX_EXACT else "denominator"
        digits = int(math.log10(abs(int(z.p if part == "numerator" else z.q)))) + 1
        raise ExpressionError(f"the exact {what} has a {part} of {digits} digits; exact constants "
                              f"are limited to 1e300 (MAX_EXACT) in numerator and denominator")
    if isinstance(z, sp.Float) and not math.isfinite(float(z)):
        raise ExpressionError(f"the {what} {_short(z)} is beyond the float64 range")


def _safe_pow(base, exp, node=None):
    """``base ** exp`` after bounding the size of what sympy would compute exactly."""
    if isinstance(exp, sp.Number) and exp.is_finite:
        if isinstance(base, sp.Number) and base.is_finite:
            lb = _log10_abs(base)
            if lb not in (0.0, -math.inf):
                est = abs(float(exp)) * abs(lb)
                if est > _LOG10_MAX_EXACT:
                    raise ExpressionError(
                        f"the constant {_short(base)}**{_short(exp)}{_where(node)} would have about "
                        f"{est:.3g} decimal digits; exact constants are limited to 1e300 (MAX_EXACT)")
        elif base.free_symbols and abs(float(exp)) > MAX_EXPONENT:
            raise ExpressionError(f"the exponent {_short(exp)}{_where(node)} exceeds {MAX_EXPONENT} "
                                  f"(MAX_EXPONENT) in magnitude for a base that depends on x")
    return base ** exp


# ------------------------------------------------------------------ float evaluation of constants
_FLOAT_FUNCS = {
    sp.sin: math.sin, sp.cos: math.cos, sp.tan: math.tan, sp.exp: math.exp, sp.log: math.log,
    sp.tanh: math.tanh, sp.sinh: math.sinh, sp.cosh: math.cosh, sp.atan: math.atan,
    sp.asin: math.asin, sp.acos: math.acos, AbsAE: abs, sp.Abs: abs,
    SignAE: lambda z: (z > 0) - (z < 0) if z == z else z, sp.sign: lambda z: (z > 0) - (z < 0),
    MaxAE: max, MinAE: min, sp.Max: max, sp.Min: min, sp.Heaviside: lambda z, *_: (1 + (z > 0) - (z < 0)) / 2,
}


def _float_value(e, memo: dict) -> float:
    """float64 value of a constant sympy expression; raises ExpressionError when it
    is not a finite real number (evaluated on the principal branch)."""
    if e in memo:
        return memo[e]
    try:
        if isinstance(e, sp.Rational):
            v = int(e.p) / int(e.q)
        elif isinstance(e, sp.Float):
            v = float(e)
        elif isinstance(e, sp.NumberSymbol):
            v = float(e.evalf(20))
        else:
            args = [_float_value(a, memo) for a in e.args]
            if isinstance(e, sp.Add):
                v = math.fsum(args)
            elif isinstance(e, sp.Mul):
                v = math.prod(args)
            elif isinstance(e, sp.Pow):
                v = math.pow(args[0], args[1])
            elif e.func in _FLOAT_FUNCS:
                v = float(_FLOAT_FUNCS[e.func](*args))
            else:
                raise ExpressionError(f"cannot evaluate the constant {_short(e)}")
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        if isinstance(exc, ExpressionError):
            raise
        v = math.nan
    if not math.isfinite(v):
        raise ExpressionError(f"the constant sub-expression {_short(e)} is not a finite real number "
                              "(e.g. sqrt(-1), log(0), acos(2), exp(1000)); constants must be real and "
                              "finite in float64")
    memo[e] = v
    return v


# ------------------------------------------------------------------ sympy expressions
_ALLOWED = (sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Rational, sp.Float, sp.NumberSymbol)


def check_expression(expr, symbols, time_symbol=None):
    """Check a sympy expression against the limits and whitelist of the parser and
    return it with Abs/sign/Max/Min/Heaviside in their a.e.-differentiable form
    (:func:`adadyn.objectives.nonsmooth.canonical`).

    Raises
    ------
    ExpressionError
        For a node outside the whitelist (I, oo, nan, Derivative, Piecewise,
        undefined functions, ...), a symbol not in ``symbols``/``time_symbol``,
        more than ``2 * MAX_NODES`` distinct nodes, a tree deeper than
        ``2 * MAX_DEPTH``, an exact constant above :data:`MAX_EXACT`, a numeric
        exponent above :data:`MAX_EXPONENT` on a base depending on the
        variables, or a constant sub-expression that is not a finite real.
    """
    if len(symbols) > MAX_DIM:
        raise ExpressionError(f"{len(symbols)} variables exceed the maximum dimension {MAX_DIM} (MAX_DIM)")
    bound = set(symbols) | ({time_symbol} if time_symbol is not None else set())
    allowed_funcs = tuple(f for f in _FLOAT_FUNCS if isinstance(f, type))
    depth: dict = {}
    stack = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if done:
            depth[e] = 1 + max((depth[a] for a in e.args), default=0)
            if depth[e] > 2 * MAX_DEPTH:
                raise ExpressionError(f"the expression is nested deeper than {2 * MAX_DEPTH} "
                                      f"(2 * MAX_DEPTH) levels")
            continue
        if e in depth:
            continue
        if not isinstance(e, _ALLOWED) and not isinstance(e, allowed_funcs):
            if e.has(sp.I):
                raise ExpressionError(f"the expression is not real: {_short(e)} contains I "
                                      "(e.g. from sqrt(-1) or log(-1))")
            if e in (sp.zoo, sp.nan, sp.oo, -sp.oo):
                raise ExpressionError(f"the expression contains the non-finite constant {e} (e.g. from 1/0 "
                                      "or log(0)); constants must be finite")
            raise ExpressionError(f"cannot use {type(e).__name__} ({_short(e)}) in an objective; allowed: "
                                  "numbers, symbols, + - * / **, and the functions "
                                  f"{sorted({f.__name__ for f in allowed_funcs})}")
        if isinstance(e, sp.Symbol) and e not in bound:
            raise ExpressionError(f"unbound symbol {e.name!r} (not among the variables or the time symbol)")
        _check_exact(e)
        if isinstance(e, sp.Pow) and isinstance(e.exp, sp.Number) and e.base.free_symbols \
                and abs(float(e.exp)) > MAX_EXPONENT:
            raise ExpressionError(f"the exponent {_short(e.exp)} exceeds {MAX_EXPONENT} (MAX_EXPONENT) in "
                                  "magnitude for a base that depends on the variables")
        depth[e] = None  # placeholder: visited
        if len(depth) > 2 * MAX_NODES:
            raise ExpressionError(f"the expression has more than {2 * MAX_NODES} distinct nodes "
                                  f"(2 * MAX_NODES)")
        stack.append((e, True))
        stack.extend((a, False) for a in e.args if a not in depth)
    memo: dict = {}
    for e in depth:  # maximal and nested constant sub-expressions, memoised
        if e.args and not e.free_symbols:
            _float_value(e, memo)
    return canonical(expr)


# ------------------------------------------------------------------ text
def _check_params(params) -> dict:
    params = dict(params or {})
    for k, v in params.items():
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise ExpressionError(f"bad parameter name {k!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ExpressionError(f"parameter {k!r} must be a finite real number, got {v!r}")
    return params


def _variables(tree, variables):
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if variables is None:
        top = 0
        for n in names:
            if n.startswith("x") and n[1:].isdigit():
                digits = n[1:]
                if digits.startswith("0"):
                    raise ExpressionError(f"bad variable name {n!r}: variables are x1, x2, ... (numbered "
                                          "from 1, no leading zeros)")
                if len(digits) > len(str(MAX_DIM)) or int(digits) > MAX_DIM:
                    raise ExpressionError(f"variable {n[:24]!r} exceeds the maximum dimension {MAX_DIM} "
                                          "(MAX_DIM); variables are x1 ... x1000")
                top = max(top, int(digits))
        if top:
            return [f"x{i}" for i in range(1, top + 1)]
        return ["x"] if "x" in names else []
    if isinstance(variables, str):
        raise ExpressionError("variables must be a sequence of names, not one string")
    variables = list(variables)
    if len(variables) > MAX_DIM:
        raise ExpressionError(f"{len(variables)} variables exceed the maximum dimension {MAX_DIM} (MAX_DIM)")
    for v in variables:
        if not isinstance(v, str) or not v.isidentifier() or v.startswith("_") or v in FUNCTIONS \
                or v in CONSTANTS or v == "t":
            raise ExpressionError(f"bad variable name {v!r}")
    if len(set(variables)) != len(variables):
        raise ExpressionError("variable names must be distinct")
    return variables


def parse_expr(text: str, variables=None, params=None):
    """Parse ``text`` into ``(expr, symbols, t_symbol)`` without evaluating it.

    Parameters
    ----------
    text : str
        Formula in Python syntax, e.g. ``"1 - cos(x1**2 + x2**2)"``; at most
        :data:`MAX_LENGTH` characters, :data:`MAX_NODES` nodes, nesting depth
        :data:`MAX_DEPTH`.
    variables : sequence of str, optional
        Names of the coordinates in order (at most :data:`MAX_DIM`). By default
        the variables are ``x1 ... xd`` (d the largest index used, at most
        :data:`MAX_DIM`) or a single ``x``.
    params : dict of str -> float, optional
        Named finite constants substituted into the formula.

    Returns
    -------
    expr : sympy.Expr
        abs/sign/max/min appear as the a.e.-differentiable classes of
        :mod:`adadyn.objectives.nonsmooth`.
    symbols : list of sympy.Symbol
        Real symbols, in coordinate order.
    t_symbol : sympy.Symbol or None
        The step index ``t`` when the formula uses it.

    Raises
    ------
    ExpressionError
        For any construct outside the whitelist, unknown names, bad syntax, or
        a limit exceeded (the message names the limit).
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters (MAX_LENGTH)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in expression: {exc.msg}") from None
    except (MemoryError, RecursionError):  # the C parser's own stack limit on deep nesting
        raise ExpressionError("expression too deeply nested, or an operator chain too long, for Python's "
                              f"parser (nesting limit {MAX_DEPTH}, MAX_DEPTH; split long sums with "
                              "parentheses)") from None
    params = _check_params(params)
    count = 0
    for node in ast.walk(tree):  # dunders anywhere are refused outright, before anything else
        ident = getattr(node, "id", None) or getattr(node, "attr", None)
        if isinstance(ident, str) and ident.startswith("__"):
            _reject(node, f"the dunder name {ident!r}")
        count += isinstance(node, ast.expr)
        if count > MAX_NODES:
            raise ExpressionError(f"expression has more than {MAX_NODES} nodes (MAX_NODES)")
    variables = _variables(tree, variables)
    syms = {v: sp.Symbol(v, real=True) for v in variables}
    tsym = sp.Symbol("t", real=True)
    used_t = [False]
    memo: dict = {}

    def located(e, node):
        """Check a call's or power's result, naming the source text when it is refused."""
        if isinstance(e, sp.Number):
            _check_exact(e)
        if e.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo) or not e.free_symbols:
            seg = _short(ast.get_source_segment(text.strip(), node) or "")
            try:
                if e.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo):
                    raise ExpressionError(f"evaluates to {_short(e)}")
                _float_value(e, memo)
            except ExpressionError as exc:
                raise ExpressionError(f"{seg!r}{_where(node)} is not a finite real number ({exc}); "
                                      "constant sub-expressions must be finite and real") from None
        return e

    def coefficient_ok(e):
        _check_exact(e.as_coeff_Mul()[0] if isinstance(e, sp.Mul) else e)
        return e

    def chain(node, ops):
        """Operands of a left-deep chain of the operators ``ops`` (flattened, no recursion)."""
        items = []
        while isinstance(node, ast.BinOp) and type(node.op) in ops:
            items.append((type(node.op), node.right))
            node = node.left
        items.append((None, node))
        return items[::-1]

    def build(node, depth):
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels (MAX_DEPTH){_where(node)}")
        if isinstance(node, ast.Expression):
            return build(node.body, depth)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                _reject(node, f"the constant {_short(repr(v))}")
            if isinstance(v, int) and abs(v) > MAX_EXACT:
                raise ExpressionError(f"the integer literal{_where(node)} has {len(str(v))} digits; exact "
                                      "constants are limited to 1e300 (MAX_EXACT)")
            if isinstance(v, float) and not math.isfinite(v):
                raise ExpressionError(f"the number literal{_where(node)} is beyond the float64 range")
            return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
        if isinstance(node, ast.Name):
            n = node.id
            if n in syms:
                return syms[n]
            if n in params:
                return sp.Float(params[n])
            if n == "t":
                used_t[0] = True
                return tsym
            if n in CONSTANTS:
                return CONSTANTS[n]
            _reject(node, f"the unknown name {_short(n, 40)!r}")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                terms = [(build(n, depth + 1), op) for op, n in chain(node, (ast.Add, ast.Sub))]
                out = sp.Add(*[-e if op is ast.Sub else e for e, op in terms])
                coefficient_ok(out.as_coeff_Add()[0] if isinstance(out, sp.Add) else out)
                return out
            if isinstance(node.op, (ast.Mult, ast.Div)):
                out = None
                for op, n in chain(node, (ast.Mult, ast.Div)):
                    e = build(n, depth + 1)
                    try:
                        out = e if out is None else (out * e if op is ast.Mult else out / e)
                    except ZeroDivisionError:   # sympy's Float / Float(0) (an exact 0 gives zoo)
                        seg = _short(ast.get_source_segment(text.strip(), node) or "")
                        raise ExpressionError(f"{seg!r}{_where(node)} divides by zero; constant "
                                              "sub-expressions must be finite and real") from None
                    coefficient_ok(out)
                return located(out, node) if out.has(sp.zoo, sp.nan) else out
            if isinstance(node.op, ast.Pow):
                return located(_safe_pow(build(node.left, depth + 1), build(node.right, depth + 1), node), node)
            _reject(node, f"the operator {type(node.op).__name__}")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return coefficient_ok(-build(node.operand, depth + 1))
            if isinstance(node.op, ast.UAdd):
                return build(node.operand, depth + 1)
            _reject(node, f"the operator {type(node.op).__name__}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                _reject(node, "calls of anything but a whitelisted function name")
            fname = node.func.id
            if fname not in FUNCTIONS:
                _reject(node, f"a call to the unknown function {_short(fname, 40)!r}")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                _reject(node, "keyword or starred arguments")
            n = len(node.args)
            if fname in _VARIADIC and n < 2:
                _reject(node, f"{fname} with {n} arguments (takes 2 or more)")
            if fname not in _VARIADIC and n != 1:
                _reject(node, f"{fname} with {n} arguments (takes 1)")
            return located(FUNCTIONS[fname](*[build(a, depth + 1) for a in node.args]), node)
        if isinstance(node, ast.Attribute):
            _reject(node, "attribute access")
        _reject(node, f"a {type(node).__name__} expression")

    expr = build(tree, 0)
    if not variables:
        raise ExpressionError("no variables found: use x1, x2, ... (or pass variables=)")
    symbols = [syms[v] for v in variables]
    tsym = tsym if used_t[0] else None
    return check_expression(expr, symbols, tsym), symbols, tsym
