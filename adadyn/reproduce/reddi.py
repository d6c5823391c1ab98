"""Reddi, Kale & Kumar (2018), "On the convergence of Adam and beyond": Theorems 1 and 3
and the Section 5 synthetic experiment, with regret curves and average regret R_T / T.

Regret of an online run: R_T = sum_{t<=T} f_t(x_t) - min_{x in [-1, 1]} sum_{t<=T} f_t(x).
For the linear losses here min_x sum c_t x = -|sum c_t|. If the iterates settle at
x = +1 while the optimum is -1, R_T / T -> 2 |mean c_t|: 2 (C - 2) / 3 on the Theorem 1
problem, 2 * 10 / 101 on the Section 5 problem, 2 (p (C + 1) - 1) in expectation on the
Theorem 3 problem.
"""
from __future__ import annotations

import numpy as np

import adadyn as ad
from adadyn.reproduce._common import figure, g, save, steps_at
from adadyn.reproduce.objectives import periodic_linear, stochastic_linear
from adadyn.reproduce.registry import Reproduction, reproduction

PAPER = "Reddi, Kale & Kumar 2018"


def online_regret(traj) -> tuple[np.ndarray, np.ndarray]:
    """(T, R_T) for T = 1..steps of an online run recorded every step.

    ``traj.loss[j]`` is f_{j+1}(x_j), the loss of the decision made before step j + 1;
    the comparator is the best fixed x in [-1, 1] in hindsight, for linear losses
    -|sum_t c_t|, with c_t = f_t(1).
    """
    if traj.record_every != 1:
        raise ValueError("online_regret needs a run recorded every step")
    T = traj.stop_step
    c = linear_coefficients(traj.objective, T)
    cum = np.cumsum(traj.loss[:T])
    best = -np.abs(np.cumsum(c))
    return np.arange(1, T + 1), cum - best


def linear_coefficients(obj, T: int) -> np.ndarray:
    """c_t = f_t(1) for t = 1..T of a linear online objective (one compiled call per step)."""
    g_ = np.empty(1)
    x = np.ones(1)
    fn, data = obj.value_grad_fn, obj.data
    return np.fromiter((fn(x, float(t), data, g_) for t in range(1, T + 1)), dtype=np.float64, count=T)


def expected_regret(traj, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, R_T) for the expected losses E f_t(x) = mean * x (the stochastic problem):
    R_T = sum_{t<=T} mean * x_t - T * min(mean * 1, mean * (-1)) = mean * sum (x_t + sign(mean))."""
    T = traj.stop_step
    x = traj.x[:T, 0]
    return np.arange(1, T + 1), np.cumsum(mean * x + abs(mean))


def _run_pair(obj, opts, T, regret=online_regret):
    out = {}
    for label, opt in opts:
        tr = ad.run(opt, obj, [0.0], T)
        Ts, R = regret(tr)
        out[label] = (tr, Ts, R)
    return out


def _plot(runs, title, out, name, limit):
    fig, (ax1, ax2) = figure(1, 2, size=(11, 4))
    for label, (tr, Ts, R) in runs.items():
        # log-spaced samples: the curves are drawn on log axes, millions of points add nothing
        idx = np.unique(np.geomspace(1, Ts.size, 4000).astype(int)) - 1
        ax1.plot(Ts[idx], R[idx] / Ts[idx], label=label)
        ax2.plot(tr.step[idx], tr.x[idx, 0], label=label, lw=0.8)
    ax1.axhline(limit, color="k", ls=":", lw=1, label=f"limit at x = +1: {limit:.4g}")
    ax1.set_xscale("log")
    ax1.set_xlabel("T")
    ax1.set_ylabel("R_T / T")
    ax1.legend(fontsize="small", loc="upper right")
    ax1.set_title(title)
    ax2.set_xscale("log")
    ax2.set_xlabel("step t")
    ax2.set_ylabel("x_t")
    ax2.set_ylim(-1.05, 1.05)
    return save(fig, out, name)


def _judge(rep, runs, limit, adam_label, ams_label, T):
    tr_a, Ts, Ra = runs[adam_label]
    tr_m, _, Rm = runs[ams_label]
    tail = max(1, T // 10)
    xa = float(tr_a.x[-tail:, 0].mean())
    xm = float(tr_m.x[-tail:, 0].mean())
    ra, rm = float(Ra[-1] / T), float(Rm[-1] / T)
    rm_half = float(Rm[T // 2 - 1] / (T // 2))
    rep.values.update(adam_avg_regret=ra, amsgrad_avg_regret=rm, amsgrad_avg_regret_half=rm_half,
                      adam_mean_x=xa, amsgrad_mean_x=xm, limit=limit)
    rep.add("Adam: mean x_t over the last 10 %", "-> +1 (the worst point)", g(xa), xa > 0.9)
    rep.add("Adam: R_T / T", f"does not -> 0 (limit {limit:.4g} at x = +1)", g(ra),
            0.5 * limit <= ra <= 2.0 * limit, f"T = {T}")
    rep.add("AMSGrad: mean x_t over the last 10 %", "-> -1 (the optimum)", g(xm), xm < 0.0,
            "criterion: on the optimum's side, x < 0")
    rep.add("AMSGrad: R_T / T", "-> 0", f"{g(rm)} (at T/2: {g(rm_half)})", rm < ra and rm <= 0.8 * rm_half)
    return rep.decide("Adam: last-10% mean x > 0.9 and R_T/T within [0.5, 2] x the limit 2|mean c_t| of a "
                      "run at x = +1; AMSGrad: last-10% mean x < 0, R_T/T below Adam's and at most 0.8 x its "
                      "value at T/2 (falling at least like T^-0.32)")


@reproduction("reddi-thm1", PAPER, "Theorem 1: Adam has non-zero average regret (C x every 3rd step, else -x)", 1.0)
def theorem1(out, full: bool, scale: float, C: float = 3.0) -> Reproduction:
    """Theorem 1: f_t = C x if t mod 3 = 1 else -x on [-1, 1], beta1 = 0, beta2 = 1/(1 + C^2),
    alpha_t = alpha / sqrt(t) (alpha = 0.5); Adam without bias correction (the paper's
    framework) against AMSGrad (their Algorithm 2)."""
    C = float(C)
    if not C > 2:
        raise ValueError(f"Theorem 1 needs C > 2, got {C}")
    T = steps_at(100_000, 1_000_000, full, scale, minimum=300)
    obj = periodic_linear(C, -1.0, 3)
    kw = dict(beta1=0.0, beta2=1.0 / (1.0 + C * C), eps=1e-8, schedule=ad.InverseSqrt())
    runs = _run_pair(obj, [("Adam", ad.Adam(0.5, bias_correction=False, **kw)),
                           ("AMSGrad", ad.AMSGrad(0.5, variant="reddi", **kw))], T)
    limit = 2.0 * (C - 2.0) / 3.0
    rep = Reproduction("reddi-thm1", PAPER, f"Theorem 1 (C = {C:g})")
    rep.notes.append(f"beta1 = 0, beta2 = 1/(1 + C^2) = {kw['beta2']:.4g}, alpha_t = 0.5/sqrt(t), x_1 = 0, "
                     "Adam without bias correction (the paper's framework)")
    rep.figures.append(_plot(runs, f"Theorem 1, C = {C:g}", out, "reddi_thm1.png", limit))
    _judge(rep, runs, limit, "Adam", "AMSGrad", T)
    return rep


@reproduction("reddi-thm3", PAPER, "Theorem 3: stochastic C x w.p. p, else -x; Adam does not converge", 1.0)
def theorem3(out, full: bool, scale: float, C: float = 101.0, p: float = 0.01, seed: int = 0) -> Reproduction:
    """Theorem 3: f_t = C x with probability p, -x otherwise (E f_t = (p (C + 1) - 1) x > 0, optimum -1),
    beta1 = 0.9, beta2 = 0.99, alpha_t = alpha/sqrt(t), alpha = 0.5 (beta1 < sqrt(beta2) as the theorem needs)."""
    T = steps_at(200_000, 2_000_000, full, scale, minimum=2000)
    obj = stochastic_linear(C, p, seed)
    mean = p * (C + 1.0) - 1.0
    if not mean > 0:
        raise ValueError(f"need p (C + 1) > 1 for the optimum to be x = -1, got p = {p}, C = {C}")
    kw = dict(beta1=0.9, beta2=0.99, eps=1e-8, schedule=ad.InverseSqrt())
    runs = _run_pair(obj, [("Adam", ad.Adam(0.5, bias_correction=False, **kw)),
                           ("AMSGrad", ad.AMSGrad(0.5, variant="reddi", **kw))], T,
                     regret=lambda tr: expected_regret(tr, mean))
    limit = 2.0 * mean
    rep = Reproduction("reddi-thm3", PAPER, f"Theorem 3 (C = {C:g}, p = {p:g}, delta = {mean:.3g})")
    rep.notes.append("the summary gives no beta1, beta2 for Theorem 3; we use beta1 = 0.9, beta2 = 0.99 "
                     "(beta1 < sqrt(beta2)), alpha_t = 0.5/sqrt(t), x_1 = 0, no bias correction")
    rep.notes.append("regret against the expected losses E f_t(x) = delta x (the realised losses add a "
                     "zero-mean term of size ~ sqrt(p T) C that swamps delta T at these T); its limit at "
                     "x = +1 is 2 delta = 2 (p (C + 1) - 1)")
    rep.figures.append(_plot(runs, f"Theorem 3, C = {C:g}, p = {p:g}", out, "reddi_thm3.png", limit))
    _judge(rep, runs, limit, "Adam", "AMSGrad", T)
    return rep


@reproduction("reddi-sec5", PAPER, "Section 5 synthetic: 1010 x if t mod 101 = 1 else -10 x", 1.0)
def section5(out, full: bool, scale: float) -> Reproduction:
    """The synthetic online experiment of Section 5: beta1 = 0.9, beta2 = 0.99, alpha_t = alpha/sqrt(t)."""
    T = steps_at(200_000, 5_000_000, full, scale, minimum=2020)
    obj = periodic_linear(1010.0, -10.0, 101)
    kw = dict(beta1=0.9, beta2=0.99, eps=1e-8, schedule=ad.InverseSqrt())
    runs = _run_pair(obj, [("Adam", ad.Adam(0.5, bias_correction=False, **kw)),
                           ("AMSGrad", ad.AMSGrad(0.5, variant="reddi", **kw))], T)
    limit = 2.0 * 10.0 / 101.0
    rep = Reproduction("reddi-sec5", PAPER, "Section 5 synthetic online problem")
    rep.notes.append("beta1 = 0.9, beta2 = 0.99, alpha_t = 0.5/sqrt(t), x_1 = 0, no bias correction "
                     "(the summary gives no hyperparameters; these are the original paper's betas)")
    rep.figures.append(_plot(runs, "Section 5: 1010 x every 101 steps, else -10 x", out, "reddi_sec5.png", limit))
    _judge(rep, runs, limit, "Adam", "AMSGrad", T)
    return rep
