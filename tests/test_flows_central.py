"""Central flows through the edge of stability (adadyn.flows.central), the
third-derivative products they need (Objective.hessian_form_grad), the SDCP solver
and compare(..., average=w)."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.flows.central import CentralSolution, solve_central
from adadyn.flows.sdcp import sdcp_residuals, solve_sdcp
from adadyn.objectives.third import fd_hessian_form_grad
from adadyn.reproduce.central_flows import edge_deviation, edge_problem, gd_case, rmsprop_case


# ---------------------------------------------------------------- hessian_form_grad
def test_hessian_form_grad_quartic_closed_form():
    obj = ad.Objective.from_expr("x**4 + y**4 + z**4", ["x", "y", "z"])
    x, u = np.array([0.3, -0.7, 1.1]), np.array([0.5, 0.2, -1.0])
    np.testing.assert_allclose(obj.hessian_form_grad(x, u), 24 * x * u ** 2, rtol=1e-14)


def test_hessian_form_grad_mixed_closed_form():
    # f = x^2 y + e^x y^3: H_xx = 2y + e^x y^3, H_xy = 2x + 3 e^x y^2, H_yy = 6 e^x y
    obj = ad.Objective.from_expr("x**2*y + exp(x)*y**3", ["x", "y"])
    x, y, u, v = 0.4, -0.8, 0.7, -1.3
    e = np.exp(x)
    gx = e * y ** 3 * u ** 2 + 2 * (2 + 3 * e * y ** 2) * u * v + 6 * e * y * v ** 2
    gy = (2 + 3 * e * y ** 2) * u ** 2 + 12 * e * y * u * v + 6 * e * v ** 2
    np.testing.assert_allclose(obj.hessian_form_grad([x, y], [u, v]), [gx, gy], rtol=1e-13)


def test_hessian_form_grad_symbolic_matches_finite_differences():
    obj = ad.Objective.from_expr("exp(x)*sin(y) + abs(x)*y**3 + log(1 + z**2)*x", ["x", "y", "z"])
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, u = rng.normal(size=3), rng.normal(size=3)
        np.testing.assert_allclose(obj.hessian_form_grad(x, u), fd_hessian_form_grad(obj, x, u),
                                   rtol=1e-6, atol=1e-7)


def test_hessian_form_grad_every_parser_function():
    """Every whitelisted function (and pi, E, sqrt, powers) through the tree-walk evaluator,
    against central differences of the compiled Hessian."""
    text = ("tan(x/3)*tanh(y) + sinh(x)*cosh(z/2) + atan(x*y) + asin(z/3) + acos(y/4) + sqrt(2 + x**2)"
            " + sigmoid(x - z) + softplus(y*z) + max(x, y)*z**2 + min(y, z)*x**2 + log1p(z**2)*E"
            " + pi*x**3*y**(-2) + sign(x)*z**3 + abs(y)**3")
    obj = ad.Objective.from_expr(text, ["x", "y", "z"])
    rng = np.random.default_rng(5)
    for _ in range(3):
        x, u = np.array([0.4, 1.1, -0.7]) + 0.1 * rng.normal(size=3), rng.normal(size=3)
        np.testing.assert_allclose(obj.hessian_form_grad(x, u), fd_hessian_form_grad(obj, x, u),
                                   rtol=1e-6, atol=1e-6)


def test_tree_walk_evaluator_against_sympy_evalf():
    """The evaluator on each function itself (third derivatives of atan, sqrt, ... do not keep
    the function): against sympy's own 30-digit evaluation."""
    import sympy as sp

    from adadyn.objectives.parser import parse_expr
    from adadyn.objectives.third import evaluate

    text = ("tan(x/3)*tanh(y) + sinh(x)*cosh(z/2) + atan(x*y) + asin(z/3) + acos(y/4) + sqrt(2 + x**2)"
            " + sigmoid(x - z) + softplus(y*z) + max(x, y)*z + min(y, z)*x + log1p(z**2)*E"
            " + pi*x**3*y**(-2) + sign(x)*z**3 + abs(y)**3 + exp(-x)*log(y)")
    expr, syms, _ = parse_expr(text, ["x", "y", "z"])
    terms = list(expr.args)
    env = dict(zip(syms, (0.4, 1.1, -0.7)))
    got = evaluate(terms, env)
    want = [float(t.evalf(30, subs=env)) for t in terms]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert len(terms) == 15


def test_hessian_form_grad_library_routes():
    r = ad.objectives.rosenbrock(2)      # no formula: differences of the exact Hessian
    # f = 100 (y - x^2)^2 + (1 - x)^2: T_xxx = 2400 x, T_xxy = -400
    np.testing.assert_allclose(r.hessian_form_grad([0.5, 0.5], [1.0, 0.0]), [1200.0, -400.0], rtol=1e-6)
    q = ad.objectives.random_quadratic(4, seed=1)
    assert np.all(q.hessian_form_grad(np.ones(4), np.arange(4.0)) == 0.0)


# ---------------------------------------------------------------- SDCP
def test_sdcp_scalar_and_separable_closed_forms():
    X, _ = solve_sdcp(np.array([[-3.0]]), np.full((1, 1, 1, 1), 2.0))
    assert X[0, 0] == 1.5
    assert solve_sdcp(np.array([[3.0]]), np.full((1, 1, 1, 1), 2.0))[0][0, 0] == 0.0
    # B acting entrywise, B[X]_ab = b_ab X_ab with A diagonal: X = diag(max(0, -A_aa / b_aa))
    b = np.array([[2.0, 1.0], [1.0, 5.0]])
    B = np.zeros((2, 2, 2, 2))
    for a in range(2):
        for c in range(2):
            B[a, c, a, c] = b[a, c]
    X, _ = solve_sdcp(np.diag([-1.0, -2.0]), B)
    np.testing.assert_allclose(X, np.diag([0.5, 0.4]), atol=1e-10)
    X, _ = solve_sdcp(np.diag([-1.0, 2.0]), B)
    np.testing.assert_allclose(X, np.diag([0.5, 0.0]), atol=1e-10)


def test_sdcp_random_kkt_and_optimality():
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    k = 3
    for _ in range(3):
        Gm = rng.normal(size=(9, 9))
        Bm = Gm @ Gm.T / 9 + 0.1 * np.eye(9)
        # restrict to symmetric matrices: symmetrise B in both index pairs
        B = Bm.reshape(k, k, k, k)
        B = 0.25 * (B + B.transpose(1, 0, 2, 3) + B.transpose(0, 1, 3, 2) + B.transpose(1, 0, 3, 2))
        A = rng.normal(size=(k, k))
        A = A + A.T - 2 * np.eye(k)
        X, _ = solve_sdcp(A, B)
        lx, lr, comp = sdcp_residuals(A, B, X)
        assert lx > -1e-10 and lr > -1e-8 and abs(comp) < 1e-8
        # the same X minimises <A, X> + <X, B[X]>/2 over PSD X = L L^T
        q = lambda Y: float(np.sum(A * Y) + 0.5 * np.sum(Y * np.einsum("abcd,cd->ab", B, Y)))  # noqa: E731
        best = min(minimize(lambda z: q(z.reshape(k, k) @ z.reshape(k, k).T), rng.normal(size=k * k)).fun
                   for _ in range(4))
        assert q(X) <= best + 1e-7


# ---------------------------------------------------------------- compare(average=w)
@pytest.fixture(scope="module")
def period2_run():
    """GD on f = (lam1 x^2 + lam2 y^2)/2 with eta lam1 = 2: x_k = (-1)^k x_0 exactly, y_k = y_0 r^k."""
    lam1, lam2, eta = 4.0, 1.0, 0.5
    obj = ad.objectives.quadratic(np.diag([lam1, lam2]))
    x0 = np.array([0.3, 1.0])
    tr = ad.run(ad.GD(eta), obj, x0, 40)
    sol = ad.flows.solve(ad.flows.GDFlow(), obj, x0, 20.0, rtol=1e-12, atol=1e-14, method="DOP853")
    return tr, sol, eta, lam1, lam2, x0


@pytest.mark.parametrize("w", [1, 2, 3, 4])
def test_compare_average_closed_form(period2_run, w):
    tr, sol, eta, lam1, lam2, x0 = period2_run
    c = ad.analysis.compare(tr, sol, average=w)
    k = np.arange(41 - w + 1)
    r = 1 - eta * lam2
    xbar = x0[0] * np.array([np.mean((-1.0) ** (j + np.arange(w))) for j in k])      # 0 for even w
    ybar = x0[1] * r ** k * np.mean(r ** np.arange(w))
    tc = eta * (k + (w - 1) / 2)
    gap = np.hypot(xbar - x0[0] * np.exp(-lam1 * tc), ybar - x0[1] * np.exp(-lam2 * tc))
    np.testing.assert_allclose(c.times, tc, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c.gap_x_t, gap, rtol=1e-7, atol=1e-10)
    assert c.average == w and c.gap_v is None
    if w % 2 == 0:      # the oscillation is gone: after it decays in the flow, the gap is y's O(eta)
        assert c.gap_over(5.0) < 0.05
    else:
        assert c.gap_over(5.0) >= abs(x0[0]) / w * 0.99


def test_compare_average_refuses_bad_window(period2_run):
    tr, sol, *_ = period2_run
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="average"):
            ad.analysis.compare(tr, sol, average=bad)


# ---------------------------------------------------------------- the central flow of GD
@pytest.fixture(scope="module")
def gd_result():
    return gd_case()


def test_gd_central_flow_tracks_edge_of_stability(gd_result):
    r = gd_result
    assert isinstance(r["central"], CentralSolution)
    assert 0.0 < r["t_edge"] < 1.0            # progressive sharpening reaches 2/eta early
    s0 = r["central"].sharpness[0]
    assert s0 < 0.96 * r["central"].threshold
    # (a) the 2-step-averaged run after the entry transient: >= 10x closer to the central flow
    assert r["gap_stable"] >= 10 * r["gap_central"], (r["gap_stable"], r["gap_central"])
    # (b) the flow's sharpness sits on 2/eta (step-ahead constraint, O(h^2))
    assert r["sharp_dev"] < 1e-4
    # (c) the predicted oscillation size matches the period-2 amplitude along u
    assert abs(r["amp_measured"] / r["amp_predicted"] - 1) < 0.1, (r["amp_measured"], r["amp_predicted"])


def test_gd_central_flow_k1_formula_and_predicted_loss(gd_result):
    """sigma^2 = -2 <grad S, grad f> / |grad S|^2 on the surface S = 2/eta (k = 1), and the
    predicted loss f + sigma^2/eta against the run's loss averaged over 2 steps."""
    obj, _, eta = edge_problem()
    cen, tr = gd_result["central"], gd_result["traj"]
    i = int(np.searchsorted(cen.t, 4.0))
    x = cen.x[i]
    w, V = np.linalg.eigh(obj.hessian(x))
    u = V[:, -1]
    gS = obj.hessian_form_grad(x, u)
    s2 = -2 * (gS @ obj.grad(x)) / (gS @ gS)
    assert abs(cen.sigma2[i, 0] / s2 - 1) < 2e-3
    np.testing.assert_allclose(cen.predicted_loss[i], cen.loss[i] + cen.sigma2[i, 0] / eta, rtol=1e-3)
    k = np.flatnonzero(tr.time >= 3.0)
    avg = 0.5 * (tr.loss[k[:-1]] + tr.loss[k[:-1] + 1])
    pred = np.interp(0.5 * (tr.time[k[:-1]] + tr.time[k[:-1] + 1]), cen.t, cen.predicted_loss)
    assert np.median(np.abs(avg / pred - 1)) < 0.05


def test_gd_two_directions_at_the_edge():
    """k = 2 for GD (two oscillating coordinates, a 2 x 2 SDCP): tracking, sharpness, variances."""
    from adadyn.reproduce.central_flows import gd_two_case

    w = gd_two_case()
    assert w["k_end"] == 2 and np.all(w["var_predicted"] > 0)
    assert w["gap_stable"] >= 10 * w["gap_central"], (w["gap_stable"], w["gap_central"])
    assert w["sharp_dev"] < 1e-4
    assert abs(w["var_measured"].sum() / w["var_predicted"].sum() - 1) < 0.05
    np.testing.assert_allclose(np.sqrt(w["var_measured"]), np.sqrt(w["var_predicted"]), rtol=0.15)


def test_rmsprop_central_flow_tracks_settled_edge():
    """RMSProp at the edge near the minimum, with all three directions at the edge (k = 3,
    beyond the n_eig = 2 followed by default): sharpness held, oscillation size eta/2 predicted,
    x and v of the averaged run tracked >= 10x better than by the stable flow (7)."""
    q = rmsprop_case()
    assert q["k_max"] == 3
    assert q["sharp_dev"] < 1e-4
    assert abs(q["amp_measured"] / q["amp_predicted"] - 1) < 0.05
    assert q["gap_stable"] >= 10 * q["gap_central"], (q["gap_stable"], q["gap_central"])
    assert q["gap_v_stable"] >= 10 * q["gap_v_central"]
    assert q["gap_central_descent"] < q["gap_stable_descent"]


def test_scalar_rmsprop_central_flow_against_numpy_run():
    """Scalar RMSProp (no discrete spec in adadyn): a NumPy transcription of
    nu <- alpha nu + (1 - alpha)|g|^2, x <- x - eta g/(sqrt(nu) + eps) against the flow."""
    obj, x0, eta = edge_problem()
    alpha, eps, T = 0.9, 1e-8, 8.0
    nu = float(obj.grad(x0) @ obj.grad(x0))
    xs, x = [x0.copy()], x0.copy()
    for _ in range(int(round(T / eta))):
        g = obj.grad(x)
        nu = alpha * nu + (1 - alpha) * float(g @ g)
        x = x - eta * g / (np.sqrt(nu) + eps)
        xs.append(x.copy())
    xs = np.array(xs)
    flow = ad.flows.central(ad.RMSprop(eta, alpha=alpha, eps=eps), scalar=True)
    sol = ad.flows.solve(flow, obj, x0, T, v0=float(obj.grad(x0) @ obj.grad(x0)))
    assert sol.v.shape == (len(sol.t), 1)
    assert np.any(sol.sigma2[:, 0] > 0)
    assert edge_deviation(sol) < 1e-4
    tc = eta * (np.arange(len(xs) - 1) + 0.5)
    gap = np.linalg.norm(0.5 * (xs[1:] + xs[:-1]) - sol.x_at(tc), axis=1)
    t_edge = sol.t[np.argmax(sol.sigma2[:, 0] > 0)]
    # before the edge the flow is the scalar preconditioner's stable flow: O(eta) close to the run
    assert gap[tc < t_edge].max() < 0.02
    # the run's oscillation decays to ~1e-24 before the edge and regrows only after t_edge + 1
    # (delayed entry, docs/central-flows.md); the gap then closes (0.25 at t = 2, 0.023 after t = 7)
    assert gap[tc >= 7.0].max() < 0.1 * gap.max()
    k = np.flatnonzero(tc >= 6.0)
    amp = np.sqrt(np.mean(((xs[k + 1, 0] - xs[k, 0]) / 2) ** 2))
    assert abs(amp / np.sqrt(sol.sigma2[-1, 0]) - 1) < 0.01       # sigma = eta/2 here


def test_central_refuses_what_it_does_not_model():
    with pytest.raises(ValueError, match="Adam"):
        ad.flows.central(ad.Adam(1e-3))
    with pytest.raises(ValueError, match="n_eig"):
        ad.flows.central(ad.GD(0.1), n_eig=0)
    with pytest.raises(ValueError, match="scalar"):
        ad.flows.central(ad.GD(0.1), scalar=True)
    obj, x0, _ = edge_problem()
    with pytest.raises(ValueError, match="substeps"):
        solve_central(ad.flows.central(ad.GD(0.02)), obj, x0, 1.0, substeps=0)
    with pytest.raises(ValueError, match="max_steps"):
        solve_central(ad.flows.central(ad.GD(0.02)), obj, x0, 1e6, max_steps=1000)
    with pytest.raises(ValueError, match="central flow of another"):
        tr = ad.run(ad.GD(0.01), obj, x0, 10)
        ad.analysis.compare(tr, ad.flows.solve(ad.flows.central(ad.GD(0.02)), obj, x0, 0.1), average=2)


def test_docs_example_runs(capsys):
    """The example in docs/central-flows.md runs as written (the project's own file)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "central-flows.md").read_text()
    code = re.search(r"## Example\s+```python\n(.*?)```", text, re.S).group(1)
    ns = {}
    exec(compile(code, "docs/central-flows.md", "exec"), ns)
    out = capsys.readouterr().out
    assert "CentralSolution(" in out
    assert ns["c_gf"].gap_over(1.0) > 10 * ns["c_cen"].gap_over(1.0)


def test_lanczos_route_matches_dense(gd_result):
    """dense_max=0 takes the matrix-free route (eigsh on hvp): same flow as the dense eigh route."""
    obj, x0, eta = edge_problem()
    flow = ad.flows.central(ad.GD(eta))
    a = solve_central(flow, obj, x0, 2.0, dense_max=0)
    b = gd_result["central"]
    i = len(a.t)
    assert a.costs["hvp"] > 0 and a.costs["hessian"] == 0
    np.testing.assert_allclose(a.x, b.x[:i], atol=1e-7)
    np.testing.assert_allclose(a.sigma2[:, 0], b.sigma2[:i, 0], rtol=1e-5, atol=1e-10)


def test_blow_up_is_a_status():
    """x' = 4 x^3 leaves every bound in finite time (t = 1/8 from x = 1): status 'diverged'."""
    obj = ad.Objective.from_expr("-x**4 + y**2", ["x", "y"])
    sol = ad.flows.solve(ad.flows.central(ad.GD(0.01)), obj, [1.0, 1.0], 1.0)
    assert sol.status == "diverged" and 0.1 < sol.t_end < 0.2
    assert np.all(np.isfinite(sol.x))


@pytest.mark.slow
def test_reproduction_entry_verdict(tmp_path):
    from adadyn.reproduce import registry as R

    rep = R.get("flows-central").run(tmp_path)
    assert rep.verdict == "reproduces", rep.text()
    v = rep.values
    assert v["gd"]["gap_stable"] >= 10 * v["gd"]["gap_central"]
    assert v["rmsprop"]["gap_stable"] >= 10 * v["rmsprop"]["gap_central"]
    assert all(f.exists() for f in rep.figures)


class _Duck:
    """Only the interface a network objective offers (value, grad, hvp, hessian_form_grad on
    flat vectors, dim): no Hessian, no structure, no formula."""

    def __init__(self, obj):
        self._o, self.dim = obj, obj.dim
        self.calls = {"hvp": 0, "third": 0}

    def value(self, x, t=1.0):
        return self._o.value(x)

    def grad(self, x, t=1.0):
        return self._o.grad(x)

    def hvp(self, x, u, t=1.0):
        self.calls["hvp"] += 1
        return self._o.hvp(x, u)

    def hessian_form_grad(self, x, u, t=1.0):
        self.calls["third"] += 1
        return self._o.hessian_form_grad(x, u)


def test_duck_typed_objective(gd_result):
    """The central flow runs on an object with only the network interface (Lanczos route)."""
    obj, x0, eta = edge_problem()
    duck = _Duck(obj)
    sol = solve_central(ad.flows.central(ad.GD(eta)), duck, x0, 1.0)
    i = len(sol.t)
    np.testing.assert_allclose(sol.x, gd_result["central"].x[:i], atol=1e-7)
    assert duck.calls["hvp"] == sol.costs["hvp"] > 0 and duck.calls["third"] == sol.costs["third"] > 0


def test_polarised_bilinear_form_gradients():
    """G[a, b] = grad_x (u_a^T H(x) u_b) from hessian_form_grad by polarisation, against central
    differences of the bilinear form itself (an objective with mixed third derivatives)."""
    from adadyn.flows.central import _Field

    obj = ad.Objective.from_expr("x**2*y*z + exp(x)*y**3 + sin(z)*x*y", ["x", "y", "z"])
    rng = np.random.default_rng(2)
    x, U = rng.normal(size=3), rng.normal(size=(3, 2))
    G = _Field(ad.flows.central(ad.GD(0.1)), obj, 400, 3).form_grads(x, U)
    h = 1e-5
    for a in range(2):
        for b in range(2):
            fd = [(U[:, a] @ obj.hessian(x + h * e) @ U[:, b] - U[:, a] @ obj.hessian(x - h * e) @ U[:, b]) / (2 * h)
                  for e in np.eye(3)]
            np.testing.assert_allclose(G[a, b], fd, rtol=1e-6, atol=1e-7)


def test_euler_substeps_converge():
    """The solver's own error shrinks with the substep (first order or better, against h/8)."""
    obj, x0, eta = edge_problem()
    flow = ad.flows.central(ad.GD(eta))
    tt = np.linspace(0.0, 3.0, 301)
    ref = ad.flows.solve(flow, obj, x0, 3.0, substeps=32).x_at(tt)
    e4, e8 = (np.abs(ad.flows.solve(flow, obj, x0, 3.0, substeps=n).x_at(tt) - ref).max() for n in (4, 8))
    assert e8 < 0.6 * e4 and e4 < 0.02
