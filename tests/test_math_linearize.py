"""linearize() away from the textbook case, against maps and flows transcribed here.

The Adam map (eq. (3) of Ma, Wu & E without bias correction: the t -> infinity
autonomous map) and the Adam flow (8) are written out in NumPy below; their
Jacobians by central differences are the references for
:func:`adadyn.analysis.linearize` at states that are not fixed points (given
as x with separate m, v blocks, as a full state vector, or as a State). The
verdicts (map stable iff rho < 1, flow stable iff max Re < 0) are checked
where they are decided: a spectral radius between 1 and 2, an abscissa
between 0 and 1, and the marginal case rho = 1, abscissa = 0 of a zero Hessian.
"""
import numpy as np
import pytest

import adadyn as ad
from adadyn.discrete.trajectory import State

A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
ETA, B1, B2, EPS = 0.05, 0.8, 0.95, 1e-3


def _obj():
    return ad.objectives.quadratic(A)


def _adam_map(z):
    """(x, m, v) -> (x', m', v') of eq. (3) without bias correction, f = x^T A x / 2."""
    x, m, v = z[:3], z[3:6], z[6:]
    g = A @ x
    m1 = B1 * m + (1 - B1) * g
    v1 = B2 * v + (1 - B2) * g * g
    return np.concatenate([x - ETA * m1 / (np.sqrt(v1) + EPS), m1, v1])


def _adam_flow(z):
    """Adam flow (8) as t -> infinity: x' = -m/(sqrt(v)+eps), m' = b (g - m), v' = a (g^2 - v)."""
    a, b = (1 - B2) / ETA, (1 - B1) / ETA
    x, m, v = z[:3], z[3:6], z[6:]
    g = A @ x
    return np.concatenate([-m / (np.sqrt(v) + EPS), b * (g - m), a * (g * g - v)])


def _fd_jacobian(F, z, delta=1e-7):
    n = z.shape[0]
    J = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = delta
        J[:, i] = (F(z + e) - F(z - e)) / (2 * delta)
    return J


X = np.array([0.3, -0.2, 0.1])
M = np.array([0.05, 0.1, -0.02])
V = np.array([0.4, 0.2, 0.3])


def _check_adam_state(lin, z):
    np.testing.assert_array_equal(lin.state, z)
    np.testing.assert_array_equal(lin.x, X)
    assert lin.blocks == ("x", "m", "v") and lin.dim == 3
    np.testing.assert_allclose(lin.map_jacobian, _fd_jacobian(_adam_map, z), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(lin.flow_jacobian, _fd_jacobian(_adam_flow, z), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lin.fixed_point_residual, np.linalg.norm(_adam_map(z) - z), rtol=1e-12)
    np.testing.assert_array_equal(lin.hessian, A)
    np.testing.assert_allclose(lin.hessian_eigenvalues, np.linalg.eigvalsh(A), rtol=1e-13)


def test_adam_away_from_a_fixed_point_matches_transcribed_map_and_flow():
    """x with separate m and v, the full vector and a State give the same state and
    the finite-difference Jacobians of the transcribed map and flow (stationary=False
    by default when m or v is given: the true gradient enters)."""
    opt = ad.Adam(ETA, beta1=B1, beta2=B2, eps=EPS)
    z = np.concatenate([X, M, V])
    _check_adam_state(ad.analysis.linearize(opt, _obj(), X, m=M, v=V), z)
    _check_adam_state(ad.analysis.linearize(opt, _obj(), z), z)
    _check_adam_state(ad.analysis.linearize(opt, _obj(), State.initial(opt, X, M, V)), z)
    # v given alone: m = 0
    lin = ad.analysis.linearize(opt, _obj(), X, v=V)
    z0 = np.concatenate([X, np.zeros(3), V])
    np.testing.assert_allclose(lin.map_jacobian, _fd_jacobian(_adam_map, z0), rtol=1e-6, atol=1e-8)
    # m given alone: v = 0 with m' != 0 has no derivative (sqrt at 0)
    lin = ad.analysis.linearize(opt, _obj(), X, m=M, v=np.full(3, 0.5))
    np.testing.assert_array_equal(lin.state[3:], np.r_[M, np.full(3, 0.5)])


def test_amsgrad_aux_block_is_taken_from_the_argument():
    opt = ad.AMSGrad(ETA, beta1=B1, beta2=B2, eps=EPS)
    aux = np.array([5.0, 6.0, 7.0])  # running max above v': the max takes the aux branch
    lin = ad.analysis.linearize(opt, _obj(), X, m=M, v=V, aux=aux)
    np.testing.assert_array_equal(lin.state, np.concatenate([X, M, V, aux]))
    assert lin.blocks == ("x", "m", "v", "aux")
    # the denominator is sqrt(aux) + eps and does not depend on x through v: column of x in
    # the x row is I - eta (1 - beta1) A / (sqrt(aux) + eps)
    np.testing.assert_allclose(lin.map_jacobian[:3, :3],
                               np.eye(3) - ETA * (1 - B1) * A / (np.sqrt(aux) + EPS)[:, None], rtol=1e-12)
    # AMSGrad has no limit flow of the form (7)/(8)
    assert lin.flow_jacobian is None and lin.flow_eigenvalues is None
    assert lin.flow_eigenvectors is None and lin.spectral_abscissa is None and lin.flow_stable is None


def test_eigen_decompositions_are_sorted_and_consistent():
    opt = ad.Adam(ETA, beta1=B1, beta2=B2, eps=EPS)
    lin = ad.analysis.linearize(opt, _obj(), X, m=M, v=V)
    mu, Vm = lin.map_eigenvalues, lin.map_eigenvectors
    assert np.all(np.diff(np.abs(mu)) <= 1e-15)
    assert lin.spectral_radius == pytest.approx(np.max(np.abs(np.linalg.eigvals(lin.map_jacobian))), rel=1e-12)
    np.testing.assert_allclose(lin.map_jacobian @ Vm, Vm * mu, atol=1e-12)
    lam, Vf = lin.flow_eigenvalues, lin.flow_eigenvectors
    assert np.all(np.diff(lam.real) <= 1e-12)
    assert lin.spectral_abscissa == lam.real[0]
    np.testing.assert_allclose(lin.flow_jacobian @ Vf, Vf * lam, atol=1e-9 * np.max(np.abs(lam)))
    assert lin.opt is opt
    assert "sympy" not in lin.accuracy


def test_default_stationary_zeroes_a_rounding_level_gradient():
    """At x* + 1e-10 (a numerically found minimum) the default treats x as stationary:
    the RMSprop map is exactly blockdiag(I - (eta/eps) H, alpha I). With the true
    gradient (stationary=False, or any block given) the v-derivatives of order
    eta |g| / eps^2 appear."""
    obj = _obj()
    eta, alpha, eps = 1e-4, 0.9, 1e-8
    opt = ad.RMSprop(eta, alpha=alpha, eps=eps)
    x = np.full(3, 1e-10)
    lin = ad.analysis.linearize(opt, obj, x)
    J = np.zeros((6, 6))
    J[:3, :3] = np.eye(3) - eta / eps * A
    J[3:, 3:] = alpha * np.eye(3)
    np.testing.assert_allclose(lin.map_jacobian, J, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lin.flow_jacobian[:3, :3], -A / eps, rtol=1e-12)
    # with the true gradient (stationary=False, or a block given) the flow has no derivative at
    # v = 0 (g != 0 multiplies d sqrt(v)/dv = inf)
    for kw in ({"stationary": False}, {"v": 0.0}, {"m": 0.0}, {"aux": 0.0}):
        with pytest.raises(ValueError, match="no derivative"):
            ad.analysis.linearize(opt, obj, x, **kw)
    # Adam's map with the true gradient: v' = (1 - beta2) g^2 > 0 and the v-derivative
    # m' / (2 sqrt(v') (sqrt(v') + eps)^2) ~ 1/|g| enters
    adam = ad.Adam(eta, beta1=0.5, beta2=0.9, eps=eps)
    Js = ad.analysis.linearize(adam, obj, x).map_jacobian
    for kw in ({"stationary": False}, {"v": 0.0}, {"m": 0.0}):
        Jt = ad.analysis.linearize(adam, obj, x, **kw).map_jacobian
        assert np.max(np.abs(Jt - Js)) > 1e-3 * np.max(np.abs(Js)), kw
    # a 2-d array holding x is x
    np.testing.assert_array_equal(ad.analysis.linearize(opt, obj, x[None, :]).map_jacobian, lin.map_jacobian)


@pytest.mark.parametrize("exact", [False, True])
def test_exact_flag_reaches_the_hessian(exact):
    obj = ad.Objective.from_expr("x1**2 + 3*x2**2 + x1*x2 + x1**4")
    lin = ad.analysis.linearize(ad.GD(0.1), obj, [0.5, 0.0], exact=exact)
    H = np.array([[2.0 + 12 * 0.25, 1.0], [1.0, 6.0]])
    np.testing.assert_allclose(lin.hessian, H, rtol=1e-6)
    assert ("sympy" in lin.accuracy) is exact


def test_verdicts_where_they_are_decided():
    lam = np.linalg.eigvalsh(A)
    eps = 1e-3
    # RMSprop at the minimum with eta = 2.5 eps / lambda_max: rho = 1.5, unstable
    lin = ad.analysis.linearize(ad.RMSprop(2.5 * eps / lam[-1], alpha=0.5, eps=eps), _obj(), np.zeros(3))
    assert lin.spectral_radius == pytest.approx(1.5, rel=1e-12) and not lin.map_stable
    assert lin.flow_stable
    # a saddle with curvature -0.5: GD flow -H has abscissa 0.5, unstable
    sad = ad.objectives.quadratic(np.diag([2.0, -0.5]))
    lin = ad.analysis.linearize(ad.GD(0.1), sad, np.zeros(2))
    assert lin.spectral_abscissa == pytest.approx(0.5, rel=1e-12) and not lin.flow_stable
    # zero Hessian (1 - cos(|x|^2) at 0): GD map = I, flow = 0: marginal, not stable
    lin = ad.analysis.linearize(ad.GD(0.1), ad.objectives.cosine_bowl(), np.zeros(2))
    np.testing.assert_allclose(lin.map_jacobian, np.eye(2), atol=1e-12)
    assert lin.spectral_radius == 1.0 and not lin.map_stable
    assert lin.spectral_abscissa == 0.0 and not lin.flow_stable


def test_bad_points_are_refused_with_their_names():
    opt = ad.Adam(ETA, beta1=B1, beta2=B2, eps=EPS)
    with pytest.raises(ValueError, match="index 1"):
        ad.analysis.linearize(opt, _obj(), [0.0, np.nan, 0.0])
    with pytest.raises(ValueError, match="index 0"):
        ad.analysis.linearize(opt, _obj(), [np.inf, np.nan, 0.0])
    for blk in ("m", "v", "aux"):
        with pytest.raises(ValueError, match=f"{blk} must be finite"):
            ad.analysis.linearize(ad.AMSGrad(ETA), _obj(), X, **{blk: [0.0, np.inf, 0.0]})
    st = State.initial(opt, X, M, V)
    st.v[1] = np.nan
    with pytest.raises(ValueError, match="State holds NaN"):
        ad.analysis.linearize(opt, _obj(), st)
    with pytest.raises(ValueError, match="v must be >= 0"):
        ad.analysis.linearize(opt, _obj(), X, v=[0.1, -0.1, 0.1])
    with pytest.raises(ValueError, match="point"):
        ad.analysis.linearize(opt, _obj(), "abc")


# ------------------------------------------------------------------ stationary points
def test_classify_hessian_thresholds():
    """|lambda| <= rtol max(1, max |lambda|) is zero (default rtol 1e-8)."""
    ch = ad.analysis.classify_hessian
    assert ch([0.5, 1.0]) == "minimum" and ch([-1.0, 0.5]) == "saddle" and ch([-2.0, -0.1]) == "maximum"
    assert ch([1.0, 1.5e-8]) == "minimum" and ch([1.0, 0.5e-8]) == "degenerate"
    # relative to the largest |lambda| when that exceeds 1
    assert ch([1e3, 1e-6]) == "degenerate" and ch([1e3, 2e-5]) == "minimum"
    assert ch([1e3, 1e-6], rtol=1e-10) == "minimum"
    # rtol = 0: only an exact zero is degenerate
    assert ch([0.0, 1.0], rtol=0.0) == "degenerate" and ch([1e-300, 1.0], rtol=0.0) == "minimum"


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_newton_fallbacks_find_the_root_where_plain_newton_fails():
    """Plain Newton leaves for good from these guesses (exp overflows; the arctan
    gradient sends it out geometrically; x^3 - 1 near x = 0 jumps to 1e13 and needs
    ~80 steps back); the line search (and, with the near-singular Hessian, the
    Levenberg-Marquardt shift) brings it to the one stationary point."""
    cases = [("exp(x1) - 2*x1", -8.0, np.log(2.0), 2.0),
             ("x1*atan(x1) - log(1 + x1**2)/2", 3.0, 0.0, 1.0),
             ("x1**4/4 - x1", 1e-7, 1.0, 3.0)]
    for expr, x0, xs, h in cases:
        sp = ad.analysis.stationary_points(ad.Objective.from_expr(expr), [[x0]])
        assert sp.n_failed == 0 and len(sp) == 1, expr
        np.testing.assert_allclose(sp[0].point, [xs], atol=1e-14)
        assert sp[0].kind == "minimum" and sp[0].eigenvalues[0] == pytest.approx(h, rel=1e-12)
        assert sp[0].grad_norm <= 1e-14


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize("expr,x0,budget", [("exp(x1) - 2*x1", -8.0, 7),
                                            ("x1*atan(x1) - log(1 + x1**2)/2", 3.0, 4),
                                            ("x1**4/4 - x1", 1e-7, 5)])
def test_damped_newton_converges_within_a_few_iterations(expr, x0, budget):
    """Near a simple root the safeguarded Newton iteration is Newton's (t = 1 accepted,
    quadratic convergence): from these guesses it needs at most ``budget`` iterations
    (plain Newton gets budget // 2 of them and fails). A line search that shrinks the
    step too little or too much, a wrong Armijo factor or a Newton step of the wrong
    sign (left to the LM shift to repair) all need more."""
    sp = ad.analysis.stationary_points(ad.Objective.from_expr(expr), [[x0]], max_iter=budget)
    assert sp.n_failed == 0 and sp[0].kind == "minimum"


def test_failed_guesses_are_counted_and_later_guesses_still_run():
    """f = x^4/4 - x: at x = 0 the Hessian is 0 and the gradient -1 is outside its
    range, so Newton (and the LM shift) cannot move; other guesses find x = 1."""
    obj = ad.Objective.from_expr("x1**4/4 - x1")
    sp = ad.analysis.stationary_points(obj, [[0.0], [2.0], [0.0]])
    assert sp.n_failed == 2 and len(sp) == 1
    np.testing.assert_allclose(sp.points, [[1.0]], atol=1e-15)
    sp = ad.analysis.stationary_points(obj, [[0.0], [-3.0]])
    assert sp.n_failed == 1 and len(sp) == 1
    assert ad.analysis.stationary_points(obj, [[2.0]]).n_failed == 0


def test_gradient_tolerance_is_relative_to_the_guess():
    """1e6 (x^3/3 - 2x): |g| >= ~4e-10 at every float near sqrt(2), so only the
    relative test |g| <= gtol |g(guess)| (|g(guess)| ~ 1e10) can stop Newton."""
    obj = ad.Objective.from_expr("1000000*(x1**3/3 - 2*x1)")
    sp = ad.analysis.stationary_points(obj, [[100.0]])
    assert sp.n_failed == 0
    np.testing.assert_allclose(sp[0].point, [np.sqrt(2.0)], rtol=1e-15)
    # a single Newton step solves a quadratic: max_iter = 1 is allowed and enough
    sp = ad.analysis.stationary_points(ad.objectives.quadratic(A), [[1.0, 2.0, 3.0]], max_iter=1)
    assert sp.n_failed == 0 and sp[0].kind == "minimum"
    with pytest.raises(ValueError, match="max_iter"):
        ad.analysis.stationary_points(ad.objectives.quadratic(A), [[1.0, 2.0, 3.0]], max_iter=0)


def test_merge_tolerance_is_relative_to_the_point():
    """f' = (x - 100)(x - 101): the two points are merged at merge_tol = 0.02 (1 <= 0.02 * 100)
    but not at 0.005; f' = x (x - 0.015): apart at merge_tol = 0.01 (the scale is max(1, |x|) = 1)."""
    obj = ad.Objective.from_expr("x1**3/3 - 201*x1**2/2 + 10100*x1")
    assert len(ad.analysis.stationary_points(obj, [[99.0], [102.0]], merge_tol=0.02)) == 1
    sp = ad.analysis.stationary_points(obj, [[99.0], [102.0]], merge_tol=0.005)
    assert sp.kinds == ("minimum", "maximum")  # sorted by value: f(101) < f(100)
    np.testing.assert_allclose(sp.points, [[101.0], [100.0]], rtol=1e-12)
    obj = ad.Objective.from_expr("x1**3/3 - 0.0075*x1**2")
    assert len(ad.analysis.stationary_points(obj, [[-0.1], [0.1]], merge_tol=0.01)) == 2


def test_stationary_point_fields_and_degenerate_tolerance():
    obj = ad.Objective.from_expr("x1**2 + 1e-7*x2**2 + x1**4")
    H = np.diag([2.0, 2e-7])
    sp = ad.analysis.stationary_points(obj, [[0.3, 0.2]])
    assert sp.n_failed == 0 and len(sp) == 1
    p = sp[0]
    np.testing.assert_allclose(p.hessian, H, rtol=1e-12, atol=1e-20)
    np.testing.assert_allclose(p.eigenvalues, [2e-7, 2.0], rtol=1e-10)
    assert p.kind == "degenerate"  # default rtol_degenerate 1e-6: 2e-7 <= 2e-6
    assert "sympy" in p.accuracy
    assert ad.analysis.stationary_points(obj, [[0.3, 0.2]], rtol_degenerate=1e-8)[0].kind == "minimum"
    q = ad.analysis.stationary_points(obj, [[0.3, 0.2]], exact=False)[0]
    assert "sympy" not in q.accuracy
