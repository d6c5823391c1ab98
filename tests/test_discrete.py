"""Discrete optimisers: closed forms, NumPy reference steps, continuation, grids."""
import numpy as np
import pytest

import adadyn as ad
from adadyn.discrete import kernels as K

import reference as ref


def _ref_run(name, obj, x0, steps, **hp):
    """Run the NumPy reference for ``steps`` steps; returns the list of iterates."""
    x = np.array(x0, float)
    d = x.size
    m, v, vmax, L = np.zeros(d), np.zeros(d), np.zeros(d), 0.0
    xs = [x.copy()]
    for k in range(1, steps + 1):
        g = obj.grad(x)
        if name == "gd":
            x = ref.gd(x, g, hp["eta"])
        elif name == "sign":
            x = ref.signgd(x, g, hp["eta"])
        elif name == "rmsprop":
            x, v = ref.rmsprop(x, v, g, hp["eta"], hp["alpha"], hp["eps"], hp.get("eps_inside", False))
        elif name == "adam":
            x, m, v = ref.adam(x, m, v, g, k, hp["eta"], hp["beta1"], hp["beta2"], hp["eps"],
                               hp.get("bias_correction", True))
        elif name == "amsgrad":
            x, m, v, vmax = ref.amsgrad(x, m, v, vmax, g, k, hp["eta"], hp["beta1"], hp["beta2"], hp["eps"],
                                        hp["variant"])
        elif name == "adagrad":
            x, v = ref.adagrad(x, v, g, hp["eta"], hp["eps"])
        elif name == "family":
            x, m, v = ref.family(x, m, v, g, hp["eta"], hp["h"], hp["r"], hp["p"], hp["q"], hp["eps"])
        elif name == "adafix":
            x, m, v, L = ref.adafix(x, m, v, L, g, k, hp["eta"], hp["beta1"], hp["beta2"], hp["eps"], obj.grad)
        xs.append(x.copy())
    return np.array(xs)


CASES = [
    ("gd", ad.GD(eta=1e-4), dict(eta=1e-4)),
    ("sign", ad.SignGD(eta=0.003), dict(eta=0.003)),
    ("rmsprop", ad.RMSprop(eta=0.002, alpha=0.95, eps=1e-3), dict(eta=0.002, alpha=0.95, eps=1e-3)),
    ("rmsprop", ad.RMSprop(eta=0.002, alpha=0.95, eps=1e-3, eps_inside=True),
     dict(eta=0.002, alpha=0.95, eps=1e-3, eps_inside=True)),
    ("adam", ad.Adam(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4), dict(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4)),
    ("adam", ad.Adam(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, bias_correction=False),
     dict(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, bias_correction=False)),
    ("amsgrad", ad.AMSGrad(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4),
     dict(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, variant="pytorch")),
    ("amsgrad", ad.AMSGrad(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, variant="optax"),
     dict(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, variant="optax")),
    ("amsgrad", ad.AMSGrad(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, variant="reddi"),
     dict(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4, variant="reddi")),
    ("adagrad", ad.Adagrad(eta=0.05, eps=1e-6), dict(eta=0.05, eps=1e-6)),
    ("family", ad.Family(eta=0.002, h=0.3, r=0.7, p=0.2, q=0.8, eps=1e-4),
     dict(eta=0.002, h=0.3, r=0.7, p=0.2, q=0.8, eps=1e-4)),
    ("adafix", ad.AdaFix(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4),
     dict(eta=0.002, beta1=0.8, beta2=0.95, eps=1e-4)),
]


@pytest.mark.parametrize("name,opt,hp", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_kernel_matches_numpy_reference(name, opt, hp):
    """Every optimiser's Numba step against a NumPy transcription of its equation."""
    obj = ad.objectives.rosenbrock(3)
    x0 = np.array([-1.2, 1.0, 0.7])
    steps = 300
    want = _ref_run(name, obj, x0, steps, **hp)
    tr = ad.run(opt, obj, x0, steps)
    assert tr.status == "ok"
    np.testing.assert_allclose(tr.x, want, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(tr.loss, [obj.value(x) for x in want], rtol=1e-11, atol=1e-13)


def test_gd_closed_form_on_quadratic(quad10, rng):
    x0 = rng.standard_normal(10)
    eta = 0.9 / np.linalg.eigvalsh(quad10.A)[-1]
    tr = ad.run(ad.GD(eta), quad10, x0, 200, record_every=20)
    M = np.eye(10) - eta * quad10.A
    for j, k in enumerate(tr.step):
        np.testing.assert_allclose(tr.x[j], np.linalg.matrix_power(M, int(k)) @ x0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr.time, eta * tr.step, rtol=1e-12)


def test_signgd_closed_form_on_separable_quadratic():
    """On f = sum c_i x_i^2 / 2 signGD moves each coordinate by eta towards 0, then
    alternates between the two values straddling 0 (a 2-cycle)."""
    obj = ad.objectives.diagonal_quadratic([1.0, 7.0, 0.01])
    x0 = np.array([0.35, -0.72, 0.061])
    eta = 0.1
    tr = ad.run(ad.SignGD(eta), obj, x0, 40)
    for j in range(41):
        for i in range(3):
            n_cross = int(np.floor(abs(x0[i]) / eta))  # steps before the first sign change
            r = abs(x0[i]) - n_cross * eta                # distance from 0 after them
            if j <= n_cross:
                want = np.sign(x0[i]) * (abs(x0[i]) - j * eta)
            else:
                want = np.sign(x0[i]) * (r if (j - n_cross) % 2 == 0 else r - eta)
            assert abs(tr.x[j, i] - want) < 1e-12


def test_adam_first_step_is_minus_eta_sign(quad10, rng):
    x0 = rng.standard_normal(10)
    eta, eps = 1e-2, 1e-8
    g = quad10.grad(x0)
    x1 = ad.run(ad.Adam(eta, beta1=0.7, beta2=0.9, eps=eps), quad10, x0, 1).x[1]
    # exact: x1 = x0 - eta g / (|g| + eps); the deviation from -eta sign(g) is eta eps / |g|
    np.testing.assert_allclose(x1, x0 - eta * g / (np.abs(g) + eps), rtol=0, atol=1e-15)
    assert np.all(np.abs(x1 - (x0 - eta * np.sign(g))) <= eta * eps / np.abs(g) + 1e-15)


def test_adam_beta1_zero_without_bias_correction_is_rmsprop(quad10, rng):
    x0 = rng.standard_normal(10)
    a = ad.run(ad.Adam(1e-3, beta1=0.0, beta2=0.97, eps=1e-6, bias_correction=False), quad10, x0, 500)
    b = ad.run(ad.RMSprop(1e-3, alpha=0.97, eps=1e-6), quad10, x0, 500)
    np.testing.assert_array_equal(a.x, b.x)


def test_adam_is_family_with_bias_correction_off(quad10, rng):
    x0 = rng.standard_normal(10)
    a = ad.run(ad.Adam(1e-3, beta1=0.8, beta2=0.9, eps=1e-6, bias_correction=False), quad10, x0, 300)
    b = ad.run(ad.Family(1e-3, h=0.2, r=0.8, p=0.1, q=0.9, eps=1e-6), quad10, x0, 300)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("opt", [ad.Adam(2e-3), ad.AMSGrad(2e-3), ad.AdaFix(2e-3), ad.RMSprop(2e-3),
                                 ad.SignGD(1e-3, schedule=ad.InverseSqrt())])
def test_continuation_from_final_state_is_bit_identical(opt, quad10, rng):
    x0 = rng.standard_normal(10)
    full = ad.run(opt, quad10, x0, 1000, record_every=10)
    first = ad.run(opt, quad10, x0, 370, record_every=10)
    second = ad.run(opt, quad10, steps=630, record_every=10, state=first.final_state)
    for f in ("x", "m", "v", "aux", "scalars"):
        np.testing.assert_array_equal(getattr(full.final_state, f), getattr(second.final_state, f))
    assert second.final_state.k == 1000
    np.testing.assert_array_equal(second.loss, full.loss[37:])


def test_continuation_records_line_up(quad10, rng):
    x0 = rng.standard_normal(10)
    opt = ad.Adam(1e-3)
    full = ad.run(opt, quad10, x0, 1000, record_every=10)
    first = ad.run(opt, quad10, x0, 400, record_every=10)
    second = ad.run(opt, quad10, steps=600, record_every=10, state=first.final_state)
    np.testing.assert_array_equal(second.loss, full.loss[40:])
    np.testing.assert_array_equal(second.x, full.x[40:])
    np.testing.assert_array_equal(second.step, full.step[40:])
    np.testing.assert_array_equal(second.time, full.time[40:])


def test_recording_stride_and_time_axis(quad10, rng):
    x0 = rng.standard_normal(10)
    every = ad.run(ad.Adam(1e-3), quad10, x0, 1000)
    strided = ad.run(ad.Adam(1e-3), quad10, x0, 1000, record_every=250)
    np.testing.assert_array_equal(strided.x, every.x[::250])
    np.testing.assert_array_equal(strided.loss, every.loss[::250])
    np.testing.assert_array_equal(strided.step, [0, 250, 500, 750, 1000])
    np.testing.assert_allclose(strided.time, 1e-3 * strided.step, rtol=1e-12)
    np.testing.assert_allclose(every.loss, [quad10.value(x) for x in every.x], rtol=1e-13)
    np.testing.assert_allclose(every.grad_norm, [np.linalg.norm(quad10.grad(x)) for x in every.x], rtol=1e-13)


def test_divergence_is_a_result_not_an_exception(quad10):
    lam = np.linalg.eigvalsh(quad10.A)[-1]
    tr = ad.run(ad.GD(3.0 / lam), quad10, np.ones(10), 10_000, record_every=7)
    assert tr.status == "diverged"
    assert tr.stop_step < 10_000
    assert len(tr.loss) == (tr.stop_step + 6) // 7  # rows at 0, 7, ... before the blow-up
    assert np.all(np.isfinite(tr.loss)) and np.all(np.isfinite(tr.x))
    assert tr.step[-1] <= tr.stop_step
    # the loss grows geometrically at rate (1 - eta lam)^2 = 4 per step before overflow
    ratio = tr.loss[-1] / tr.loss[-2]
    assert ratio == pytest.approx(4.0**7, rel=1e-6)


def test_converged_status_with_gtol(rng):
    obj = ad.objectives.quadratic(np.diag([1.0, 2.0, 5.0]))
    tr = ad.run(ad.GD(0.1), obj, rng.standard_normal(3), 100_000, gtol=1e-6)
    assert tr.status == "converged"
    assert np.linalg.norm(obj.grad(tr.final_state.x)) <= 1e-6
    # GD contracts the slowest mode by 0.9 per step: it needs about log(|g0|/gtol)/log(1/0.9) steps
    assert tr.stop_step < 200
    assert tr.stop_step < 100_000


def test_schedules_time_is_sum_of_steps(quad10, rng):
    x0 = rng.standard_normal(10)
    for sch in (ad.InverseSqrt(), ad.ExponentialDecay(rate=1e-2), ad.CosineAnnealing(period=300, eta_min_ratio=0.1)):
        tr = ad.run(ad.GD(1e-3, schedule=sch), quad10, x0, 500, record_every=100)
        etas = 1e-3 * sch.factor(np.arange(1, 501))
        np.testing.assert_allclose(tr.time, np.concatenate([[0], np.cumsum(etas)])[::100], rtol=1e-12)
        # GD with a schedule: x_{k+1} = (I - eta_k A) x_k
        x = x0.copy()
        for e in etas:
            x = x - e * (quad10.A @ x)
        np.testing.assert_allclose(tr.x[-1], x, rtol=1e-9, atol=1e-12)
    cos = ad.CosineAnnealing(period=10, eta_min_ratio=0.2).factor([1, 6, 11, 50])
    np.testing.assert_allclose(cos, [1.0, 0.6, 0.2, 0.2])


def test_reddi_online_adam_drifts_to_plus_one_amsgrad_does_not():
    """Reddi et al. Theorem 1 setting: C = 3, beta1 = 0, beta2 = 1/(1 + C^2), step alpha/sqrt(t).

    Adam's iterate spends its time at the worst point x = +1 and its average
    regret against x* = -1 stays bounded away from 0; AMSGrad moves to -1.
    """
    C = 3.0
    obj = ad.objectives.reddi_online(C)
    kw = dict(beta1=0.0, beta2=1.0 / (1.0 + C**2), eps=1e-8, schedule=ad.InverseSqrt())
    T = 30_000
    adam = ad.run(ad.Adam(0.5, bias_correction=False, **kw), obj, [0.0], T)
    ams = ad.run(ad.AMSGrad(0.5, variant="reddi", **kw), obj, [0.0], T)
    # f_t(x) - f_t(-1) summed over t = 1..T (loss[j] is f_{j+1}(x_j))
    t = np.arange(1, T + 1)
    f_star = np.where(t % 3 == 1, -C, 1.0)
    regret_adam = np.cumsum(adam.loss[:-1] - f_star)
    regret_ams = np.cumsum(ams.loss[:-1] - f_star)
    assert np.mean(adam.x[-3000:, 0]) > 0.9
    assert np.mean(ams.x[-3000:, 0]) < -0.9
    # at x = +1 each period of 3 steps costs 2C - 4 = 2 against x* = -1: average regret -> 2/3
    assert regret_adam[-1] / T > 0.6
    assert regret_ams[-1] / T < 0.05          # AMSGrad's does


def test_box_projection(quad10):
    obj = ad.objectives.quadratic(np.eye(2), center=[3.0, -3.0])
    obj = ad.Objective(2, obj._value_grad, obj._hessian, obj.data, bounds=([-1, -1], [1, 1]))
    tr = ad.run(ad.GD(0.5), obj, [0.0, 0.0], 50)
    np.testing.assert_allclose(tr.x[-1], [1.0, -1.0])
    assert np.all(np.abs(tr.x) <= 1.0)


def test_adafix_freezes_v_once_gradient_is_small():
    obj = ad.objectives.cosine_bowl()
    tr = ad.run(ad.AdaFix(0.05, eps=1e-8), obj, [1.0, 0.3], 2000)
    s = tr.final_state.scalars
    assert s[K.S_L] > 0  # Lipschitz estimate is positive
    assert s[K.S_FROZEN] > 0  # and froze v at some steps
    # L is a lower bound of the true Lipschitz constant on the path (sup |H|_2 there)
    Hn = max(np.linalg.norm(obj.hessian(x), 2) for x in tr.x[::10])
    assert s[K.S_L] <= 1.05 * Hn + 1e-9


def test_run_grid_bit_identical_to_single_runs(quad10, rng):
    x0 = rng.standard_normal(10)
    A, B = np.meshgrid([0.3, 3.0, 30.0], [1.0, 10.0, 100.0], indexing="ij")
    gr = ad.discrete.run_grid(ad.Adam(1e-3), quad10, x0, 3000, record_every=50, a=A, b=B)
    assert gr.loss.shape == (3, 3, 61)
    for i in range(3):
        for j in range(3):
            opt = ad.Adam.from_ab(1e-3, A[i, j], B[i, j])
            tr = ad.run(opt, quad10, x0, 3000, record_every=50)
            np.testing.assert_array_equal(gr.loss[i, j], tr.loss)
            np.testing.assert_array_equal(gr.grad_norm[i, j], tr.grad_norm)
            np.testing.assert_array_equal(gr.final_x[i, j], tr.final_state.x)
            # independently: |grad f| = |A x| at the last record (f = x^T A x / 2)
            g = quad10.A @ gr.final_x[i, j]
            assert gr.grad_norm[i, j, -1] == pytest.approx(np.linalg.norm(g), rel=1e-12)
    dense = ad.run(ad.Adam.from_ab(1e-3, A[1, 1], B[1, 1]), quad10, x0, 3000)
    w = gr.window
    lg = np.log10(np.abs(dense.loss[-w:]))
    assert gr.late_mean_log10_loss[1, 1] == pytest.approx(lg.mean(), rel=1e-12)
    assert gr.late_std_log10_loss[1, 1] == pytest.approx(lg.std(), rel=1e-6, abs=1e-12)
    assert gr.late_max_loss[1, 1] == dense.loss[-w:].max()


def test_run_grid_marks_divergence(quad10):
    lam = np.linalg.eigvalsh(quad10.A)[-1]
    gr = ad.discrete.run_grid(ad.GD(1e-3), quad10, np.ones(10), 2000, record_every=10,
                              eta=[0.5 / lam, 3.0 / lam])
    assert list(gr.status) == ["ok", "diverged"]
    assert np.isnan(gr.loss[1, -1]) and np.all(np.isfinite(gr.loss[0]))
    assert np.isnan(gr.grad_norm[1, -1]) and np.all(np.isfinite(gr.grad_norm[0]))


def test_zero_over_zero_is_reported_not_raised_nor_called_a_divergence():
    """Adam with eps = 0 at a coordinate whose gradient is exactly 0 computes 0/0:
    eq. (3) is undefined there, and the run reports it (status 'failed', a 0/0 message)
    instead of raising or calling it a divergence."""
    obj = ad.objectives.quadratic(np.eye(2))
    tr = ad.run(ad.Adam(1e-2, eps=0.0), obj, [0.0, 1.0], 5)
    assert tr.status == "failed" and tr.stop_step == 1 and tr.message.startswith("0/0 at step 1")
    np.testing.assert_array_equal(tr.x, [[0.0, 1.0]])


def test_run_grid_single_point_equals_run(quad10, rng):
    x0 = rng.standard_normal(10)
    gr = ad.discrete.run_grid(ad.Adam(1e-3), quad10, x0, 500, record_every=50, a=2.0)
    assert gr.shape == ()
    np.testing.assert_array_equal(gr.loss, ad.run(ad.Adam.from_ab(1e-3, 2.0, 100.0), quad10, x0, 500, 50).loss)


@pytest.mark.parametrize("opt,params", [
    (ad.Adam(1e-3), dict(a=[0.5, 5.0, 50.0], b=[1.0, 10.0, 100.0])),
    (ad.RMSprop(2e-3), dict(alpha=[0.9, 0.99, 0.999])),
    (ad.SignGD(1e-3), dict(eta=[1e-3, 2e-3, 4e-3])),
    (ad.GD(1e-3), dict(eta=[1e-3, 0.05, 0.2])),          # the last one diverges
    (ad.Adagrad(0.1), dict(eps=[1e-10, 1e-6, 1e-2])),
])
def test_vectorised_grid_equals_per_point_grid(opt, params, quad10, rng):
    """The structure-of-arrays sweep (batched gradient) and the per-point sweep agree bit for bit."""
    x0 = rng.standard_normal(10)
    plain = ad.Objective(10, quad10._value_grad, quad10._hessian, quad10.data)
    assert quad10.value_grad_batch_fn is not None and plain.value_grad_batch_fn is None
    n = 70  # more grid points than one SoA chunk of 64 lanes
    tiled = {k: np.resize(np.asarray(v, float), n) for k, v in params.items()}
    soa = ad.discrete.run_grid(opt, quad10, x0, 1500, record_every=7, window=300, **tiled)
    ref = ad.discrete.run_grid(opt, plain, x0, 1500, record_every=7, window=300, **tiled)
    for f in ("loss", "grad_norm", "final_x", "steps_done", "late_mean_log10_loss", "late_std_log10_loss",
              "late_min_loss", "late_max_loss", "final_loss"):
        np.testing.assert_array_equal(getattr(soa, f), getattr(ref, f), err_msg=f)
    np.testing.assert_array_equal(soa.status, ref.status)
