"""Symbolic objectives: a safe formula parser and sympy -> cached Numba code.

The parser walks Python's ``ast`` of the formula and builds the sympy
expression node by node from a whitelist: numbers, the variables, ``t``, named
parameters, ``+ - * / **``, and the functions in :data:`FUNCTIONS`. Attribute
access, subscripts, comprehensions, lambdas, keyword arguments, dunder names
and calls of anything else are rejected; nothing the user typed is evaluated.

Gradients and Hessians are differentiated exactly by sympy, simplified by
common-subexpression elimination, printed as plain ``math`` code into a file
in adadyn's cache directory named by the hash of its source, and compiled with
``cache=True``: an expression compiled once loads from disk in later
processes (``njit`` on ``lambdify`` or ``exec`` output cannot be cached).
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from adadyn.objectives.base import recorded

FUNCTIONS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log,
    "sqrt": sp.sqrt, "abs": sp.Abs, "Abs": sp.Abs, "tanh": sp.tanh, "sinh": sp.sinh,
    "cosh": sp.cosh, "atan": sp.atan, "asin": sp.asin, "acos": sp.acos,
    "log1p": lambda z: sp.log(1 + z), "sigmoid": lambda z: 1 / (1 + sp.exp(-z)),
    "softplus": lambda z: sp.log(1 + sp.exp(z)),
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}
_VAR = re.compile(r"^x(\d+)$")
_MAX_LEN = 20_000


class ExpressionError(ValueError):
    """A formula that the safe parser refuses, with the reason."""


def _reject(node, why):
    col = getattr(node, "col_offset", None)
    where = f" at column {col}" if col is not None else ""
    raise ExpressionError(f"cannot use {why}{where}; allowed: numbers, variables, t, "
                          f"+ - * / **, and the functions {sorted(FUNCTIONS)}")


def parse_expr(text: str, variables=None, params=None):
    """Parse ``text`` into ``(expr, symbols, t_symbol)`` without evaluating it.

    Parameters
    ----------
    text : str
        Formula in Python syntax, e.g. ``"1 - cos(x1**2 + x2**2)"``.
    variables : sequence of str, optional
        Names of the coordinates in order. By default the variables are
        ``x1 ... xd`` (d the largest index used) or a single ``x``.
    params : dict of str -> float, optional
        Named constants substituted into the formula.

    Raises
    ------
    ExpressionError
        For any construct outside the whitelist, unknown names, or bad syntax.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > _MAX_LEN:
        raise ExpressionError(f"expression longer than {_MAX_LEN} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in expression: {exc.msg}") from None
    params = dict(params or {})
    for k, v in params.items():
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise ExpressionError(f"bad parameter name {k!r}")
        if not isinstance(v, (int, float)) or v != v:
            raise ExpressionError(f"parameter {k!r} must be a real number, got {v!r}")

    for node in ast.walk(tree):  # dunders anywhere are refused outright, before anything else
        ident = getattr(node, "id", None) or getattr(node, "attr", None)
        if isinstance(ident, str) and ident.startswith("__"):
            _reject(node, f"the dunder name {ident!r}")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if variables is None:
        idx = sorted(int(_VAR.match(n).group(1)) for n in names if _VAR.match(n))
        if idx:
            if idx[0] < 1:
                raise ExpressionError("variables are numbered from x1")
            variables = [f"x{i}" for i in range(1, idx[-1] + 1)]
        elif "x" in names:
            variables = ["x"]
        else:
            variables = []  # the build below rejects bad constructs first, then "no variables"

    variables = list(variables)
    for v in variables:
        if not isinstance(v, str) or not v.isidentifier() or v.startswith("_") or v in FUNCTIONS:
            raise ExpressionError(f"bad variable name {v!r}")
    syms = {v: sp.Symbol(v, real=True) for v in variables}
    tsym = sp.Symbol("t", real=True)
    used_t = [False]

    def build(node):
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                _reject(node, f"the constant {node.value!r}")
            return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
        if isinstance(node, ast.Name):
            n = node.id
            if n.startswith("__"):
                _reject(node, f"the dunder name {n!r}")
            if n in syms:
                return syms[n]
            if n in params:
                return sp.Float(params[n])
            if n == "t":
                used_t[0] = True
                return tsym
            if n in CONSTANTS:
                return CONSTANTS[n]
            _reject(node, f"the unknown name {n!r}")
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                   ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
                   ast.Pow: lambda a, b: a ** b}
            op = ops.get(type(node.op))
            if op is None:
                _reject(node, f"the operator {type(node.op).__name__}")
            return op(build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return build(node.operand)
            _reject(node, f"the operator {type(node.op).__name__}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                _reject(node, "calls of anything but a whitelisted function name")
            fname = node.func.id
            if fname not in FUNCTIONS:
                _reject(node, f"a call to the unknown function {fname!r}")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                _reject(node, "keyword or starred arguments")
            if len(node.args) != 1:
                _reject(node, f"{fname} with {len(node.args)} arguments (takes 1)")
            return FUNCTIONS[fname](build(node.args[0]))
        if isinstance(node, ast.Attribute):
            _reject(node, "attribute access")
        _reject(node, f"a {type(node).__name__} expression")

    expr = build(tree)
    if not variables:
        raise ExpressionError("no variables found: use x1, x2, ... (or pass variables=)")
    return expr, [syms[v] for v in variables], (tsym if used_t[0] else None)


# ------------------------------------------------------------------ code generation
class _Printer(PythonCodePrinter):
    def _print_Integer(self, e):  # float constants: Numba lowers int zeros badly
        return f"{float(e.p)!r}"

    def _print_Rational(self, e):
        return f"({float(e.p)!r}/{float(e.q)!r})"

    def _print_Pow(self, e, rational=False):
        if e.exp == sp.Rational(1, 2):
            return f"math.sqrt({self._print(e.base)})"
        if e.exp.is_Integer and abs(int(e.exp)) <= 4:
            b = self.parenthesize(e.base, 100)
            n = abs(int(e.exp))
            body = "*".join([b] * n) if n else "1.0"
            return f"(1.0/({body}))" if e.exp < 0 else f"({body})"
        return super()._print_Pow(e, rational=rational)

    def _print_sign(self, e):
        a = self._print(e.args[0])
        return f"(0.0 if {a} == 0.0 else math.copysign(1.0, {a}))"


def _cache_dir() -> Path:
    for base in (os.environ.get("ADADYN_CACHE_DIR"), os.environ.get("NUMBA_CACHE_DIR")):
        if base:
            p = Path(base) / "adadyn_generated"
            break
    else:
        p = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "adadyn" / "generated"
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".write_probe"
        probe.write_text("")
        probe.unlink()
        return p
    except OSError:
        q = Path(tempfile.gettempdir()) / f"adadyn_generated_{os.getuid() if hasattr(os, 'getuid') else 0}"
        q.mkdir(parents=True, exist_ok=True)
        return q


def generate_source(expr, symbols, time_symbol=None) -> str:
    """Python source of ``value_grad`` and ``hessian`` for ``expr`` (exact, with CSE)."""
    d = len(symbols)
    xs = [sp.Symbol(f"_x{i}", real=True) for i in range(d)]
    tt = sp.Symbol("t", real=True)
    sub = dict(zip(symbols, xs))
    if time_symbol is not None:
        sub[time_symbol] = tt
    e = sp.sympify(expr).xreplace(sub)
    grads = [sp.diff(e, xi) for xi in xs]
    hess = [[sp.diff(grads[i], xs[j]) if j >= i else None for j in range(d)] for i in range(d)]
    pr = _Printer({"fully_qualified_modules": True})
    unpack = "".join(f"    _x{i} = x[{i}]\n" for i in range(d))

    def body(outputs):
        reps, red = sp.cse(outputs, symbols=sp.numbered_symbols("_c"), optimizations="basic")
        lines = [f"    {pr.doprint(s)} = {pr.doprint(v)}\n" for s, v in reps]
        return "".join(lines), [pr.doprint(r) for r in red]

    pre, out = body([e] + grads)
    vg = (
        "@jit(VALUE_GRAD_SIG)\ndef value_grad(x, t, data, g):\n" + unpack + pre
        + "".join(f"    g[{i}] = {out[1 + i]}\n" for i in range(d)) + f"    return {out[0]}\n"
    )
    flat = [(i, j, hess[i][j]) for i in range(d) for j in range(i, d)]
    pre_h, out_h = body([h for _, _, h in flat])
    hs = "@jit(HESSIAN_SIG)\ndef hessian(x, t, data, H):\n" + unpack + pre_h
    for (i, j, _), s in zip(flat, out_h):
        hs += f"    H[{i}, {j}] = {s}\n" + (f"    H[{j}, {i}] = H[{i}, {j}]\n" if i != j else "")
    hs += "    return None\n"
    return ("# generated by adadyn.objectives.symbolic; do not edit\nimport math\n"
            "from adadyn._jit import jit, VALUE_GRAD_SIG, HESSIAN_SIG\n\n\n" + vg + "\n\n" + hs)


def compile_source(src: str):
    """Write generated source under its hash and import it (cached by Numba)."""
    key = hashlib.sha256(src.encode()).hexdigest()[:20]
    modname = f"adadyn_sym_{key}"
    if modname in sys.modules:
        return sys.modules[modname]
    path = _cache_dir() / f"{modname}.py"
    if not path.exists() or path.read_text() != src:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(src)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


@recorded
def objective_from_sympy(expr, symbols=None, *, time_symbol=None, name=None, **kw):
    """See :meth:`adadyn.Objective.from_sympy`."""
    from adadyn.objectives.base import Objective

    expr = sp.sympify(expr) if not isinstance(expr, sp.Basic) else expr
    if symbols is None:
        free = [s for s in expr.free_symbols if s != time_symbol]
        symbols = sorted(free, key=lambda s: (len(s.name), s.name))
    symbols = list(symbols)
    if not symbols:
        raise ValueError("the expression has no variables")
    extra = expr.free_symbols - set(symbols) - ({time_symbol} if time_symbol is not None else set())
    if extra:
        raise ValueError(f"unbound symbols in expression: {sorted(map(str, extra))}")
    mod = compile_source(generate_source(expr, symbols, time_symbol))
    return Objective(len(symbols), mod.value_grad, mod.hessian, None, name=name or str(expr),
                     expr=expr, symbols=tuple(symbols),
                     time_dependent=kw.pop("time_dependent", time_symbol is not None), **kw)


@recorded
def objective_from_text(text, variables=None, params=None, *, name=None, **kw):
    """See :meth:`adadyn.Objective.from_expr`."""
    expr, syms, tsym = parse_expr(text, variables, params)
    return objective_from_sympy(expr, syms, time_symbol=tsym, name=name or text.strip(), **kw)
