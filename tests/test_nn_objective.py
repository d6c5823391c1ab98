"""Networks as objectives (adadyn.nn.objective): derivatives, flows, linearisation.

References: the model's own loss and torch autograd on its parameters; central
finite differences of the gradient (Hessian, hvp) and of u^T H u (its gradient);
a closed form of grad(u^T H u) for a bias-free linear network (a quartic in the
parameters); the dense-Hessian formulas 2 eps / lambda_max (RMSprop) and
(2 + 2 beta1) eps / ((1 - beta1) lambda_max) (Adam) with H by finite differences;
explicit solves of the same flow; nn.train runs against the flows (7), (8) with
the gap's fitted order (Prop. 2 of Ma, Wu & E: O(eta)).
"""
import importlib

import numpy as np
import pytest
from scipy.optimize import minimize

import adadyn as ad
from adadyn import flows
from adadyn.analysis import compare, critical_learning_rate, linearize

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
from adadyn import nn  # noqa: E402
from adadyn.analysis.critical import top_eigenvalue  # noqa: E402
from adadyn.flows import krylov  # noqa: E402

solve_mod = importlib.import_module("adadyn.flows.solve")    # the module (adadyn.flows.solve is the function)
objmod = importlib.import_module("adadyn.nn.objective")


def _teacher(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    Y = np.tanh(X @ np.array([1.0, -0.5])) + 0.3 * np.tanh(X[:, 1]) + 0.1 * rng.standard_normal(n)
    return nn.regression(X, Y)


@pytest.fixture(scope="module")
def tiny():
    """A 25-parameter tanh net on 1-d sine regression (the flows' test case)."""
    return nn.objective(nn.mlp([1, 8, 1], "tanh", seed=0), nn.sine_regression(n=64, dim=1))


@pytest.fixture(scope="module")
def at_min():
    """A 9-parameter tanh net at an isolated minimum (nonzero residual), by BFGS and Newton."""
    obj = nn.objective(nn.mlp([2, 2, 1], "tanh", seed=0), _teacher())
    r = minimize(obj.value_and_grad, obj.x0, jac=True, method="BFGS", options=dict(gtol=1e-12, maxiter=5000))
    x = r.x
    for _ in range(3):
        x = x - np.linalg.solve(obj.hessian(x), obj.grad(x))
    assert np.linalg.norm(obj.grad(x)) < 1e-12
    return obj, x


def _fd_hessian(obj, x, h=1e-5):
    d = obj.dim
    H = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        H[:, j] = (obj.grad(x + e) - obj.grad(x - e)) / (2 * h)
    return 0.5 * (H + H.T)


# ---------------------------------------------------------------------- value, gradient, layout
def test_value_and_grad_match_the_models_loss_and_autograd(tiny):
    model = nn.mlp([1, 8, 1], "tanh", seed=0)
    prob = nn.sine_regression(n=64, dim=1)
    loss = prob.loss(model)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    g_ref = torch.cat([g.reshape(-1) for g in grads]).numpy()
    f, g = tiny.value_and_grad(tiny.x0)
    assert f == pytest.approx(float(loss.detach()), rel=1e-15)
    np.testing.assert_allclose(g, g_ref, rtol=1e-13, atol=1e-15)
    assert tiny.value(tiny.x0) == f and tiny.dim == 25 and g.dtype == np.float64
    # layout: named_parameters order, row-major; to_model writes x back, the objective's model is untouched
    assert tiny.names == ("layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias")
    x = tiny.x0 + 0.1 * np.arange(25)
    m2 = tiny.to_model(x)
    np.testing.assert_array_equal(tiny.flatten(m2), x)
    np.testing.assert_array_equal(tiny.unflatten(x)["layers.1.weight"].numpy().ravel(), x[16:24])
    assert tiny.value(x) == pytest.approx(float(prob.loss(m2).detach()), rel=1e-15)
    np.testing.assert_array_equal(tiny.flatten(tiny.model), tiny.x0)
    assert tiny.value(x) != f


def test_run_refuses_a_network_objective_and_names_the_discrete_side(tiny):
    with pytest.raises(TypeError, match="nn.train"):
        ad.run(ad.Adam(1e-3), tiny, tiny.x0, 5)


def test_bad_inputs_are_refused(tiny):
    with pytest.raises(TypeError, match="model"):
        nn.objective("net", nn.sine_regression(n=8, dim=1))
    with pytest.raises(TypeError, match="problem"):
        nn.objective(nn.mlp([1, 2, 1]), object())
    with pytest.raises(ValueError, match="shape"):
        tiny.grad(np.zeros(3))


# ---------------------------------------------------------------------- second and third derivatives
def test_hvp_and_hessian_match_finite_differences(tiny):
    x = tiny.x0 + 0.05 * np.random.default_rng(1).standard_normal(25)
    H = tiny.hessian(x)
    Hfd = _fd_hessian(tiny, x)
    np.testing.assert_allclose(H, Hfd, atol=1e-8 * np.abs(H).max())
    u = np.random.default_rng(2).standard_normal(25)
    np.testing.assert_allclose(tiny.hvp(x, u), H @ u, rtol=1e-12, atol=1e-14)
    assert not np.allclose(tiny.hvp(x, u), tiny.hvp(tiny.x0, u))


def test_dense_hessian_is_refused_above_the_limit(tiny, monkeypatch):
    monkeypatch.setattr(objmod, "HESSIAN_MAX", 10)
    with pytest.raises(ValueError, match=r"d = 10 .*hvp"):
        tiny.hessian(tiny.x0)


def test_hessian_form_grad_matches_finite_differences_of_uHu(tiny):
    rng = np.random.default_rng(3)
    x = tiny.x0 + 0.05 * rng.standard_normal(25)
    u = rng.standard_normal(25)
    tg = tiny.hessian_form_grad(x, u)
    h = 1e-5
    for _ in range(3):
        w = rng.standard_normal(25)
        fd = (u @ tiny.hvp(x + h * w, u) - u @ tiny.hvp(x - h * w, u)) / (2 * h)
        assert tg @ w == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_hessian_form_grad_closed_form_on_a_linear_network():
    """f(W1, w2) = sum_i (w2^T W1 x_i - y_i)^2 / (2n). Along u = (U1, u2) the prediction is
    p0 + s p1 + s^2 p2, p1 = u2^T W1 x + w2^T U1 x, p2 = u2^T U1 x, so
    u^T H u = (1/n) sum (p1^2 + 2 r p2), r = p0 - y, whose gradient is
    d/dW1 = (2/n) sum (p1 u2 + p2 w2) x^T, d/dw2 = (2/n) sum (p1 U1 x + p2 W1 x)."""
    rng = np.random.default_rng(4)
    n, p, k = 30, 3, 4
    X, Y = rng.standard_normal((n, p)), rng.standard_normal(n)
    # a linear net (no activation between the layers)
    lin = torch.nn.Sequential(torch.nn.Linear(p, k, bias=False), torch.nn.Linear(k, 1, bias=False)).double()
    obj = nn.objective(lin, nn.regression(X, Y))
    x = rng.standard_normal(obj.dim)
    u = rng.standard_normal(obj.dim)
    W1, w2 = x[:k * p].reshape(k, p), x[k * p:]
    U1, u2 = u[:k * p].reshape(k, p), u[k * p:]
    p0, p1, p2 = X @ W1.T @ w2, X @ W1.T @ u2 + X @ U1.T @ w2, X @ U1.T @ u2
    r = p0 - Y
    q = np.mean(p1 ** 2 + 2 * r * p2)
    assert u @ obj.hvp(x, u) == pytest.approx(q, rel=1e-12)
    gW1 = (2 / n) * (np.outer(u2, p1 @ X) + np.outer(w2, p2 @ X))
    gw2 = (2 / n) * (U1 @ X.T @ p1 + W1 @ X.T @ p2)
    np.testing.assert_allclose(obj.hessian_form_grad(x, u), np.concatenate([gW1.ravel(), gw2]), rtol=1e-11)


# ---------------------------------------------------------------------- flows on a network
def test_flow_jacobian_operator_matches_the_dense_jacobian(tiny):
    rng = np.random.default_rng(5)
    x = tiny.x0 + 0.05 * rng.standard_normal(25)
    g = tiny.grad(x)
    H = tiny.hessian(x)
    for fl in (flows.GDFlow(), flows.EpsSignFlow(eps=1e-3), flows.RMSpropFlow(a=3.0, eps=1e-3),
               flows.AdamFlow(a=1.0, b=10.0, eps=1e-3)):
        y = np.concatenate([x] + [rng.uniform(0.1, 1.0, 25) for _ in fl.blocks[1:]])
        J = fl.jacobian_at(y, g, H, 0.7)
        op = krylov.jacobian_operator(fl, tiny, 0.7, y)
        w = rng.standard_normal(y.size)
        np.testing.assert_allclose(op.matvec(w), J @ w, rtol=1e-10, atol=1e-12 * np.abs(J @ w).max())


def test_implicit_solves_equal_the_explicit_solve(tiny, monkeypatch):
    """Adam flow (8) over t in [0, 0.1] (not stiff there): DOP853 against LSODA and Radau with
    the dense autograd Jacobian, and against matrix-free BDF (Newton-Krylov), chosen by 'auto'
    above DENSE_JAC_MAX_STATE (lowered here to force it on 75 states)."""
    fl = flows.AdamFlow(a=1.0, b=10.0, eps=1e-8)
    ref = flows.solve(fl, tiny, tiny.x0, 0.1, method="DOP853", rtol=1e-11, atol=1e-13)
    moved = np.linalg.norm(ref.x[-1] - ref.x[0])
    lsoda = flows.solve(fl, tiny, tiny.x0, 0.1, method="LSODA", rtol=1e-8, atol=1e-10)
    radau = flows.solve(fl, tiny, tiny.x0, 0.1, rtol=1e-8, atol=1e-10)
    assert radau.method == "Radau" and radau.njev > 0 and lsoda.njev > 0
    monkeypatch.setattr(solve_mod, "DENSE_JAC_MAX_STATE", 10)
    mf = flows.solve(fl, tiny, tiny.x0, 0.1, rtol=1e-8, atol=1e-10)
    assert mf.method == "BDF (Newton-Krylov)" and mf.njev > 0
    for s, tol in ((lsoda, 1e-7), (radau, 1e-4), (mf, 1e-7)):      # measured 1.6e-9, 5.6e-6, 4.0e-9
        assert s.status == "ok" and np.linalg.norm(s.x[-1] - ref.x[-1]) < tol * moved
    with pytest.raises(ValueError, match="DENSE_JAC_MAX_STATE"):
        flows.solve(fl, tiny, tiny.x0, 0.1, method="Radau")


def _order(etas, gaps):
    return float(np.polyfit(np.log(etas), np.log(gaps), 1)[0])


ETAS = (4e-3, 2e-3, 1e-3)


def test_adam_flow_tracks_nn_train_at_order_one_and_a_wrong_flow_does_not(tiny):
    """Figure 2 as the paper intends it: Adam (beta2 = 1 - a eta, beta1 = 1 - b eta) runs of a
    network against flow (8) on [0, 0.5]: gap ~ C eta (measured order 0.997, gaps 2.1e-2 at
    eta = 4e-3 down to 2.6e-3 at 5e-4). Control: the flow with b = 20 stays ~0.17 away."""
    T = 0.5
    fl = flows.limit(ad.Adam.from_ab(ETAS[0], 1.0, 10.0))
    sol = flows.solve(fl, tiny, tiny.x0, T, method="DOP853", rtol=1e-10, atol=1e-12)
    wrong = flows.solve(flows.AdamFlow(a=1.0, b=20.0, eps=1e-8), tiny, tiny.x0, T, method="DOP853",
                        rtol=1e-10, atol=1e-12)
    gaps, ctrl = [], []
    for e in ETAS:
        spec = ad.Adam.from_ab(e, 1.0, 10.0)
        tr = nn.train(spec, tiny.to_model(tiny.x0), tiny.problem, int(round(T / e)), record_params_every=1)
        gaps.append(compare(tr, sol).gap_x)       # a raw nn.train run (its objective is the Problem)
        ctrl.append(np.max(np.linalg.norm(wrong.x_at(tr.time) - tr.x, axis=1)))
    assert 0.9 < _order(ETAS, gaps) < 1.1 and gaps[-1] < 0.01
    assert abs(_order(ETAS, ctrl)) < 0.2 and min(ctrl) > 10 * gaps[-1]
    with pytest.raises(ValueError, match="different objectives"):
        compare(nn.train(ad.Adam.from_ab(4e-3, 1.0, 10.0), nn.mlp([1, 8, 1], "tanh"), nn.sine_regression(n=65, dim=1),
                         10, record_params_every=1), sol)


def test_rmsprop_flow_tracks_nn_train_at_order_one_from_v0(tiny):
    """RMSprop (alpha = 1 - a eta) from v0 = 0.01 against flow (7): order 1.01 measured."""
    T, v0 = 0.5, np.full(25, 0.01)
    sol = flows.solve(flows.limit(ad.RMSprop.from_a(ETAS[0], 10.0)), tiny, tiny.x0, T, v0=v0, method="DOP853",
                      rtol=1e-10, atol=1e-12)
    comps = [compare(tiny.train(ad.RMSprop.from_a(e, 10.0), int(round(T / e)), v0=v0), sol) for e in ETAS]
    gaps = [c.gap_x for c in comps]
    assert 0.9 < _order(ETAS, gaps) < 1.1 and gaps[-1] < 0.01
    with pytest.raises(ValueError, match="v0 is supported"):
        tiny.train(ad.Adam(1e-3), 3, v0=v0)


# ---------------------------------------------------------------------- linearisation and curvature
def test_critical_learning_rate_and_linearize_at_a_network_minimum(at_min):
    obj, x = at_min
    lam = np.linalg.eigvalsh(_fd_hessian(obj, x))
    assert lam[0] > 0
    eps = 1e-8
    rms = ad.RMSprop(1e-3, alpha=0.99, eps=eps)
    for method in ("dense", "lanczos"):
        c = critical_learning_rate(rms, obj, x, method=method)
        assert c.eta_c == pytest.approx(2 * eps / lam[-1], rel=1e-6)
    adam = ad.Adam(1e-3, beta1=0.9, beta2=0.999, eps=eps)
    assert critical_learning_rate(adam, obj, x).eta_c == pytest.approx(3.8 * eps / (0.1 * lam[-1]), rel=1e-6)
    assert critical_learning_rate(ad.GD(0.1), obj, x).eta_c == pytest.approx(2 / lam[-1], rel=1e-6)
    L = linearize(rms, obj, x)
    assert L.accuracy == "exact (torch autograd Hessian)"
    assert L.spectral_radius == pytest.approx(abs(1 - 1e-3 * lam[-1] / eps), rel=1e-6)
    np.testing.assert_allclose(np.sort(L.flow_eigenvalues.real)[:1], [-lam[-1] / eps], rtol=1e-6)
    a = (1 - 0.99) / 1e-3
    assert np.sum(np.isclose(L.flow_eigenvalues.real, -a, rtol=1e-9)) == obj.dim


def test_preconditioned_top_eigenvalue_matches_the_torch_lanczos(tiny):
    """analysis.critical.top_eigenvalue on the objective (dense and hvp-Lanczos) against
    nn.preconditioned_sharpness on the model (adadyn.nn.hessian's own hvp operator)."""
    rng = np.random.default_rng(6)
    v = rng.uniform(1e-3, 1e-1, 25)
    spec = ad.Adam(1e-3)
    P = 1.0 / (np.sqrt(v / (1 - 0.999 ** 50)) + 1e-8)
    ref = nn.preconditioned_sharpness(spec, tiny.to_model(tiny.x0), tiny.problem, v, 50)
    for method in ("dense", "lanczos"):
        lmax = top_eigenvalue(tiny, tiny.x0, P, method=method)[0]
        assert lmax == pytest.approx(ref, rel=1e-7)


def test_identity_and_same_objective(tiny):
    other = nn.objective(nn.mlp([1, 8, 1], "tanh", seed=1), nn.sine_regression(n=64, dim=1))
    relu = nn.objective(nn.mlp([1, 8, 1], "relu", seed=0), nn.sine_regression(n=64, dim=1))
    assert other.identity() == tiny.identity()        # same function of x (another start)
    assert relu.identity() != tiny.identity()
    assert tiny.same_objective(tiny.problem) and not tiny.same_objective(nn.sine_regression(n=63, dim=1))
    assert not relu.same_objective(tiny)


@pytest.mark.slow
def test_reproduction_rows_follow_its_gaps(tmp_path):
    from adadyn.reproduce.registry import get

    rep = get("mwe-fig2-flow-net").run(tmp_path, scale=0.2)       # t in [0, 0.1], d = 538
    etas = np.array([4e-3, 2e-3, 1e-3, 5e-4])
    for label in ("Adam", "RMSprop", "control"):
        gaps = np.array(rep.values[label]["gaps"])
        assert rep.values[label]["order"] == pytest.approx(_order(etas, gaps), abs=1e-12)
    assert 0.8 <= rep.values["Adam"]["order"] <= 1.2 and 0.8 <= rep.values["RMSprop"]["order"] <= 1.2
    assert abs(rep.values["control"]["order"]) < 0.3
    assert rep.verdict == "reproduces" and all(p.exists() for p in rep.figures)
    # the first gap recomputed from scratch: the flow and one run on a fresh objective
    obj = nn.objective(nn.mlp([64, 8, 2], "tanh", seed=0), nn.digits(2))
    sol = flows.solve(flows.AdamFlow(a=1.0, b=10.0, eps=1e-8), obj, obj.x0, 0.1, method="DOP853", rtol=1e-10,
                      atol=1e-12)
    tr = nn.train(ad.Adam.from_ab(4e-3, 1.0, 10.0), nn.mlp([64, 8, 2], "tanh", seed=0), nn.digits(2), 25,
                  record_params_every=1)
    assert rep.values["Adam"]["gaps"][0] == pytest.approx(compare(tr, sol).gap_x, rel=1e-6)


@pytest.mark.slow
def test_the_docs_example_runs_as_written():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text()
    code = re.search(r"## Networks as objectives.*?```python\n(.*?)```", text, re.S).group(1)
    ns = {}
    exec(compile(code, "docs/nn.md", "exec"), ns)   # the project's own docs, not user text
    g1, g2 = ns["gaps"]
    assert g1 == pytest.approx(0.0103, rel=1e-2) and g2 == pytest.approx(0.0052, rel=1e-2)
    assert ns["c"].lambda_max == pytest.approx(2.065, rel=1e-3) and ns["c"].lambda_min < 0 and ns["c"].eta_c == 0


def test_record_state_run_is_the_plain_run_and_feeds_preconditioned_sharpness(tiny):
    """obj.train(record_state=True) (pieces continued bit for bit) records the same x, loss and
    times as one nn.train call, and its v gives analysis.preconditioned_sharpness the values
    nn.train(sharpness_every=) records from the live optimiser (two implementations)."""
    from adadyn.analysis import preconditioned_sharpness

    spec = ad.Adam.from_ab(2e-3, 1.0, 10.0)
    a = tiny.train(spec, 40, record_state=True, record_every=5)
    b = tiny.train(spec, 40, record_every=5)
    for k in ("x", "loss", "time", "step"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_array_equal(a.v[-1], b.final_state.v)
    np.testing.assert_array_equal(a.m[-1], b.final_state.m)
    assert a.v.shape == (9, 25) and np.all(a.v[0] == 0) and np.all(a.v[1] > 0)
    sh = preconditioned_sharpness(a, every=2)
    ref = nn.train(spec, tiny.to_model(tiny.x0), tiny.problem, 40, record_every=5, sharpness_every=10)
    np.testing.assert_allclose(sh.sharpness[1:], ref.extras["sharpness"][2::2], rtol=1e-6)
    with pytest.raises(ValueError, match="multiple of record_every"):
        tiny.train(spec, 7, record_state=True, record_every=5)
