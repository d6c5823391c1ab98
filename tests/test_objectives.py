"""Objectives: gradients and Hessians against finite differences, the parser's rejections."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numba import njit

import adadyn as ad
from adadyn.objectives.symbolic import ExpressionError, parse_expr


def _fd_grad(obj, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (obj.value(x + e) - obj.value(x - e)) / (2 * h)
    return g


def _fd_hess_from_grad(obj, x, h=1e-6):
    H = np.empty((x.size, x.size))
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        H[:, j] = (obj.grad(x + e) - obj.grad(x - e)) / (2 * h)
    return H


def _library(rng):
    X = rng.standard_normal((30, 4))
    return [
        ad.objectives.quadratic(rng.standard_normal((5, 5)), center=rng.standard_normal(5)),
        ad.objectives.random_quadratic(10, seed=0),
        ad.objectives.diagonal_quadratic([1.0, 3.0, 0.5], center=[1.0, 2.0, -1.0]),
        ad.objectives.rosenbrock(4),
        ad.objectives.cosine_bowl(),
        ad.objectives.least_squares(X, X @ rng.standard_normal(4) + 0.1 * rng.standard_normal(30)),
        ad.Objective.from_expr("log(1 + exp(x1*x2)) + sin(x3)**2 - x1*x3/(2 + x2**2)"),
    ]


def test_gradients_and_hessians_against_finite_differences(rng):
    for obj in _library(rng):
        for _ in range(3):
            x = 0.7 * rng.standard_normal(obj.dim)
            g = obj.grad(x)
            np.testing.assert_allclose(g, _fd_grad(obj, x), rtol=1e-6, atol=1e-6 * (1 + np.abs(g).max()),
                                       err_msg=obj.name)
            H = obj.hessian(x)
            np.testing.assert_allclose(H, _fd_hess_from_grad(obj, x), rtol=1e-6,
                                       atol=1e-6 * (1 + np.abs(H).max()), err_msg=obj.name)
            np.testing.assert_allclose(H, H.T, atol=1e-12)
            u = rng.standard_normal(obj.dim)
            np.testing.assert_allclose(obj.hvp(x, u), H @ u, rtol=1e-9, atol=1e-9)


def test_known_minimisers(rng):
    for obj in _library(rng)[:6]:
        if obj.minimizer is not None:
            assert np.linalg.norm(obj.grad(obj.minimizer)) < 1e-9 * (1 + np.abs(obj.data).max())
            assert obj.value(obj.minimizer) == pytest.approx(obj.min_value, abs=1e-12)


def test_finite_difference_hessian_accuracy(rng):
    """The documented accuracy: ~1e-10 relative for smooth objectives (central
    differences, step eps^(1/3)); quadratics are exact up to rounding."""
    exact = ad.objectives.rosenbrock(5)
    no_hess = ad.Objective(5, exact._value_grad, None, exact.data, name="rosenbrock without Hessian")
    assert not no_hess.has_hessian
    for _ in range(5):
        x = rng.uniform(-1.5, 1.5, 5)
        H, Hfd = exact.hessian(x), no_hess.hessian(x)
        assert np.max(np.abs(H - Hfd)) / np.max(np.abs(H)) < 1e-9
    q = ad.objectives.random_quadratic(10)
    qfd = ad.Objective(10, q._value_grad, None, q.data)
    x = rng.standard_normal(10)
    assert np.max(np.abs(qfd.hessian(x) - q.A)) / np.max(np.abs(q.A)) < 1e-10
    # Hessian-vector products without a Hessian: one central difference along u
    u = rng.standard_normal(10)
    np.testing.assert_allclose(qfd.hvp(x, u), q.A @ u, rtol=1e-8)


def test_symbolic_equals_library():
    lib = ad.objectives.cosine_bowl()
    sym = ad.Objective.from_expr("1 - cos(x1**2 + x2**2)")
    assert sym.is_symbolic and sym.dim == 2
    for x in ([1.0, 0.3], [-0.4, 2.2], [0.0, 0.0]):
        assert sym.value(x) == pytest.approx(lib.value(x), abs=1e-15)
        np.testing.assert_allclose(sym.grad(x), lib.grad(x), rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(sym.hessian(x), lib.hessian(x), rtol=1e-13, atol=1e-14)
    ros = ad.Objective.from_expr("100*(x2 - x1**2)**2 + (1 - x1)**2")
    x = np.array([-1.2, 1.0])
    np.testing.assert_allclose(ros.hessian(x), ad.objectives.rosenbrock(2).hessian(x), rtol=1e-14)


def test_expression_variables_params_and_time():
    obj = ad.Objective.from_expr("c * (u - 1)**2 + w**2", variables=["u", "w"], params={"c": 3.0})
    assert obj.value([2.0, 0.5]) == pytest.approx(3.25)
    np.testing.assert_allclose(obj.grad([2.0, 0.5]), [6.0, 1.0])
    online = ad.Objective.from_expr("(x - t)**2")
    assert online.time_dependent
    assert online.value([1.0], t=3.0) == pytest.approx(4.0)
    np.testing.assert_allclose(online.grad([1.0], t=3.0), [-4.0])


def test_sympy_constructor():
    import sympy as sp

    a, b = sp.symbols("a b", real=True)
    obj = ad.Objective.from_sympy(sp.exp(a) * sp.cos(b), [a, b])
    np.testing.assert_allclose(obj.grad([0.5, 0.2]), [np.exp(0.5) * np.cos(0.2), -np.exp(0.5) * np.sin(0.2)])


def test_from_numba_user_functions(rng):
    @njit
    def f(x):
        return np.sum(x**4) + x[0] * x[1]

    @njit
    def g(x):
        out = 4 * x**3
        out[0] += x[1]
        out[1] += x[0]
        return out

    obj = ad.Objective.from_numba(f, g, dim=3)
    x = rng.standard_normal(3)
    np.testing.assert_allclose(obj.grad(x), _fd_grad(obj, x), rtol=1e-7)
    tr = ad.run(ad.Adam(1e-2), obj, x, 200)
    assert tr.status == "ok" and tr.loss[-1] < tr.loss[0]
    with pytest.raises(TypeError, match="numba"):
        ad.Objective.from_numba(lambda x: 0.0, g, dim=3)


@pytest.mark.parametrize("text,why", [
    ("__import__('os').system('true')", "dunder"),
    ("x1.real", "attribute"),
    ("x1.__class__", "dunder"),
    ("open('f')", "unknown function"),
    ("x1 if x1 > 0 else -x1", "IfExp"),
    ("[x1 for x1 in ()]", "ListComp"),
    ("lambda: 1", "Lambda"),
    ("sin(x1, x2)", "2 arguments"),
    ("sin(x=x1)", "keyword"),
    ("x1[0]", "Subscript"),
    ("y + x1", "unknown name"),
    ("x1 @ x2", "MatMult"),
    ("'a' * 3", "constant"),
    ("x1 +", "syntax"),
    ("2 + pi", "no variables"),
    ("exp", "unknown name"),
])
def test_parser_rejections(text, why):
    with pytest.raises(ExpressionError, match=why):
        parse_expr(text)


_atoms = st.sampled_from(["x1", "x2", "1.5", "2", "pi", "t"])
_funcs = st.sampled_from(["sin", "cos", "exp", "tanh", "sqrt", "log1p", "abs"])


@st.composite
def _formulas(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(_atoms)
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return f"{draw(_funcs)}({draw(_formulas(depth - 1))})"
    op = draw(st.sampled_from(["+", "-", "*", "/", "**"]))
    return f"({draw(_formulas(depth - 1))}) {op} ({draw(_formulas(depth - 1))})"


@settings(max_examples=60, deadline=10_000)
@given(_formulas())
def test_parser_accepts_whitelisted_formulas(text):
    """Whitelisted compositions parse; the one refusal allowed is a sub-expression that
    sympy reduces to a non-finite or non-real constant (e.g. x1/(x1 - x1) = zoo*x1)."""
    import sympy as sp

    if not ("x1" in text or "x2" in text):
        return
    try:
        expr, syms, t = parse_expr(text)
    except ExpressionError as exc:
        assert "not a finite real number" in str(exc)
        return
    assert {s.name for s in expr.free_symbols} <= {"x1", "x2", "t"}
    assert not expr.has(sp.zoo, sp.nan, sp.I)


@settings(max_examples=100, deadline=10_000)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.()[]{}'\"=:;,", min_size=1, max_size=30))
def test_parser_never_runs_arbitrary_text(text):
    """Random identifier/punctuation soup is either a valid whitelisted formula
    or an ExpressionError: never another exception, never evaluation."""
    try:
        parse_expr(text)
    except ExpressionError:
        pass


def test_bad_objective_inputs():
    with pytest.raises(ValueError, match="square"):
        ad.objectives.quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="center"):
        ad.objectives.quadratic(np.eye(2), center=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="d must be >= 2"):
        ad.objectives.rosenbrock(1)
    with pytest.raises(ValueError, match="y must have shape"):
        ad.objectives.least_squares(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        ad.objectives.random_quadratic(3).value(np.ones(4))


def test_objectives_pickle_by_recipe(rng):
    """Library and symbolic objectives travel to worker processes (pickle rebuilds
    them from their constructor call); process-local ones refuse clearly."""
    import pickle

    objs = [ad.objectives.random_quadratic(6, seed=3), ad.objectives.reddi_online(4.0),
            ad.Objective.from_expr("c*x1**4 + x2**2", params={"c": 2.0})]
    for obj in objs:
        back = pickle.loads(pickle.dumps(obj))
        x = rng.standard_normal(obj.dim)
        assert back.value(x, t=4.0) == obj.value(x, t=4.0)
        np.testing.assert_array_equal(back.grad(x), obj.grad(x))
        assert (back.bounds is None) == (obj.bounds is None) and back.name == obj.name
    bare = ad.Objective(2, objs[0]._value_grad, None, objs[0].data[:1])
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(bare)
