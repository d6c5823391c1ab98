"""Every discrete update against a NumPy transcription of its paper's equations.

The references below are written here, from the papers, with a gradient computed
here too (never from the package's objective or its own reference module):

* Adam, eq. (3) of Ma, Wu & E (Kingma & Ba's Algorithm 1):
  m <- beta1 m + (1 - beta1) g, v <- beta2 v + (1 - beta2) g^2,
  m_hat = m / (1 - beta1^k), v_hat = v / (1 - beta2^k),
  x <- x - eta_k m_hat / (sqrt(v_hat) + eps)      (eps outside, PyTorch)
  x <- x - eta_k m_hat / sqrt(v_hat + eps)        (eps inside, optax's eps_root)
  and without bias correction m_hat = m, v_hat = v.
* AMSGrad (Reddi, Kale & Kumar 2018, Algorithm 2): the denominator uses a running
  max: of the raw v, bias-corrected afterwards (PyTorch); of v_hat (optax); of the raw
  v with no bias correction at all (the paper).
* RMSprop, eq. (2); the general method, eq. (1); Adagrad (Duchi et al. 2011) with
  an initial accumulator; AdaFix (Bae, Ryu & Shin, Algorithm 1); Lion (Chen et al.
  2023): u = sign(beta1 m + (1 - beta1) g), x <- x - eta u, m <- beta2 m + (1 - beta2) g.
* Schedules: factors computed by hand (numbers in the test, not a formula).

Each comparison covers 60-80 steps at hyperparameters where every term matters
(eps comparable to sqrt(v), bias correction far from 1), so a change to any
factor of any formula moves the iterates by far more than the tolerance.
"""
import math

import numpy as np
import pytest

import adadyn as ad

# f(x) = (x - c)^T A (x - c) / 2 with a dense A: the gradient is written out here
A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.2]])
C = np.array([0.3, -0.1, 0.5])
X0 = np.array([1.0, -0.5, 2.0])


def grad(x):
    return A @ (x - C)


def _obj():
    return ad.objectives.quadratic(A, C)


def _sign(u):
    return np.where(u > 0, 1.0, np.where(u < 0, -1.0, 0.0))


def ref_adam(steps, eta, beta1, beta2, eps, *, eps_inside=False, bias_correction=True, amsgrad="none",
             factors=None):
    """Adam / AMSGrad from the equations in the module docstring; returns x, m, v per step and the max."""
    x, m, v, vmax = X0.copy(), np.zeros(3), np.zeros(3), np.zeros(3)
    xs, ms, vs = [x.copy()], [m.copy()], [v.copy()]
    for k in range(1, steps + 1):
        eta_k = eta * (1.0 if factors is None else factors[k - 1])
        g = grad(x)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        bc = bias_correction and amsgrad != "reddi"
        c1 = 1 - beta1 ** k if bc else 1.0
        c2 = 1 - beta2 ** k if bc else 1.0
        if amsgrad == "none":
            v_hat = v / c2
        elif amsgrad in ("pytorch", "reddi"):
            vmax = np.maximum(vmax, v)
            v_hat = vmax / c2
        else:  # optax: the max of the bias-corrected second moment
            vmax = np.maximum(vmax, v / c2)
            v_hat = vmax
        den = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        x = x - eta_k * (m / c1) / den
        xs.append(x.copy())
        ms.append(m.copy())
        vs.append(v.copy())
    return np.array(xs), np.array(ms), np.array(vs), vmax


def _check(tr, xs, ms=None, vs=None, rtol=1e-11):
    assert tr.status == "ok"
    np.testing.assert_allclose(tr.x, xs, rtol=rtol, atol=1e-14)
    if ms is not None:
        np.testing.assert_allclose(tr.m, ms, rtol=rtol, atol=1e-14)
    if vs is not None:
        np.testing.assert_allclose(tr.v, vs, rtol=rtol, atol=1e-16)


ETA, B1, B2, STEPS = 0.05, 0.8, 0.95, 80


@pytest.mark.parametrize("eps", [1e-8, 0.05])
@pytest.mark.parametrize("eps_inside", [False, True], ids=["eps-outside", "eps-inside"])
@pytest.mark.parametrize("bias_correction", [True, False], ids=["bc", "no-bc"])
@pytest.mark.parametrize("amsgrad", ["none", "pytorch", "optax", "reddi"])
def test_adam_amsgrad_every_option_against_the_equations(amsgrad, bias_correction, eps_inside, eps):
    """eps placement x bias correction x AMSGrad convention. With eps = 0.05 and
    beta2 = 0.95 the bias correction (1 - 0.95^k from 0.05) and eps both enter at
    O(1); e.g. eps inside with sqrt(v + eps) in place of sqrt(v_hat + eps) moves
    the first step by ~20%."""
    kw = dict(beta1=B1, beta2=B2, eps=eps, eps_inside=eps_inside, bias_correction=bias_correction)
    opt = ad.Adam(ETA, **kw) if amsgrad == "none" else ad.AMSGrad(ETA, variant=amsgrad, **kw)
    tr = ad.run(opt, _obj(), X0, STEPS)
    xs, ms, vs, vmax = ref_adam(STEPS, ETA, B1, B2, eps, eps_inside=eps_inside,
                                bias_correction=bias_correction, amsgrad=amsgrad)
    _check(tr, xs, ms, vs)
    if amsgrad != "none":
        np.testing.assert_allclose(tr.final_state.aux, vmax, rtol=1e-11)


def test_the_options_are_not_interchangeable():
    """The cases above are distinct: each pair of conventions gives different
    iterates here (so a kernel that ignored one option would fail above). Without
    bias correction the three AMSGrad conventions are one map."""
    finals = {}
    for ams in ("none", "pytorch", "optax"):  # "reddi" is "pytorch" without bias correction
        for bc in (True, False):
            for ins in (False, True):
                if ams == "optax" and not bc:
                    continue  # without bias correction max(v) and max(v_hat) coincide
                finals[(ams, bc, ins)] = ref_adam(STEPS, ETA, B1, B2, 0.05, eps_inside=ins,
                                                  bias_correction=bc, amsgrad=ams)[0][-1]
    keys = list(finals)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert np.max(np.abs(finals[a] - finals[b])) > 1e-6, (a, b)


@pytest.mark.parametrize("eps_inside", [False, True])
def test_rmsprop_eq2(eps_inside):
    alpha, eps, eta = 0.9, 0.02, 0.02
    x, v = X0.copy(), np.zeros(3)
    xs, vs = [x], [v]
    for _ in range(STEPS):
        g = grad(x)
        v = alpha * v + (1 - alpha) * g * g
        x = x - eta * g / (np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps)
        xs.append(x)
        vs.append(v)
    tr = ad.run(ad.RMSprop(eta, alpha=alpha, eps=eps, eps_inside=eps_inside), _obj(), X0, STEPS)
    _check(tr, np.array(xs), vs=np.array(vs))


@pytest.mark.parametrize("v0", [0.0, 0.1, 2.5])
@pytest.mark.parametrize("eps_inside", [False, True])
def test_adagrad_initial_accumulator(v0, eps_inside):
    """torch.optim.Adagrad: state_sum starts at initial_accumulator_value, state_sum += g^2,
    x -= lr g / (sqrt(state_sum) + eps)."""
    eta, eps = 0.3, 1e-3
    x, v = X0.copy(), np.full(3, v0)
    xs, vs = [x], [v]
    for _ in range(STEPS):
        g = grad(x)
        v = v + g * g
        x = x - eta * g / (np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps)
        xs.append(x)
        vs.append(v)
    opt = ad.Adagrad(eta, eps=eps, initial_accumulator_value=v0, eps_inside=eps_inside)
    tr = ad.run(opt, _obj(), X0, STEPS)
    _check(tr, np.array(xs), vs=np.array(vs))


@pytest.mark.parametrize("eps_inside", [False, True])
def test_family_eq1(eps_inside):
    h, r, p, q, eps, eta = 0.3, 0.6, 0.4, 0.7, 0.01, 0.02
    x, m, v = X0.copy(), np.zeros(3), np.zeros(3)
    xs, ms, vs = [x], [m], [v]
    for _ in range(STEPS):
        g = grad(x)
        m = h * g + r * m
        v = p * g * g + q * v
        x = x - eta * m / (np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps)
        xs.append(x)
        ms.append(m)
        vs.append(v)
    tr = ad.run(ad.Family(eta, h=h, r=r, p=p, q=q, eps=eps, eps_inside=eps_inside), _obj(), X0, STEPS)
    _check(tr, np.array(xs), np.array(ms), np.array(vs))


def test_gd_and_signgd():
    eta = 0.1
    x, y = X0.copy(), X0.copy()
    xs, ys = [x], [y]
    for _ in range(STEPS):
        x = x - eta * grad(x)
        y = y - 0.01 * _sign(grad(y))
        xs.append(x)
        ys.append(y)
    _check(ad.run(ad.GD(eta), _obj(), X0, STEPS), np.array(xs))
    _check(ad.run(ad.SignGD(0.01), _obj(), X0, STEPS), np.array(ys), rtol=1e-13)


@pytest.mark.parametrize("beta1,beta2", [(0.9, 0.99), (0.5, 0.7), (0.0, 0.9), (1.0, 0.5)])
def test_lion(beta1, beta2):
    """Chen et al. 2023 (Program 1 without weight decay), to 1e-12."""
    eta = 0.01
    x, m = X0.copy(), np.zeros(3)
    xs, ms = [x], [m]
    for _ in range(STEPS):
        g = grad(x)
        x = x - eta * _sign(beta1 * m + (1 - beta1) * g)
        m = beta2 * m + (1 - beta2) * g
        xs.append(x)
        ms.append(m)
    tr = ad.run(ad.Lion(eta, beta1=beta1, beta2=beta2), _obj(), X0, STEPS)
    assert tr.status == "ok"
    np.testing.assert_allclose(tr.x, np.array(xs), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr.m, np.array(ms), rtol=0, atol=1e-12)


def test_adafix_algorithm1():
    """Bae, Ryu & Shin, Algorithm 1 with the largest |g_i| in the freeze test and
    Adam's m_hat / (sqrt(v_hat) + eps); L is the running max of |dg| / |dx|."""
    eta, b1, b2, eps, L = 0.05, 0.8, 0.95, 1e-3, 0.0
    x, m, v = X0.copy(), np.zeros(3), np.zeros(3)
    xs, frozen = [x], 0
    for k in range(1, STEPS + 1):
        g = grad(x)
        m = b1 * m + (1 - b1) * g
        if np.max(np.abs(g)) >= L * eta:
            v = b2 * v + (1 - b2) * g * g
        else:
            frozen += 1
        xn = x - eta * (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + eps)
        dx = np.linalg.norm(xn - x)
        if dx > 0:
            L = max(L, np.linalg.norm(grad(xn) - g) / dx)
        x = xn
        xs.append(x)
    tr = ad.run(ad.AdaFix(eta, beta1=b1, beta2=b2, eps=eps), _obj(), X0, STEPS)
    _check(tr, np.array(xs))
    assert frozen > 0  # the freezing branch is exercised
    np.testing.assert_allclose(tr.final_state.scalars[3], L, rtol=1e-12)  # S_L
    assert tr.final_state.scalars[4] == frozen                               # S_FROZEN


# ---------------------------------------------------------------- schedules, by hand
# factors at t = 1..6, hand-computed:
#   InverseSqrt: 1/sqrt(t)
#   ExponentialDecay(rate=ln 2): 2^-(t - 1)
#   CosineAnnealing(period=4, eta_min_ratio=0.2): 0.2 + 0.4 (1 + cos(pi (t - 1)/4)) for t <= 5,
#       then 0.2: 1, 0.2 + 0.4 (1 + 0.70710678...), 0.6, 0.2 + 0.4 (1 - 0.70710678...), 0.2, 0.2
HAND = {
    "invsqrt": (ad.InverseSqrt(), [1.0, 0.7071067811865476, 0.5773502691896258, 0.5, 0.4472135954999579,
                                   0.408248290463863]),
    "exp": (ad.ExponentialDecay(rate=math.log(2.0)), [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]),
    "cosine": (ad.CosineAnnealing(period=4, eta_min_ratio=0.2),
               [1.0, 0.8828427124746190, 0.6, 0.3171572875253810, 0.2, 0.2]),
    "constant": (ad.Constant(), [1.0] * 6),
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_schedule_in_the_kernel_against_hand_values(name):
    """signGD on f = x^2/2 from x = 100 moves by exactly eta_t each step, and the
    recorded time is the running sum of eta_t."""
    sched, fac = HAND[name]
    eta = 0.5
    tr = ad.run(ad.SignGD(eta, schedule=sched), ad.objectives.quadratic([[1.0]]), [100.0], 6)
    steps_taken = -np.diff(tr.x[:, 0])
    np.testing.assert_allclose(steps_taken, eta * np.array(fac), rtol=1e-13)
    np.testing.assert_allclose(tr.time, np.concatenate([[0.0], np.cumsum(eta * np.array(fac))]), rtol=1e-13)
    np.testing.assert_allclose(sched.factor(np.arange(1, 7)), fac, rtol=1e-14)


@pytest.mark.parametrize("name", ["invsqrt", "cosine"])
def test_schedule_scales_the_adam_step(name):
    sched, fac = HAND[name]
    steps = len(fac)
    xs, ms, vs, _ = ref_adam(steps, ETA, B1, B2, 0.05, factors=fac)
    tr = ad.run(ad.Adam(ETA, beta1=B1, beta2=B2, eps=0.05, schedule=sched), _obj(), X0, steps)
    _check(tr, xs, ms, vs)


def test_amsgrad_reddi_ignores_bias_correction_flag():
    """The paper's Algorithm 2 has no bias correction whatever the flag says."""
    a = ad.run(ad.AMSGrad(ETA, beta1=B1, beta2=B2, eps=0.05, variant="reddi"), _obj(), X0, 30)
    b = ad.run(ad.AMSGrad(ETA, beta1=B1, beta2=B2, eps=0.05, variant="reddi", bias_correction=False),
               _obj(), X0, 30)
    np.testing.assert_array_equal(a.x, b.x)
