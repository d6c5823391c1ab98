"""Labelled loss curves for scoring :func:`adadyn.analysis.classify` (docs/regimes.md).

Three kinds of curves, none labelled from (a, b) and none from the classifier:

* synthetic loss processes whose regime is known by construction (geometric
  decay or a still plateau; fast stationary fluctuation; sudden rises of
  several decades with slow recoveries; a slow cycle, a geometric blow-up or an
  overflow; a fall that changes regime inside the late window), with noise, at
  random strides and loss scales;
* optimiser runs on five problem families (random quadratic, ill-conditioned
  diagonal quadratic, Rosenbrock, least squares; Adam over random (a, b), GD
  and RMSprop), labelled from the recorded *state*: the late distance to the
  minimum x* against the step size eta (far -> divergence, shrinking by orders
  -> convergence, repeated excursions -> spike, otherwise oscillation). Runs
  that match no rule clearly are left out.

* small networks (:mod:`adadyn.nn` MLPs on sine regression and two-class digits),
  labelled from the training dynamics (:func:`network_label`), stored in
  ``regime_network_set.npz`` (``--networks`` regenerates it; needs torch).

``make_dataset(seed=0)`` is the calibration part, ``make_dataset(seed=1)`` the
test part (different problems, starts, hyperparameters and noise).

Usage::

    python scripts/make_regime_dataset.py [--size full|small] [--out set.npz] [--legacy] [--networks]
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import adadyn as ad

LABELS = ("convergence", "oscillation", "spike", "divergence", "transient")


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    loss: np.ndarray
    step: np.ndarray
    f_star: float = 0.0
    diverged: bool = False
    grad_norm: np.ndarray | None = None  # |grad f| at the samples (runs of eta-step optimisers)
    eta: float | None = None
    f_star_known: bool = True  # False: f_star only bounds the minimum value below (networks)


# ---------------------------------------------------------------- synthetic processes
def _fast(rng, n):
    """Fast stationary fluctuation (decades): random lines with periods 2-9 steps plus
    AR(1) noise with a correlation time of at most 2 steps."""
    t = np.arange(n)
    y = np.zeros(n)
    for _ in range(rng.integers(1, 4)):
        y += rng.uniform(0.05, 0.4) * np.sin(2 * np.pi * t / rng.uniform(2.0, 9.0) + rng.uniform(0, 6.3))
    phi = rng.uniform(0.0, 0.5)
    e = rng.standard_normal(n) * rng.uniform(0.05, 0.3)
    for i in range(1, n):
        e[i] += phi * e[i - 1]
    return y + e


def _synthetic(label, rng, n=12_000):
    t = np.arange(n, dtype=float)
    lvl = rng.uniform(-12, 2)
    kind = ""
    if label == "convergence":
        if rng.random() < 0.5:
            kind = "geometric"
            y = lvl - rng.uniform(2e-4, 2e-3) * t + rng.normal(0, 0.01, n)
        else:
            kind = "plateau"
            y = lvl + rng.normal(0, 1e-4, n)
    elif label == "oscillation":
        kind = "fast"
        y = lvl + _fast(rng, n)
    elif label == "spike":
        kind = "spikes"
        y = lvl + 0.3 * _fast(rng, n)
        pos = rng.uniform(200, 600)
        while pos < n:
            h, up, tau = rng.uniform(3, 7), rng.integers(2, 10), rng.uniform(40, 150)
            p = int(pos)
            seg = np.arange(n - p)
            bump = np.where(seg < up, h * seg / up, h * np.exp(-(seg - up) / tau))
            y[p:] = np.maximum(y[p:], lvl + bump)
            pos += rng.uniform(250, 700)
    elif label == "divergence":
        r = rng.random()
        if r < 0.5:
            kind = "slow cycle"
            P = rng.uniform(300, 3000)
            y = lvl + rng.uniform(0.1, 0.6) * np.sin(2 * np.pi * t / P + rng.uniform(0, 6.3)) \
                + rng.normal(0, 0.003, n)
        elif r < 0.75:
            kind = "geometric growth"
            y = lvl + rng.uniform(2e-4, 2e-3) * t + rng.normal(0, 0.01, n)
        else:
            kind = "overflow"
            y = lvl + rng.uniform(2e-4, 2e-3) * t
            y[int(rng.uniform(0.9, 0.99) * n):] = np.inf
    else:  # transient: the fall ends inside the late window, or accelerates towards a floor
        if rng.random() < 0.5:
            kind = "fall then fluctuation"
            tc = rng.uniform(0.82, 0.9) * n
            y = np.where(t < tc, lvl - rng.uniform(5e-4, 3e-3) * (t - tc), lvl) + 0.2 * _fast(rng, n)
        else:
            kind = "accelerating fall"
            T = n * rng.uniform(1.01, 1.05)
            y = lvl + 2 * np.log10(1 - t / T) + rng.normal(0, 0.01, n)
    return kind, y


def synthetic_cases(seed: int, per_label: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    out = []
    for label in LABELS:
        for i in range(per_label):
            kind, y = _synthetic(label, rng)
            k = int(rng.choice([1, 2, 5, 10]))
            loss = 10.0 ** y[::k]
            out.append(Case(f"synthetic {label} ({kind}) #{i} stride {k}", label, loss,
                            k * np.arange(loss.shape[0])))
    return out


# ---------------------------------------------------------------- runs labelled from the state
def _problems(rng):
    """(name, objective, minimiser)."""
    d = int(rng.integers(6, 16))
    q = ad.objectives.random_quadratic(d, int(rng.integers(0, 10_000)))
    cond = 10.0 ** rng.uniform(3, 5)
    h = np.logspace(0, np.log10(cond), int(rng.integers(4, 10))) * 10.0 ** rng.uniform(-2, 0)
    diag = ad.objectives.diagonal_quadratic(h)
    n_r = int(rng.choice([2, 4]))
    ros = ad.objectives.rosenbrock(n_r)
    X = rng.standard_normal((40, 6))
    yv = rng.standard_normal(40)
    lsq = ad.objectives.least_squares(X, yv)
    return [(f"quad d={d}", q, np.zeros(d)), (f"diag cond={cond:.0e}", diag, np.zeros(h.size)),
            (f"rosenbrock{n_r}", ros, np.ones(n_r)), ("lsq 40x6", lsq, np.linalg.lstsq(X, yv, rcond=None)[0])]


def state_label(tr, x_star, eta):
    """The regime read from the state (not the loss): late sup-distance to x* against eta
    (a run whose loss is still to 6 digits while far from x* sits at another stationary point)."""
    if tr.status == "diverged" or not np.all(np.isfinite(tr.loss)):
        return "divergence"
    late = tr.step >= tr.step[-1] - 0.25 * (tr.step[-1] - tr.step[0])
    dist = np.max(np.abs(tr.x[late] - x_star), axis=1)
    m = dist.shape[0]
    first, last = np.median(dist[: m // 10 + 1]), np.median(dist[-(m // 10 + 1):])
    med = np.median(dist)
    fl = tr.loss[late]
    if med >= eta and np.ptp(fl) <= 1e-6 * np.abs(fl).max():
        return "convergence"  # loss still to 6 digits far from x*: at another stationary point
        # (Rosenbrock d = 4's local minimum, f = 3.7014)
    if med >= eta:
        return "divergence" if last > 0.3 * first else None  # far but approaching: unclear
    if last < 0.3 * first:
        return "convergence"  # approaching the minimum within one step of it
    if last > 3 * first:
        return None
    # excursions: the distance rises 30-fold above its median (the loss ~ 1000-fold)
    above = dist > 30 * med
    episodes = int(np.count_nonzero(above[1:] & ~above[:-1]) + above[0])
    if episodes >= 2:
        return "spike"
    if dist.max() < 10 * med:
        return "oscillation"
    return None


def run_cases(seed: int, n_runs: int, steps: int = 20_000) -> list[Case]:
    rng = np.random.default_rng(1000 + seed)
    out = []
    tries = 0
    while len(out) < n_runs and tries < 6 * n_runs:
        tries += 1
        name, obj, xs = _problems(rng)[tries % 4]
        x0 = xs + rng.standard_normal(obj.dim) * 10.0 ** rng.uniform(-1, 0.5)
        eta = 10.0 ** rng.uniform(-3.3, -2.5)
        r = rng.random()
        if r < 0.7:
            a, b = 10.0 ** rng.uniform(-0.5, 2.0, 2)
            opt, oname = ad.Adam.from_ab(eta, a, b), f"Adam a={a:.3g} b={b:.3g} eta={eta:.2g}"
        elif r < 0.85:
            L = float(np.linalg.eigvalsh(obj.hessian(xs))[-1])
            eta = rng.choice([0.5, 1.0, 2.05]) / L
            opt, oname = ad.GD(eta), f"GD eta*L={eta * L:.2f}"
        else:
            opt, oname = ad.RMSprop(eta, alpha=1 - 10.0 ** rng.uniform(-3, -1)), f"RMSprop eta={eta:.2g}"
        k = int(rng.choice([1, 5, 10]))
        tr = ad.run(opt, obj, x0, steps, record_every=k)
        if isinstance(opt, ad.GD):  # GD's step is eta*g, not eta: theory decides (eta*L < 2)
            lab = "convergence" if eta * L < 2 else "divergence"
        else:
            lab = state_label(tr, xs, eta)
        if lab is None:
            continue
        fs = float(obj.min_value) if obj.min_value is not None else float(obj.value(xs))
        gd = isinstance(opt, ad.GD)  # GD's step is eta |g|: no step-size scale from eta
        out.append(Case(f"{oname} on {name} stride {k}", lab, np.asarray(tr.loss), np.asarray(tr.step),
                        fs, tr.status == "diverged", None if gd else np.asarray(tr.grad_norm), None if gd else eta))
    return out


# ---------------------------------------------------------------- small networks (adadyn.nn)
NETWORK_FILE = Path(__file__).with_name("regime_network_set.npz")


def network_label(tr, adaptive: bool):
    """The regime read from the training dynamics (not from (a, b), not from the classifier's
    features): blow-up or no progress from the start -> divergence; two or more late
    excursions of the gradient norm 30-fold above its late median -> spike; a loss whose
    quarter-window medians fall one after the other, by at least 0.3 decade across the late
    window -> convergence; for an adaptive method a late loss that does not fall steadily
    and stays within 2x, with a bounded, non-vanishing gradient -> oscillation (no arrival
    at the step-size scale); anything else is left out. f* of a network is unknown, so the
    cases carry no gradient record (the gradient rules need f*)."""
    loss, g = np.asarray(tr.loss), np.asarray(tr.grad_norm)
    if tr.status == "diverged" or not (np.all(np.isfinite(loss)) and np.all(np.isfinite(g))):
        return "divergence"
    late = tr.step >= tr.step[-1] - 0.25 * (tr.step[-1] - tr.step[0])
    fl, gl = loss[late], g[late]
    m = fl.shape[0]
    first, last = np.median(fl[: m // 10 + 1]), np.median(fl[-(m // 10 + 1):])
    if np.median(fl) >= 0.5 * loss[0]:
        return "divergence"  # the loss stays large (or grew) on the scale of the start
    above = gl > 30 * np.median(gl)
    if int(np.count_nonzero(above[1:] & ~above[:-1]) + above[0]) >= 2:
        return "spike"
    q = [np.median(part) for part in np.array_split(fl, 4)]
    steady_fall = all(q[i + 1] < q[i] for i in range(3))
    if steady_fall and last < 0.5 * first:
        return "convergence"  # still falling, by at least 0.3 decade across the window
    if (adaptive and not steady_fall and 0.5 < last / first < 2 and gl.max() < 10 * np.median(gl)
            and np.median(gl) > 1e-3 * g[0]):
        return "oscillation"
    return None  # e.g. a slow steady fall of less than 0.3 decade: not settled, not clear


def network_cases(seed: int, n_runs: int, steps: int = 6000, record_every: int = 6) -> list[Case]:
    """Small MLPs (sine regression d = 2, two-class digits) trained by Adam at random (a, b),
    RMSprop and GD through :func:`adadyn.nn.train`, labelled by :func:`network_label`."""
    import adadyn.nn as nn

    nn.set_num_threads(1)
    rng = np.random.default_rng(2000 + seed)
    probs = [("sine d=2", nn.sine_regression(200, 2, seed=seed), [2, 16, 16, 1]),
             ("digits 2", nn.digits(2, seed=seed), [64, 16, 2])]
    out = []
    for i in range(n_runs):
        pname, prob, widths = probs[i % 2]
        eta = 10.0 ** rng.uniform(-3.3, -2)
        r = rng.random()
        if r < 0.7:
            a, b = 10.0 ** rng.uniform(-0.5, 2.0, 2)
            opt, oname = ad.Adam.from_ab(eta, a, b), f"Adam a={a:.3g} b={b:.3g} eta={eta:.2g}"
        elif r < 0.85:
            opt, oname = ad.RMSprop.from_a(eta, 10.0 ** rng.uniform(-0.5, 2.0)), f"RMSprop eta={eta:.2g}"
        else:
            eta = 10.0 ** rng.uniform(-2, -0.7)
            opt, oname = ad.GD(eta), f"GD eta={eta:.2g}"
        tr = nn.train(opt, nn.mlp(widths, seed=int(rng.integers(1 << 30))), prob, steps, record_every=record_every)
        adaptive = not isinstance(opt, ad.GD)
        lab = network_label(tr, adaptive)
        if lab is None:
            continue
        out.append(Case(f"net {oname} on {pname}", lab, np.asarray(tr.loss), np.asarray(tr.step, dtype=np.float64),
                        0.0, tr.status == "diverged", f_star_known=False))
    return out


def save_networks(path=NETWORK_FILE, n_runs: int = 24) -> None:
    """Generate both parts of the network family and store them (compressed .npz)."""
    arrays = {}
    for seed in (0, 1):
        for i, c in enumerate(network_cases(seed, n_runs)):
            k = f"{seed}_{i}"
            arrays[f"name_{k}"] = np.array(c.name)
            arrays[f"label_{k}"] = np.array(c.label)
            arrays[f"loss_{k}"] = c.loss
            arrays[f"step_{k}"] = c.step
            arrays[f"diverged_{k}"] = np.array(c.diverged)
            if c.grad_norm is not None:
                arrays[f"grad_{k}"] = c.grad_norm
                arrays[f"eta_{k}"] = np.array(c.eta)
    np.savez_compressed(path, **arrays)


def load_networks(seed: int, path=NETWORK_FILE) -> list[Case]:
    """The stored network family's part ``seed`` (0: calibration, 1: test); [] if absent."""
    if not Path(path).exists():
        return []
    z = np.load(path)
    out = []
    i = 0
    while f"name_{seed}_{i}" in z:
        k = f"{seed}_{i}"
        gk = f"grad_{k}" in z
        out.append(Case(str(z[f"name_{k}"]), str(z[f"label_{k}"]), z[f"loss_{k}"], z[f"step_{k}"], 0.0,
                        bool(z[f"diverged_{k}"]), z[f"grad_{k}"] if gk else None,
                        float(z[f"eta_{k}"]) if gk else None, f_star_known=False))
        i += 1
    return out


def make_dataset(seed: int = 0, size: str = "full") -> list[Case]:
    """seed 0: calibration part; seed 1: test part. ``size='small'`` for tests (no networks)."""
    per, runs = (12, 60) if size == "full" else (4, 16)
    nets = load_networks(seed) if size == "full" else []
    return synthetic_cases(seed, per) + run_cases(seed, runs) + nets


# ---------------------------------------------------------------- scoring
def predict(cases, gradients: bool = True, **classify_kw):
    """Labels of ``classify``; with ``gradients`` the runs' |grad f| records and step sizes
    are passed (what ``classify(trajectory)`` reads), else the loss alone."""
    from adadyn.analysis import classify

    def one(c):
        g = gradients and c.grad_norm is not None
        return classify(c.loss, c.step, f_star=c.f_star, diverged=c.diverged, grad_norm=c.grad_norm if g else None,
                        step_size=c.eta if g else None, f_star_known=c.f_star_known, **classify_kw).label

    return [one(c) for c in cases]


def confusion(cases, pred):
    """(labels, matrix[true, predicted])."""
    idx = {lab: i for i, lab in enumerate(LABELS)}
    M = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for c, p in zip(cases, pred):
        M[idx[c.label], idx[p]] += 1
    return LABELS, M


def accuracy(cases, **classify_kw):
    """(fraction correct, list of (name, true, predicted) for the misses)."""
    pred = predict(cases, **classify_kw)
    misses = [(c.name, c.label, p) for c, p in zip(cases, pred) if p != c.label]
    return 1.0 - len(misses) / max(len(cases), 1), misses


def report(cases, pred) -> str:
    labels, M = confusion(cases, pred)
    w = max(len(s) for s in labels) + 2
    lines = ["true \\ predicted".ljust(w) + "".join(s[:5].rjust(7) for s in labels) + "   recall"]
    for i, lab in enumerate(labels):
        tot = M[i].sum()
        rec = f"{M[i, i] / tot:.2f} ({M[i, i]}/{tot})" if tot else "-"
        lines.append(lab.ljust(w) + "".join(str(v).rjust(7) for v in M[i]) + "   " + rec)
    acc = np.trace(M) / max(M.sum(), 1)
    lines.append(f"accuracy {acc:.3f} on {M.sum()} curves")
    return "\n".join(lines)


# ---------------------------------------------------------------- the first release's set
def legacy_set(record_every: int = 10) -> list[Case]:
    """The labelled set of the first release (labels from theory and from (a, b))."""
    eta = 1e-3
    quads = [(ad.objectives.random_quadratic(d, s), f"quad d={d} s={s}")
             for d, s in ((10, 0), (10, 1), (8, 2), (12, 3), (6, 4))]
    lsq = []
    for s in (0, 1):
        rng = np.random.default_rng(s)
        X = rng.standard_normal((40, 6))
        lsq.append((ad.objectives.least_squares(X, X @ rng.standard_normal(6)), f"lsq s={s}"))
    diag = [(ad.objectives.diagonal_quadratic(np.array([0.5, 1.0, 3.0, 8.0, 20.0])), "diag5")]
    specs = []
    for obj, nm in quads + lsq + diag:
        L = float(np.linalg.eigvalsh(obj.hessian(np.zeros(obj.dim)))[-1])
        specs += [(f"GD 1/L {nm}", "convergence", obj, ad.GD(1.0 / L), 20_000),
                  (f"GD 2.05/L {nm}", "divergence", obj, ad.GD(2.05 / L), 20_000),
                  (f"Adam eps=L*eta/2 {nm}", "convergence", obj, ad.Adam(eta, eps=L * eta / 2.0), 20_000),
                  (f"Adam a=1 b=100 {nm}", "spike", obj, ad.Adam.from_ab(eta, 1.0, 100.0), 40_000),
                  (f"Adam a=10 b=10 {nm}", "oscillation", obj, ad.Adam.from_ab(eta, 10.0, 10.0), 40_000),
                  (f"Adam a=100 b=1 {nm}", "divergence", obj, ad.Adam.from_ab(eta, 100.0, 1.0), 40_000)]
    specs.append(("GD rosenbrock", "convergence", ad.objectives.rosenbrock(2), ad.GD(1e-3), 20_000))
    specs.append(("Adam a=30 b=30 quad d=10 s=0", "oscillation", quads[0][0], ad.Adam.from_ab(eta, 30.0, 30.0),
                  40_000))
    cases = []
    for k, (name, label, obj, opt, steps) in enumerate(specs):
        x0 = np.array([-1.2, 1.0]) if name == "GD rosenbrock" else np.random.default_rng(k).standard_normal(obj.dim)
        tr = ad.run(opt, obj, x0, steps, record_every=record_every, record_state=False)
        cases.append(Case(name, label, np.asarray(tr.loss), np.asarray(tr.step), 0.0, tr.status == "diverged"))
    return cases


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("full", "small"), default="full")
    ap.add_argument("--out", help="save the test part to this .npz")
    ap.add_argument("--legacy", action="store_true", help="also label the first release's set")
    ap.add_argument("--networks", action="store_true",
                    help=f"regenerate the small-network family ({NETWORK_FILE.name}; needs torch)")
    args = ap.parse_args(argv)
    if args.networks:
        save_networks()
    cal, test = make_dataset(0, args.size), make_dataset(1, args.size)
    print(f"calibration part: {len(cal)} curves (defaults may be tuned here only)")
    print(report(cal, predict(cal)))
    print(f"\ntest part: {len(test)} curves")
    pred = predict(test)
    print(report(test, pred))
    for c, p in zip(test, pred):
        if p != c.label:
            print(f"  miss: {c.name}: {c.label} -> {p}")
    if args.legacy:
        leg = legacy_set()
        print("\nfirst release's set (labels from (a, b) and theory):")
        for c, p in zip(leg, predict(leg)):
            print(f"  {c.name:34s} {c.label:12s} -> {p}")
    if args.out:
        np.savez_compressed(args.out, names=np.array([c.name for c in test]),
                            labels=np.array([c.label for c in test]),
                            **{f"loss_{i}": c.loss for i, c in enumerate(test)},
                            **{f"step_{i}": c.step for i, c in enumerate(test)})


if __name__ == "__main__":
    main()
