"""Lion (Chen et al. 2023) added through the single optimiser description: kernel vs a
NumPy transcription, the grid, the map and its Jacobian, and its 2-cycles."""
import numpy as np
import pytest

import adadyn as ad


def lion_reference(obj, x0, eta, beta1, beta2, steps):
    """The paper's update, transcribed: u = sign(beta1 m + (1 - beta1) g), x <- x - eta u,
    m <- beta2 m + (1 - beta2) g; returns the iterates x_0..x_steps and m."""
    x = np.array(x0, dtype=float)
    m = np.zeros_like(x)
    xs = [x.copy()]
    for _ in range(steps):
        g = obj.grad(x)
        u = np.sign(beta1 * m + (1 - beta1) * g)
        x = x - eta * u
        m = beta2 * m + (1 - beta2) * g
        xs.append(x.copy())
    return np.array(xs), m


@pytest.mark.parametrize("beta1,beta2", [(0.9, 0.99), (0.5, 0.9), (0.0, 0.99)])
def test_lion_matches_numpy_transcription(beta1, beta2):
    obj = ad.objectives.random_quadratic(6, seed=3)
    x0 = np.random.default_rng(0).standard_normal(6)
    eta = 3e-3
    ref_x, ref_m = lion_reference(obj, x0, eta, beta1, beta2, 300)
    tr = ad.run(ad.Lion(eta, beta1=beta1, beta2=beta2), obj, x0, steps=300)
    assert np.allclose(tr.x, ref_x, rtol=1e-12, atol=1e-14)
    assert np.allclose(tr.final_state.m, ref_m, rtol=1e-12, atol=1e-14)
    # every step moves each coordinate by exactly eta while the sign argument is nonzero
    assert np.allclose(np.abs(np.diff(tr.x[:50], axis=0)), eta, rtol=1e-12)


def test_lion_beta1_changes_the_direction():
    """With beta1 = 1 the direction is sign(m) alone: the first step does not move x (m0 = 0)."""
    obj = ad.objectives.quadratic(np.diag([1.0, 4.0]))
    tr = ad.run(ad.Lion(0.01, beta1=1.0), obj, [1.0, -1.0], steps=1)
    assert np.array_equal(tr.x[1], [1.0, -1.0])
    tr0 = ad.run(ad.Lion(0.01, beta1=0.0), obj, [1.0, -1.0], steps=1)
    assert np.allclose(tr0.x[1], [0.99, -0.99], rtol=0, atol=1e-15)


def test_lion_grid_equals_single_runs():
    obj = ad.objectives.random_quadratic(4, seed=1)
    x0 = np.ones(4)
    etas = np.array([1e-3, 3e-3, 1e-2])
    b2 = np.array([0.9, 0.99, 0.999])
    gr = ad.discrete.run_grid(ad.Lion(1e-3), obj, x0, 2000, record_every=100, eta=etas, beta2=b2)
    for i in range(3):
        tr = ad.run(ad.Lion(etas[i], beta2=b2[i]), obj, x0, steps=2000, record_every=100)
        assert np.array_equal(gr.loss[i], tr.loss)
        assert np.array_equal(gr.final_x[i], tr.final_state.x)


def test_lion_map_is_the_kernel_step_and_its_jacobian_is_exact_off_the_switching_surface():
    obj = ad.objectives.random_quadratic(3, seed=2)
    opt = ad.Lion(0.01, beta1=0.8, beta2=0.95)
    F = ad.discrete.state_map(opt, obj)
    assert F.blocks == ("x", "m")
    rng = np.random.default_rng(4)
    x, m = rng.standard_normal(3), rng.standard_normal(3)
    z = np.concatenate([x, m])
    st = ad.State(x.copy(), m.copy(), np.zeros(3), np.zeros(3), np.array([0.0, 1.0, 1.0, 0.0, 0.0]), 0)
    nxt = ad.discrete.step(opt, obj, st)
    assert np.array_equal(F(z), np.concatenate([nxt.x, nxt.m]))
    J = F.jacobian(z)
    A = obj.A
    # dx'/dx = I, dx'/dm = 0 (locally constant sign); dm'/dx = (1 - beta2) A, dm'/dm = beta2 I
    assert np.allclose(J[:3, :3], np.eye(3)) and np.allclose(J[:3, 3:], 0)
    assert np.allclose(J[3:, :3], 0.05 * A, rtol=1e-14) and np.allclose(J[3:, 3:], 0.95 * np.eye(3))
    h = 1e-7
    fd = np.column_stack([(F(z + h * e) - F(z - h * e)) / (2 * h) for e in np.eye(6)])
    assert np.allclose(fd, J, atol=1e-6)
    # on the switching surface the map has no derivative
    with pytest.raises(ValueError, match="not differentiable"):
        F.jacobian(np.concatenate([np.zeros(3), np.zeros(3)]))


def test_lion_two_cycle_on_a_quadratic_is_neutral_in_x():
    """On f = lam x^2 / 2 every x_a in (beta1 eta/(1+beta2), eta (1 - beta1/(1+beta2))) starts a
    2-cycle x_a -> x_a - eta with m_a = lam (x_a - eta/(1+beta2)) (derived by hand); its
    multipliers are 1 (x: a sign map moves by a locally constant step) and beta2^2."""
    lam, eta, b1, b2 = 2.0, 0.01, 0.9, 0.99
    obj = ad.objectives.quadratic([[lam]])
    opt = ad.Lion(eta, beta1=b1, beta2=b2)
    xa = 0.5 * (b1 * eta / (1 + b2) + eta * (1 - b1 / (1 + b2)))
    orb = ad.analysis.periodic_orbit(opt, obj, 2, guess=[xa, 0.0])
    assert orb.found
    xs = np.sort(orb.x[:, 0])
    # Newton's minimum-norm steps may land on another member of the continuum
    xa = xs[1]
    assert b1 * eta / (1 + b2) < xa < eta * (1 - b1 / (1 + b2))
    assert xs[1] - xs[0] == pytest.approx(eta, rel=1e-12)
    ma = orb.block("m")[np.argmax(orb.x[:, 0]), 0]
    assert ma == pytest.approx(lam * (xa - eta / (1 + b2)), rel=1e-10)
    assert np.allclose(np.sort(np.abs(orb.multipliers)), [b2 ** 2, 1.0], rtol=1e-12)
    assert not orb.stable
    # and the kernel iterates it exactly
    st = ad.State(np.array([xa]), np.array([ma]), np.zeros(1), np.zeros(1), np.array([0.0, 1, 1, 0, 0]), 0)
    tr = ad.run(opt, obj, steps=20, state=st)
    assert np.allclose(tr.x[::2, 0], xa, rtol=1e-12) and np.allclose(tr.x[1::2, 0], xa - eta, rtol=1e-12)
