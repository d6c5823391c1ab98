"""Bounded memory and time for flow solves, the sparse Jacobian of separable objectives,
and the refusals of compare / convergence_order / linearize / limit."""
import warnings

import numpy as np
import pytest

import adadyn as ad
from adadyn import flows
from adadyn.flows import budget as B
from adadyn.flows import kernels as FK

X0 = np.random.default_rng(1).standard_normal(10)


# ------------------------------------------------------------------ memory
def test_storage_plan_refuses_with_estimate_and_what_fits():
    with pytest.raises(ValueError, match=r"12000x12000.*n_state <= \d+ fits") as exc:
        B.storage_plan(12000, 4000, "Radau", dense_jacobian=True, n_t_eval=None)
    assert "GiB" in str(exc.value)
    # 5 n^2 + d^2 doubles for Radau: the estimate is that number
    plan = B.storage_plan(300, 100, "Radau", dense_jacobian=True, n_t_eval=None)
    assert plan.matrices == 8 * (5 * 300**2 + 100**2)
    with pytest.raises(ValueError, match=r"at most \d+ points fit"):
        B.storage_plan(30, 10, "LSODA", dense_jacobian=True, n_t_eval=10**9)
    with pytest.warns(ResourceWarning, match="will hold"):
        B.storage_plan(30, 10, "LSODA", dense_jacobian=False, n_t_eval=2 * 10**6)


def test_solve_refuses_huge_t_eval_and_dense_matrices(quad10):
    with pytest.raises(ValueError, match=r"t_eval has 100000 points .* at most 2000 points fit"):
        flows.solve(flows.GDFlow(), quad10, X0, 1e5, t_eval=np.arange(1, 10**5 + 1, dtype=float),
                    method="RK45", max_bytes=2000 * 8 * (2 * 10 + 3))
    with pytest.raises(ValueError, match="max_bytes"):
        flows.solve(flows.AdamFlow(), quad10, X0, 1.0, max_bytes=20_000)


def test_dense_output_is_capped_at_run_time(quad10):
    """The number of steps is not known up front: the solve stops (failed, state kept)
    once the stored steps would pass max_bytes, with a warning at 1/8 of it."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sol = flows.solve(flows.GDFlow(), quad10, X0, 50.0, method="RK45", max_bytes=60_000)
    assert sol.status == "failed" and "max_bytes" in sol.message
    assert 0 < sol.t_end < 50.0
    assert any(issubclass(w.category, ResourceWarning) for w in rec)
    plan = B.storage_plan(10, 10, "RK45", dense_jacobian=False, n_t_eval=None, max_bytes=60_000)
    assert sol.n_steps <= plan.max_steps + 1


# ------------------------------------------------------------------ time
class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_budget_time_check_is_predictive():
    """Stops when elapsed + the longest gap between callbacks would pass the limit."""
    clock = _Clock()
    plan = B.storage_plan(4, 2, "LSODA", dense_jacobian=False, n_t_eval=None)
    bud = B.Budget(None, 10.0, plan, 0.0, np.zeros(4), clock=clock)
    for t in (0.1, 0.2, 3.2, 3.3):      # one 3 s stretch (a factorisation)
        clock.t = t
        bud.rhs(t, None)
    clock.t = 6.5                       # 6.5 + 3.2 < 10: keep going
    bud.jac()
    clock.t = 7.1                       # 7.1 + 3.2 > 10: the next stretch could overrun
    with pytest.raises(B.BudgetExceeded, match="time_limit=10s"):
        bud.rhs(7.1, None)
    bud2 = B.Budget(5, None, plan, 0.0, np.zeros(4))
    for _ in range(5):
        bud2.rhs(0.0, None)
    with pytest.raises(B.BudgetExceeded, match="max_nfev=5"):
        bud2.rhs(0.0, None)


def test_time_limit_is_checked_inside_callbacks(quad10):
    sol = flows.solve(flows.RMSpropFlow(100.0, 1e-8), quad10, X0, 5.0, time_limit=1e-6)
    assert sol.status == "failed" and "time_limit" in sol.message
    assert sol.nfev <= 2 and sol.events["elapsed"] < 5.0


# ------------------------------------------------------------------ separable: sparse Jacobian
def test_separable_jacobian_pattern_equals_dense_kernel(rng):
    d = 7
    h = rng.uniform(0.5, 3.0, d)
    obj = ad.objectives.diagonal_quadratic(h)
    for flow in (flows.GDFlow(), flows.EpsSignFlow(1e-3), flows.RMSpropFlow(2.0, 1e-4),
                 flows.AdamFlow(1.5, 12.0, 1e-4), flows.AdamFlow(1.5, 12.0, 1e-4, eps_inside=True)):
        k = len(flow.blocks)
        y = rng.standard_normal(k * d)
        if flow.has_v:
            y[-d:] = rng.uniform(0.1, 2.0, d)
        J = flow.jacobian(obj, 0.4, y)
        nz = np.empty(k * k * d)
        FK.jac_separable(flow.kernel_kind, flow.params(), 0.4, y, obj.grad(y[:d]), h, k, nz)
        rows, cols = FK.separable_pattern(d, k)
        Js = np.zeros_like(J)
        Js[rows, cols] = nz
        np.testing.assert_array_equal(Js, J)


def test_large_separable_solve_uses_sparse_jacobian_and_agrees(rng):
    d = 300                                       # Adam: n = 900 >= SPARSE_MIN_STATE
    h = rng.uniform(0.5, 5.0, d)
    obj = ad.objectives.diagonal_quadratic(h)
    x0 = rng.standard_normal(d)
    flow = flows.AdamFlow(1.0, 10.0, 1e-3)
    sp = flows.solve(flow, obj, x0, 0.2, rtol=1e-9, atol=1e-11)
    assert sp.events["sparse_jacobian"] and sp.method == "Radau"
    # each coordinate is its own 3-d flow: solve coordinate 0 alone as a reference
    one = flows.solve(flow, ad.objectives.diagonal_quadratic(h[:1]), x0[:1], 0.2, rtol=1e-11, atol=1e-13)
    assert abs(sp.x_at(0.2)[0] - one.x_at(0.2)[0]) < 1e-7
    rms = flows.solve(flows.RMSpropFlow(1.0, 1e-3), ad.objectives.diagonal_quadratic(np.r_[h, h]),
                      np.r_[x0, x0], 0.2)
    assert rms.method == "BDF" and rms.events["sparse_jacobian"] and rms.status == "ok"


# ------------------------------------------------------------------ refusals
def test_compare_refuses_foreign_objective_or_optimiser(quad10):
    tr = ad.run(ad.GD(0.01), quad10, X0, 20)
    sol = flows.solve(flows.GDFlow(), quad10, X0, 0.2)
    other = flows.solve(flows.GDFlow(), ad.objectives.random_quadratic(10, seed=1), X0, 0.2)
    with pytest.raises(ValueError, match="different objectives"):
        ad.analysis.compare(tr, other)
    same_recipe = ad.objectives.random_quadratic(10, seed=0)
    assert same_recipe is not quad10
    ad.analysis.compare(ad.run(ad.GD(0.01), same_recipe, X0, 20), sol)      # equal identity(): accepted
    with pytest.raises(ValueError, match="tends to"):
        ad.analysis.compare(ad.run(ad.SignGD(0.01), quad10, X0, 20), sol)
    opt = ad.RMSprop.from_a(0.01, 2.0, eps=1e-3)
    rms = flows.solve(flows.limit(opt), quad10, X0, 0.2)
    trr = ad.run(opt, quad10, X0, 20)
    ad.analysis.compare(trr, rms, scaling="rates")
    with pytest.raises(ValueError, match="tends to"):
        ad.analysis.compare(trr, rms, scaling="factors")
    with pytest.raises(ValueError, match="tends to"):
        ad.analysis.compare(ad.run(ad.RMSprop.from_a(0.01, 3.0, eps=1e-3), quad10, X0, 20), rms)
    with pytest.raises(ValueError, match="no flow"):
        ad.analysis.compare(ad.run(ad.Lion(0.01), quad10, X0, 20), sol)


@pytest.mark.parametrize("etas, match", [([0.01, 0.01, 0.005], "distinct"), ([0.01, 0.005], "at least 3"),
                                         ([0.01, float("nan"), 0.002], "finite")])
def test_convergence_order_refuses_bad_etas(etas, match, quad10):
    with pytest.raises(ValueError, match=match):
        ad.analysis.convergence_order(ad.GD(0.01), quad10, X0, 0.1, etas)


def test_convergence_order_refuses_recording_that_does_not_fit(quad10):
    with pytest.raises(ValueError, match=r"T <= [\d.e+]+ fits"):
        ad.analysis.convergence_order(ad.Adam.from_ab(0.01, 1.0, 10.0), quad10, X0, 1e9, [0.01, 0.005, 0.0025])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_linearize_refuses_non_finite_point(bad, quad10):
    x = np.zeros(10)
    x[3] = bad
    with pytest.raises(ValueError, match="point must be finite"):
        ad.analysis.linearize(ad.RMSprop(1e-3), quad10, x)
    with pytest.raises(ValueError, match="v must be finite"):
        ad.analysis.linearize(ad.RMSprop(1e-3), quad10, np.zeros(10), v=np.full(10, np.nan))


@pytest.mark.parametrize("opt", [ad.Lion(1e-3), ad.AdaFix(1e-3)], ids=lambda o: o.name)
def test_limit_says_no_flow_for_lion_and_adafix(opt):
    with pytest.raises(flows.NoFlowError, match="no continuous-time limit"):
        flows.limit(opt)


def test_eps_inside_flow_matches_map_layout_and_eigenvalues(quad10):
    """RMSprop with eps inside: the flow x' = -g/sqrt(v + eps); at (0, 0) its Jacobian has
    eigenvalues -lambda/sqrt(eps) and -a (the eps-inside analogue of eq. (11))."""
    opt = ad.RMSprop(1e-3, alpha=0.5, eps=1e-6, eps_inside=True)
    F = ad.analysis.maps.state_map(opt, quad10)
    flow = ad.analysis.maps.limit_flow(F)
    assert flow == flows.RMSpropFlow(opt.a, 1e-6, eps_inside=True)
    J = flow.jacobian_at(np.zeros(20), np.zeros(10), quad10.A)
    lam = np.linalg.eigvalsh(quad10.A)
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(J).real),
                               np.sort(np.r_[-lam / 1e-3, np.full(10, -opt.a)]), rtol=1e-10)
    y = np.r_[X0, np.abs(X0)]
    np.testing.assert_allclose(flow.field(y, quad10.grad(X0))[:10], -quad10.grad(X0) / np.sqrt(np.abs(X0) + 1e-6),
                               rtol=1e-14)


# ------------------------------------------------------------------ robustness of the stiff solve
def test_jacobian_dv_entry_is_zero_where_v_is_clipped(quad10):
    """The field uses max(v, 0): flat in v for v < 0, so dx'/dv = 0 there (finite), and
    g / (2 sqrt(v) (sqrt(v) + eps)^2) for v > 0."""
    flow = flows.RMSpropFlow(100.0, 1e-8)
    y = np.r_[X0, np.full(10, 0.3)]
    y[12], y[13] = -1e-300, 1e-30
    J = flow.jacobian(quad10, 1.0, y)
    g = quad10.grad(X0)
    assert J[2, 12] == 0.0 and np.all(np.isfinite(J))
    assert J[3, 13] == pytest.approx(g[3] / (2 * 1e-15 * (1e-15 + 1e-8) ** 2), rel=1e-12)


def test_stiff_rmsprop_solve_is_robust_to_rounding_of_the_start(quad10):
    """With the floor 1e-150 at v <= 0 the Jacobian got entries ~1e165 and LSODA failed on
    2 of 8 starts perturbed by 1e-13 ("repeated convergence failures")."""
    for k in range(6):
        sol = flows.solve(flows.RMSpropFlow(100.0, 1e-8), quad10, X0 * (1 + k * 1e-13), 5.0)
        assert sol.status == "ok", (k, sol.message)
