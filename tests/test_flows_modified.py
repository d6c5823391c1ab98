"""The modified (order-2) flows, numerically: fitted orders of the gap to discrete
runs at the step times (order 2 ~ 2, order 1 ~ 1) on quadratic and non-quadratic
objectives, the RMSprop v0 = 0 initial layer (closed form |zeta(1/2)| sqrt(eta/a)),
the raw moments, the solver paths, the bias-corrected rate, and the API's refusals."""
import math

import numpy as np
import pytest

import adadyn as ad
from adadyn import flows
from adadyn.discrete.trajectory import State
from adadyn.flows import modified as M
from adadyn.objectives import library as L

X0 = np.array([0.6, -0.4])
ETAS = [0.02, 0.01, 0.005, 0.0025]
QUAD = L.quadratic(np.array([[2.0, 0.5], [0.5, 1.0]]))
LOGCOSH = ad.Objective.from_expr("log(cosh(x1 - 1)) + 0.5*log(cosh(2*x2 + x1))")
COSBOWL = L.cosine_bowl()
QUARTIC = ad.Objective.from_expr("x1**4/4 + x2**4/8 + 0.5*x1*x2 + 0.3*x2**2")
PROBLEMS = {"quadratic": (QUAD, X0), "log-cosh": (LOGCOSH, X0), "1-cos bowl": (COSBOWL, X0),
            "quartic": (QUARTIC, np.array([1.0, 0.8]))}
OPTS = {
    "GD": (ad.GD(eta=0.01), None),
    "Adam": (ad.Adam.from_ab(0.01, a=1.0, b=5.0), None),
    "Adam, no bias correction": (ad.Adam.from_ab(0.01, a=1.0, b=5.0, bias_correction=False), "mv"),
    "RMSprop, v0 = g0^2": (ad.RMSprop.from_a(0.01, a=2.0), "v"),
}


def start(kind, obj, x0):
    g0 = obj.grad(x0)
    return {None: {}, "v": {"v0": g0**2}, "mv": {"m0": g0, "v0": g0**2}}[kind]


@pytest.mark.parametrize("opt_name", list(OPTS))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_order2_gap_is_eta_squared_and_order1_stays_eta(problem, opt_name):
    obj, x0 = PROBLEMS[problem]
    opt, kind = OPTS[opt_name]
    kw = start(kind, obj, x0)
    r2 = M.convergence_order(opt, obj, x0, 1.0, ETAS, order=2, **kw)
    r1 = M.convergence_order(opt, obj, x0, 1.0, ETAS, order=1, **kw)
    assert r2.order_nodes >= 1.9, r2
    assert 0.9 <= r1.order_nodes <= 1.15, r1
    assert np.all(r2.gaps_x_nodes < 0.2 * r1.gaps_x_nodes)
    # the sup over each step of the piecewise-constant path is O(eta) for both
    assert 0.9 <= r2.order <= 1.15


def test_rmsprop_from_v0_zero_keeps_its_sqrt_eta_layer():
    """From v0 = 0 the run moves sqrt(eta/a) sign(g) per coordinate at the first step and
    sum_j sqrt(eta/(a j)) after k steps, the flow 2 sqrt(k eta/a): on a linear objective
    the gap tends to |zeta(1/2)| sqrt(eta/a) per coordinate (zeta(1/2) = -1.46035...)."""
    lin = ad.Objective.from_expr("2*x1 - 0.5*x2")
    a = 2.0
    opt = ad.RMSprop.from_a(0.01, a=a)
    r1 = M.convergence_order(opt, lin, X0, 1.0, [0.004, 0.002, 0.001, 0.0005], order=1)
    assert abs(r1.order_nodes - 0.5) < 0.01
    want = 1.4603545088095868 * np.sqrt(2 * r1.etas / a)
    np.testing.assert_allclose(r1.gaps_x_nodes, want, rtol=3e-3)
    with pytest.raises(ValueError, match="v0"):
        flows.solve(flows.limit(opt, order=2), lin, X0, 1.0)


def test_raw_moments_at_the_step_times_are_eta_squared():
    """m, v of the bias-corrected modified Adam flow (discrete factors 1 - beta^(t/eta))
    against the run's raw m_k, v_k at t_k."""
    gm, gv = [], []
    for eta in ETAS:
        opt = ad.Adam.from_ab(eta, a=1.0, b=5.0)
        sol = flows.solve(flows.limit(opt, order=2), LOGCOSH, X0, 1.0, method="DOP853", rtol=1e-12, atol=1e-14)
        tr = ad.run(opt, LOGCOSH, X0, int(round(1.0 / eta)))
        gm.append(np.abs(sol.m_at(tr.time) - tr.m).max())
        gv.append(np.abs(sol.v_at(tr.time) - tr.v).max())
    assert np.polyfit(np.log(ETAS), np.log(gm), 1)[0] >= 1.85
    assert np.polyfit(np.log(ETAS), np.log(gv), 1)[0] >= 1.85


@pytest.mark.parametrize("opt_name", ["Adam", "RMSprop, v0 = g0^2"])
def test_implicit_solve_with_difference_jacobian_agrees(opt_name):
    opt, kind = OPTS[opt_name]
    flow = flows.limit(opt, order=2)
    kw = start(kind, LOGCOSH, X0)
    ref = flows.solve(flow, LOGCOSH, X0, 1.0, method="DOP853", rtol=1e-12, atol=1e-14, **kw)
    assert flows.default_method(flow) == flow.preferred_method
    sol = flows.solve(flow, LOGCOSH, X0, 1.0, method="Radau", rtol=1e-10, atol=1e-12, **kw)
    assert sol.njev > 0 and sol.success
    np.testing.assert_allclose(sol.x[-1], ref.x[-1], atol=1e-8)


def test_jacobian_is_the_derivative_of_rhs():
    flow = flows.limit(ad.Adam.from_ab(0.01, a=1.0, b=5.0, bias_correction=False), order=2)
    y = np.array([0.6, -0.4, 0.3, -0.2, 0.2, 0.1])
    J = flow.jacobian(LOGCOSH, 0.5, y)
    u = np.random.default_rng(0).standard_normal(6)
    h = 1e-4   # a 4th-order stencil, independent of the 2nd-order one in jacobian()
    fd = (8 * (flow.rhs(LOGCOSH, 0.5, y + h * u) - flow.rhs(LOGCOSH, 0.5, y - h * u))
          - (flow.rhs(LOGCOSH, 0.5, y + 2 * h * u) - flow.rhs(LOGCOSH, 0.5, y - 2 * h * u))) / (12 * h)
    np.testing.assert_allclose(J @ u, fd, rtol=1e-6, atol=1e-8)


def test_bias_rate_limits():
    """R(t) = b/(1 - e^{-bt}) + eta R1(t): R1 -> b^2/4 as t -> 0 (where the closed
    form cancels catastrophically) and -> b^2/2 as t -> infinity."""
    b, eta = 5.0, 0.01
    for t in (1e-12, 1e-9, 1e-6):
        r1 = (M.bias_rate(b, t, eta) - M.bias_rate(b, t, 0.0)) / eta
        assert r1 == pytest.approx(b * b / 4, rel=1e-3)
    assert (M.bias_rate(b, 50.0, eta) - b) / eta == pytest.approx(b * b / 2, rel=1e-12)
    t = 0.3
    u = b * t
    closed = b / (1 - math.exp(-u)) + eta * 0.5 * b * b * (1 - math.exp(-u) * (1 + u)) / (1 - math.exp(-u)) ** 2
    assert M.bias_rate(b, t, eta) == pytest.approx(closed, rel=1e-13)


def test_gd_modified_flow_is_the_gradient_flow_of_the_modified_loss():
    """x' = -grad(f + (eta/4)|grad f|^2) (Barrett & Dherin): closed form on a quadratic,
    x(t) = exp(-(A + (eta/2) A^2) t) x0."""
    from scipy.linalg import expm

    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    eta = 0.05
    sol = flows.solve(flows.limit(ad.GD(eta=eta), order=2), QUAD, X0, 1.5, method="DOP853", rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol.x[-1], expm(-(A + 0.5 * eta * A @ A) * 1.5) @ X0, atol=1e-11)


def test_limit_order_argument():
    f = flows.limit(ad.Adam.from_ab(0.02, a=1.0, b=5.0), order=2)
    assert isinstance(f, flows.ModifiedAdamFlow) and f.eta == 0.02 and f.bias_correction
    assert f.base == flows.limit(ad.Adam.from_ab(0.02, a=1.0, b=5.0))
    assert flows.limit(ad.GD(eta=0.1), order=2) == flows.ModifiedGDFlow(eta=0.1)
    assert isinstance(flows.limit(ad.RMSprop.from_a(0.01, a=2.0), order=2), flows.ModifiedRMSpropFlow)
    assert flows.limit(ad.Adam.from_ab(0.02, a=1.0, b=5.0), order=1) == flows.limit(ad.Adam.from_ab(0.02, a=1.0, b=5.0))
    for bad in (0, 3, 1.5, True, "2"):
        with pytest.raises(ValueError, match="order"):
            flows.limit(ad.GD(eta=0.1), order=bad)
    with pytest.raises(flows.NoFlowError, match="hold"):
        flows.limit(ad.Adam(eta=0.01), hold="factors", order=2)
    with pytest.raises(flows.NoFlowError):
        flows.limit(ad.SignGD(eta=0.1), order=2)
    with pytest.raises(flows.NoFlowError, match="eps_inside"):
        flows.limit(ad.RMSprop(eta=0.01, eps_inside=True), order=2)


def test_modified_flows_refuse_what_they_cannot_evaluate():
    f = flows.ModifiedGDFlow(eta=0.1)
    with pytest.raises(ValueError, match="Hessian-vector"):
        f.field(np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="third"):
        f.jacobian_at(np.zeros(2), np.ones(2), np.eye(2))
    with pytest.raises(ValueError, match="eta"):
        flows.ModifiedGDFlow(eta=0.0)
    with pytest.raises(ValueError, match="b \\* eta"):
        flows.ModifiedAdamFlow(b=200.0, eta=0.01)
    with pytest.raises(ValueError, match="m = v = 0"):
        flows.solve(flows.ModifiedAdamFlow(eta=0.01), QUAD, X0, 1.0, v0=np.ones(2))


def test_compare_checks_the_pair():
    opt = ad.Adam.from_ab(0.01, a=1.0, b=5.0)
    tr = ad.run(opt, QUAD, X0, 50)
    sol_other_eta = flows.solve(flows.limit(opt.with_rates(a=1.0, b=5.0, eta=0.02), order=2), QUAD, X0, 0.5)
    with pytest.raises(ValueError, match="order-2 flow"):
        M.compare(tr, sol_other_eta)
    sol1 = flows.solve(flows.limit(opt), QUAD, X0, 0.5)
    with pytest.raises(ValueError, match="not an order-2 flow"):
        M.compare(tr, sol1)
    c = M.compare(tr, flows.solve(flows.limit(opt, order=2), QUAD, X0, 0.5, method="DOP853", rtol=1e-12, atol=1e-14))
    assert c.gap_x_nodes < 2e-4 and c.gap_m is not None


def test_docs_example_runs_as_written(capsys):
    """docs/modified-flows.md's example, executed as written; its comments state the output."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "modified-flows.md").read_text()
    code = re.search(r"## Example\s+```python\n(.*?)```", text, re.S).group(1)
    exec(compile(code, "docs/modified-flows.md", "exec"), {})  # the project's own docs, not user text
    out = capsys.readouterr().out.splitlines()
    assert "gap_x_nodes=2.374e-04" in out[0]
    assert out[1:] == ["1 0.95", "2 1.91"]


def test_eps_zero_with_a_zero_gradient_component():
    """eps = 0 and g_2 = 0 on the line x2 = 0: P_2 = m_2/sqrt(v_2) is 0/0 there; the field
    takes its limit 0 along the flow (as eq. (11)), so x2 stays 0 and x1 matches the
    eps = 1e-12 solve."""
    f = ad.Objective.from_expr("log(cosh(x1 - 1)) + 0.5*x2**2")
    x0 = np.array([0.5, 0.0])
    sols = [flows.solve(flows.limit(ad.Adam.from_ab(0.01, a=1.0, b=5.0, eps=e), order=2), f, x0, 1.0,
                        method="DOP853", rtol=1e-10, atol=1e-12) for e in (0.0, 1e-12)]
    assert all(s.success for s in sols) and sols[0].x[-1][1] == 0.0
    assert sols[0].x[-1][0] == pytest.approx(sols[1].x[-1][0], rel=1e-8)


def test_analysis_compare_takes_an_order2_solution_and_checks_it_at_the_step_times():
    # ad.analysis.compare hands order-2 solutions to the modified comparison: the gap at the
    # step times is O(eta^2) there, ~200x below the order-1 flow's at eta = 0.01 on log-cosh
    obj = ad.Objective.from_expr("log(cosh(x1)) + 0.5*x2**2 + 0.1*x1*x2")
    x0 = np.array([0.8, -0.5])
    opt = ad.GD(0.01)
    run = ad.run(opt, obj, x0, 100)
    s1 = ad.flows.solve(ad.flows.limit(opt), obj, x0, run.time[-1], rtol=1e-12, atol=1e-14)
    s2 = ad.flows.solve(ad.flows.limit(opt, order=2), obj, x0, run.time[-1], rtol=1e-12, atol=1e-14)
    c1, c2 = ad.analysis.compare(run, s1), ad.analysis.compare(run, s2)
    assert c2.gap_x_nodes < c1.gap_x_nodes / 100
    other = ad.run(ad.GD(0.02), obj, x0, 50)  # the order-2 flow depends on eta: another step size is refused
    with pytest.raises(ValueError):
        ad.analysis.compare(other, s2)
