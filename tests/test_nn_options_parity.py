"""Every option of the torch optimisers (adadyn.nn.optimizer) against the Numba kernels, step by step.

tests/test_nn_optim.py checks each spec at its defaults (and a few options) through nn.train;
here every option a user can set is run: bias correction on/off, eps inside/outside and large
enough to matter, beta1 = 0, the three AMSGrad conventions with every other option, an initial
accumulator on the foreach path, Family coefficients with h != 1 - r, schedules under signGD,
Lion with m opposing g, AdaFix in its freezing region and under a schedule, user-defined specs
whose coefficients must not be routed to torch.optim, and schedules beyond the first block of
precomputed factors. torch receives the gradient NumPy computes (only the optimiser arithmetic is
compared); after every step x, m, v and AMSGrad's max agree with adadyn.discrete.step to 1e-12
(float64) and the run stays in the transient, where rounding is not amplified.
"""
from dataclasses import dataclass, field

import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
from adadyn import nn  # noqa: E402
from adadyn.discrete import kernels as K  # noqa: E402
from adadyn.discrete.coefficients import Coefficients  # noqa: E402
from adadyn.discrete.schedules import Constant, Schedule  # noqa: E402
from adadyn.discrete.specs import Optimizer  # noqa: E402
from adadyn.nn import optim as O  # noqa: E402

TOL = 1e-12


def _lsq_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((24, 5))
    y = X @ rng.standard_normal(5) + 0.1 * rng.standard_normal(24)
    return X, y


def _lsq(seed=0):
    """Least squares on 24 random rows in 5 dimensions, and a start ~6 from its minimum."""
    X, y = _lsq_data(seed)
    return ad.objectives.least_squares(X, y), 6.0 + np.random.default_rng(seed + 100).standard_normal(5)


def _torch_state(opt, p, key_torch, key_ours):
    st = opt.state[p]
    for k in (key_torch, key_ours):
        if k in st:
            return st[k].detach().numpy()
    return None


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def lockstep(spec, obj, x0, steps=30, check_grad=True):
    """Run nn.optimizer(spec) and adadyn.discrete.step side by side; return the kernel states and
    the torch optimiser. Asserts agreement of x, m, v, aux (and AdaFix's L, frozen) after each step."""
    p = torch.tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    opt = nn.optimizer(spec, [p])

    def closure():
        p.grad = torch.from_numpy(obj.grad(p.detach().numpy()))

    st = ad.State.initial(spec, x0)
    states = [st]
    for k in range(steps):
        if check_grad:
            assert np.min(np.abs(obj.grad(st.x))) > 1e-3, "left the transient"
        closure()
        opt.step(closure) if opt.needs_closure else opt.step()
        st = ad.discrete.step(spec, obj, st)
        states.append(st)
        x = p.detach().numpy()
        assert _rel(x, st.x) <= TOL, (k, _rel(x, st.x))
        m, v = opt.moments()
        if m is not None:
            assert _rel(m[0].detach().numpy(), st.m) <= TOL, ("m", k)
        if v is not None:
            assert _rel(v[0].detach().numpy(), st.v) <= TOL, ("v", k)
        aux = _torch_state(opt, p, "max_exp_avg_sq", "aux")
        if aux is not None:
            assert _rel(aux, st.aux) <= TOL, ("aux", k)
        g0 = opt.param_groups[0]
        if "L" in g0:
            assert g0["L"] == pytest.approx(st.scalars[K.S_L], rel=1e-12, abs=0), ("L", k)
            assert g0["frozen"] == st.scalars[K.S_FROZEN], ("frozen", k)
    assert opt.time == pytest.approx(st.time, rel=1e-14)
    return states, opt


# every option of every built-in spec (and the class it must be routed to)
OPTIONS = {
    "adam_large_eps": (ad.Adam(1e-2, beta1=0.8, beta2=0.95, eps=1e-2), O.TorchAdam),
    "adam_eps_inside_large_eps": (ad.Adam(1e-2, beta1=0.8, beta2=0.95, eps=1e-2, eps_inside=True), O.MomentOptimizer),
    "adam_no_bc_large_eps": (ad.Adam(1e-2, beta2=0.95, eps=1e-2, bias_correction=False), O.MomentOptimizer),
    "adam_no_bc_eps_inside": (ad.Adam(1e-2, beta2=0.95, eps=1e-2, bias_correction=False, eps_inside=True),
                              O.MomentOptimizer),
    "adam_beta1_0": (ad.Adam(1e-2, beta1=0.0, beta2=0.9), O.TorchAdam),
    "adam_beta1_0_eps_inside": (ad.Adam(1e-2, beta1=0.0, beta2=0.9, eps=1e-3, eps_inside=True), O.MomentOptimizer),
    "adam_invsqrt": (ad.Adam(2e-2, beta2=0.9, schedule=ad.InverseSqrt()), O.TorchAdam),
    "amsgrad_pytorch_eps_inside": (ad.AMSGrad(1e-2, beta1=0.5, beta2=0.6, eps=1e-3, eps_inside=True),
                                   O.MomentOptimizer),
    "amsgrad_pytorch_no_bc": (ad.AMSGrad(1e-2, beta1=0.5, beta2=0.6, bias_correction=False), O.MomentOptimizer),
    "amsgrad_pytorch_large_eps": (ad.AMSGrad(1e-2, beta1=0.5, beta2=0.6, eps=1e-2), O.TorchAdam),
    "amsgrad_optax_eps_inside": (ad.AMSGrad(1e-2, beta1=0.5, beta2=0.6, eps=1e-3, eps_inside=True,
                                            variant="optax"), O.MomentOptimizer),
    "amsgrad_optax_no_bc": (ad.AMSGrad(1e-2, beta1=0.5, beta2=0.6, bias_correction=False, variant="optax"),
                            O.MomentOptimizer),
    "amsgrad_reddi_eps_inside": (ad.AMSGrad(1e-2, beta1=0.5, beta2=0.6, eps=1e-3, eps_inside=True,
                                            variant="reddi"), O.MomentOptimizer),
    "rmsprop_fast_large_eps": (ad.RMSprop(1e-2, alpha=0.5, eps=1e-2), O.TorchRMSprop),
    "rmsprop_eps_inside_large_eps": (ad.RMSprop(1e-2, alpha=0.5, eps=1e-2, eps_inside=True), O.MomentOptimizer),
    "adagrad_v0_eps_inside": (ad.Adagrad(0.1, eps=1e-3, initial_accumulator_value=2.0, eps_inside=True),
                              O.MomentOptimizer),
    "adagrad_v0": (ad.Adagrad(0.1, eps=1e-3, initial_accumulator_value=2.0), O.TorchAdagrad),
    "family_h_not_1_minus_r": (ad.Family(1e-2, h=0.3, r=0.6, p=0.2, q=0.7), O.MomentOptimizer),
    "family_h_not_1_minus_r_eps_inside": (ad.Family(1e-2, h=0.3, r=0.6, p=0.2, q=0.7, eps=1e-3, eps_inside=True),
                                          O.MomentOptimizer),
    "family_r0_h_half": (ad.Family(1e-2, h=0.5, r=0.0, p=0.2, q=0.7), O.MomentOptimizer),
    "signgd_invsqrt": (ad.SignGD(0.05, schedule=ad.InverseSqrt()), O.SignOptimizer),
    "signgd_expdecay": (ad.SignGD(0.05, schedule=ad.ExponentialDecay(0.05)), O.SignOptimizer),
    "gd_cosine": (ad.GD(0.02, schedule=ad.CosineAnnealing(period=20, eta_min_ratio=0.1)), O.TorchSGD),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_option_matches_the_kernel_step_by_step(name):
    spec, cls = OPTIONS[name]
    obj, x0 = _lsq()
    p = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    assert type(nn.optimizer(spec, [p])) is cls
    states, opt = lockstep(spec, obj, x0)
    if spec.uses_aux:  # the running max is live: v fell below it at some step and coordinate
        assert any(np.any(s.v < s.aux) if spec.coefficients().amsgrad == "raw" else
                   np.any(s.v / (1 - s.scalars[K.S_P2] if spec.coefficients().bias_correction else 1.0) < s.aux)
                   for s in states[2:])
    if spec.coefficients().v0:
        assert np.all(states[0].v == spec.coefficients().v0)


def test_lion_with_momentum_opposing_the_gradient():
    """Lion near the minimum, where the iterate overshoots and m points against g: the
    direction sign(beta1 m + (1 - beta1) g) then depends on beta1 and beta2 separately."""
    X, y = _lsq_data(seed=2)
    obj = ad.objectives.least_squares(X, y)
    xs = np.linalg.lstsq(X, y, rcond=None)[0]
    x0 = xs + 0.05 * np.random.default_rng(4).standard_normal(xs.shape[0])
    for spec in (ad.Lion(0.02, beta1=0.1, beta2=0.99), ad.Lion(0.02, beta1=0.95, beta2=0.6)):
        states, _ = lockstep(spec, obj, x0, steps=60, check_grad=False)
        opposing = [np.any(np.sign(s.m) * np.sign(obj.grad(s.x)) < 0) for s in states[1:]]
        assert sum(opposing) >= 10


# ---------------------------------------------------------------- AdaFix
def test_adafix_in_its_freezing_region_matches_the_kernel():
    """L0 large against max|g| / eta: v stays frozen (at 0, v0) for the first steps, then the
    estimate L and the freezing decision evolve together in torch and in the kernel."""
    obj, x0 = _lsq(seed=3)
    eta = 1e-2
    g0 = np.max(np.abs(obj.grad(x0)))
    spec = ad.AdaFix(eta, beta2=0.9, L0=1.5 * g0 / eta)
    states, opt = lockstep(spec, obj, x0, steps=40)
    frozen = np.diff([s.scalars[K.S_FROZEN] for s in states])
    assert frozen[0] == 1 and 0 < frozen.sum() < 40
    # while frozen, v does not move (exactly); while updated it does
    for a, b, f in zip(states[:-1], states[1:], frozen):
        assert np.array_equal(a.v, b.v) == bool(f)


def test_adafix_freezing_uses_the_scheduled_step_size():
    """Algorithm 1 compares max|g| with L eta_t, eta_t the step of the schedule: a case where
    eta_t and the base eta decide differently at some step, in torch as in the kernel."""
    obj, x0 = _lsq(seed=5)
    eta = 2e-2
    sched = ad.InverseSqrt()
    g0 = np.max(np.abs(obj.grad(x0)))
    spec = ad.AdaFix(eta, beta2=0.9, L0=0.7 * g0 / (eta / np.sqrt(2.0)), schedule=sched)
    states, opt = lockstep(spec, obj, x0, steps=30)
    fac = np.asarray(sched.factor(np.arange(1, 31)), dtype=float)
    differ = 0
    for k in range(30):
        gmax = np.max(np.abs(obj.grad(states[k].x)))
        L = states[k].scalars[K.S_L]
        differ += (gmax >= L * eta * fac[k]) != (gmax >= L * eta)
    assert differ >= 10   # here v is updated at every step; with the base eta it would freeze
    assert opt.param_groups[0]["frozen"] == 0


def test_adafix_lipschitz_estimate_is_the_largest_secant():
    """After each step L = max(L, |g(x_{t+1}) - g(x_t)| / |x_{t+1} - x_t|): for least squares
    g is affine, so every secant is |H dx| / |dx| with H = X^T X / n, at most lambda_max(H)."""
    X, y = _lsq_data(seed=6)
    obj = ad.objectives.least_squares(X, y)
    H = X.T @ X / X.shape[0]
    x0 = 6.0 + np.random.default_rng(6).standard_normal(5)
    states, opt = lockstep(ad.AdaFix(1e-2, L0=0.0), obj, x0, steps=20)
    want = 0.0
    for a, b in zip(states[:-1], states[1:]):
        dx = b.x - a.x
        want = max(want, np.linalg.norm(H @ dx) / np.linalg.norm(dx))
        assert b.scalars[K.S_L] == pytest.approx(want, rel=1e-10)
    assert opt.param_groups[0]["L"] == pytest.approx(want, rel=1e-10)
    assert want <= np.linalg.eigvalsh(H)[-1] * (1 + 1e-12)


# ---------------------------------------------------------------- user-defined specs
@dataclass(frozen=True)
class UserMoment(Optimizer):
    """A user's eq. (1) method (docs/extending.md): any coefficients, bias correction, v0."""

    h: float = 0.3
    r: float = 0.6
    p: float = 0.2
    q: float = 0.7
    v0: float = 0.0
    eps: float = 1e-8
    bias_correction: bool = True
    amsgrad: str = "none"
    schedule: Schedule = field(default_factory=Constant)
    name = "user-moment"

    def coefficients(self) -> Coefficients:
        return Coefficients("moment", self.eta, h=self.h, r=self.r, p=self.p, q=self.q, eps=self.eps,
                            bias_correction=self.bias_correction, amsgrad=self.amsgrad, v0=self.v0,
                            schedule=self.schedule)


USER = {   # exactly representable coefficients: p = 1 - q and h = 1 - r hold (or fail) exactly
    # Adam's form (bias correction, p = 1 - q, v0 = 0) but h != 1 - r: not torch.optim.Adam
    "bias_correction_h_not_1_minus_r": (UserMoment(1e-2, h=0.3, r=0.75, p=0.125, q=0.875), O.MomentOptimizer),
    # Adam's form exactly, but v starts at v0 != 0: not torch.optim.Adam
    "adam_form_with_v0": (UserMoment(1e-2, h=0.25, r=0.75, p=0.125, q=0.875, v0=4.0), O.MomentOptimizer),
    "adam_form_raw_amsgrad_with_v0": (UserMoment(1e-2, h=0.25, r=0.75, p=0.125, q=0.875, v0=4.0, amsgrad="raw"),
                                      O.MomentOptimizer),
    "family_form_with_bias_correction": (UserMoment(1e-2), O.MomentOptimizer),
    "adam_form": (UserMoment(1e-2, h=0.25, r=0.75, p=0.125, q=0.875), O.TorchAdam),
    "rmsprop_form": (UserMoment(1e-2, h=1.0, r=0.0, p=0.25, q=0.75, bias_correction=False), O.TorchRMSprop),
    "adagrad_form_v0": (UserMoment(0.1, h=1.0, r=0.0, p=1.0, q=1.0, v0=2.0, bias_correction=False),
                        O.TorchAdagrad),
}


@pytest.mark.parametrize("name", list(USER))
def test_user_defined_specs_are_routed_to_an_optimiser_with_their_update(name):
    spec, cls = USER[name]
    obj, x0 = _lsq(seed=1)
    p = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    assert type(nn.optimizer(spec, [p])) is cls
    lockstep(spec, obj, x0, steps=30)


def test_user_spec_trains_a_network_like_the_kernel_runs_least_squares():
    """The same user spec through nn.train on a bias-free linear model is adadyn.run on least squares."""
    X, y = _lsq_data(seed=8)
    obj = ad.objectives.least_squares(X, y)
    x0 = 6.0 + np.random.default_rng(8).standard_normal(5)
    spec = UserMoment(1e-2, v0=1.0)
    want = ad.run(spec, obj, x0, 40)
    m = nn.mlp([5, 1], bias=False)
    with torch.no_grad():
        m.layers[0].weight.copy_(torch.from_numpy(x0)[None])
    got = nn.train(spec, m, nn.regression(X, y), 40, record_params_every=1)
    np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.final_state.v, want.final_state.v, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- schedules past the first block of factors
@pytest.mark.parametrize("spec", [ad.SignGD(1e-3, schedule=ad.CosineAnnealing(period=3000, eta_min_ratio=0.1)),
                                  ad.Adam(1e-3, schedule=ad.ExponentialDecay(1e-3))],
                         ids=["signgd_cosine", "adam_expdecay"])
def test_schedule_factors_beyond_the_first_block(spec):
    """Step t uses eta * factor(t) for every t, also after the first O._BLOCK precomputed
    factors: with a constant unit gradient, signGD's x_T = x_0 - sum_t eta_t exactly."""
    T = O._BLOCK * 2 + 37
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = nn.optimizer(spec, [p])
    lrs = np.empty(T)
    for t in range(T):
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        lrs[t] = opt.param_groups[0]["lr"]
    want = spec.eta * np.asarray(spec.schedule.factor(np.arange(1, T + 1)), dtype=float)
    np.testing.assert_allclose(lrs, want, rtol=1e-15, atol=0)
    assert opt.time == pytest.approx(want.sum(), rel=1e-13)
    if spec.name == "signGD":
        assert float(p.detach()) == pytest.approx(-want.sum(), rel=1e-12)


def test_adafix_at_the_minimum_does_not_move_and_keeps_its_estimate():
    """A start exactly at the minimum (g = 0): no step, so no secant; L stays L0 and v frozen
    (0 < L0 eta), in torch and in the kernel."""
    obj = ad.objectives.quadratic(np.diag([1.0, 2.0, 3.0]))
    x0 = np.zeros(3)
    assert np.all(obj.grad(x0) == 0.0)
    spec = ad.AdaFix(1e-2, L0=5.0)
    states, opt = lockstep(spec, obj, x0, steps=5, check_grad=False)
    assert np.all(states[-1].x == 0.0) and opt.param_groups[0]["L"] == 5.0 and opt.param_groups[0]["frozen"] == 5
