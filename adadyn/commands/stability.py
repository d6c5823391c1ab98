"""``adadyn stability``: stationary point, eigenvalues, critical eta and 2-cycle;
and the stability section of ``adadyn demo`` (section 3, eq. (11), Figure 6 of Ma, Wu & E)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import adadyn as ad

from adadyn.commands import registry as R
from adadyn.commands.errors import guarded

#: the optimisers whose linearisation the report covers
CHOICES = ("rmsprop", "adam", "gd")


#: values below this fraction of their scale print as 0 (rounding noise, e.g. -3.5e-41 for 0)
CLEAN_RTOL = 1e-13


def clean(a, scale=None):
    """``a`` with entries (and real or imaginary parts) of magnitude <= :data:`CLEAN_RTOL` x
    ``scale`` set to 0; ``scale`` defaults to max(1, max |a|)."""
    a = np.array(a, dtype=complex if np.iscomplexobj(a) else float, copy=True)
    if scale is None:
        scale = max(1.0, float(np.max(np.abs(a))) if a.size else 1.0)
    tol = CLEAN_RTOL * float(scale)
    if np.iscomplexobj(a):
        re, im = a.real.copy(), a.imag.copy()
        re[np.abs(re) <= tol] = 0.0
        im[np.abs(im) <= tol] = 0.0
        return re if np.all(im == 0) else re + 1j * im
    a[np.abs(a) <= tol] = 0.0
    return a + 0.0  # no -0


def _fmt(a, n=6, scale=None):
    a = clean(a, scale)
    if a.size > n:
        head = ", ".join(f"{v:.6g}" for v in a[: n // 2])
        tail = ", ".join(f"{v:.6g}" for v in a[-(n // 2):])
        return f"[{head}, ..., {tail}] ({a.size} values)"
    return "[" + ", ".join(f"{v:.6g}" for v in a) + "]"


def _orbit_guess(opt, obj, x_star, steps=4000):
    """Late state of the discrete map started near x*: a guess for a 2-cycle."""
    from adadyn.discrete.map import state_map

    F = state_map(opt, obj)
    x0 = np.asarray(x_star, dtype=float) + 1e-3 * (1.0 + np.abs(x_star))
    st = F.to_state(F.point(x0))
    tr = ad.run(opt, obj, steps=steps, state=st, record_state=False)
    return F.pack(tr.final_state), tr.status


def stability_report(opt, obj, guess) -> str:
    """The plain-text report of ``adadyn stability`` for one optimiser and objective."""
    an = ad.analysis
    named = "d=" in obj.name.replace(" ", "")  # the name already gives the dimension
    lines = [f"objective: {obj.name}{'' if named else f' (d = {obj.dim})'};  optimiser: {opt!r}"]
    sp = an.stationary_points(obj, guess)
    if len(sp) == 0:
        return "\n".join(lines + ["no stationary point found from the guess"])
    pt = next((p for p in sp if p.kind == "minimum"), sp[0])
    lines.append(f"stationary point ({pt.kind}): x* = {_fmt(pt.point)}, f(x*) = {clean([pt.value])[0]:.6g}, "
                 f"|grad f| = {clean([pt.grad_norm], max(1.0, float(np.max(np.abs(pt.eigenvalues)))))[0]:.1e}")
    lines.append(f"Hessian eigenvalues: {_fmt(pt.eigenvalues)}  [{pt.accuracy}]")
    lin = an.linearize(opt, obj, pt.point)
    rho = lin.spectral_radius
    verdict = "marginal (|mu| = 1)" if abs(rho - 1) <= 1e-9 else ("stable" if lin.map_stable else "UNSTABLE")
    lines.append(f"map at (x*, m=0, v=0), blocks {lin.blocks}: eigenvalues {_fmt(lin.map_eigenvalues)}; "
                 f"spectral radius {rho:.6g} -> {verdict}")
    if lin.flow_eigenvalues is not None:
        ab = lin.spectral_abscissa
        scale = float(np.max(np.abs(lin.flow_eigenvalues)))
        fv = "marginal (Re = 0)" if abs(ab) <= 1e-12 * scale else ("stable" if lin.flow_stable else "unstable")
        lines.append(f"limit flow (eq. (7)/(8)/(11)): eigenvalues {_fmt(lin.flow_eigenvalues)}; "
                     f"abscissa {ab:.6g} -> {fv}")
    lam = pt.eigenvalues
    curved_min = pt.kind == "degenerate" and lam[-1] > 1e-8 and lam[0] >= -1e-8 * abs(lam[-1])
    if pt.kind == "degenerate":
        lines.append("degenerate: zero-curvature directions are marginal for every eta"
                     + ("; the threshold below concerns the curved ones" if curved_min else ""))
    if pt.kind == "minimum" or curved_min:
        cr = an.critical_learning_rate(opt, obj, pt.point)
        side = "below" if opt.eta < cr.eta_c else "above"
        lines.append(f"critical learning rate eta_c = {cr.eta_c:.6g}  ({cr.formula}, lambda_max = "
                     f"{cr.lambda_max:.6g}); eta = {opt.eta:g} is {side} it")
        if opt.eta > cr.eta_c:
            z, status = _orbit_guess(opt, obj, pt.point)
            orb = an.periodic_orbit(opt, obj, 2, z) if status == "ok" else None
            if orb is not None and orb.found:
                extra = ""
                if obj.dim == 1 and isinstance(opt, ad.RMSprop) and obj.A is not None:
                    lam = float(obj.A[0, 0])
                    c = opt.eta / 2 - opt.eps / lam
                    extra = f"; closed form +-(eta/2 - eps/lambda) = +-{c:.10g}, v = (lambda c)^2 = {(lam * c) ** 2:.6g}"
                vs = orb.block("v")[:, 0] if "v" in orb.blocks else []
                where = "" if obj.dim == 1 else " (coordinate 1 of x and v at its two points)"
                xl, vl = ("x", "v") if obj.dim == 1 else ("x_1", "v_1")
                lines.append(f"2-cycle{where}: {xl} = {_fmt(orb.x[:, 0])}, {vl} = {_fmt(vs)}{extra}")
                lines.append(f"  Floquet multipliers {_fmt(orb.multipliers)} -> "
                             f"{'stable' if orb.stable else 'unstable'}")
            else:
                why = orb.message if orb is not None else f"the run {status}"
                lines.append(f"2-cycle: none found near the late iterates ({why})")
        else:
            lines.append("2-cycle: none expected (the fixed point is linearly stable)")
    return "\n".join(lines)


@guarded("adadyn stability")
def _run(args) -> int:
    obj, guess = R.build_objective(args)
    guess = R.start_point(args, obj, guess, point="point")
    # the linearisation is of the autonomous (t -> infinity) map: no bias correction
    opt = R.build_optimizer(args, bias_correction=False)
    print(stability_report(opt, obj, guess))
    return 0


def register(subparsers) -> None:
    """Add ``adadyn stability``."""
    p = subparsers.add_parser(
        "stability", help="stationary point, eigenvalues, critical learning rate and 2-cycle",
        description="Linear stability of an optimiser at a stationary point (eq. (11) of Ma, Wu & E); "
                    "Adam is analysed as its t -> infinity map (no bias correction).")
    R.add_objective_args(p, default="quadratic-1d")
    R.add_start_args(p, point="--point")
    R.add_optimizer_args(p, choices=CHOICES)
    p.set_defaults(func=_run)


def demo(out_dir: Path) -> str:
    """Reports for RMSprop on the Figure 5 quadratic and on f = x^2/2, Figure 6,
    the eigenvalue plot of eq. (11) and the orbit diagram of the period doubling."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adadyn.plotting.stability import plot_eigenvalues, plot_figure6, plot_orbit_diagram

    out_dir = Path(out_dir)
    parts = []
    obj10 = ad.objectives.random_quadratic(10, seed=0)
    opt10 = ad.RMSprop(1e-3, alpha=0.9, eps=1e-8)
    parts.append("RMSprop on the Figure 5 quadratic (eta = 1e-3, alpha = 0.9, eps = 1e-8):")
    parts.append(stability_report(opt10, obj10, np.full(10, 0.1)))
    obj1 = ad.objectives.quadratic([[1.0]], name="x^2/2")
    opt1 = ad.RMSprop(0.01, alpha=0.9, eps=1e-8)
    parts.append("\nRMSprop on f = x^2/2 (eta = 0.01, alpha = 0.9, eps = 1e-8; Figure 6):")
    parts.append(stability_report(opt1, obj1, [0.3]))

    fig, axs = plt.subplots(1, 2, figsize=(10, 4.5))
    lin = ad.analysis.linearize(opt10, obj10, np.zeros(10))
    plot_eigenvalues(lin, ax=axs[0], which="flow", symlog=True)
    axs[0].set_title("RMSprop flow: -lambda_i/eps and -a (eq. 11)")
    plot_eigenvalues(lin, ax=axs[1], which="map", symlog=True)
    axs[1].set_title("RMSprop map: 1 - eta lambda_i/eps and alpha")
    fig.tight_layout()
    fig.savefig(out_dir / "stability_eigenvalues.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    plot_figure6(ax=ax)
    fig.tight_layout()
    fig.savefig(out_dir / "figure6_rmsprop_two_cycle.png", dpi=110)
    plt.close(fig)

    eps, lam = 1e-4, 1.0
    optc = ad.RMSprop(1e-4, alpha=0.9, eps=eps)
    cont = ad.analysis.continuation(optc, obj1, [0.0], np.linspace(0.5e-4, 4e-4, 36), transient=3000, record=16)
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_orbit_diagram(cont, ax=ax)
    ax.set_title("RMSprop on x^2/2 (eps = 1e-4, alpha = 0.9): orbit diagram")
    fig.tight_layout()
    fig.savefig(out_dir / "orbit_diagram_rmsprop.png", dpi=110)
    plt.close(fig)
    pd = [b for b in cont.bifurcations if b.kind == "period-doubling"]
    parts.append(f"\ncontinuation in eta (eps = 1e-4, lambda = 1): period doubling detected at eta = "
                 f"{pd[0].value:.12g}" if pd else "\ncontinuation: no period doubling detected")
    parts.append(f"  (theory 2 eps/lambda = {2 * eps / lam:.12g})")
    x0 = np.random.default_rng(1).standard_normal(10)
    parts.append("\nlargest Lyapunov exponent of Adam's late phase on the Figure 5 quadratic (eta = 1e-3, "
                 "t -> infinity map; 50,000 steps discarded, 5,000 averaged; per step):")
    for a, b, regime in ((1.0, 100.0, "spike regime (b >> a)"), (10.0, 10.0, "oscillation regime (a ~ b)"),
                         (100.0, 1.0, "a >> b")):
        ly = ad.analysis.lyapunov_exponents(ad.Adam.from_ab(1e-3, a, b, bias_correction=False), obj10, x0,
                                            5000, transient=50_000, n_exponents=1)
        h = ly.history[:, 0]
        spread = float(np.max(np.abs(h[len(h) // 2:] - h[-1])))
        parts.append(f"  a = {a:g}, b = {b:g} ({regime}): lambda_max = {ly.max_exponent:.3g} "
                     f"(+- {spread:.1g} drift over the second half)")
    parts.append("figures: stability_eigenvalues.png, figure6_rmsprop_two_cycle.png, orbit_diagram_rmsprop.png")
    return "\n".join(parts)
