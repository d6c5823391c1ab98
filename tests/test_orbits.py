"""Periodic orbits and continuation: RMSprop's 2-cycle on f = lambda x^2/2
(section 3, Figure 6 of Ma, Wu & E) and its birth by period doubling at eta = 2 eps/lambda."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.analysis.maps import state_map


def _quad1(lam):
    return ad.objectives.quadratic([[lam]])


@pytest.mark.parametrize("eta,alpha,eps,lam", [
    (0.01, 0.9, 1e-8, 1.0),     # Figure 6
    (0.01, 0.0, 1e-4, 2.0),
    (1e-3, 0.5, 1e-4, 3.0),
    (0.05, 0.99, 1e-3, 0.5),
])
def test_rmsprop_two_cycle_closed_form(eta, alpha, eps, lam):
    """x = +-(eta/2 - eps/lambda), v = (lambda c)^2: from eq. (2), x' = -x needs
    eta lambda/(sqrt(v) + eps) = 2 and v = alpha v + (1 - alpha) lambda^2 x^2."""
    c = eta / 2 - eps / lam
    orb = ad.analysis.periodic_orbit(ad.RMSprop(eta, alpha=alpha, eps=eps), _quad1(lam), 2, [0.7 * c])
    assert orb.found and orb.minimal_period == 2 and orb.blocks == ("x", "v")
    np.testing.assert_allclose(np.sort(orb.x[:, 0]), [-c, c], rtol=1e-10)
    np.testing.assert_allclose(orb.block("v")[:, 0], (lam * c) ** 2, rtol=1e-10)
    # det DF = -alpha at both points, so the multipliers multiply to alpha^2; the cycle is stable
    np.testing.assert_allclose(np.prod(orb.multipliers).real, alpha ** 2, atol=1e-9)
    assert orb.stable


def test_floquet_multipliers_against_finite_differences_of_F2():
    opt = ad.RMSprop(0.02, alpha=0.8, eps=1e-3)
    obj = ad.objectives.diagonal_quadratic([1.0, 2.5])
    F = state_map(opt, obj)
    c = opt.eta / 2 - opt.eps / np.array([1.0, 2.5])
    orb = ad.analysis.periodic_orbit(opt, obj, 2, F.point(0.9 * c, v=(np.array([1.0, 2.5]) * c) ** 2))
    assert orb.found
    z = orb.points[0]
    h = 1e-8
    M_fd = np.column_stack([(F.iterate(z + h * e, 2) - F.iterate(z - h * e, 2)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(orb.monodromy, M_fd, atol=1e-5 * np.max(np.abs(M_fd)))
    mu_fd = np.linalg.eigvals(M_fd)
    np.testing.assert_allclose(np.sort(np.abs(orb.multipliers)), np.sort(np.abs(mu_fd)), rtol=1e-5)
    # decoupled coordinates: the multipliers are those of the two 1-d cycles
    for lam, cc in zip((1.0, 2.5), c):
        o1 = ad.analysis.periodic_orbit(opt, _quad1(lam), 2, [0.9 * cc])
        for mu in o1.multipliers:
            assert np.min(np.abs(orb.multipliers - mu)) < 1e-8


@pytest.mark.parametrize("eta", [0.5e-4, 0.9e-4, 0.99e-4])
def test_no_two_cycle_below_the_threshold(eta):
    lam, eps = 2.0, 1e-4  # threshold 2 eps / lambda = 1e-4
    opt = ad.RMSprop(eta, alpha=0.9, eps=eps)
    orb = ad.analysis.periodic_orbit(opt, _quad1(lam), 2, [1e-4])
    assert not orb.found
    assert "period" in orb.message or "converge" in orb.message


def test_period_doubling_at_two_eps_over_lambda_and_orbit_diagram():
    lam, eps, alpha = 2.0, 1e-4, 0.9
    opt = ad.RMSprop(1e-4, alpha=alpha, eps=eps)
    etas = np.linspace(0.5e-4, 2e-4, 16)
    cont = ad.analysis.continuation(opt, _quad1(lam), [0.0], etas, transient=3000, record=8)
    assert cont.found.all()
    assert len(cont.bifurcations) == 1
    b = cont.bifurcations[0]
    assert b.kind == "period-doubling"
    assert b.value == pytest.approx(2 * eps / lam, rel=1e-12)
    # multipliers of the fixed point along the branch: 1 - eta lambda/eps and alpha
    for val, mus in zip(etas, cont.multipliers):
        np.testing.assert_allclose(np.sort(mus.real), np.sort([1 - val * lam / eps, alpha]), atol=1e-12)
    np.testing.assert_array_equal(cont.stable, etas < 2 * eps / lam)
    # the attractor of the discrete map: the fixed point below, the 2-cycle +-c above
    xs = cont.diagram_x.reshape(len(etas), 8)
    for val, row in zip(etas, xs):
        c = val / 2 - eps / lam
        if c < -1e-12:
            assert np.max(np.abs(row)) < 1e-100
        elif c > 1e-12:
            np.testing.assert_allclose(np.abs(row), c, rtol=1e-8)
            assert np.all(row[1:] * row[:-1] < 0)


def test_continuation_in_alpha_keeps_cycle_and_detects_nothing():
    lam, eps, eta = 1.0, 1e-4, 1e-3
    opt = ad.RMSprop(eta, alpha=0.1, eps=eps)
    c = eta / 2 - eps / lam
    F = state_map(opt, _quad1(lam))
    cont = ad.analysis.continuation(opt, _quad1(lam), F.point([c], v=[(lam * c) ** 2]),
                                    [0.1, 0.5, 0.9, 0.99], param="alpha", period=2, diagram=False)
    assert cont.found.all() and cont.stable.all() and cont.bifurcations == ()
    np.testing.assert_allclose(np.abs(cont.points[:, 0]), c, rtol=1e-10)
    with pytest.raises(ValueError, match="param"):
        ad.analysis.continuation(opt, _quad1(lam), [0.0], [1e-3], param="nope")


def test_figure6_trajectories_reach_the_cycle():
    from adadyn.plotting.stability import figure6_trajectories

    eta, eps = 0.01, 1e-8
    c = eta / 2 - eps
    for tr in figure6_trajectories(eta, (0.1, 0.5, 0.9, 0.99), x0=0.1, steps=3000, eps=eps):
        late = tr.x[-10:, 0]
        np.testing.assert_allclose(np.abs(late), c, rtol=2e-4)
        assert np.all(late[1:] * late[:-1] < 0)


def test_orbit_input_validation():
    with pytest.raises(ValueError, match="period"):
        ad.analysis.periodic_orbit(ad.RMSprop(0.01), _quad1(1.0), 0, [0.1])
    with pytest.raises(ValueError, match="length"):
        ad.analysis.periodic_orbit(ad.RMSprop(0.01), _quad1(1.0), 2, [0.1, 0.2, 0.3])


def test_adam_period_doubling_at_its_threshold():
    """Adam (t -> infinity map) at (0, 0, 0) on lambda x^2/2 loses stability through -1 at
    eta = (2 + 2 beta1) eps / ((1 - beta1) lambda)."""
    lam, eps, b1 = 2.0, 1e-4, 0.5
    opt = ad.Adam(1e-4, beta1=b1, beta2=0.9, eps=eps, bias_correction=False)
    th = (2 + 2 * b1) * eps / ((1 - b1) * lam)
    cont = ad.analysis.continuation(opt, _quad1(lam), [0.0], np.linspace(0.5 * th, 2 * th, 7), diagram=False)
    assert [b.kind for b in cont.bifurcations] == ["period-doubling"]
    assert cont.bifurcations[0].value == pytest.approx(th, rel=1e-12)
    assert cont.bifurcations[0].value == pytest.approx(
        float(ad.analysis.critical_learning_rate(opt, _quad1(lam), [0.0])), rel=1e-12)
