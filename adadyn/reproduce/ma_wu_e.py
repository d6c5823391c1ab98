"""Ma, Wu & E, "A qualitative study of the dynamic behavior for adaptive gradient
algorithms": the figures that need no network, on the paper's own quadratic
f = x^T A x / 2, A = U U^T, U 10 x 10 standard normal (their Figure 5 problem).

Figures 3, 7 and 8 are network figures in the paper; here they run on that
quadratic (the network versions, through :mod:`adadyn.nn`, are separate entries).
"""
from __future__ import annotations

import numpy as np

import adadyn as ad
from adadyn.reproduce._common import figure, g, save, score_fig8_regions, steps_at
from adadyn.reproduce.registry import Reproduction, reproduction

PAPER = "Ma, Wu & E 2020"


def quadratic_problem():
    """The Figure 5 quadratic and the start used throughout: x0 ~ N(0, I) (seed 1)."""
    return ad.objectives.random_quadratic(10, seed=0), np.random.default_rng(1).standard_normal(10)


def first_time(traj, level: float) -> float:
    """Continuous time at which the loss first falls to ``level`` x its initial value (inf if never)."""
    idx = np.nonzero(traj.loss <= level * traj.loss[0])[0]
    return float(traj.time[idx[0]]) if idx.size else float("inf")


# ------------------------------------------------------------------ Figure 3
@reproduction("mwe-fig3", PAPER, "Figure 3 claim: larger a, b converge faster (Adam, RMSprop; quadratic)", 2.0)
def figure3(out, full: bool, scale: float) -> Reproduction:
    """Figure 3's claim on the quadratic: with beta2 (alpha) = 1 - a*eta, beta1 = 1 - b*eta,
    eta = 1e-3, the time to reach a loss level falls as a (= b for Adam) grows; and
    (Prop. 3) the very first moments do not depend on a, b."""
    obj, x0 = quadratic_problem()
    eta = 1e-3
    T = 30.0 if not full else 60.0
    steps = steps_at(int(T / eta), int(T / eta), full, scale, minimum=2000)
    rates = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    levels = (1e-2, 1e-4)
    rep = Reproduction("mwe-fig3", PAPER, "Figure 3 claim on the Figure 5 quadratic")
    fig, axes = figure(1, 2, size=(11, 4))
    for ax, label, make in ((axes[0], "Adam", lambda a: ad.Adam.from_ab(eta, a, a)),
                            (axes[1], "RMSprop", lambda a: ad.RMSprop.from_a(eta, a))):
        trs = [ad.run(make(a), obj, x0, steps, record_every=10) for a in rates]
        times = np.array([[first_time(tr, lv) for tr in trs] for lv in levels])
        early = np.array([tr.loss[5] / tr.loss[0] for tr in trs])   # t = 0.05
        for a, tr in zip(rates, trs):
            ax.semilogy(tr.time, tr.loss, lw=1, label=f"a = {a:g}" + (f", b = {a:g}" if label == "Adam" else ""))
        ax.set_xlabel("time t = eta k")
        ax.set_ylabel("loss")
        ax.set_title(f"{label}, eta = {eta:g}")
        ax.legend(fontsize="small")
        for lv, row in zip(levels, times):
            with np.errstate(invalid="ignore"):
                dec = bool(np.all(np.diff(row) < 0))
            rep.add(f"{label}: time to loss/f0 = {lv:g}, a = {', '.join(g(a, 2) for a in rates)}",
                    "falls as a, b grow", ", ".join(g(t, 3) for t in row), dec)
            rep.values[f"{label.lower()}_time_{lv:g}"] = row.tolist()
        spread = float(early.max() / early.min() - 1.0)
        rep.values[f"{label.lower()}_early_spread"] = spread
        rep.add(f"{label}: spread of loss/f0 at t = 0.05 over a", "none (Prop. 3, Adam)" if label == "Adam" else "-",
                f"{100 * spread:.2g} %", spread < 0.01 if label == "Adam" else None)
    rep.figures.append(save(fig, out, "mwe_fig3_quadratic.png"))
    rep.notes.append("RMSprop from v0 = 0 has no bias correction (eq. (2)): its first step is sqrt(eta/a) per "
                     "coordinate, so small a starts faster; on this quadratic the ordering of the paper's "
                     "network figure does not hold for RMSprop")
    rep.decide("each time-to-level row strictly decreasing in a over a = 0.3 ... 100; Adam's loss at t = 0.05 "
               "the same within 1 % for every a (Prop. 3)")
    return rep


# ------------------------------------------------------------------ Figure 5
@reproduction("mwe-fig5", PAPER, "Figure 5: signGD and RMSprop (alpha = 0.9) loss plateaus vs eta", 1.0)
def figure5(out, full: bool, scale: float) -> Reproduction:
    """Figure 5: fast initial convergence, then the loss stops decreasing at a level that falls with eta."""
    obj, x0 = quadratic_problem()
    etas = np.array([1e-2, 3e-3, 1e-3, 3e-4])
    T = 20.0 * (scale if not full else 1.0)
    T = max(T, 1.0)
    rep = Reproduction("mwe-fig5", PAPER, "Figure 5 (quadratic, the paper's problem)")
    fig, axes = figure(1, 2, size=(11, 4), sharey=True)
    for ax, label, make in ((axes[0], "signGD", lambda e: ad.SignGD(e)),
                            (axes[1], "RMSprop", lambda e: ad.RMSprop(e, alpha=0.9))):
        plateaus, t_reach = [], []
        for eta in etas:
            steps = int(round(T / eta))
            tr = ad.run(make(eta), obj, x0, steps, record_every=max(1, steps // 4000))
            late = tr.loss[-max(2, len(tr.loss) // 5):]
            plateau = float(np.median(late))
            plateaus.append(plateau)
            idx = np.nonzero(tr.loss <= 10 * plateau)[0]
            t_reach.append(float(tr.time[idx[0]]) if idx.size else float("inf"))
            ax.semilogy(tr.time, tr.loss, lw=0.8, label=f"eta = {eta:g}")
        ax.set_xlabel("time t = eta k")
        ax.set_title(label)
        ax.legend(fontsize="small")
        plateaus = np.array(plateaus)
        slope = float(np.polyfit(np.log(etas), np.log(plateaus), 1)[0])
        rep.values[f"{label.lower()}_plateaus"] = plateaus.tolist()
        rep.values[f"{label.lower()}_slope"] = slope
        rep.add(f"{label}: plateau loss (median of last 20 %), eta = 1e-2 ... 3e-4", "falls with eta",
                ", ".join(g(p, 3) for p in plateaus), bool(np.all(np.diff(plateaus) < 0)))
        rep.add(f"{label}: d log(plateau) / d log(eta)", "-", g(slope, 3))
        fast = max(t_reach) < 0.5 * T
        rep.add(f"{label}: time to within 10x of the plateau", "fast initial convergence",
                ", ".join(g(t, 3) for t in t_reach), fast, f"of T = {T:g}")
    axes[0].set_ylabel("loss")
    rep.figures.append(save(fig, out, "mwe_fig5.png"))
    rep.decide("for both methods the plateau falls strictly with eta and every run gets within 10x of its "
               "plateau in the first half of the time window")
    return rep


# ------------------------------------------------------------------ Figure 6 and the 2-cycle
def two_cycle_multipliers(alpha: float) -> np.ndarray:
    """Floquet multipliers of RMSprop's 2-cycle on lambda x^2/2 as eps/eta -> 0: the roots of
    mu^2 - (1 - 8 alpha + 9 alpha^2) mu + alpha^2 = 0.

    One step at x = +-c, v = (lambda c)^2 has the Jacobian [[1 - 2 alpha, +-2 alpha/(eta lambda)],
    [+-(1 - alpha) eta lambda, alpha]] in (x, v) (using eta/(c + eps/lambda) = 2); the signs flip
    between the two steps of the cycle.
    """
    a = float(alpha)
    return np.roots([1.0, -(1.0 - 8.0 * a + 9.0 * a * a), a * a])


@reproduction("mwe-fig6", PAPER, "Figure 6: RMSprop on x^2/2 settles on the 2-cycle +-eta/2", 1.0)
def figure6(out, full: bool, scale: float) -> Reproduction:
    """Figure 6: RMSprop, eta = 0.01, alpha in {0.1, 0.5, 0.9, 0.99}, f = x^2/2. The exact cycle
    is x = +-(eta/2 - eps/lambda) with v = (lambda x)^2 (the paper's +-eta/2 with eps -> 0)."""
    from adadyn.plotting.stability import plot_figure6

    eta, eps, lam = 0.01, 1e-8, 1.0
    alphas = (0.1, 0.5, 0.9, 0.99)
    steps = steps_at(3000, 3000, full, max(scale, 1.0), minimum=3000)
    obj = ad.objectives.quadratic([[lam]], name="x^2/2")
    c = eta / 2 - eps / lam
    rep = Reproduction("mwe-fig6", PAPER, "Figure 6 and the 2-cycle")
    rep.values["cycle_closed_form"] = c
    for a in alphas:
        tr = ad.run(ad.RMSprop(eta, alpha=a, eps=eps), obj, [0.1], steps)
        late = np.abs(tr.x[-200:, 0])
        orb = ad.analysis.periodic_orbit(ad.RMSprop(eta, alpha=a, eps=eps), obj, 2, [0.9 * c])
        xo = abs(float(orb.x[0, 0]))
        mu = float(np.max(np.abs(orb.multipliers)))
        mu_cf = float(np.max(np.abs(two_cycle_multipliers(a))))
        err = float(np.max(np.abs(late - c)))
        rep.values[f"alpha_{a:g}"] = dict(run_err=err, newton_x=xo, max_multiplier=mu, multiplier_closed_form=mu_cf)
        rep.add(f"alpha = {a:g}: late |x_k| (last 200 steps) - cycle", "|x| -> eta/2 = 0.005",
                f"max dev {err:.1e}; Newton cycle {xo:.10g}; max |Floquet mu| {mu:.4g} (closed form {mu_cf:.4g})",
                err < 1e-6 and abs(xo - c) < 1e-11 and mu < 1.0 and abs(mu - mu_cf) < 1e-4)
    cont = ad.analysis.continuation(ad.RMSprop(eta, alpha=0.9, eps=eps), obj, [0.0],
                                    np.linspace(1e-8, 4e-8, 13), diagram=False)
    pd_vals = [b.value for b in cont.bifurcations if "doubling" in b.kind]
    at = pd_vals[0] if pd_vals else float("nan")
    rep.values["period_doubling_eta"] = at
    rep.add("period doubling of (x, v) = (0, 0)", "eta = 2 eps/lambda = 2e-8", g(at, 10),
            abs(at - 2 * eps / lam) < 1e-3 * 2 * eps / lam)
    fig, ax = figure(size=(7, 4))
    plot_figure6(eta, alphas, ax=ax, eps=eps, lam=lam)
    rep.figures.append(save(fig, out, "mwe_fig6.png"))
    rep.notes.append("the cycle is +-(eta/2 - eps/lambda): the paper's +-eta/2 up to eps/lambda = 1e-8; x0 = 0.1 "
                     "(the paper does not state it)")
    rep.decide("for every alpha: the run stays within 1e-6 of +-(eta/2 - eps/lambda) over its last 200 steps, "
               "Newton's 2-cycle equals the closed form to 1e-11 and its Floquet multipliers match the "
               "closed form of two_cycle_multipliers (inside the unit circle); the fixed point period-doubles "
               "at 2 eps/lambda within 0.1 %")
    return rep


# ------------------------------------------------------------------ Figure 7 on the quadratic
def plot_state_space(ax, traj, start: int = 0):
    """Figure 7's bottom row: (|x|, |m|, |sqrt v|) from ``traj.x_norm`` etc. (any back end),
    :func:`adadyn.plotting.regimes.plot_state_space` from step ``start``."""
    from adadyn.plotting.regimes import plot_state_space as draw

    return draw(traj, ax, start=start)


FIG7_CASES = ((1.0, 100.0, "spike"), (10.0, 10.0, "oscillation"), (100.0, 1.0, "divergence"))


def regimes_figure(trajs, out, name, title):
    """Figure 7's layout: loss, late loss, state-space trajectory per run; returns the path."""
    from adadyn.plotting.regimes import plot_loss_regime

    fig = figure(size=(13, 11))[0]
    fig.clear()
    grid = fig.add_gridspec(3, 3, height_ratios=(1, 1, 1.5))
    for col, (label, tr, reg) in enumerate(trajs):
        steps = int(tr.step[-1])
        plot_loss_regime(tr, reg, fig.add_subplot(grid[0, col])).set_title(f"{label}: {reg.describe(chr(10))}",
                                                                          fontsize="medium")
        plot_loss_regime(tr, reg, fig.add_subplot(grid[1, col]), last=max(1, steps // 5)).set_title(
            f"last {steps // 5} steps", fontsize="medium")
        span = min(100, steps // 5) if reg.label == "oscillation" else steps // 5   # a fast ripple: a cloud
        plot_state_space(fig.add_subplot(grid[2, col], projection="3d"), tr, start=steps - span).set_title(
            f"state space, last {span} steps (colour: step)", fontsize="small")
    fig.suptitle(title)
    return save(fig, out, name)


@reproduction("mwe-fig7", PAPER, "Figure 7 claim on the quadratic: spike / oscillation / divergence regimes", 2.0)
def figure7(out, full: bool, scale: float) -> Reproduction:
    """Figure 7 on the quadratic: Adam, eta = 1e-3, (a, b) = (1, 100), (10, 10), (100, 1);
    the late regime of each and its state-space trajectory (|x|, |m|, |sqrt v|)."""
    from adadyn.analysis import classify
    from adadyn.analysis.regimes import describe_label

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    eta = 1e-3
    steps = steps_at(30_000, 100_000, full, max(scale, 1.0), minimum=30_000)
    rep = Reproduction("mwe-fig7", PAPER, "Figure 7 on the Figure 5 quadratic")
    runs = []
    for a, b, want in FIG7_CASES:
        tr = ad.run(ad.Adam.from_ab(eta, a, b), obj, x0, steps)
        reg = classify(tr)
        runs.append((f"a={a:g}, b={b:g}", tr, reg))
        late = slice(-steps // 5, None)
        rep.values[f"a{a:g}_b{b:g}"] = dict(label=reg.label, level=reg.level, spikes=reg.spike_count,
                                            sqrt_v_range=[float(tr.sqrt_v_norm[late].min()),
                                                          float(tr.sqrt_v_norm[late].max())])
        rep.add(f"a = {a:g}, b = {b:g}", describe_label(want),
                f"{reg.describe()}; level {reg.level:.3g} dec, {reg.spike_count} spikes, "
                f"|sqrt v| in [{tr.sqrt_v_norm[late].min():.2g}, {tr.sqrt_v_norm[late].max():.2g}]",
                reg.label == want)
    rep.figures.append(regimes_figure(runs, out, "mwe_fig7_quadratic.png",
                                      "Adam on the Figure 5 quadratic, eta = 1e-3 (Figure 7 layout)"))
    rep.notes.append("x0 ~ N(0, I) with seed 0; a run needs ~30,000 steps (30 time units) for the (1, 100) "
                     "spikes to start; the regimes are adadyn.analysis.classify's labels")
    rep.decide("each of the three runs gets the paper's label from adadyn.analysis.classify")
    return rep


# ------------------------------------------------------------------ Figure 8 on the quadratic
@reproduction("mwe-fig8", PAPER, "Figure 8 claim on the quadratic: (a, b) phase diagram", 2.0)
def figure8(out, full: bool, scale: float) -> Reproduction:
    """Figure 8 on the quadratic: Adam over a, b in [0.1, 100] (log grid), eta = 1e-3;
    left the mean late log10 loss, right the regime of each run
    (:func:`adadyn.analysis.phase_diagram`)."""
    from adadyn.analysis import phase_diagram
    from adadyn.plotting.regimes import plot_late_loss, plot_regime_map

    obj = ad.objectives.random_quadratic(10, seed=0)
    x0 = np.random.default_rng(0).standard_normal(10)
    n = 16 if full else max(4, int(round(12 * min(1.0, scale ** 0.5))))
    steps = steps_at(200_000, 400_000, full, scale, minimum=20_000)
    grid = np.logspace(-1, 2, n)
    pd = phase_diagram(obj, x0, grid, grid, 1e-3, steps)
    rep = Reproduction("mwe-fig8", PAPER, f"Figure 8 on the Figure 5 quadratic ({n} x {n} grid)")
    osc, div = score_fig8_regions(rep, pd, grid)
    rep.values.update(median_late_log10_osc=osc, median_late_log10_div=div, counts=pd.counts(), grid=grid.tolist(),
                      steps=steps, window=pd.window, late_mean_log10_loss=pd.late_mean_log10_loss.tolist())
    rep.add("median late log10 loss: a ~ b vs a >> b", "small vs large", f"{osc:.3g} vs {div:.3g}", osc < div - 3)
    fig, axes = figure(1, 2, size=(12, 5))
    plot_late_loss(pd, axes[0])
    plot_regime_map(pd, axes[1])
    rep.figures.append(save(fig, out, "mwe_fig8_quadratic.png"))
    rep.notes.append(f"{steps} steps per point; the paper trains a 6 x 500 network on Fashion-MNIST "
                     "(the network version is a separate entry)")
    rep.decide("in each region at least 60 % of the grid points carry the paper's label, and the a ~ b "
               "region's median late loss is more than 3 decades below the a >> b region's")
    return rep
