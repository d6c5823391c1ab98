"""Lyapunov exponents of optimiser maps against quantities that do not use the
package's Jacobian code: closed forms, finite differences of maps transcribed
here, and the separation of two nearby runs of :func:`adadyn.run`."""
import numpy as np
import pytest

import adadyn as ad


@pytest.fixture(scope="module")
def double_well():
    return ad.Objective.from_expr("(x1**2 - 1)**2/4")


@pytest.mark.parametrize("eta", [0.05, 0.3])
def test_gd_on_a_quadratic_exponents_are_log_abs_one_minus_eta_lambda(eta):
    """GD on x^T A x / 2 is the linear map I - eta A: exponents ln|1 - eta lambda_i|."""
    rng = np.random.default_rng(3)
    U = rng.standard_normal((4, 4))
    A = U @ U.T / 4 + 0.2 * np.eye(4)
    lam = np.linalg.eigvalsh(A)
    ly = ad.analysis.lyapunov_exponents(ad.GD(eta), ad.objectives.quadratic(A), np.ones(4), 3000, transient=0)
    expect = np.sort(np.log(np.abs(1 - eta * lam)))[::-1]
    np.testing.assert_allclose(ly.exponents, expect, atol=3e-3)
    np.testing.assert_allclose(ly.exponents_per_time, expect / eta, atol=3e-3 / eta)


def test_gd_beyond_the_edge_of_stability_has_a_positive_exponent():
    A = np.diag([5.0, 1.0])
    eta = 0.45  # 1 - eta 5 = -1.25: unstable; 1 - eta = 0.55
    ly = ad.analysis.lyapunov_exponents(ad.GD(eta), ad.objectives.quadratic(A), [1e-3, 1.0], 1500, transient=0)
    np.testing.assert_allclose(ly.exponents, [np.log(1.25), np.log(0.55)], atol=3e-3)


def test_gd_on_the_double_well_at_eta_2_is_the_tripling_map(double_well):
    """GD on (x^2 - 1)^2/4 with eta = 2 is x -> 3x - 2x^3; with x = sqrt(2) sin(theta) this is
    theta -> 3 theta, so the Lyapunov exponent is ln 3 (as ln 2 for the logistic map at r = 4)."""
    ly = ad.analysis.lyapunov_exponents(ad.GD(2.0), double_well, [0.3], 20_000, transient=1000)
    assert ly.exponents[0] == pytest.approx(np.log(3.0), abs=2e-3)
    assert ly.chaotic


def test_largest_exponent_is_the_growth_rate_of_separation_between_two_runs(double_well):
    """Finite-time separation of ad.run pairs from points of the attractor, averaged:
    E ln(|dx_T| / |dx_0|) / T is the largest exponent (the invariant-measure average of
    ln |F'|), estimated here without any Jacobian."""
    opt = ad.GD(1.9)
    tr = ad.run(opt, double_well, [0.3], 3000)
    starts = tr.x[1000::10, 0]
    T, d0 = 8, 1e-10
    rates = []
    for x in starts:
        a = ad.run(opt, double_well, [x], T, record_every=T).x[-1, 0]
        b = ad.run(opt, double_well, [x + d0], T, record_every=T).x[-1, 0]
        rates.append(np.log(abs(b - a) / d0) / T)
    sep = float(np.mean(rates))
    ly = ad.analysis.lyapunov_exponents(opt, double_well, [0.3], 20_000, transient=1000)
    # the same average by hand along a NumPy orbit: ln |1 + eta - 3 eta x^2|
    x, s = 0.3, 0.0
    for _ in range(1000):
        x = 2.9 * x - 1.9 * x ** 3
    for _ in range(20_000):
        s += np.log(abs(2.9 - 3 * 1.9 * x * x))
        x = 2.9 * x - 1.9 * x ** 3
    assert ly.exponents[0] == pytest.approx(s / 20_000, abs=2e-2)
    assert ly.exponents[0] == pytest.approx(sep, abs=6e-2)
    assert sep > 0.5


def test_rmsprop_cycle_exponents_against_transcribed_finite_differences():
    """RMSprop (eq. (2)) on x^4/4 has the 2-cycle x -> -x with 2|x|^3 - eta x^2 + 2 eps = 0.
    Its exponents are ln|mu| / 2, mu the eigenvalues of a finite-difference Jacobian of
    F^2 of the map written here (a complex pair of modulus 1/2 at alpha = 0.1)."""
    eta, eps, alpha = 0.1, 1e-6, 0.1
    obj = ad.Objective.from_expr("x1**4/4")
    c = np.sort(np.roots([2.0, -eta, 0.0, 2 * eps]).real)[-1]

    def F(z):
        x, v = z
        g = x ** 3
        v1 = alpha * v + (1 - alpha) * g * g
        return np.array([x - eta * g / (np.sqrt(v1) + eps), v1])

    z0 = np.array([c, c ** 6])
    np.testing.assert_allclose(F(F(z0)), z0, rtol=1e-10)
    M = np.empty((2, 2))
    for i in range(2):
        h = 1e-6 * z0[i]
        e = np.zeros(2)
        e[i] = h
        M[:, i] = (F(F(z0 + e)) - F(F(z0 - e))) / (2 * h)
    expect = np.sort(np.log(np.abs(np.linalg.eigvals(M))) / 2)[::-1]
    ly = ad.analysis.lyapunov_exponents(ad.RMSprop(eta, alpha=alpha, eps=eps), obj, [0.9 * c], 4000,
                                        transient=2000)
    # a complex pair has equal exponents; QR splits them only at rate 1/N, their sum exactly
    assert ly.exponents.sum() == pytest.approx(expect.sum(), abs=1e-4)
    np.testing.assert_allclose(ly.exponents, expect, atol=6e-3)
    assert not ly.chaotic


# ------------------------------------------------------------------ mutation-testing survivors
from adadyn.analysis.lyapunov import qr_lyapunov  # noqa: E402
from adadyn.discrete.trajectory import State  # noqa: E402

_D = np.diag([2.0, 0.5, 1.0])


def _logistic(z):
    return 3.9 * z * (1.0 - z)


def _logistic_jac(z):
    return 3.9 * (1.0 - 2.0 * z)


def test_qr_running_estimates_are_shorter_runs():
    """The running estimate kept at step j is the result of a run of j steps (same frame
    Q_0, same orbit); the estimate steps are unique(int(linspace(1, N, min(n_history, N))));
    a linear map z -> D z has exponents ln|d_i| up to O(1/N), sorted decreasingly."""
    N = 400
    res = qr_lyapunov(lambda z: _D @ z, lambda z: _D, np.ones(3), N, n_history=7)
    np.testing.assert_array_equal(res.history_steps, np.unique(np.linspace(1, N, 7).astype(int)))
    assert res.history.shape == (7, 3) and res.steps == N and res.transient == 0
    for j, row in zip(res.history_steps, res.history):
        np.testing.assert_allclose(np.sort(row)[::-1],
                                   qr_lyapunov(lambda z: _D @ z, lambda z: _D, np.ones(3), int(j)).exponents,
                                   rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.history[-1], res.exponents, rtol=1e-15)
    np.testing.assert_allclose(res.exponents, np.log([2.0, 1.0, 0.5]), atol=5 / N)
    np.testing.assert_allclose(res.final_state, [2.0 ** N, 0.5 ** N, 1.0], rtol=1e-12)
    # fewer steps than n_history: one estimate per step
    short = qr_lyapunov(lambda z: _D @ z, lambda z: _D, np.ones(3), 3)
    np.testing.assert_array_equal(short.history_steps, [1, 2, 3])


def test_qr_top_k_transient_and_edge_arguments():
    full = qr_lyapunov(lambda z: _D @ z, lambda z: _D, np.ones(3), 300)
    for k in (1, 2, 3):
        top = qr_lyapunov(lambda z: _D @ z, lambda z: _D, np.ones(3), 300, n_exponents=k)
        np.testing.assert_allclose(top.exponents, full.exponents[:k], rtol=1e-12)
    for k in (0, 4):
        with pytest.raises(ValueError, match="n_exponents"):
            qr_lyapunov(lambda z: _D @ z, lambda z: _D, np.ones(3), 10, n_exponents=k)
    with pytest.raises(ValueError, match="transient"):
        qr_lyapunov(_logistic, _logistic_jac, 0.3, 10, transient=-1)
    # the transient is t plain steps: the same as starting from F^t(z0)
    z = 0.3
    for _ in range(25):
        z = _logistic(z)
    a = qr_lyapunov(_logistic, _logistic_jac, 0.3, 50, transient=25)
    b = qr_lyapunov(_logistic, _logistic_jac, z, 50)
    np.testing.assert_allclose(a.exponents, b.exponents, rtol=1e-13)
    np.testing.assert_allclose(a.final_state, b.final_state, rtol=1e-13)
    assert a.transient == 25
    # one step: the exponent is ln |F'(z0)| (a scalar z0 is a 1-vector)
    one = qr_lyapunov(_logistic, _logistic_jac, 0.3, 1)
    np.testing.assert_allclose(one.exponents, [np.log(abs(_logistic_jac(0.3)))], rtol=1e-14)
    # a zero multiplier gives -inf (not an error)
    zero = qr_lyapunov(lambda z: z, lambda z: np.diag([2.0, 0.0]), np.ones(2), 500)
    assert zero.exponents[0] == pytest.approx(np.log(2.0), abs=0.01) and zero.exponents[1] == -np.inf


def test_optimiser_exponents_bookkeeping(double_well):
    """GD on the double well: the transient is run (by the kernels) for exactly
    ``transient`` steps, then ``steps`` Jacobian steps; a State start is the same start."""
    opt = ad.GD(1.9)
    ly = ad.analysis.lyapunov_exponents(opt, double_well, [0.3], 6, transient=7)
    x = 0.3
    for _ in range(7):
        x = x - 1.9 * (x ** 3 - x)
    logs = []
    for _ in range(6):
        logs.append(np.log(abs(1 - 1.9 * (3 * x * x - 1))))
        x = x - 1.9 * (x ** 3 - x)
    np.testing.assert_allclose(ly.exponents, [np.mean(logs)], rtol=1e-10)
    np.testing.assert_allclose(ly.final_state, [x], rtol=1e-10)
    assert ly.steps == 6 and ly.transient == 7 and ly.history_steps[-1] == 6
    np.testing.assert_allclose(ly.exponents_per_time, ly.exponents / 1.9, rtol=1e-15)
    st = ad.analysis.lyapunov_exponents(opt, double_well, state=State.initial(opt, [0.3]), steps=6, transient=7)
    np.testing.assert_allclose(st.exponents, ly.exponents, rtol=1e-14)
    one = ad.analysis.lyapunov_exponents(opt, double_well, [0.3], 1, transient=0)
    np.testing.assert_allclose(one.exponents, [np.log(abs(1 - 1.9 * (3 * 0.09 - 1)))], rtol=1e-12)
    with pytest.raises(ValueError, match="state must be finite"):
        ad.analysis.lyapunov_exponents(opt, double_well, state=[np.nan], steps=5)
    with pytest.raises(ValueError, match="diverged"):
        ad.analysis.lyapunov_exponents(ad.GD(10.0), double_well, [30.0], 5, transient=50)
    adam = ad.Adam(0.5, beta1=0.5, beta2=0.7, eps=1.0, bias_correction=False)
    top = ad.analysis.lyapunov_exponents(adam, ad.objectives.diagonal_quadratic([1.0, 0.5]), [0.3, -0.2], 50,
                                         transient=0, n_exponents=2)
    assert top.exponents.shape == (2,)
