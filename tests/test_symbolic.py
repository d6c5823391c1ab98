"""Symbolic objectives: no text is executed, every cost is bounded, every whitelisted
function has a working value, gradient and Hessian, the Hessian is sparse and lazy,
and from_numba checks the shapes of what user functions return."""
import ast
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from numba import njit

import adadyn as ad
from adadyn.objectives import symbolic
from adadyn.objectives.hessian import hessian_at
from adadyn.objectives.parser import (
    FUNCTIONS, MAX_DEPTH, MAX_DIM, MAX_LENGTH, MAX_NODES, ExpressionError, parse_expr,
)

PACKAGE = Path(ad.__file__).parent


# ------------------------------------------------------------------ 1. no text is executed
def _payload(marker: Path) -> str:
    return f'__import__("os").system("touch {marker}")'


def test_from_sympy_refuses_strings_and_runs_nothing(tmp_path):
    marker = tmp_path / "PWNED"
    code = _payload(marker)
    x = sp.Symbol("x", real=True)

    class Sneaky:  # sympify would fall back to parsing str(obj)
        def __str__(self):
            return code

    calls = [
        lambda: ad.Objective.from_sympy(code),
        lambda: ad.Objective.from_sympy(Sneaky()),
        lambda: ad.Objective.from_sympy(x**2, [code]),
        lambda: ad.Objective.from_sympy(x**2, [x], time_symbol=code),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="from_expr|Symbol|sympy expression"):
            call()
    for call in (lambda: ad.Objective.from_expr(code), lambda: parse_expr(code),
                 lambda: ad.Objective.from_expr("x1 + c", params={code: 1.0}),
                 lambda: ad.Objective.from_expr("x1", variables=[code])):
        with pytest.raises(ExpressionError):
            call()
    assert not marker.exists()


def test_cli_refuses_code_in_formulas(tmp_path, capsys):
    from adadyn.cli import main

    marker = tmp_path / "PWNED"
    for expr in (_payload(marker), "x99999999999999999999", "9**9**9**9 * x1", "sqrt(-1) + x1"):
        try:
            rc = main(["run", "--objective", "expr", "--expr", expr, "--steps", "3"])
        except SystemExit as exc:
            rc = exc.code
        assert rc == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not marker.exists()


_EVALUATORS = {"sympify", "lambdify", "parse_expr", "S", "exec_module", "parse_expr_from_string"}
_BUILTINS = {"eval", "exec", "compile", "__import__"}  # as bare names (re.compile is harmless)


def test_audit_no_text_reaches_sympify_eval_or_exec():
    """Every call in the package of a function that can run text: only our own safe
    parser (``parse_expr`` from adadyn.objectives.parser) and the execution of the
    generated, verified module (``compile`` and ``exec`` in objectives/gencache.py) remain."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sympy.parsing"):
                found.add((path.name, "import sympy.parsing"))
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else (f.attr if isinstance(f, ast.Attribute) else None)
                if name in _EVALUATORS or (isinstance(f, ast.Name) and name in _BUILTINS):
                    found.add((path.relative_to(PACKAGE).as_posix(), name))
    assert found == {("objectives/symbolic.py", "parse_expr"), ("objectives/gencache.py", "compile"),
                     ("objectives/gencache.py", "exec")}
    src = (PACKAGE / "objectives" / "symbolic.py").read_text()
    assert "from adadyn.objectives.parser import" in src and "import sympy.parsing" not in src


# ------------------------------------------------------------------ 2. bounded cost
@pytest.mark.parametrize("text,match", [
    ("x99999999999999999999", "MAX_DIM"),
    (f"x1 + x{MAX_DIM + 1}", "MAX_DIM"),
    ("x01 + x1", "leading zeros"),
    ("9**9**9**9 * x1", "MAX_EXACT"),
    ("10**400*x1", "MAX_EXACT"),
    ("10**(-400)*x1", "MAX_EXACT"),
    ("1" + "0" * 400 + "*x1", "MAX_EXACT"),
    ("(10**200)*(10**200)*x1", "MAX_EXACT"),
    ("2.0**5000*x1", "MAX_EXACT"),
    ("1e400*x1", "float64"),
    ("(2*x1)**(10**300)", "MAX_EXPONENT"),
    ("x1**1e6", "MAX_EXPONENT"),
    ("sin(" * (MAX_DEPTH + 1) + "x1" + ")" * (MAX_DEPTH + 1), "MAX_DEPTH"),
    ("-" * 5000 + "x1", "MAX_DEPTH"),
    ("x1**" * 60 + "2", "MAX_DEPTH"),
    ("x1+" * (MAX_LENGTH // 3 + 1) + "x1", "MAX_LENGTH"),
    ("+".join("(" + "+".join(["1"] * 500) + ")" for _ in range(MAX_NODES // 1000 + 1)) + "+x1", "MAX_NODES"),
    ("+".join(["x1"] * 5000), "MAX_DEPTH"),  # beyond CPython's own parser: refused, not a crash
    ("sqrt(-1) * x1", "not a finite real"),
    ("log(-1) + x1", "not a finite real"),
    ("acos(2) * x1", "not a finite real"),
    ("x1 + log(0)", "not a finite real"),
    ("x1 / 0", "not a finite real|non-finite"),
    ("x1 + exp(1000)", "not a finite real"),
    ("sqrt(-x1**2)", "not a finite real|not real"),
    ("(-8)**(1/3) * x1", "not a finite real"),
])
def test_costly_or_unreal_formulas_are_refused_by_the_parser(text, match):
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError, match=match):
            parse_expr(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64e6, f"{peak / 1e6:.0f} MB allocated while refusing {text[:40]!r}"
    assert issubclass(ExpressionError, ValueError)


def test_long_flat_sums_and_products_are_fine():
    """Chains of + and * are flattened (no recursion): a 1000-term sum is depth 1."""
    expr, syms, _ = parse_expr("+".join(["x1"] * 1000))
    assert expr == 1000 * syms[0]
    expr, syms, _ = parse_expr("*".join(["x1"] * 500) + "/x1")
    assert expr == syms[0] ** 499
    expr, syms, _ = parse_expr(" + ".join(f"(x{i} - {i})**2" for i in range(1, MAX_DIM + 1)))
    assert len(syms) == MAX_DIM
    expr, syms, _ = parse_expr("10**300 * x1 + 2**-900 * x2 + 1e308 * x1")
    assert len(syms) == 2


def test_from_sympy_expressions_pass_the_same_checks():
    a, b = sp.symbols("a b", real=True)
    f = sp.Function("f")
    for bad, match in [
        (sp.Integer(10) ** 400 * a, "MAX_EXACT"),
        (sp.I * a + b, "not real|contains I"),
        (sp.sqrt(-1 - a**2 - b**2) * sp.I, "contains I"),
        (a / sp.Integer(0) + b, "non-finite"),
        (sp.log(sp.Integer(-2)) * a + b, "contains I|not real"),
        (sp.acos(sp.Integer(3)) * a + b, "not a finite real"),
        (f(a) + b, "cannot use"),
        (sp.Derivative(a**3 * b, a), "cannot use"),
        (sp.Piecewise((a, a > 0), (b, True)), "cannot use"),
        (sp.DiracDelta(a) + b, "cannot use"),
        (a * b + sp.Symbol("c"), "unbound symbol"),
    ]:
        with pytest.raises(ExpressionError, match=match):
            ad.Objective.from_sympy(bad, [a, b])
    deep = a
    for _ in range(100):
        deep = sp.sin(deep) + b
    with pytest.raises(ExpressionError, match="MAX_DEPTH"):
        ad.Objective.from_sympy(deep, [a, b])
    many = sp.symbols(f"y1:{MAX_DIM + 2}")
    with pytest.raises(ExpressionError, match="MAX_DIM"):
        ad.Objective.from_sympy(sum(many), list(many))


def test_undefined_points_give_nan_and_a_run_diverges():
    obj = ad.Objective.from_expr("log(x1) + sqrt(x2)")
    assert math.isnan(obj.value([-1.0, 1.0])) and math.isnan(obj.value([1.0, -1.0]))
    assert obj.value([0.0, 1.0]) == -math.inf
    assert obj.value([math.e, 4.0]) == pytest.approx(3.0, rel=1e-15)
    np.testing.assert_allclose(obj.grad([2.0, 4.0]), [0.5, 0.25], rtol=1e-15)
    # GD with eta = 1 jumps from x = (0.5, 0.5) to negative coordinates
    tr = ad.run(ad.GD(1.0), obj, [0.5, 0.5], 10)
    assert tr.status == "diverged"


# ------------------------------------------------------------------ 3. every allowed function
_U = "(0.6*x1 - 0.3*x2 + 0.2)"  # inside (0.05, 0.68) for x in [0.2, 0.9]^2: every domain holds
_K = "(x1 - x2)"                 # the kink variable of abs/sign/max/min


def _np_sign(z):
    return float(np.sign(z))


_CASES = {  # name: (formula, NumPy/math transcription of f(x1, x2))
    "sin": (f"sin({_U})", lambda u, k, a, b: math.sin(u)),
    "cos": (f"cos({_U})", lambda u, k, a, b: math.cos(u)),
    "tan": (f"tan({_U})", lambda u, k, a, b: math.tan(u)),
    "exp": (f"exp({_U})", lambda u, k, a, b: math.exp(u)),
    "log": (f"log({_U})", lambda u, k, a, b: math.log(u)),
    "sqrt": (f"sqrt({_U})", lambda u, k, a, b: math.sqrt(u)),
    "tanh": (f"tanh({_U})", lambda u, k, a, b: math.tanh(u)),
    "sinh": (f"sinh({_U})", lambda u, k, a, b: math.sinh(u)),
    "cosh": (f"cosh({_U})", lambda u, k, a, b: math.cosh(u)),
    "atan": (f"atan({_U})", lambda u, k, a, b: math.atan(u)),
    "asin": (f"asin({_U})", lambda u, k, a, b: math.asin(u)),
    "acos": (f"acos({_U})", lambda u, k, a, b: math.acos(u)),
    "log1p": (f"log1p({_U})", lambda u, k, a, b: math.log1p(u)),
    "sigmoid": (f"sigmoid(4*{_U})", lambda u, k, a, b: 1 / (1 + math.exp(-4 * u))),
    "softplus": (f"softplus(4*{_U})", lambda u, k, a, b: math.log1p(math.exp(4 * u))),
    "abs": (f"abs({_K}) * x1**2", lambda u, k, a, b: abs(k) * a**2),
    "Abs": (f"Abs({_K})**3", lambda u, k, a, b: abs(k) ** 3),
    "sign": (f"sign({_K}) * x1**2 * x2", lambda u, k, a, b: _np_sign(k) * a**2 * b),
    "max": (f"max(x1, x2, 0.55) * x1**2", lambda u, k, a, b: max(a, b, 0.55) * a**2),
    "min": (f"min(x1**2, x2, 0.35) * x2", lambda u, k, a, b: min(a**2, b, 0.35) * b),
}


def test_every_whitelisted_function_has_a_case():
    assert set(_CASES) == set(FUNCTIONS)


def _fd_grad(obj, x, h=1e-6):
    return np.array([(obj.value(x + h * e) - obj.value(x - h * e)) / (2 * h) for e in np.eye(x.size)])


def _fd_hess(obj, x, h=1e-6):
    return np.array([(obj.grad(x + h * e) - obj.grad(x - h * e)) / (2 * h) for e in np.eye(x.size)]).T


@pytest.mark.parametrize("name", sorted(_CASES))
def test_function_value_gradient_hessian(name, rng):
    text, ref = _CASES[name]
    obj = ad.Objective.from_expr(f"{text} + 0.25*x1*x2")
    assert obj.dim == 2
    n = 0
    while n < 4:
        x = rng.uniform(0.2, 0.9, 2)
        kinks = [x[0] - x[1], x[0] - 0.55, x[1] - 0.55, x[0] ** 2 - x[1], x[0] ** 2 - 0.35, x[1] - 0.35]
        if min(abs(k) for k in kinks) < 0.02:  # away from every kink of abs/sign/max/min
            continue
        n += 1
        u, k = 0.6 * x[0] - 0.3 * x[1] + 0.2, x[0] - x[1]
        assert obj.value(x) == pytest.approx(ref(u, k, *x) + 0.25 * x[0] * x[1], rel=1e-13, abs=1e-15)
        g, H = obj.grad(x), obj.hessian(x)
        np.testing.assert_allclose(g, _fd_grad(obj, x), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(H, _fd_hess(obj, x), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(H, H.T)
        # the 30-digit sympy Hessian uses the same a.e. rules (no DiracDelta)
        Hs, acc = hessian_at(obj, x)
        assert acc.startswith("exact (sympy")
        np.testing.assert_allclose(Hs, H, rtol=1e-12, atol=1e-13)


def test_ae_derivative_conventions_at_kinks():
    """d|z|/dz = sign(z) (0 at 0), sign' = 0, max/min split 1/2-1/2 at a tie, second
    derivatives 0: the documented a.e. conventions, exactly."""
    obj = ad.Objective.from_expr("abs(x1) + max(x1, x2) + 3*min(x1, x2) + sign(x2)")
    np.testing.assert_array_equal(obj.grad([0.0, 0.0]), [0.0 + 0.5 + 1.5, 0.5 + 1.5])
    np.testing.assert_array_equal(obj.grad([-1.0, 2.0]), [-1.0 + 0.0 + 3.0, 1.0 + 0.0])
    np.testing.assert_array_equal(obj.hessian([0.0, 0.0]), np.zeros((2, 2)))
    assert obj.value([-1.0, 2.0]) == 1.0 + 2.0 - 3.0 + 1.0
    assert math.isnan(obj.value([math.nan, 0.0])) and math.isnan(obj.value([0.0, math.nan]))
    a = sp.Symbol("a", real=True)
    sym = ad.Objective.from_sympy(sp.Abs(a) ** 3 + sp.Max(a, 0) + sp.Heaviside(a) * a, [a])
    np.testing.assert_allclose(sym.grad([-2.0]), [-12.0])
    np.testing.assert_allclose(sym.grad([2.0]), [12.0 + 1.0 + 1.0])
    np.testing.assert_allclose(sym.hessian([2.0]), [[12.0]])
    assert sym.hessian([-2.0])[0, 0] == pytest.approx(12.0)


# ------------------------------------------------------------------ 4. sparse, lazy, cached
def test_hessian_is_sparse_and_compiled_on_first_use():
    d = 100
    obj = ad.Objective.from_expr(f"x1**2 + 3*x{d}**4 + x1*x2")
    assert obj.has_hessian and obj._hessian._compiled is None  # not compiled by the constructor
    x = np.linspace(-1, 1, d)
    H = obj.hessian(x)
    assert obj._hessian._compiled is not None
    ref = np.zeros((d, d))
    ref[0, 0], ref[d - 1, d - 1], ref[0, 1], ref[1, 0] = 2.0, 36 * x[-1] ** 2, 1.0, 1.0
    np.testing.assert_array_equal(H, ref)
    g = np.zeros(d)
    g[0], g[1], g[-1] = 2 * x[0] + x[1], x[0], 12 * x[-1] ** 3
    np.testing.assert_allclose(obj.grad(x), g, rtol=1e-15)
    e, xs = symbolic._prepare(obj.expr, list(obj.symbols), None)
    hs = symbolic.hessian_source(e, xs)
    assert sum(line.strip().startswith("H[") and "= H[" not in line for line in hs.splitlines()) == 3 + 1
    vg = symbolic.value_grad_source(e, xs)
    assert sum(line.strip().startswith("g[") and "_i" not in line for line in vg.splitlines()) == 3


def test_generated_modules_are_reused_by_key_and_regenerated_when_stale(monkeypatch):
    import sys

    text = "0.5*x1**2 + cosh(x2) - 0.125*x3"
    first = ad.Objective.from_expr(text)
    x = np.array([0.3, -0.2, 0.9])
    f0, g0 = first.value_and_grad(x)
    vg_mods = [m for m in list(sys.modules) if m.startswith("adadyn_sym_") and m.endswith("_vg")
               and sys.modules[m].value_grad is first._value_grad]
    assert len(vg_mods) == 1
    path = Path(sys.modules[vg_mods[0]].__file__)
    del sys.modules[vg_mods[0]]

    def no_sympy(*a, **k):
        raise AssertionError("the generated file should have been reused")

    monkeypatch.setattr(symbolic, "value_grad_source", no_sympy)
    again = ad.Objective.from_expr(text)  # a later process: file found by key, no differentiation
    assert again.value_and_grad(x)[0] == f0
    monkeypatch.undo()
    del sys.modules[vg_mods[0]]
    path.write_text("# stale or foreign file\nraise RuntimeError('must not be imported')\n")
    fresh = ad.Objective.from_expr(text)
    f2, g2 = fresh.value_and_grad(x)
    assert f2 == f0 and np.array_equal(g2, g0)
    assert path.read_text().startswith(f"# adadyn generated module {vg_mods[0]} sha256=")


# ------------------------------------------------------------------ 5. from_numba shapes
@njit
def _value(x):
    return np.sum(x**2)


@njit
def _grad_short(x):
    return 2 * x[:-1]


@njit
def _grad_long(x):
    out = np.zeros(x.shape[0] + 2)
    out[: x.shape[0]] = 2 * x
    return out


@njit
def _grad_ok(x):
    return 2 * x


@njit
def _grad_switch(x):  # right length at the probe point, too short beyond x0 > 5
    return 2 * x[:-1] if x[0] > 5.0 else 2 * x


@njit
def _hess_bad(x):
    return np.eye(x.shape[0] + 1)


@njit
def _value_vec(x):
    return x * 1.0


@njit
def _grad_t_short(x, t):
    return t * x[:1]


@njit
def _value_t(x, t):
    return t * np.sum(x**2) / 2


def test_from_numba_checks_result_shapes():
    for g in (_grad_short, _grad_long):
        with pytest.raises(ValueError, match=r"grad must return an array of shape \(3,\) \(length 3 = dim\)"):
            ad.Objective.from_numba(_value, g, dim=3)
    with pytest.raises(ValueError, match=r"hessian must return an array of shape \(3, 3\)"):
        ad.Objective.from_numba(_value, _grad_ok, _hess_bad, dim=3)
    with pytest.raises(ValueError, match="value must return a scalar"):
        ad.Objective.from_numba(_value_vec, _grad_ok, dim=3)
    with pytest.raises(ValueError, match="grad must return"):
        ad.Objective.from_numba(_value_t, _grad_t_short, dim=3, time_dependent=True)
    obj = ad.Objective.from_numba(_value, _grad_switch, dim=3)
    np.testing.assert_array_equal(obj.grad([1.0, 2.0, 3.0]), [2.0, 4.0, 6.0])
    f, g = obj.value_and_grad([6.0, 2.0, 3.0])  # wrong length later: NaN, never foreign memory
    assert math.isnan(f) and np.isnan(g).all()
    assert ad.run(ad.GD(0.1), obj, [6.0, 2.0, 3.0], 5).status == "diverged"


# ------------------------------------------------------------------ derivatives: exact and bounded
@pytest.mark.parametrize("text", [
    "x1**x2 + sin(x1*x2)**3 / (1 + x2**2)",
    "exp(-x1**2) * log1p(x2**2) * sqrt(2 + x1*x2)",
    "abs(x1 - x2)**3 + max(x1, x2**2) * x1 + sign(x2) * tanh(x1)",
    "sigmoid(x1*x2) * softplus(x1) - acos(x1/4) * asin(x2/4)",
    "x1*x2*x3*x1*(x1 + x3)**(-2.5) + 2**x3",
])
def test_derivatives_match_sympy_diff(text, rng):
    """The cost-bounded differentiator gives sympy's own derivatives (a.e. rules aside)."""
    from adadyn.objectives.derivative import Differentiator

    expr, syms, _ = parse_expr(text)
    D = Differentiator()
    for _ in range(3):
        pt = {s: sp.Float(v) for s, v in zip(syms, rng.uniform(0.3, 1.4, len(syms)))}
        if abs(pt[syms[0]] - pt[syms[1]]) < 0.05:
            continue
        for a in syms:
            for b in syms:
                mine = D.d(D.d(expr, a), b).subs(pt).evalf(30)
                ref = sp.diff(expr, a, b).subs(pt).evalf(30)  # sympy: DiracDelta(nonzero) = 0 here
                # float literals carry 53 bits, so the two orders of evaluation agree to ~1e-16
                assert abs(complex(mine - ref)) <= 1e-14 * (1 + abs(complex(ref))), (a, b)


def test_derivative_size_is_bounded(monkeypatch):
    from adadyn.objectives import derivative

    monkeypatch.setattr(derivative, "MAX_DERIVATIVE_SIZE", 5000)
    with pytest.raises(ExpressionError, match="gradient would exceed 5000 .*MAX_DERIVATIVE_SIZE"):
        ad.Objective.from_expr("*".join(f"x{i}" for i in range(1, 101)))
    obj = ad.Objective.from_expr("*".join(f"x{i}" for i in range(1, 31)))  # gradient ~900 nodes
    x = np.linspace(0.5, 1.5, 30)
    g = obj.grad(x)
    np.testing.assert_allclose(g, np.prod(x) / x, rtol=1e-13)
    with pytest.raises(ExpressionError, match="Hessian would exceed 5000"):
        obj.hessian(x)  # 435 entries of ~30 nodes each, generated on first use
