"""Ma, Wu & E: the propositions and the linear-stability claims.

Props. 1 and 2 (the eta -> 0 limits), Prop. 3 (the early velocity of the Adam
flow (8)), Prop. 4 (finite stop time of the signGD flow (5)), eq. (11) (the
eigenvalues -lambda/eps and -a of the RMSprop flow at a minimum), the
threshold eta < 2 eps/lambda_max for the discrete map and its Adam analogue
(2 + 2 beta1) eps / ((1 - beta1) lambda_max).
"""
from __future__ import annotations

import numpy as np

import adadyn as ad
from adadyn.reproduce._common import figure, g, save
from adadyn.reproduce.ma_wu_e import quadratic_problem
from adadyn.reproduce.registry import Reproduction, reproduction

PAPER = "Ma, Wu & E 2020"


def _orders_plot(results, out, name, title):
    fig, ax = figure(size=(6.5, 4.5))
    for label, r in results.items():
        ax.loglog(r.etas, r.gaps_x, "o-", label=f"{label}: order {r.order:.2f}")
    ax.set_xlabel("eta")
    ax.set_ylabel("sup_t |X^eta(t) - x(t)|")
    ax.set_title(title)
    ax.legend(fontsize="x-small")
    return save(fig, out, name)


@reproduction("mwe-prop1", PAPER, "Prop. 1: fixed alpha, beta, eta -> 0 gives the eps-sign flow (4)", 2.0)
def prop1(out, full: bool, scale: float) -> Reproduction:
    """Prop. 1, eq. (6): with alpha, beta fixed, RMSprop and Adam tend to the flow (4)
    x' = -g/(|g| + eps) as eta -> 0; the sup-norm gap on [0, T] is measured at four eta."""
    obj, x0 = quadratic_problem()
    etas = [8e-3, 4e-3, 2e-3, 1e-3] if not full else [8e-3, 4e-3, 2e-3, 1e-3, 5e-4, 2.5e-4]
    T = 1.0
    if scale < 0.5 and not full:
        etas, T = etas[:3], 0.25
    cases = {"RMSprop alpha=0.9, eps=1e-3": ad.RMSprop(1e-3, alpha=0.9, eps=1e-3),
             "Adam beta=(0.9, 0.9), eps=1e-3": ad.Adam(1e-3, beta1=0.9, beta2=0.9, eps=1e-3)}
    rep = Reproduction("mwe-prop1", PAPER, "Proposition 1 (eq. (6)) on the Figure 5 quadratic")
    res = {}
    for label, opt in cases.items():
        r = ad.analysis.convergence_order(opt, obj, x0, T, etas, scaling="factors")
        res[label] = r
        dec = bool(np.all(np.diff(r.gaps_x) < 0))
        rep.values[label] = dict(gaps=r.gaps_x.tolist(), order=r.order)
        rep.add(f"{label}: sup gap on [0, {T:g}] at eta = " + ", ".join(g(e, 2) for e in r.etas), "-> 0",
                ", ".join(f"{v:.2e}" for v in r.gaps_x) + f" (order {r.order:.2f})", dec and r.order > 0.5)
    rep.figures.append(_orders_plot(res, out, "mwe_prop1.png", "Prop. 1: gap to the eps-sign flow (4)"))
    rep.notes.append("eps = 1e-3 keeps the flow (4) non-stiff enough to solve to 1e-12; the Lipschitz constant "
                     "of (4) is L/eps, so the gap constant grows like 1/eps (Appendix A, eq. (24))")
    rep.decide("each gap sequence strictly decreasing as eta halves, with fitted order > 0.5")
    return rep


@reproduction("mwe-prop2", PAPER, "Prop. 2: alpha = 1 - a eta, beta = 1 - b eta gives the flows (7), (8)", 1.0)
def prop2(out, full: bool, scale: float) -> Reproduction:
    """Prop. 2, eq. (9): with the memory rates held, RMSprop and Adam tend to the flows (7)/(8).
    The paper claims the limit; the rate measured here is O(eta) for smooth starts and
    O(sqrt(eta)) for RMSprop from v0 = 0 (its flow starts like -sign(g)/sqrt(a t))."""
    obj, x0 = quadratic_problem()
    etas = [8e-3, 4e-3, 2e-3, 1e-3] if not full else [8e-3, 4e-3, 2e-3, 1e-3, 5e-4]
    T = 1.0 if (full or scale >= 0.5) else 0.5
    cases = {
        "Adam a=1, b=10": (ad.Adam.from_ab(1e-3, 1.0, 10.0, eps=1e-8), None, 1.0),
        "RMSprop a=1, v0=g0^2": (ad.RMSprop.from_a(1e-3, 1.0, eps=1e-8), obj.grad(x0) ** 2, 1.0),
        "RMSprop a=1, v0=0": (ad.RMSprop.from_a(1e-3, 1.0, eps=1e-8), None, 0.5),
    }
    rep = Reproduction("mwe-prop2", PAPER, "Proposition 2 (eq. (9)) on the Figure 5 quadratic")
    res = {}
    for label, (opt, v0, expect) in cases.items():
        kw = {} if v0 is None else {"v0": v0}
        r = ad.analysis.convergence_order(opt, obj, x0, T, etas, **kw)
        res[label] = r
        dec = bool(np.all(np.diff(r.gaps_x) < 0))
        rep.values[label] = dict(gaps=r.gaps_x.tolist(), order=r.order)
        rep.add(f"{label}: sup gap on [0, {T:g}]", "-> 0",
                ", ".join(f"{v:.2e}" for v in r.gaps_x) + f" (order {r.order:.2f}; expected {expect:g})",
                dec and abs(r.order - expect) < 0.2)
    rep.figures.append(_orders_plot(res, out, "mwe_prop2.png", "Prop. 2: gap to the flows (7)/(8)"))
    rep.decide("each gap sequence strictly decreasing as eta halves (the proposition), with fitted order within "
               "0.2 of 1 (smooth start) or 1/2 (RMSprop from v0 = 0)")
    return rep


@reproduction("mwe-prop3", PAPER, "Prop. 3: early Adam-flow velocity is -sign(grad f), eq. (10)", 1.0)
def prop3(out, full: bool, scale: float) -> Reproduction:
    """Prop. 3, eq. (10): for the Adam flow (8) with eps = 0 from (x0, 0, 0),
    |x'(tau) + sign(grad f(x(tau)))| < 54 M^3 L sqrt(d) tau / c^4 for tau < c^3/(32 M^2 L sqrt(d)).
    Measured on a 2-d quadratic whose start has every gradient component large (c not tiny)."""
    from adadyn.flows import AdamFlow, solve

    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    obj = ad.objectives.quadratic(A, name="2-d quadratic")
    x0 = np.array([1.0, 1.0])
    g0 = obj.grad(x0)
    c = float(np.min(np.abs(g0))) * 0.999
    L = float(np.linalg.eigvalsh(A)[-1])
    d = obj.dim
    rep = Reproduction("mwe-prop3", PAPER, "Proposition 3 (eq. (10)), Adam flow with eps = 0")
    for a, b in ((1.0, 10.0), (10.0, 1.0)):
        # M: sup |grad f| where the solution goes in [0, tau_max]: |x(t) - x0| <= 2 M t / c (eq. (29))
        M = float(np.linalg.norm(g0)) * 1.05
        tau_max = c ** 3 / (32 * M ** 2 * L * np.sqrt(d))
        taus = tau_max * np.logspace(-3, -0.01, 12)
        sol = solve(AdamFlow(a=a, b=b, eps=0.0), obj, x0, tau_max, rtol=1e-12, atol=1e-14, t_eval=taus)
        X = sol.x_at(taus)
        Mseen = float(max(np.linalg.norm(obj.grad(x)) for x in X))
        m, v = sol.m_at(taus), sol.v_at(taus)
        mh = m / (-np.expm1(-b * taus))[:, None]
        vh = v / (-np.expm1(-a * taus))[:, None]
        xdot = -mh / np.sqrt(vh)
        dev = np.array([np.linalg.norm(xd + np.sign(obj.grad(x))) for xd, x in zip(xdot, X)])
        bound = ad.analysis.adam_early_velocity_bound(taus, c, M, L, d)
        slope = float(np.polyfit(np.log(taus[dev > 0]), np.log(dev[dev > 0]), 1)[0])
        ok = bool(np.all(dev < bound)) and Mseen <= M
        rep.values[f"a{a:g}_b{b:g}"] = dict(max_ratio=float(np.max(dev / bound)), slope=slope, M=M, c=c,
                                            tau_max=tau_max, dev=dev.tolist())
        rep.add(f"a = {a:g}, b = {b:g}: max |x' + sign g| / bound over tau < {tau_max:.2g}", "< 1",
                f"{np.max(dev / bound):.2e}; |x' + sign g| ~ tau^{slope:.2f}", ok,
                f"c = {c:.3g}, M = {M:.3g}, L = {L:.3g}")
    fig, ax = figure(size=(6, 4))
    ax.loglog(taus, dev, "o-", label=f"|x' + sign g|, a = {a:g}, b = {b:g}")
    ax.loglog(taus, bound, "k--", label="Prop. 3 bound")
    ax.set_xlabel("tau")
    ax.legend(fontsize="small")
    rep.figures.append(save(fig, out, "mwe_prop3.png"))
    rep.notes.append("M is |grad f(x0)| + 5 %: the proof only uses M on the piece of solution in [0, tau], which "
                     "stays in the ball |x - x0| <= 2 M tau / c (eq. (29)); the largest |grad f| seen is checked <= M")
    rep.decide("the measured deviation is below the bound at every tau of its range, for both (a, b)")
    return rep


@reproduction("mwe-prop4", PAPER, "Prop. 4: signGD flow stops by 2 sqrt((f(x0) - f*)/mu)", 1.0)
def prop4(out, full: bool, scale: float) -> Reproduction:
    """Prop. 4: the signGD flow (5) on a PL function stops in finite time
    T <= 2 sqrt((f(x0) - f*)/mu). Solved as a Filippov system (exact stop time).
    Also the remark after it: on f = c x^2 from x0 the paper computes the bound
    x0 / sqrt(c) (exact only at c = 1); with f(x0) = c x0^2 it is |x0| for every c."""
    from adadyn import flows

    rep = Reproduction("mwe-prop4", PAPER, "Proposition 4 and its remark")
    x0 = 1.3
    for c in (0.01, 1.0, 100.0):
        obj = ad.objectives.quadratic([[2 * c]], name=f"{c:g} x^2")
        s = flows.solve(flows.SignGDFlow(), obj, [x0], 5.0)
        bound = ad.analysis.signgd_stop_time_bound(obj, [x0], mu=4 * c)
        rep.values[f"c{c:g}"] = dict(stop=s.stop_time, bound=bound)
        rep.add(f"f = {c:g} x^2, x0 = {x0}: stop time / bound", f"bound x0/sqrt(c) = {x0 / np.sqrt(c):.4g}",
                f"{s.stop_time:.10g} / {bound:.10g}",
                abs(s.stop_time - x0) < 1e-9 and abs(bound - x0 / np.sqrt(c)) < 1e-9,
                "the stop time is |x0| for every c")
    obj, x0v = quadratic_problem()
    s = flows.solve(flows.SignGDFlow(), obj, x0v, 2.0)
    T = ad.analysis.signgd_stop_time_bound(obj, x0v)
    rep.values["random_quadratic"] = dict(stop=s.stop_time, bound=T, mu=ad.analysis.pl_constant(obj))
    rep.add("Figure 5 quadratic: stop time <= bound", "T <= 2 sqrt((f(x0) - f*)/mu)",
            f"{s.stop_time:.6g} <= {T:.4g}", s.stop_time is not None and s.stop_time <= T)
    ts = np.linspace(0, s.stop_time, 200)
    lb = ad.analysis.signgd_loss_bound(obj, x0v, ts)
    f = s.loss_at(ts)
    rep.add("Figure 5 quadratic: f(x(t)) - f* <= (sqrt(f0 - f*) - sqrt(mu) t/2)^2", "for all t",
            f"max f / bound = {np.max(f / np.maximum(lb, 1e-300)):.3g} (where bound > 0)",
            bool(np.all(f[lb > 0] <= lb[lb > 0] * (1 + 1e-9))))
    fig, ax = figure(size=(6, 4))
    ad.plotting.plot_signgd_flow(s, ax=ax, bound=lambda t: ad.analysis.signgd_loss_bound(obj, x0v, t))
    rep.figures.append(save(fig, out, "mwe_prop4.png"))
    rep.notes.append("the remark's bound x0/sqrt(c) uses f(x0) = x0^2 instead of c x0^2: with mu = 4c and "
                     "f(x0) = c x0^2 the bound is exactly |x0|, the true stop time, for every c (rows marked no)")
    rep.decide("stop times equal |x0| to 1e-9 and the remark's bound x0/sqrt(c) is what Prop. 4 gives; on the "
               "quadratic the stop time and the loss obey the bound", partly_if_any=True)
    return rep


@reproduction("mwe-eq11", PAPER, "Eq. (11): RMSprop-flow eigenvalues -lambda/eps and -a at a minimum", 1.0)
def eq11(out, full: bool, scale: float) -> Reproduction:
    """Eq. (11): the Jacobian of the RMSprop flow (7) at (x*, 0) has eigenvalues -lambda_i/eps
    (lambda_i those of the Hessian) and -a; computed by :func:`adadyn.analysis.linearize`
    against eigvalsh of A."""
    obj, _ = quadratic_problem()
    lam = np.linalg.eigvalsh(obj.A)
    rep = Reproduction("mwe-eq11", PAPER, "eq. (11) on the Figure 5 quadratic")
    fig, ax = figure(size=(6, 4))
    for a, eps in ((1.0, 1e-8), (10.0, 1e-3)):
        lin = ad.analysis.linearize(ad.RMSprop.from_a(1e-3, a, eps=eps), obj, np.zeros(10))
        ad.plotting.plot_eigenvalues(lin, ax, which="flow", symlog=True, label=f"a = {a:g}, eps = {eps:g}",
                                     marker="o" if a == 1.0 else "x")
        ev = np.sort(lin.flow_eigenvalues.real)
        want = np.sort(np.concatenate([-lam / eps, np.full(10, -a)]))
        err = float(np.max(np.abs(ev - want) / np.abs(want)))
        imag = float(np.max(np.abs(lin.flow_eigenvalues.imag)))
        rep.values[f"a{a:g}_eps{eps:g}"] = dict(rel_err=err, stiffness=float(lam[-1] / eps / a))
        rep.add(f"a = {a:g}, eps = {eps:g}: flow eigenvalues vs {{-lambda_i/eps}} u {{-a}}", "equal",
                f"max rel. error {err:.1e}, max |imag| {imag:.1e}; -lambda_max/eps = {-lam[-1] / eps:.4g}",
                err < 1e-10 and imag == 0.0)
    rep.notes.append(f"Hessian eigenvalues {lam[0]:.3g} ... {lam[-1]:.4g}: the stiffness lambda_max/(eps a) is "
                     f"{lam[-1] / 1e-8:.2g} at eps = 1e-8, a = 1 (the near-singularity of section 3)")
    ax.set_title("eq. (11): RMSprop flow at (x*, 0)")
    rep.figures.append(save(fig, out, "mwe_eq11.png"))
    rep.decide("all 20 eigenvalues equal the closed form to 1e-10 relative, all real")
    return rep


def empirical_threshold(make, obj, x_star, direction, *, delta: float = 1e-13, steps: int = 2000,
                        lo: float, hi: float, iters: int = 40) -> float:
    """The step size where runs of the real (nonlinear) map started at x* + delta * direction,
    m = v = 0, switch from shrinking to growing after ``steps`` steps (bisection in log eta).

    ``make(eta)`` builds the optimiser; the growth test is max_k |x_k - x*| > 10 |x_0 - x*|
    over the run (above the threshold the growth saturates once sqrt(v) ~ eps and the run
    turns into bursts, so the end point alone does not tell).
    """
    x0 = np.asarray(x_star, dtype=float) + delta * np.asarray(direction, dtype=float)
    r0 = delta * float(np.linalg.norm(direction))

    def grows(eta):
        tr = ad.run(make(eta), obj, x0, steps)
        return bool(np.max(np.linalg.norm(tr.x - x_star, axis=1)) > 10 * r0) or tr.status == "diverged"

    if grows(lo) or not grows(hi):
        raise ValueError(f"the threshold is not bracketed by [{lo:g}, {hi:g}]")
    for _ in range(iters):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if not grows(mid) else (lo, mid)
    return float(np.sqrt(lo * hi))


@reproduction("mwe-threshold", PAPER, "Section 3: minimum unstable unless eta < 2 eps/lambda_max; Adam's analogue", 1.0)
def threshold(out, full: bool, scale: float) -> Reproduction:
    """The discrete map's fixed point (x*, 0) is unstable unless eta < 2 eps/lambda_max (RMSprop,
    Remark 5); for Adam (t -> infinity map) unless eta < (2 + 2 beta1) eps / ((1 - beta1) lambda_max).
    The threshold is found by bisection on runs of the nonlinear map from x* + 1e-13 u_max
    (u_max the top Hessian eigenvector) and compared with the formula."""
    obj, _ = quadratic_problem()
    lam, U = np.linalg.eigh(obj.A)
    u = U[:, -1]
    x_star = np.zeros(10)
    eps = 1e-8
    steps = 2000 if not full else 10_000
    rep = Reproduction("mwe-threshold", PAPER, "the 2 eps/lambda threshold and Adam's threshold")
    cases = (("RMSprop alpha=0.9", lambda e: ad.RMSprop(e, alpha=0.9, eps=eps), 2 * eps / lam[-1],
              "2 eps/lambda_max"),
             ("Adam beta1=0.9, beta2=0.999 (no bias corr.)",
              lambda e: ad.Adam(e, beta1=0.9, beta2=0.999, eps=eps, bias_correction=False),
              (2 + 2 * 0.9) * eps / ((1 - 0.9) * lam[-1]),
              "'also holds for Adam' (no formula given); linearised: (2 + 2 beta1) eps/((1 - beta1) lambda_max)"))
    fig, ax = figure(size=(6, 4))
    ratios = np.linspace(0.8, 1.2, 17)
    for label, make, formula, text in cases:
        growth = []
        for rr in ratios:
            tr = ad.run(make(rr * formula), obj, 1e-13 * u, steps)
            growth.append(np.max(np.linalg.norm(tr.x, axis=1)) / 1e-13)
        ax.semilogy(ratios, growth, "o-", label=label)
        emp = empirical_threshold(make, obj, x_star, u, steps=steps, lo=0.5 * formula, hi=2.0 * formula)
        crit = float(ad.analysis.critical_learning_rate(make(1e-3), obj, x_star))
        rel = abs(emp - formula) / formula
        rep.values[label] = dict(empirical=emp, formula=formula, critical_learning_rate=crit)
        rep.add(f"{label}: threshold eta", f"{text} = {formula:.6g}",
                f"runs: {emp:.6g} (rel. diff {rel:.1e}); analysis.critical_learning_rate: {crit:.6g}",
                rel < 1e-2 and abs(crit - formula) < 1e-12 * formula)
    rep.notes.append(f"lambda_max = {lam[-1]:.6g} (Figure 5 quadratic), eps = 1e-8; growth test: "
                     f"|x_k| > 10 |x_0| within {steps} steps "
                     "from a 1e-13 perturbation (sqrt(v) << eps while |x| < 1e-12: the linear regime)")
    ax.axvline(1.0, color="k", ls=":", lw=1)
    ax.set_xlabel("eta / threshold formula")
    ax.set_ylabel(f"max_k |x_k| / |x_0| over {steps} steps")
    ax.legend(fontsize="x-small")
    rep.figures.append(save(fig, out, "mwe_threshold.png"))
    rep.decide("the run-based threshold within 1 % of the formula and critical_learning_rate equal to it")
    return rep
