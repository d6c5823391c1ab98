"""Critical learning rates against the spectral radius of maps transcribed here.

For every spec option the returned eta_c is checked where it matters: the map,
written in this file from eq. (1) of Ma, Wu & E (m' = r m + h g, v' = q v + p g^2,
x' = x - eta m' / (sqrt(v') + eps), or / sqrt(v' + eps) with eps inside), has a
finite-difference Jacobian at the fixed point whose spectral radius crosses 1
exactly at eta_c. Central differences are exact here: at v = 0 the map's only
non-linearity near the fixed point is sqrt(p) |g|, which is even in the step.
Saddles (negative curvature) give eta_c = 0 for every optimiser and both
eigenvalue methods.
"""
import numpy as np
import pytest

import adadyn as ad

rng = np.random.default_rng(7)
U = rng.standard_normal((4, 4))
A = U @ U.T / 4 + 0.1 * np.eye(4)
LAM = np.linalg.eigvalsh(A)


def _xm_map(eta, h, r, p, q, eps, eps_inside, v_frozen=None):
    """(x, m) -> (x', m') of eq. (1) at the fixed point's v block (v = 0, or v* frozen)."""
    def F(z):
        x, m = z[:4], z[4:]
        g = A @ x
        m1 = r * m + h * g
        v1 = p * g * g if v_frozen is None else v_frozen
        den = np.sqrt(v1 + eps) if eps_inside else np.sqrt(v1) + eps
        return np.concatenate([x - eta * m1 / den, m1])
    return F


def _radius(F, delta=1e-9):
    n = 8
    J = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = delta
        J[:, i] = (F(e) - F(-e)) / (2 * delta)
    # with r = 0 the m block is not dynamical (its columns are zero): rho is unaffected
    return np.max(np.abs(np.linalg.eigvals(J)))


SPECS = {
    "gd": (lambda eta: ad.GD(eta), dict(h=1.0, r=0.0, p=0.0, q=0.0, eps=1.0, eps_inside=False)),
    "rmsprop": (lambda eta: ad.RMSprop(eta, alpha=0.9, eps=1e-3),
                dict(h=1.0, r=0.0, p=0.1, q=0.9, eps=1e-3, eps_inside=False)),
    "rmsprop-in": (lambda eta: ad.RMSprop(eta, alpha=0.9, eps=1e-4, eps_inside=True),
                   dict(h=1.0, r=0.0, p=0.1, q=0.9, eps=1e-4, eps_inside=True)),
    "adam": (lambda eta: ad.Adam(eta, beta1=0.8, beta2=0.99, eps=1e-3),
             dict(h=0.2, r=0.8, p=0.01, q=0.99, eps=1e-3, eps_inside=False)),
    "adam-in": (lambda eta: ad.Adam(eta, beta1=0.8, beta2=0.99, eps=1e-4, eps_inside=True),
                dict(h=0.2, r=0.8, p=0.01, q=0.99, eps=1e-4, eps_inside=True)),
    "amsgrad": (lambda eta: ad.AMSGrad(eta, beta1=0.6, beta2=0.99, eps=1e-3),
                dict(h=0.4, r=0.6, p=0.01, q=0.99, eps=1e-3, eps_inside=False)),
    "adagrad": (lambda eta: ad.Adagrad(eta, eps=1e-3),
                dict(h=1.0, r=0.0, p=1.0, q=1.0, eps=1e-3, eps_inside=False)),
    "family": (lambda eta: ad.Family(eta, h=0.3, r=0.5, p=0.2, q=0.7, eps=1e-3),
               dict(h=0.3, r=0.5, p=0.2, q=0.7, eps=1e-3, eps_inside=False)),
}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_eta_c_is_where_the_transcribed_map_loses_stability(name, method):
    make, c = SPECS[name]
    obj = ad.objectives.quadratic(A)
    eta_c = float(ad.analysis.critical_learning_rate(make(1.0), obj, np.zeros(4), method=method))
    assert eta_c > 0
    for f, below in ((1 - 1e-4, True), (1 + 1e-4, False)):
        rho = _radius(_xm_map(f * eta_c, **c))
        assert bool(rho < 1.0) is below, (f, rho)
    assert _radius(_xm_map(eta_c, **c)) == pytest.approx(1.0, abs=1e-5)


def test_closed_forms_with_numpy_eigenvalues():
    """GD 2/lambda; RMSprop 2 eps/lambda (eq. (11)); eps inside 2 sqrt(eps)/lambda;
    Adam (2 + 2 beta1) eps / ((1 - beta1) lambda); Family 2 (1 + r) eps / (h lambda)."""
    obj = ad.objectives.quadratic(A)
    cr = lambda o: float(ad.analysis.critical_learning_rate(o, obj, np.zeros(4)))  # noqa: E731
    lm = LAM[-1]
    assert cr(ad.GD(1.0)) == pytest.approx(2 / lm, rel=1e-13)
    assert cr(ad.RMSprop(1.0, eps=1e-3)) == pytest.approx(2e-3 / lm, rel=1e-13)
    assert cr(ad.RMSprop(1.0, eps=1e-4, eps_inside=True)) == pytest.approx(2e-2 / lm, rel=1e-13)
    assert cr(ad.Adam(1.0, beta1=0.8, eps=1e-3)) == pytest.approx(3.6e-3 / (0.2 * lm), rel=1e-13)
    assert cr(ad.Adam(1.0, beta1=0.8, eps=1e-4, eps_inside=True)) == pytest.approx(3.6e-2 / (0.2 * lm), rel=1e-13)
    assert cr(ad.Family(1.0, h=0.3, r=0.5, p=0.2, q=0.7, eps=1e-3)) == pytest.approx(3e-3 / (0.3 * lm), rel=1e-13)


@pytest.mark.parametrize("eps_inside", [False, True])
def test_frozen_v_threshold_against_transcribed_map(eps_inside):
    """v* > 0 held fixed: the preconditioner is 1/(sqrt(v*) + eps) (or 1/sqrt(v* + eps))."""
    vs = np.array([1e-4, 4e-4, 1e-3, 2.5e-3])
    eps = 1e-3
    obj = ad.objectives.quadratic(A)
    opt = ad.Adam(1.0, beta1=0.7, eps=eps, eps_inside=eps_inside)
    r = ad.analysis.critical_learning_rate(opt, obj, np.zeros(4), v=vs)
    assert r.preconditioned
    c = dict(h=0.3, r=0.7, p=0.0, q=1.0, eps=eps, eps_inside=eps_inside)
    for f, below in ((1 - 1e-4, True), (1 + 1e-4, False)):
        assert bool(_radius(_xm_map(f * float(r), v_frozen=vs, **c)) < 1.0) is below
    P = 1 / (np.sqrt(vs + eps) if eps_inside else np.sqrt(vs) + eps)
    lp = np.max(np.linalg.eigvals(P[:, None] * A).real)
    assert r.lambda_max == pytest.approx(lp, rel=1e-12)


SADDLE_SPECS = [ad.GD(0.1), ad.RMSprop(1e-3), ad.Adam(1e-3), ad.Adam(1e-3, eps_inside=True),
                ad.AMSGrad(1e-3), ad.Adagrad(0.1), ad.Family(0.1, h=0.5, r=0.5, p=0.5, q=0.5),
                ad.RMSprop(1e-3, eps_inside=True)]


@pytest.mark.parametrize("opt", SADDLE_SPECS, ids=lambda o: f"{o.name}{'-in' if getattr(o, 'eps_inside', 0) else ''}")
@pytest.mark.parametrize("method", ["dense", "lanczos"])
@pytest.mark.parametrize("d", [2, 5])
def test_saddle_gives_zero_for_every_optimiser(opt, method, d):
    """Negative curvature is unstable for every eta (GD: |1 - eta lambda| > 1 for lambda < 0)."""
    h = np.linspace(3.0, 1.0, d)
    h[-1] = -0.5
    saddle = ad.objectives.diagonal_quadratic(h)
    r = ad.analysis.critical_learning_rate(opt, saddle, np.zeros(d), method=method)
    assert float(r) == 0.0
    assert r.lambda_min == pytest.approx(-0.5, rel=1e-3) and r.lambda_max == pytest.approx(3.0, rel=1e-9)
    # the same optimiser at the minimum of the same curvature magnitudes is stable for small eta
    r_min = ad.analysis.critical_learning_rate(opt, ad.objectives.diagonal_quadratic(np.abs(h)), np.zeros(d),
                                               method=method)
    assert float(r_min) > 0


def test_gd_at_a_saddle_really_escapes_for_every_small_eta():
    """The zero is not a convention: GD started on the unstable axis leaves the saddle."""
    saddle = ad.objectives.diagonal_quadratic([2.0, -0.5])
    for eta in (1e-3, 0.1, 0.9):
        tr = ad.run(ad.GD(eta), saddle, [1e-3, 1e-6], 200)
        assert abs(tr.x[-1, 1]) > abs(tr.x[0, 1]) * (1 + 0.5 * eta) ** 200 * 0.99


@pytest.mark.parametrize("bad", [[np.nan, 0.0], [0.0, np.inf], [-np.inf, 1.0]])
def test_non_finite_point_is_refused(bad):
    obj = ad.objectives.diagonal_quadratic([1.0, 2.0])
    for opt in (ad.GD(0.1), ad.Adam(1e-3)):
        with pytest.raises(ValueError, match="point"):
            ad.analysis.critical_learning_rate(opt, obj, bad)
    with pytest.raises(ValueError, match="point"):
        ad.analysis.critical_learning_rate(ad.GD(0.1), obj, "ab")
    with pytest.raises(ValueError, match="point"):
        ad.analysis.critical_learning_rate(ad.GD(0.1), obj, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="v must"):
        ad.analysis.critical_learning_rate(ad.Adam(1e-3), obj, [0.0, 0.0], v=np.nan)


def test_stationary_points_and_lyapunov_refuse_non_finite_starts():
    obj = ad.objectives.diagonal_quadratic([1.0, 2.0])
    with pytest.raises(ValueError, match="guesses"):
        ad.analysis.stationary_points(obj, [np.nan, 0.0])
    with pytest.raises(ValueError, match="guesses"):
        ad.analysis.stationary_points(obj, "xy")
    with pytest.raises(ValueError, match="gtol"):
        ad.analysis.stationary_points(obj, [0.0, 0.0], gtol=np.nan)
    with pytest.raises(ValueError, match="x0"):
        ad.analysis.lyapunov_exponents(ad.GD(0.1), obj, [np.inf, 0.0], 10, transient=0)
    with pytest.raises(ValueError, match="x0"):
        ad.analysis.lyapunov_exponents(ad.GD(0.1), obj, "ab", 10, transient=0)
    with pytest.raises(ValueError, match="steps"):
        ad.analysis.lyapunov_exponents(ad.GD(0.1), obj, [1.0, 0.0], 0)
    with pytest.raises(ValueError, match="transient"):
        ad.analysis.lyapunov_exponents(ad.GD(0.1), obj, [1.0, 0.0], 10, transient=-1)


# ------------------------------------------------------------------ mutation-testing survivors
_D4 = ad.objectives.diagonal_quadratic([0.1, 0.5, 0.3, 0.2])
_PRE_OUT = "lambda_max(diag(1/(sqrt(v*) + eps)) H)"
_PRE_IN = "lambda_max(diag(1/sqrt(v* + eps)) H)"
FORMULAS = [
    (ad.GD(1.0), None, "2 / lambda_max"),
    (ad.RMSprop(1.0, eps=1e-3), None, "2 eps / lambda_max(H)"),
    (ad.RMSprop(1.0, eps=1e-3), 0.5, "2 / " + _PRE_OUT),
    (ad.RMSprop(1.0, eps=1e-3, eps_inside=True), None, "2 sqrt(eps) / lambda_max(H)"),
    (ad.RMSprop(1.0, eps=1e-3, eps_inside=True), 0.5, "2 / " + _PRE_IN),
    (ad.Adam(1.0, eps=1e-3), None, "(2 + 2 beta1) eps / ((1 - beta1) lambda_max(H))"),
    (ad.Adam(1.0, eps=1e-3), 0.5, "(2 + 2 beta1) / ((1 - beta1) " + _PRE_OUT + ")"),
    (ad.Adam(1.0, eps=1e-3, eps_inside=True), None, "(2 + 2 beta1) sqrt(eps) / ((1 - beta1) lambda_max(H))"),
    (ad.Adam(1.0, eps=1e-3, eps_inside=True), 0.5, "(2 + 2 beta1) / ((1 - beta1) " + _PRE_IN + ")"),
    (ad.AMSGrad(1.0), None, "2 (1 + r) eps / (h lambda_max(H))"),   # h = 1 - r, but a running max
    (ad.Family(1.0, h=1.0, r=0.5, p=0.1, q=0.9, eps=1e-3), None, "2 (1 + r) eps / (h lambda_max(H))"),
    (ad.Family(1.0, h=0.3, r=0.5, p=0.1, q=0.9, eps=1e-3), 0.5, "2 (1 + r) / (h " + _PRE_OUT + ")"),
    (ad.Family(1.0, h=0.3, r=0.5, p=0.1, q=0.9, eps=1e-3, eps_inside=True), None,
     "2 (1 + r) sqrt(eps) / (h lambda_max(H))"),
]


@pytest.mark.parametrize("opt,v,formula", FORMULAS, ids=lambda a: getattr(a, "name", str(a)))
def test_reported_formula_and_flags(opt, v, formula):
    c = ad.analysis.critical_learning_rate(opt, _D4, np.zeros(4), v=v)
    assert c.formula == formula
    assert c.method == "dense" and c.preconditioned is (v is not None and not isinstance(opt, ad.GD))
    lam = 0.5 / (np.sqrt(0.5) + 1e-3) if (c.preconditioned and "sqrt(v*) +" in formula) else (
        0.5 / np.sqrt(0.5 + 1e-3) if c.preconditioned else 0.5)
    assert c.lambda_max == pytest.approx(lam, rel=1e-12)


def test_curvature_below_one_and_zero_and_negligible():
    """lambda_max < 1 still gives 2 (1 + r)/(h lambda_max); a zero eigenvalue (degenerate
    minimum) is not counted; lambda_min = -1e-10 next to lambda_max = 1e3 is within the
    relative tolerance 1e-12 * 1e3 and not counted either, -2e-9 is a saddle."""
    gd = ad.analysis.critical_learning_rate(ad.GD(1.0), _D4, np.zeros(4))
    assert gd.eta_c == pytest.approx(4.0, rel=1e-14) and gd.lambda_min == pytest.approx(0.1)
    assert float(ad.analysis.critical_learning_rate(ad.GD(1.0), _D4, np.zeros((1, 4)))) == gd.eta_c
    rms = ad.analysis.critical_learning_rate(ad.RMSprop(1.0, eps=1.0), _D4, np.zeros(4))
    assert rms.eta_c == pytest.approx(4.0, rel=1e-14)       # 2 eps / lambda_max, eps = 1
    for opt, want in ((ad.GD(1.0), 2.0), (ad.RMSprop(1.0, eps=1e-3), 2e-3)):
        deg = ad.analysis.critical_learning_rate(opt, ad.objectives.diagonal_quadratic([0.0, 1.0]), [0.0, 0.0])
        assert deg.eta_c == pytest.approx(want, rel=1e-14) and deg.lambda_min == 0.0
        tiny = ad.analysis.critical_learning_rate(opt, ad.objectives.diagonal_quadratic([-1e-10, 1e3]), [0.0, 0.0])
        assert tiny.eta_c == pytest.approx(want / 1e3, rel=1e-14)   # |-1e-10| <= 1e-12 * 1e3
        neg = ad.analysis.critical_learning_rate(opt, ad.objectives.diagonal_quadratic([-2e-9, 1e3]), [0.0, 0.0])
        assert neg.eta_c == 0.0
    # a zero Hessian: no curvature bounds eta (zero-curvature directions are not counted): inf
    for opt in (ad.GD(1.0), ad.RMSprop(1.0, eps=1e-3)):
        z = ad.analysis.critical_learning_rate(opt, ad.objectives.cosine_bowl(), [0.0, 0.0])
        assert z.eta_c == np.inf and z.lambda_max == 0.0


def test_eps_zero_needs_a_positive_frozen_v():
    opt = ad.RMSprop(1.0, eps=0.0)
    with pytest.raises(ValueError, match="eps = 0 with v\\* = 0"):
        ad.analysis.critical_learning_rate(opt, _D4, np.zeros(4))
    c = ad.analysis.critical_learning_rate(opt, _D4, np.zeros(4), v=0.25)
    assert c.eta_c == pytest.approx(2 * 0.5 / 0.5, rel=1e-14)     # 2 sqrt(v*) / lambda_max
    c = ad.analysis.critical_learning_rate(ad.RMSprop(1.0, eps=1.0), _D4, np.zeros(4), v=[0.0, 0.0, 0.0, 1.0])
    assert c.preconditioned and c.lambda_max == pytest.approx(0.5, rel=1e-14)  # P = diag(1, 1, 1, 1/2)


def test_top_eigenvalue_defaults_and_lanczos_paths():
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    lam = np.array([-5.0, 0.5, 1.0, 2.0, 2.5, 3.0])      # the largest |lambda| is negative
    obj = ad.objectives.quadratic(Q @ np.diag(lam) @ Q.T)
    top, low, meth = ad.analysis.top_eigenvalue(obj, np.zeros(6))
    assert meth == "dense" and top == pytest.approx(3.0, rel=1e-13) and low == pytest.approx(-5.0, rel=1e-13)
    top, low, meth = ad.analysis.top_eigenvalue(obj, np.zeros(6), method="lanczos")
    assert meth == "lanczos" and top == pytest.approx(3.0, rel=1e-9) and low == pytest.approx(-5.0, rel=1e-3)
    c = ad.analysis.critical_learning_rate(ad.GD(1.0), _D4, np.zeros(4), method="lanczos")
    assert c.method == "lanczos" and c.eta_c == pytest.approx(4.0, rel=1e-9)
    # d = 1 and d = 2 by Hessian-vector products
    for h in ([7.0], [7.0, -1.0]):
        top, low, meth = ad.analysis.top_eigenvalue(ad.objectives.diagonal_quadratic(h), np.zeros(len(h)),
                                                    method="lanczos")
        assert (top, low, meth) == (pytest.approx(max(h)), pytest.approx(min(h)), "lanczos")
    # 'auto' is dense up to d = 500
    for d, want in ((500, "dense"), (501, "lanczos")):
        assert ad.analysis.top_eigenvalue(ad.objectives.diagonal_quadratic(np.linspace(1, 2, d)),
                                          np.zeros(d))[2] == want


def test_lanczos_default_tolerance_resolves_a_clustered_top():
    """300 eigenvalues in [0.1, 1] and a top one at 1.001: the default Lanczos tolerance
    (1e-10) gives it to ~1e-12; a loose tolerance stops ~1e-3 short."""
    lam = np.r_[np.linspace(0.1, 1.0, 299), 1.001]
    top, low, meth = ad.analysis.top_eigenvalue(ad.objectives.diagonal_quadratic(lam), np.zeros(300),
                                                method="lanczos")
    assert meth == "lanczos" and top == pytest.approx(1.001, rel=1e-10) and low == pytest.approx(0.1, rel=1e-3)
