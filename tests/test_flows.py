"""Continuous-time flows (Ma, Wu & E, eqs. (4)-(8), Props. 1-4): vector fields,
Jacobians, solves against closed forms and independent tight-tolerance references,
the Filippov signGD flow, and discrete-vs-flow convergence orders."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

import adadyn as ad
from adadyn import flows

X0 = np.random.default_rng(1).standard_normal(10)


# ------------------------------------------------------------------ plain NumPy references
def ref_rhs(flow, A, t, y):
    """Eqs. (4), (7), (8) written straight from the paper, for f = x^T A x / 2."""
    d = A.shape[0]
    x = y[:d]
    g = A @ x
    if isinstance(flow, flows.GDFlow):
        return -g
    if isinstance(flow, flows.EpsSignFlow):
        return -g / (np.abs(g) + flow.eps)
    if isinstance(flow, flows.RMSpropFlow):
        v = y[d:]
        return np.concatenate([-g / (np.sqrt(v) + flow.eps), flow.a * (g**2 - v)])
    m, v = y[d:2 * d], y[2 * d:]
    a, b, eps = flow.a, flow.b, flow.eps
    c1 = 1 - math.exp(-b * t) if flow.bias_correction else 1.0
    c2 = 1 - math.exp(-a * t) if flow.bias_correction else 1.0
    return np.concatenate([-(m / c1) / (np.sqrt(v / c2) + eps), b * (g - m), a * (g**2 - v)])


def ref_solve(flow, A, y0, t0, T, method="DOP853"):
    r = solve_ivp(lambda t, y: ref_rhs(flow, A, t, y), (t0, T), y0, method=method, rtol=1e-12, atol=1e-14)
    assert r.success
    return r.y[:, -1]


ALL_SMOOTH = [
    flows.GDFlow(), flows.EpsSignFlow(1e-3), flows.RMSpropFlow(2.0, 1e-6),
    flows.AdamFlow(1.5, 12.0, 1e-6), flows.AdamFlow(1.5, 12.0, 1e-6, bias_correction=False),
]


# ------------------------------------------------------------------ fields and Jacobians
@pytest.mark.parametrize("flow", ALL_SMOOTH, ids=lambda f: repr(f))
def test_rhs_matches_paper_equations(flow, quad10, rng):
    d = 10
    y = rng.standard_normal(flow.n_state(d))
    if flow.has_v:
        y[-d:] = rng.uniform(0.1, 2.0, d)
    t = 0.37
    expected = ref_rhs(flow, quad10.A, t, y)
    if isinstance(flow, flows.AdamFlow) and flow.bias_correction:
        # the state is (x, m_hat, v_hat): map to raw m, v, apply eq. (8), and differentiate
        # m_hat = m / c1(t) by the quotient rule
        c1, c2 = 1 - math.exp(-flow.b * t), 1 - math.exp(-flow.a * t)
        mh, vh = y[d:2 * d], y[2 * d:]
        raw = ref_rhs(flow, quad10.A, t, np.concatenate([y[:d], c1 * mh, c2 * vh]))
        expected = np.concatenate([raw[:d], (raw[d:2 * d] - flow.b * (1 - c1) * mh) / c1,
                                   (raw[2 * d:] - flow.a * (1 - c2) * vh) / c2])
    assert np.allclose(flow.rhs(quad10, t, y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("flow", ALL_SMOOTH, ids=lambda f: repr(f))
def test_jacobian_matches_central_differences(flow, rng):
    obj = ad.objectives.rosenbrock(4)      # non-quadratic: the Hessian varies with x
    d = 4
    y = rng.uniform(-1, 1, flow.n_state(d))
    if flow.has_v:
        y[-d:] = rng.uniform(0.5, 2.0, d)
    t = 0.2
    J = flow.jacobian(obj, t, y)
    Jfd = np.empty_like(J)
    for j in range(y.size):
        h = 1e-6 * max(1.0, abs(y[j]))
        e = np.zeros_like(y)
        e[j] = h
        Jfd[:, j] = (flow.rhs(obj, t, y + e) - flow.rhs(obj, t, y - e)) / (2 * h)
    assert np.allclose(J, Jfd, rtol=1e-6, atol=1e-6 * np.abs(J).max())


def test_linearisation_at_minimum_is_eq_11(quad10):
    """Eq. (11): the RMSprop flow at (x*, v = 0) has eigenvalues -lambda/eps and -a."""
    eps, a = 1e-4, 3.0
    J = flows.RMSpropFlow(a, eps).jacobian(quad10, 0.0, np.zeros(20))
    ev = np.sort(np.linalg.eigvals(J).real)
    lam = np.linalg.eigvalsh(quad10.A)
    assert np.allclose(ev, np.sort(np.concatenate([-lam / eps, np.full(10, -a)])), rtol=1e-9)


# ------------------------------------------------------------------ solves vs closed forms / references
def test_gd_flow_matches_matrix_exponential(quad10):
    sol = flows.solve(flows.GDFlow(), quad10, X0, 2.0, rtol=1e-10, atol=1e-12)
    for t in (0.1, 0.7, 2.0):
        assert np.allclose(sol.x_at(t), expm(-quad10.A * t) @ X0, atol=1e-8)


@pytest.mark.parametrize("eps", [1e-2, 1e-6])
def test_eps_sign_flow_closed_form(eps):
    """f = lam x^2/2, x > 0: x' = -lam x/(lam x + eps), so x + (eps/lam) ln x = x0 + (eps/lam) ln x0 - t."""
    lam, x0 = 3.0, 1.5
    obj = ad.objectives.quadratic([[lam]])
    sol = flows.solve(flows.EpsSignFlow(eps), obj, [x0], 1.2, rtol=1e-10, atol=1e-14)
    for t in (0.2, 0.9, 1.2):
        x = sol.x_at(t)[0]
        assert x > 0
        assert abs(x + eps / lam * math.log(x) - (x0 + eps / lam * math.log(x0) - t)) < 1e-8


@pytest.mark.parametrize("flow", [flows.EpsSignFlow(1e-3), flows.RMSpropFlow(2.0, 1e-6),
                                  flows.AdamFlow(1.5, 12.0, 1e-6, bias_correction=False)],
                         ids=lambda f: repr(f))
def test_default_solve_matches_tight_reference(flow, quad10):
    d, T = 10, 0.6
    g0 = quad10.grad(X0)
    v0 = g0**2 if flow.has_v else None
    sol = flows.solve(flow, quad10, X0, T, v0=v0)
    y0 = np.concatenate([X0] + ([np.zeros(d)] if flow.has_m else []) + ([v0] if flow.has_v else []))
    ref = ref_solve(flow, quad10.A, y0, 0.0, T)
    got = np.concatenate([sol.x[-1]] + ([sol.m[-1]] if flow.has_m else []) + ([sol.v[-1]] if flow.has_v else []))
    assert np.allclose(got, ref, rtol=1e-5, atol=1e-6)
    tight = flows.solve(flow, quad10, X0, T, v0=v0, rtol=1e-12, atol=1e-14, method="Radau")
    assert np.allclose(tight.x[-1], ref[:d], rtol=1e-9, atol=1e-10)


def test_adam_flow_bias_corrected_start_matches_raw_equations(quad10):
    """Eq. (8) in the raw m, v (no change of variables), started at t_s = 1e-6 from
    m = (1 - e^{-b t_s}) g0, v = (1 - e^{-a t_s}) g0^2, x = x0 - t_s g0/(|g0| + eps),
    against the solve in bias-corrected variables."""
    flow = flows.AdamFlow(1.5, 12.0, 1e-6)
    T, ts, d = 1.0, 1e-6, 10
    g0 = quad10.grad(X0)
    y0 = np.concatenate([X0 - ts * g0 / (np.abs(g0) + flow.eps), -math.expm1(-flow.b * ts) * g0,
                         -math.expm1(-flow.a * ts) * g0**2])
    ref = ref_solve(flow, quad10.A, y0, ts, T, method="Radau")
    tight = flows.solve(flow, quad10, X0, T, rtol=1e-12, atol=1e-14)
    assert tight.method == "Radau"
    assert np.allclose(tight.x[-1], ref[:d], atol=1e-9)
    assert np.allclose(tight.m[-1], ref[d:2 * d], atol=1e-8)
    assert np.allclose(tight.v[-1], ref[2 * d:], rtol=1e-9, atol=1e-8)
    default = flows.solve(flow, quad10, X0, T)
    assert np.allclose(default.x[-1], ref[:d], atol=1e-5)
    # raw moments start at 0, bias-corrected ones at g0, g0^2 (their t -> 0 limits)
    assert np.all(default.m[0] == 0) and np.all(default.v[0] == 0)
    assert np.allclose(default.m_hat[0], g0) and np.allclose(default.v_hat[0], g0**2)


def test_rmsprop_flow_from_zero_v_matches_sqrt_time_reference(quad10):
    """From v = 0 the RMSprop flow moves like -sign(g)/sqrt(a t) at first. In s = sqrt(t)
    the system dx/ds = 2 s x', dv/ds = 2 s v' is smooth: an independent reference."""
    flow = flows.RMSpropFlow(2.0, 1e-6)
    d, T = 10, 0.5
    A = quad10.A

    def f(s, y):
        return 2 * s * ref_rhs(flow, A, s * s, np.concatenate([y[:d], np.maximum(y[d:], 0)]))

    r = solve_ivp(f, (0, math.sqrt(T)), np.concatenate([X0, np.zeros(d)]), method="DOP853",
                  rtol=1e-12, atol=1e-14)
    sol = flows.solve(flow, quad10, X0, T, rtol=1e-11, atol=1e-13)
    assert sol.events["t0"] > 0
    assert np.allclose(sol.x[-1], r.y[:d, -1], atol=1e-7)
    assert np.allclose(sol.v[-1], r.y[d:, -1], rtol=1e-7)
    # early motion with g frozen at g0, v = a t g0^2: x' = -g0/(c sqrt(t) + eps), c = sqrt(a)|g0|,
    # x(t) = x0 - g0 (2/c) (sqrt(t) - (eps/c) log(1 + c sqrt(t)/eps)) ~ x0 - 2 sign(g0) sqrt(t/a)
    g0 = quad10.grad(X0)
    c = math.sqrt(flow.a) * np.abs(g0)
    for t in (1e-10, 1e-8):
        pred = X0 - g0 * (2 / c) * (math.sqrt(t) - flow.eps / c * np.log1p(c * math.sqrt(t) / flow.eps))
        assert np.allclose(sol.x_at(t), pred, atol=1e-8)


def test_prop3_adam_initial_velocity_is_minus_sign():
    """Prop. 3 (eq. (10)): with eps = 0, |x'(tau) + sign(grad f(x(tau)))| is small for small tau,
    whatever a, b."""
    obj = ad.objectives.quadratic(np.diag([1.0, 4.0, 9.0]))
    x0 = np.array([1.0, -0.8, 0.5])
    taus = np.array([1e-5, 3e-5, 1e-4])
    ends = []
    for a, b in [(1.0, 10.0), (50.0, 500.0)]:
        flow = flows.AdamFlow(a, b, 0.0)
        sol = flows.solve(flow, obj, x0, 0.02, rtol=1e-11, atol=1e-13)
        res = []
        for tau in taus:
            y = sol.sol(tau)
            xd = flow.rhs(obj, tau, y)[:3]
            res.append(np.linalg.norm(xd + np.sign(obj.grad(y[:3]))))
        # Prop. 3 bounds the residual by O(tau); it is in fact O(tau^2): with eps = 0 the
        # first-order terms of m_hat and sqrt(v_hat) cancel (x''(0) = 0)
        slope = np.polyfit(np.log(taus), np.log(res), 1)[0]
        assert 1.7 < slope < 2.3
        assert res[-1] < 1e-6
        ends.append(sol.x_at(1e-3))
    # the initial speed does not depend on a, b: positions agree to O(tau^2)
    assert np.linalg.norm(ends[0] - ends[1]) < 1e-5


def test_adam_early_velocity_bound_is_respected():
    obj = ad.objectives.quadratic(np.diag([1.0, 2.0]))
    x0 = np.array([1.0, 1.0])
    flow = flows.AdamFlow(1.0, 10.0, 0.0)
    sol = flows.solve(flow, obj, x0, 0.01, rtol=1e-11, atol=1e-13)
    c, L, d = 0.9, 2.0, 2
    M = 2.0 * math.sqrt(2) * 1.01    # |grad f| <= |grad f(x0)| on this descent path
    for tau in (1e-5, 1e-4):
        y = sol.sol(tau)
        r = np.linalg.norm(flow.rhs(obj, tau, y)[:2] + np.sign(obj.grad(y[:2])))
        bound = ad.analysis.adam_early_velocity_bound(tau, c, M, L, d)
        assert np.isfinite(bound) and r < bound


# ------------------------------------------------------------------ signGD flow as a Filippov system
@pytest.mark.parametrize("c", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("x0", [0.7, -2.5])
def test_signgd_on_cx2_stops_at_x0(c, x0):
    for obj in (ad.objectives.quadratic([[2 * c]]), ad.Objective.from_expr(f"{c}*x1**2")):
        sol = flows.solve(flows.SignGDFlow(), obj, [x0], 5.0)
        assert sol.status == "converged"
        assert abs(sol.stop_time - abs(x0)) < 1e-9
        assert sol.n_steps <= 2 and sol.nfev < 200
        assert abs(sol.x[-1, 0]) < 1e-9
        assert abs(sol.x_at(abs(x0) / 2)[0] - x0 / 2) < 1e-9
        # Prop. 4 with mu = 4c: T <= 2 sqrt(c x0^2 / (4c)) = |x0|, exact for every c. (The
        # paper's remark after Prop. 4 finds x0/sqrt(c), "exact only at c = 1", by using
        # f(x0) = x0^2 instead of c x0^2.)
        bound = ad.analysis.signgd_stop_time_bound(obj, [x0], mu=4 * c, f_star=0.0)
        assert sol.stop_time <= bound * (1 + 1e-12)
        assert abs(bound - abs(x0)) < 1e-12


def test_signgd_diagonal_components_stop_independently():
    """f = sum h_i x_i^2/2: each x_i moves at unit speed, the flow stops at max|x0_i|."""
    h = np.array([1.0, 5.0, 0.1, 30.0])
    x0 = np.array([1.0, -2.0, 0.5, 3.0])
    for obj in (ad.objectives.quadratic(np.diag(h)), ad.objectives.diagonal_quadratic(h)):
        sol = flows.solve(flows.SignGDFlow(), obj, x0, 5.0)
        assert abs(sol.stop_time - 3.0) < 1e-9
        assert np.allclose(sol.x_at(0.75), np.sign(x0) * np.maximum(np.abs(x0) - 0.75, 0), atol=1e-9)
        assert sol.n_steps <= 4


def test_signgd_prop4_on_random_quadratic(quad10):
    sol = flows.solve(flows.SignGDFlow(), quad10, X0, 200.0)
    mu = ad.analysis.pl_constant(quad10)
    assert mu == pytest.approx(2 * np.linalg.eigvalsh(quad10.A)[0])
    T = ad.analysis.signgd_stop_time_bound(quad10, X0)
    assert sol.status == "converged"
    assert sol.stop_time <= T
    assert sol.grad_norm[-1] < 1e-10
    assert np.linalg.norm(sol.x[-1]) < 1e-8        # the minimiser is 0
    assert sol.n_steps <= 10 * quad10.dim            # no chattering, no flood of steps
    ts = np.linspace(0, sol.stop_time, 50)
    assert np.all(np.array([quad10.value(x) for x in sol.x_at(ts)])
                  <= ad.analysis.signgd_loss_bound(quad10, X0, ts) * (1 + 1e-9) + 1e-14)


def test_signgd_sliding_matches_general_path_and_discrete(quad10):
    """Exact piecewise-linear path (quadratic) vs the general per-segment solve on the
    same function given without .A, and discrete signGD tends to the Filippov flow."""
    A = quad10.A
    general = ad.objectives.least_squares(np.linalg.cholesky(A).T * math.sqrt(10), np.zeros(10))
    assert np.allclose(general.hessian(X0), A)
    s1 = flows.solve(flows.SignGDFlow(), quad10, X0, 3.0)
    s2 = flows.solve(flows.SignGDFlow(), general, X0, 3.0)
    assert abs(s1.stop_time - s2.stop_time) < 1e-8
    ts = np.linspace(0, 3.0, 31)
    assert np.allclose(s1.x_at(ts), s2.x_at(ts), atol=1e-8)
    # on [0, 1] (before the long many-surface sliding phase, where discrete signGD chatters
    # with an amplitude ~ eta * cond(A) and needs eta << 1/cond(A) ~ 1e-4 to follow)
    gaps = [ad.analysis.compare(ad.run(ad.SignGD(eta), quad10, X0, int(round(1.0 / eta))), s1).gap_x
            for eta in (4e-3, 1e-3)]
    assert gaps[1] < gaps[0] / 2.5


def test_eps_sign_flow_tends_to_filippov_signgd_flow(quad10):
    """The eps-sign flow (4) is a smooth regularisation of (5): as eps -> 0 it converges to
    the Filippov solution, sliding phases included (an independent check of the sliding)."""
    s = flows.solve(flows.SignGDFlow(), quad10, X0, 2.0)
    ts = np.linspace(0, 2.0, 201)
    gaps = [np.abs(flows.solve(flows.EpsSignFlow(eps), quad10, X0, 2.0, rtol=1e-10, atol=1e-13).x_at(ts)
                   - s.x_at(ts)).max() for eps in (1e-6, 1e-8)]
    assert gaps[0] < 5e-3 and gaps[1] < 1e-4 and gaps[1] < gaps[0] / 20


# ------------------------------------------------------------------ discrete vs flow (Props. 1, 2)
def test_compare_is_the_sup_of_eq_9_on_gd():
    """GD on f = lam x^2/2: x_k = (1 - eta lam)^k x0, x(t) = e^{-lam t} x0, both decreasing, so the
    sup over [t_k, t_{k+1}) is at one of the ends."""
    lam, eta, n = 2.0, 0.01, 100
    obj = ad.objectives.quadratic([[lam]])
    tr = ad.run(ad.GD(eta), obj, [1.0], n)
    sol = flows.solve(flows.GDFlow(), obj, [1.0], eta * n, rtol=1e-12, atol=1e-14, method="DOP853")
    k = np.arange(n)
    xk = (1 - eta * lam) ** k
    exact = max(np.max(np.abs(xk - np.exp(-lam * eta * k))), np.max(np.abs(xk - np.exp(-lam * eta * (k + 1)))))
    c = ad.analysis.compare(tr, sol, samples=5)
    assert c.gap_x == pytest.approx(exact, rel=1e-8)
    assert c.gap_m is None and c.gap_v is None


def test_prop2_adam_order_one(quad10):
    r = ad.analysis.convergence_order(ad.Adam.from_ab(1e-3, 1.0, 10.0, eps=1e-8), quad10, X0, 0.5,
                                      [4e-3, 2e-3, 1e-3])
    assert 0.8 <= r.order <= 1.2
    assert 0.8 <= r.order_nodes <= 1.2
    assert np.all(np.diff(r.gaps_m) < 0) and np.all(np.diff(r.gaps_v) < 0)
    assert np.polyfit(np.log(r.etas), np.log(r.gaps_v), 1)[0] > 0.8


def test_prop2_rmsprop_order_one_from_positive_v0(quad10):
    """With v0 > 0 the RMSprop flow (7) is smooth and the gap is O(eta)."""
    r = ad.analysis.convergence_order(ad.RMSprop.from_a(1e-3, 1.0, eps=1e-8), quad10, X0, 0.5,
                                      [4e-3, 2e-3, 1e-3], v0=quad10.grad(X0) ** 2)
    assert 0.8 <= r.order <= 1.2
    assert 0.8 <= r.order_nodes <= 1.2


def test_prop2_rmsprop_from_zero_v_is_order_half(quad10):
    """From v0 = 0 with small eps the flow starts like -sign(g)/sqrt(a t); steps of size
    eta resolve that only to O(sqrt(eta)) (sum_k k^{-1/2} - 2 sqrt(n) -> zeta(1/2)).
    Prop. 2's limit holds, at order 1/2."""
    r = ad.analysis.convergence_order(ad.RMSprop.from_a(1e-3, 1.0, eps=1e-8), quad10, X0, 0.5,
                                      [4e-3, 2e-3, 1e-3, 5e-4])
    assert 0.35 <= r.order <= 0.65
    # leading term: |zeta(1/2)| sqrt(eta/a) in every component with g0_i != 0, at the nodes
    pred = abs(-1.4603545088095868) * np.sqrt(r.etas / 1.0) * math.sqrt(10)
    assert np.allclose(r.gaps_x_nodes, pred, rtol=0.35)


@pytest.mark.parametrize("opt", [ad.RMSprop(1e-3, alpha=0.9, eps=1e-3),
                                 ad.Adam(1e-3, beta1=0.9, beta2=0.9, eps=1e-3)], ids=lambda o: o.name)
def test_prop1_fixed_factors_tend_to_eps_sign_flow(opt, quad10):
    r = ad.analysis.convergence_order(opt, quad10, X0, 0.3, [4e-3, 2e-3, 1e-3, 5e-4], scaling="factors")
    assert isinstance(r.flow, flows.EpsSignFlow) and r.flow.eps == opt.eps
    assert np.all(np.diff(r.gaps_x) < 0)
    assert r.gaps_x[-1] < r.gaps_x[0] / 3


# ------------------------------------------------------------------ limit(), solver cost, validation
def test_limit_maps_specs_to_flows():
    assert flows.limit(ad.GD(0.1)) == flows.GDFlow()
    assert flows.limit(ad.SignGD(0.1), hold="factors") == flows.SignGDFlow()
    f = flows.limit(ad.RMSprop.from_a(1e-3, 2.0, eps=1e-6))
    assert isinstance(f, flows.RMSpropFlow) and f.a == pytest.approx(2.0) and f.eps == 1e-6
    f = flows.limit(ad.Adam.from_ab(1e-3, 2.0, 30.0, eps=1e-7, bias_correction=False))
    assert isinstance(f, flows.AdamFlow) and f.b == pytest.approx(30.0) and not f.bias_correction
    assert flows.limit(ad.Adam(1e-3, eps=1e-5), hold="factors") == flows.EpsSignFlow(1e-5)


@pytest.mark.parametrize("opt, hold, match", [
    (ad.AMSGrad(1e-3), "rates", "AMSGrad"),
    (ad.Adagrad(1e-2), "rates", "Adagrad"),
    (ad.Adam(1e-3, eps_inside=True), "rates", "eps_inside"),
    (ad.Adam(1e-3, schedule=ad.InverseSqrt()), "rates", "schedule"),
    (ad.Adam(1e-3), "sideways", "hold"),
])
def test_limit_rejects_what_has_no_flow(opt, hold, match):
    with pytest.raises(ValueError, match=match):
        flows.limit(opt, hold=hold)


def test_stiff_rmsprop_cost_is_bounded(quad10):
    """a = 100, eps = 1e-8 to t = 5: eigenvalues down to -lambda/sqrt(v) ~ -1e9 once v decays.
    LSODA + analytic Jacobian stays in the thousands of evaluations; RK45 does not finish."""
    flow = flows.RMSpropFlow(100.0, 1e-8)
    sol = flows.solve(flow, quad10, X0, 5.0)
    assert sol.status == "ok" and sol.nfev < 20_000 and sol.njev < 2_000
    rk = flows.solve(flow, quad10, X0, 5.0, method="RK45", max_nfev=20 * sol.nfev)
    assert rk.status == "failed" and rk.t_end < 5.0 and "max_nfev" in rk.message


def test_gtol_event_and_divergence_event(quad10):
    sol = flows.solve(flows.GDFlow(), quad10, X0, 1e4, gtol=1e-3)
    assert sol.status == "converged" and sol.grad_norm[-1] == pytest.approx(1e-3, rel=1e-4)
    neg = ad.objectives.quadratic(-np.eye(2))
    sol = flows.solve(flows.GDFlow(), neg, [1.0, 0.5], 100.0, max_norm=1e6)
    assert sol.status == "diverged" and sol.stop_time == pytest.approx(math.log(1e6), rel=1e-4)


@pytest.mark.parametrize("kw, match", [
    (dict(t_final=-1.0), "t_final"), (dict(t_final=float("nan")), "t_final"),
    (dict(method="Euler"), "method"), (dict(rtol=0.0), "rtol"), (dict(v0=-np.ones(10)), "v0"),
    (dict(m0=np.ones(10)), "m0"), (dict(atol=np.ones(3)), "atol"),
])
def test_solve_validation(kw, match, quad10):
    args = dict(flow=flows.RMSpropFlow(1.0), obj=quad10, x0=X0, t_final=1.0)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        flows.solve(**args)


@pytest.mark.parametrize("ctor, match", [
    (lambda: flows.EpsSignFlow(0.0), "eps"), (lambda: flows.RMSpropFlow(-1.0), "a"),
    (lambda: flows.AdamFlow(1.0, float("inf")), "b"), (lambda: flows.AdamFlow(1.0, 1.0, -1e-8), "eps"),
])
def test_flow_spec_validation(ctor, match):
    with pytest.raises(ValueError, match=match):
        ctor()


def test_solution_dense_output_and_repr(quad10):
    sol = flows.solve(flows.AdamFlow(1.0, 10.0, 1e-8), quad10, X0, 1.0)
    assert "FlowSolution" in repr(sol) and sol.success
    ts = np.linspace(0, 1, 7)
    assert sol.x_at(ts).shape == (7, 10) and sol.m_at(0.5).shape == (10,)
    assert np.allclose(sol.x_at(sol.t[5]), sol.x[5], atol=1e-12)
    with pytest.raises(ValueError, match="t must lie"):
        sol.x_at(1.5)


def test_plots_and_demo(tmp_path, quad10):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from adadyn.commands.flows import demo

    sol = flows.solve(flows.SignGDFlow(), quad10, X0, 2.0)
    ax = ad.plotting.plot_signgd_flow(sol, bound=lambda t: ad.analysis.signgd_loss_bound(quad10, X0, t))
    assert len(ax.lines) == 3
    opt = ad.Adam.from_ab(1e-2, 1.0, 10.0)
    fs = flows.solve(flows.limit(opt), quad10, X0, 0.5)
    ax = ad.plotting.plot_flow_vs_discrete(fs, [ad.run(opt, quad10, X0, 50)], quantity="x", component=3)
    assert np.allclose(ax.lines[-1].get_ydata()[0], X0[3])
    plt.close("all")
    text = demo(tmp_path)
    assert (tmp_path / "flows_vs_discrete.png").stat().st_size > 10_000
    orders = [float(line.split()[1]) for line in text.splitlines() if line.strip().startswith("order")]
    assert 0.9 < orders[0] < 1.1 and 0.3 < orders[1] < 0.6     # Adam order 1, RMSprop from v0 = 0 ~1/2


def test_analysis_namespace_serves_the_compare_function(quad10):
    """After every analysis submodule is loaded, ``ad.analysis.compare`` is still the
    function (no submodule shares its name)."""
    import adadyn.analysis.discrete_vs_flow as mod

    ad.analysis.pl_constant(quad10)
    tr = ad.run(ad.GD(0.01), quad10, X0, 10)
    sol = flows.solve(flows.GDFlow(), quad10, X0, 0.1)
    c1, c2 = ad.analysis.compare(tr, sol), mod.compare(tr, sol)
    assert isinstance(c1, mod.Comparison) and c1.gap_x == c2.gap_x > 0
