"""Periodic orbits against maps and multipliers computed here, independently of
the package's map and Jacobian code: unstable orbits, failed Newton solves, and
the per-block convergence test (Newton must not call a cycle "found" because the
residual is small next to a large second moment).

The maps are transcribed from the papers: GD x' = x - eta f'(x); RMSprop, eq. (2)
of Ma, Wu & E: v' = alpha v + (1 - alpha) g^2, x' = x - eta g / (sqrt(v') + eps).
Multipliers are eigenvalues of a central finite-difference Jacobian of F^2.
"""
import numpy as np
import pytest

import adadyn as ad


@pytest.fixture(scope="module")
def quartic():
    return ad.Objective.from_expr("x1**4/4")


def gd_map(eta):
    return lambda z: np.array([z[0] - eta * z[0] ** 3])


def rms_map(eta, alpha, eps, fprime):
    def F(z):
        x, v = z
        g = fprime(x)
        v1 = alpha * v + (1 - alpha) * g * g
        return np.array([x - eta * g / (np.sqrt(v1) + eps), v1])
    return F


def fd_monodromy(F, z, period=2, rel=1e-6):
    """Central differences of F^period at z, step rel |z_i| per coordinate."""
    def Fk(w):
        for _ in range(period):
            w = F(w)
        return w
    n = z.size
    M = np.empty((n, n))
    for i in range(n):
        h = rel * max(abs(z[i]), 1e-300)
        e = np.zeros(n)
        e[i] = h
        M[:, i] = (Fk(z + e) - Fk(z - e)) / (2 * h)
    return M


def _check_against(orb, F):
    """The orbit is a 2-cycle of F (per block, relative), and its multipliers and
    stability are those of the finite-difference monodromy."""
    assert orb.found and orb.minimal_period == 2
    z0, z1 = orb.points
    np.testing.assert_allclose(F(z0), z1, rtol=1e-10, atol=0)
    np.testing.assert_allclose(F(z1), z0, rtol=1e-10, atol=0)
    mu_fd = np.linalg.eigvals(fd_monodromy(F, z0))
    mu_fd = mu_fd[np.argsort(-np.abs(mu_fd))]
    np.testing.assert_allclose(np.abs(orb.multipliers), np.abs(mu_fd), rtol=1e-5, atol=1e-8)
    assert orb.stable == bool(np.max(np.abs(mu_fd)) < 1.0)
    return mu_fd


@pytest.mark.parametrize("eta", [0.1, 0.02])
def test_gd_unstable_two_cycle_on_quartic(quartic, eta):
    """GD on x^4/4: x -> -x needs eta x^3 = 2x, x = sqrt(2/eta); F'(x) = 1 - 3 eta x^2 = -5 at
    both points, so the multiplier of F^2 is 25 whatever eta: the cycle is unstable."""
    c = np.sqrt(2 / eta)
    orb = ad.analysis.periodic_orbit(ad.GD(eta), quartic, 2, [0.9 * c])
    np.testing.assert_allclose(np.sort(orb.x[:, 0]), [-c, c], rtol=1e-12)
    mu = _check_against(orb, gd_map(eta))
    np.testing.assert_allclose(orb.multipliers, [25.0], rtol=1e-10)
    np.testing.assert_allclose(mu, [25.0], rtol=1e-6)
    assert not orb.stable


# RMSprop on x^4/4, symmetric 2-cycles x -> -x with v = g^2 = x^6:
# eta x^3 / (|x|^3 + eps) = 2 |x|, i.e. 2|x|^3 - eta x^2 + 2 eps = 0, two positive roots
# (near eta/2 and near sqrt(2 eps/eta)). Their stability depends on alpha.
ETA, EPS = 0.1, 1e-6
ROOTS = np.sort(np.roots([2.0, -ETA, 0.0, 2 * EPS]).real)[1:]  # the two positive roots


@pytest.mark.parametrize("root,alpha,stable", [
    (1, 0.0, True),     # large cycle, memoryless RMSprop: multipliers ~0.905 and 0
    (1, 0.5, False),    # complex pair of modulus 2.5
    (1, 0.9, False),
    (0, 0.0, False),    # small cycle: multiplier ~19.7
])
def test_rmsprop_two_cycles_on_quartic_stable_and_unstable(quartic, root, alpha, stable):
    c = ROOTS[root]
    opt = ad.RMSprop(ETA, alpha=alpha, eps=EPS)
    orb = ad.analysis.periodic_orbit(opt, quartic, 2, [1.02 * c])
    np.testing.assert_allclose(np.sort(orb.x[:, 0]), [-c, c], rtol=1e-9)
    np.testing.assert_allclose(orb.block("v")[:, 0], c ** 6, rtol=1e-8)
    _check_against(orb, rms_map(ETA, alpha, EPS, lambda x: x ** 3))
    assert orb.stable is stable


def test_newton_that_runs_out_of_iterations_reports_not_found():
    """RMSprop on x^2/2 has the 2-cycle +-(eta/2 - eps): Newton from 3x the
    cycle needs several iterations, so max_iter = 1 must give found=False, with a
    residual above the tolerance; with the default it is found."""
    obj = ad.objectives.quadratic([[1.0]])
    opt = ad.RMSprop(0.01, alpha=0.9, eps=1e-4)
    c = 0.005 - 1e-4
    bad = ad.analysis.periodic_orbit(opt, obj, 2, [3 * c], max_iter=1)
    assert not bad.found and "converge" in bad.message and bad.residual > 1e-10
    assert bad.iterations == 1
    good = ad.analysis.periodic_orbit(opt, obj, 2, [3 * c])
    assert good.found and good.iterations > 1
    np.testing.assert_allclose(np.sort(good.x[:, 0]), [-c, c], rtol=1e-10)


def test_no_orbit_at_all_gives_not_found():
    """GD on f = x moves by -eta every step: F^2(x) - x = -2 eta, no periodic orbit."""
    lin = ad.Objective.from_expr("x1")
    for guess in ([1.0], [-3.0], [1e3]):
        orb = ad.analysis.periodic_orbit(ad.GD(0.1), lin, 2, guess)
        assert not orb.found and "converge" in orb.message
        assert orb.residual == pytest.approx(0.2, rel=1e-9)


@pytest.mark.parametrize("guess", [[2e5], [1e3], [50.0], [3e-3], [7e-3]])
def test_found_means_a_true_cycle_per_block(guess):
    """issue 9: from x = 2e5 the second moment is 4e10, and |F^2(z) - z| = 0.02 (all
    in x) passed a tolerance scaled by |z|. Whatever Newton returns, found=True must
    mean a 2-cycle of the map transcribed here to 1e-10 in every block."""
    obj = ad.objectives.quadratic([[1.0]])
    eta, alpha, eps = 0.01, 0.99, 1e-8
    orb = ad.analysis.periodic_orbit(ad.RMSprop(eta, alpha=alpha, eps=eps), obj, 2, guess)
    if guess == [2e5]:
        assert not orb.found
    if orb.found:
        _check_against(orb, rms_map(eta, alpha, eps, lambda x: x))
        np.testing.assert_allclose(np.abs(orb.x[:, 0]), eta / 2 - eps, rtol=1e-10)
    else:
        assert orb.points.shape[0] == 0 and not orb.stable


@pytest.mark.parametrize("guess", [[np.nan], [np.inf], [-np.inf], [1e300], [1e200]])
def test_non_finite_guesses_are_refused(guess):
    obj = ad.objectives.quadratic([[1.0]])
    with pytest.raises(ValueError, match="guess"):
        ad.analysis.periodic_orbit(ad.RMSprop(0.01), obj, 2, guess)


def test_orbit_parameter_validation():
    obj = ad.objectives.quadratic([[1.0]])
    opt = ad.RMSprop(0.01)
    for kw, name in ((dict(tol=0.0), "tol"), (dict(tol=np.nan), "tol"), (dict(max_iter=0), "max_iter"),
                     (dict(atol=-1.0), "atol"), (dict(max_iter=1.5), "max_iter")):
        with pytest.raises(ValueError, match=name):
            ad.analysis.periodic_orbit(opt, obj, 2, [0.003], **kw)
    with pytest.raises(ValueError, match="period"):
        ad.analysis.periodic_orbit(opt, obj, True, [0.003])
    with pytest.raises(ValueError, match="guess"):
        ad.analysis.periodic_orbit(opt, obj, 2, "abc")


def test_fixed_point_block_tolerance_is_absolute_near_zero():
    """period 1 at the minimum: x* = 0, v* = 0 (both blocks 0) must pass through the
    absolute part of the tolerance."""
    obj = ad.objectives.quadratic([[2.0]])
    orb = ad.analysis.periodic_orbit(ad.RMSprop(1e-4, alpha=0.9, eps=1e-3), obj, 1, [1e-6])
    assert orb.found and abs(orb.x[0, 0]) < 1e-12
    # multipliers of the fixed point, eq. (11): 1 - eta lambda / eps and alpha
    np.testing.assert_allclose(np.sort(orb.multipliers.real), [0.8, 0.9], atol=1e-12)
    assert orb.stable


def test_newton_iteration_count_on_a_linear_map():
    """GD on a quadratic: F^2(z) - z is linear, so one Newton step lands on the
    fixed point exactly; the orbit search reports one iteration and minimal period 1."""
    obj = ad.objectives.diagonal_quadratic([1.0, 3.0])
    orb = ad.analysis.periodic_orbit(ad.GD(0.1), obj, 2, [0.7, -0.2])
    assert not orb.found and orb.minimal_period == 1 and orb.iterations == 1
    fp = ad.analysis.periodic_orbit(ad.GD(0.1), obj, 1, [0.7, -0.2])
    assert fp.found and fp.iterations == 1 and np.max(np.abs(fp.x)) < 1e-15


def test_a_guess_whose_orbit_overflows_is_not_found():
    """GD with eta lambda = 2.5 on a quartic sends a large guess to overflow within two
    steps: the residual is not finite and nothing may be reported as found."""
    obj = ad.Objective.from_expr("x1**4/4")
    orb = ad.analysis.periodic_orbit(ad.GD(1.0), obj, 2, [1e80])
    assert not orb.found and not np.isfinite(orb.residual)


def test_convergence_on_the_last_allowed_iteration_and_state_guess():
    """max_iter equal to the iterations Newton needs still reports the orbit (the check
    after the loop), polished like any other; a State from a run is a valid guess."""
    obj = ad.objectives.quadratic([[1.0]])
    opt = ad.RMSprop(0.01, alpha=0.9, eps=1e-4)
    c = 0.005 - 1e-4
    good = ad.analysis.periodic_orbit(opt, obj, 2, [3 * c])
    last = ad.analysis.periodic_orbit(opt, obj, 2, [3 * c], max_iter=good.iterations)
    assert last.found and last.iterations == good.iterations
    np.testing.assert_allclose(np.sort(last.x[:, 0]), [-c, c], rtol=1e-12)
    F = rms_map(0.01, 0.9, 1e-4, lambda x: x)
    np.testing.assert_allclose(F(F(last.points[0])), last.points[0], rtol=1e-12)
    tr = ad.run(opt, obj, [0.1], 3000)
    orb = ad.analysis.periodic_orbit(opt, obj, 2, tr.final_state)
    assert orb.found
    np.testing.assert_allclose(np.sort(orb.x[:, 0]), [-c, c], rtol=1e-10)


def test_orbit_through_a_non_differentiable_point_is_not_found():
    """signGD's fixed point x = 0 on x^2/2 has g = 0, where its map has no derivative:
    the orbit satisfies F(z) = z but no multipliers exist, so found=False with a message."""
    orb = ad.analysis.periodic_orbit(ad.SignGD(0.1), ad.objectives.quadratic([[1.0]]), 1, [0.0])
    assert not orb.found and "differentiable" in orb.message and orb.minimal_period == 1
    # half a step away from 0 the 2-cycle +-eta/2 is differentiable (multiplier 1: a continuum)
    two = ad.analysis.periodic_orbit(ad.SignGD(0.1), ad.objectives.quadratic([[1.0]]), 2, [0.05])
    assert two.found and np.allclose(two.multipliers, [1.0]) and not two.stable


def test_tolerances_reach_newton():
    """A loose tol stops Newton earlier (fewer iterations, larger residual) than the default."""
    obj = ad.objectives.quadratic([[1.0]])
    opt = ad.RMSprop(0.01, alpha=0.9, eps=1e-4)
    tight = ad.analysis.periodic_orbit(opt, obj, 2, [0.015])
    loose = ad.analysis.periodic_orbit(opt, obj, 2, [0.015], tol=1e-3, atol=1e-6)
    assert tight.found and loose.found and loose.iterations < tight.iterations
    # the polish steps still bring the loose result to the same orbit
    np.testing.assert_allclose(loose.points, tight.points, rtol=1e-12)


# ------------------------------------------------------------------ mutation-testing survivors
def test_family_two_cycle_from_the_closed_form_guess_needs_no_newton_step():
    """eq. (1) with r = 0 on f = x^2/2: the 2-cycle x -> -x has v = p g^2/(1 - q) and
    eta h |g| / (sqrt(v) + eps) = 2|x|, so x = (eta h/2 - eps) / sqrt(p/(1 - q)). From x
    alone the guess v = p g^2/(1 - q) is exact: zero Newton iterations, residual 0."""
    eta, h, p, q, eps = 0.1, 0.5, 0.2, 0.7, 1e-3
    opt = ad.Family(eta, h=h, r=0.0, p=p, q=q, eps=eps)
    x = (eta * h / 2 - eps) / np.sqrt(p / (1 - q))
    orb = ad.analysis.periodic_orbit(opt, ad.objectives.quadratic([[1.0]]), 2, [x])
    assert orb.found and orb.message == "ok" and orb.period == 2 and orb.iterations == 0
    np.testing.assert_allclose(orb.block("x")[:, 0], [x, -x], rtol=1e-14)
    np.testing.assert_allclose(orb.block("v")[:, 0], [p * x * x / (1 - q)] * 2, rtol=1e-14)
    assert orb.block("x").shape == (2, 1) and orb.residual <= 1e-17
    # per point det DF = -q (the x row is -1 times ... ): multipliers' product q^2
    assert abs(np.prod(orb.multipliers)) == pytest.approx(q * q, rel=1e-12)


def test_guesses_for_adagrad_q_equal_one():
    """Adagrad has q = 1: the guess v = g^2 (no stationary value exists); a zero gradient
    component must not give 0/0."""
    obj = ad.objectives.quadratic(np.eye(2))
    orb = ad.analysis.periodic_orbit(ad.Adagrad(0.1), obj, 2, [0.5, 0.0])
    assert orb.found is False and "did not converge" in orb.message


def test_amsgrad_running_max_is_projected_to_nonnegative():
    """A state guess with aux = -1 is projected to aux = 0, which is the fixed point
    (0, 0, 0, 0): found at once."""
    orb = ad.analysis.periodic_orbit(ad.AMSGrad(0.1), ad.objectives.quadratic([[1.0]]), 1,
                                     np.array([0.0, 0.0, 0.0, -1.0]))
    assert orb.found and orb.iterations == 0
    np.testing.assert_array_equal(orb.points, np.zeros((1, 4)))


def _check_not_found(orb, period, n, pmin=0, npts=0):
    assert orb.found is False and orb.stable is False
    assert orb.period == period and orb.minimal_period == pmin
    assert orb.points.shape == (npts, n) and orb.monodromy.shape == (n, n)
    assert orb.multipliers.shape == (0,) and isinstance(orb.iterations, int)
    assert isinstance(orb.residual, float)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_failures_report_why_and_how_far():
    quad = ad.objectives.quadratic(np.eye(2))
    # signGD: the 3rd iterate's sign argument is 0 in x2 (no derivative), before convergence
    orb = ad.analysis.periodic_orbit(ad.SignGD(1.0), quad, 3, [0.3, 0.0])
    _check_not_found(orb, 3, 2)
    assert "did not converge" in orb.message and orb.iterations == 1 and orb.residual == pytest.approx(1.0)
    assert orb.blocks == ("x",)
    # GD with eta lambda = 1e100: the monodromy (1 - 1e100)^4 overflows, the residual does not
    orb = ad.analysis.periodic_orbit(ad.GD(1e100), ad.objectives.quadratic([[1.0]]), 4, [1e-300])
    _check_not_found(orb, 4, 1)
    assert "did not converge" in orb.message and orb.iterations == 1
    # Newton stagnates (H = 0 at x = 0 on x^4/4 - x: F(z) - z = 0.1 cannot be reduced):
    # the failed line search stops it after one iteration
    orb = ad.analysis.periodic_orbit(ad.GD(0.1), ad.Objective.from_expr("x1**4/4 - x1"), 1, [0.0], max_iter=20)
    _check_not_found(orb, 1, 1)
    assert orb.iterations == 1 and orb.residual == pytest.approx(0.1, rel=1e-15)
    # overflow in the first residual: no iteration counted
    orb = ad.analysis.periodic_orbit(ad.GD(1.0), ad.Objective.from_expr("x1**4/4"), 2, [1e100])
    _check_not_found(orb, 2, 1)
    assert orb.iterations == 0 and orb.residual == np.inf


def test_non_differentiable_orbit_reports_its_point():
    """signGD's 2-cycle x1: 0.3 -> -0.7 -> 0.3 with x2 = 0 (g2 = 0: no derivative) is
    an exact orbit: found=False, minimal period 2, the orbit's first point kept."""
    orb = ad.analysis.periodic_orbit(ad.SignGD(1.0), ad.objectives.quadratic(np.eye(2)), 2, [0.3, 0.0])
    _check_not_found(orb, 2, 2, pmin=2, npts=1)
    assert "differentiable" in orb.message and orb.iterations == 0 and orb.residual < 1e-15
    np.testing.assert_array_equal(orb.points, [[0.3, 0.0]])
    assert orb.blocks == ("x",)


def test_absolute_and_relative_tolerances_reach_newton():
    """RMSprop 2-cycle on x^2/2 (module docstring): a guess 2% off passes a relative
    tol of 0.15 (zero iterations) even with atol tiny, or atol = 5e-4 with tol tiny (both
    below a tenth of |F(z) - z| = 2c, so the period-1 test fails); the
    polish steps then make it exact. atol = 0 still accepts the exact fixed point 0."""
    obj = ad.objectives.quadratic([[1.0]])
    opt = ad.RMSprop(0.01, alpha=0.9, eps=1e-4)
    c = 0.005 - 1e-4
    ref = ad.analysis.periodic_orbit(opt, obj, 2, [1.02 * c])
    assert ref.found and ref.iterations > 0
    for kw in (dict(tol=0.15, atol=1e-300), dict(tol=1e-14, atol=5e-4)):
        orb = ad.analysis.periodic_orbit(opt, obj, 2, [1.02 * c], **kw)
        assert orb.found and orb.iterations == 0, kw
        np.testing.assert_allclose(np.sort(orb.x[:, 0]), [-c, c], rtol=1e-9)
    fp = ad.analysis.periodic_orbit(ad.GD(0.1), obj, 1, [0.0], atol=0.0)
    assert fp.found and fp.iterations == 0
    # newton_orbit's own default tolerance is 1e-12
    from adadyn.analysis.orbits import newton_orbit
    from adadyn.analysis.maps import state_map
    F = state_map(opt, obj)
    z, ok, its, res = newton_orbit(F, F.point([1.02 * c], None, [(1.02 * c) ** 2]), 2)
    assert ok and its > 0
    np.testing.assert_allclose(np.sort(z[:1]), [c] if z[0] > 0 else [-c], rtol=1e-12)


def test_last_iteration_convergence_is_polished_and_2d_guesses():
    """From 0.015 the RMSprop 2-cycle needs several Newton steps and the last one leaves a
    nonzero residual: with max_iter equal to that count the check after the loop accepts
    the orbit and polishes it with that residual. A guess given as a (1, d) array is x."""
    obj = ad.objectives.quadratic([[1.0]])
    opt = ad.RMSprop(0.01, alpha=0.9, eps=1e-4)
    good = ad.analysis.periodic_orbit(opt, obj, 2, [0.015])
    last = ad.analysis.periodic_orbit(opt, obj, 2, [0.015], max_iter=good.iterations)
    assert good.found and last.found and last.iterations == good.iterations
    np.testing.assert_allclose(last.points, good.points, rtol=1e-12)
    two_d = ad.analysis.periodic_orbit(opt, obj, 2, np.array([[0.015]]))
    np.testing.assert_array_equal(two_d.points, good.points)
