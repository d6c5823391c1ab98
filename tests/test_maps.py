"""The discrete map F and its Jacobian (adadyn.analysis.maps): F against the
Numba kernel, DF against central differences, the v = 0 limit of eq. (11)."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis.maps import flow_field, flow_jacobian, hessian_at, state_map

OPTS = [
    ad.GD(0.01),
    ad.SignGD(0.01),
    ad.RMSprop(0.01, alpha=0.9, eps=1e-3),
    ad.RMSprop(0.01, alpha=0.9, eps=1e-3, eps_inside=True),
    ad.Adam(0.01, beta1=0.8, beta2=0.95, eps=1e-3, bias_correction=False),
    ad.Adam(0.01, beta1=0.8, beta2=0.95, eps=1e-3),  # t -> infinity map: kernel state with r^k = q^k = 0
    ad.AMSGrad(0.01, beta1=0.8, beta2=0.95, eps=1e-3, bias_correction=False),
    ad.Adagrad(0.05, eps=1e-3),
    ad.Family(0.01, h=0.5, r=0.3, p=0.2, q=0.7, eps=1e-3),
]
BLOCKS = {"GD": ("x",), "signGD": ("x",), "RMSprop": ("x", "v"), "Adam": ("x", "m", "v"),
          "AMSGrad": ("x", "m", "v", "aux"), "Adagrad": ("x", "v"), "family": ("x", "m", "v")}


def _random_state(F, rng):
    z = rng.standard_normal(F.size)
    for b in ("v", "aux"):
        if b in F.blocks:
            z[F.index(b)] = np.abs(z[F.index(b)]) + 0.1
    return z


def _fd(fun, z, h=1e-6):
    return np.column_stack([(fun(z + h * e) - fun(z - h * e)) / (2 * h) for e in np.eye(z.size)])


@pytest.mark.parametrize("opt", OPTS, ids=lambda o: f"{o.name}{'-in' if getattr(o, 'eps_inside', 0) else ''}")
def test_map_equals_kernel_step_and_jacobian_equals_fd(opt, rng):
    obj = ad.objectives.rosenbrock(3)
    F = state_map(opt, obj)
    assert F.blocks == BLOCKS[opt.name]
    for _ in range(3):
        z = _random_state(F, rng) * 0.5
        z_kernel = F.pack(ad.discrete.step(opt, obj, F.to_state(z)))
        z_run = F.pack(ad.run(opt, obj, steps=1, state=F.to_state(z)).final_state)
        np.testing.assert_array_equal(F(z), z_kernel)  # same arithmetic, same bits
        np.testing.assert_array_equal(F(z), z_run)
        J = F.jacobian(z)
        Jfd = _fd(F, z)
        assert np.max(np.abs(J - Jfd)) <= 1e-6 * max(1.0, np.max(np.abs(J)))


def test_amsgrad_jacobian_on_both_branches_of_the_max(rng):
    obj = ad.objectives.random_quadratic(3, seed=2)
    F = state_map(ad.AMSGrad(0.01, beta1=0.8, beta2=0.95, eps=1e-3, bias_correction=False), obj)
    z = _random_state(F, rng)
    z[F.index("aux")] = np.array([1e3, 0.0, 1e3])  # components 0, 2 keep aux; 1 takes v'
    J = F.jacobian(z)
    np.testing.assert_allclose(J, _fd(F, z), atol=1e-6 * np.max(np.abs(J)))
    ia = F.index("aux")
    assert J[ia.start, ia.start] == 1.0 and J[ia.start + 1, ia.start + 1] == 0.0


def test_orbit_jacobian_is_chain_rule_of_iterates(rng):
    obj = ad.objectives.random_quadratic(2, seed=3)
    F = state_map(ad.Adam(0.02, beta1=0.7, beta2=0.9, eps=1e-2, bias_correction=False), obj)
    z = _random_state(F, rng)
    pts, M = F.orbit_jacobian(z, 3)
    np.testing.assert_array_equal(pts[1], F(z))
    Mfd = _fd(lambda u: F.iterate(u, 3), z)
    np.testing.assert_allclose(M, Mfd, atol=1e-6 * np.max(np.abs(M)))


@pytest.mark.parametrize("opt", [ad.RMSprop(0.01, alpha=0.8, eps=1e-4),
                                 ad.Adam(0.01, beta1=0.8, beta2=0.95, eps=1e-4, bias_correction=False)])
def test_flow_jacobian_equals_fd_of_flow_field(opt, rng):
    obj = ad.objectives.rosenbrock(2)
    F = state_map(opt, obj)
    z = _random_state(F, rng) * 0.5
    J = flow_jacobian(F, z)
    np.testing.assert_allclose(J, _fd(lambda u: flow_field(F, u), z), atol=1e-6 * np.max(np.abs(J)))


def test_v_zero_limit_matches_one_sided_differences_at_a_minimum():
    """At (x*, 0, 0) the derivative through sqrt(v) is 0 * infinity; the map is
    still differentiable there (|m' sqrt(w)| = o(|(m', w)|)). Check the limit
    against differences with steps far below the nonlinearity scale eps/lambda."""
    lam = np.array([1.0, 3.0])
    obj = ad.objectives.diagonal_quadratic(lam)
    opt = ad.Adam(0.01, beta1=0.7, beta2=0.9, eps=1e-2, bias_correction=False)
    F = state_map(opt, obj)
    z0 = F.point(np.zeros(2))
    J = F.jacobian(z0)
    h = 1e-9
    cols = []
    for e in np.eye(F.size):
        cols.append((F(z0 + h * e) - F(z0)) / h)  # one-sided: v >= 0
    Jfd = np.column_stack(cols)
    np.testing.assert_allclose(J, Jfd, atol=1e-5 * np.max(np.abs(J)))
    # the x-m block per mode is [[1 - c(1-b) lam, -c b], [(1-b) lam, b]], c = eta/eps
    c, b = opt.eta / opt.eps, opt.beta1
    ix, im = F.index("x"), F.index("m")
    np.testing.assert_allclose(np.diag(J[ix, ix]), 1 - c * (1 - b) * lam, rtol=1e-14)
    np.testing.assert_allclose(np.diag(J[ix, im]), -c * b * np.ones(2), rtol=1e-14)
    np.testing.assert_allclose(J[F.index("v"), F.index("v")], opt.beta2 * np.eye(2), rtol=0)
    assert np.all(J[:, F.index("v")][ix] == 0.0)


def test_not_differentiable_points_raise():
    obj = ad.objectives.diagonal_quadratic([1.0, 2.0])
    F = state_map(ad.RMSprop(0.01, alpha=0.9, eps=0.0), obj)
    with pytest.raises(ValueError, match="eps"):
        F.jacobian(F.point(np.zeros(2)))
    Fa = state_map(ad.Adam(0.01, beta2=1.0 - 1e-16, eps=1e-8, bias_correction=False), obj)
    z = Fa.point(np.zeros(2), m=[1.0, 0.0])  # v' = 0 but m' != 0: infinite derivative
    with pytest.raises(ValueError, match="no derivative"):
        Fa.jacobian(z)
    Fs = state_map(ad.SignGD(0.1), obj)
    with pytest.raises(ValueError, match="not differentiable"):
        Fs.jacobian(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="AdaFix"):
        state_map(ad.AdaFix(0.01), obj)
    with pytest.raises(ValueError, match="online"):
        state_map(ad.Adam(0.01), ad.objectives.reddi_online())
    with pytest.raises(ValueError, match="schedule"):
        state_map(ad.Adam(0.01, schedule=ad.InverseSqrt()), obj)
    with pytest.raises(ValueError, match="length"):
        F(np.zeros(3))


def test_symbolic_hessian_is_exact_and_agrees_with_compiled():
    obj = ad.Objective.from_expr("1 - cos(x1**2 + x2**2) + x1*x2**3")
    x = np.array([0.4, -0.7])
    H, acc = hessian_at(obj, x)
    assert "sympy" in acc
    s = x[0] ** 2 + x[1] ** 2
    exact = np.array([[2 * np.sin(s) + 4 * x[0] ** 2 * np.cos(s), 4 * x[0] * x[1] * np.cos(s) + 3 * x[1] ** 2],
                      [4 * x[0] * x[1] * np.cos(s) + 3 * x[1] ** 2,
                       2 * np.sin(s) + 4 * x[1] ** 2 * np.cos(s) + 6 * x[0] * x[1]]])
    np.testing.assert_allclose(H, exact, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(hessian_at(obj, x, exact=False)[0], exact, rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="symbolic"):
        hessian_at(ad.objectives.rosenbrock(2), x, exact=True)


@pytest.mark.parametrize("opt", [ad.RMSprop(0.01, alpha=0.8, eps=1e-4), ad.GD(0.01),
                                 ad.Adam(0.01, beta1=0.8, beta2=0.95, eps=1e-4, bias_correction=False)])
def test_flow_field_and_jacobian_match_the_flows_package(opt, rng):
    """adadyn.flows (an independent implementation of eqs. (7), (8)) uses the same
    (x, [m,] v) layout; its t -> infinity Adam flow is bias_correction=False."""
    obj = ad.objectives.rosenbrock(2)
    F = state_map(opt, obj)
    flow = ad.flows.limit(opt)
    for _ in range(3):
        z = _random_state(F, rng) * 0.5
        np.testing.assert_allclose(flow_field(F, z), flow.rhs(obj, 1.0, z), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(flow_jacobian(F, z), flow.jacobian(obj, 1.0, z), rtol=1e-12, atol=1e-12)
