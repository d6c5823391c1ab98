"""Ma, Wu & E on networks (through :mod:`adadyn.nn`): Figures 1 (left and right), 2, 3,
4, 7 and 8 on small full-batch networks, the Figure 9 analogue (stochastic Adam on a
small convolutional net) and Figure 10's deep Galerkin Poisson problems (section 4.2,
eq. (13)).

The memory rates are the paper's (a, b): beta2 (alpha) = 1 - a eta, beta1 = 1 - b eta
(``ad.Adam.from_ab``). Default sizes are small enough for two shared cores and use
scikit-learn's bundled digits; ``full`` uses the paper's widths and step counts, and with
a data directory (``adadyn reproduce --data DIR``) the paper's data: 2 x 1000 CIFAR-10
images (Figures 1 left, 2, 3, 4, 7) and Fashion-MNIST (Figure 8). Figure 1 left reads
CIFAR-10 at every scale when it is given.
"""
from __future__ import annotations

import numpy as np

import adadyn as ad
from adadyn.reproduce._common import figure, g, save, score_fig8_regions, steps_at
from adadyn.reproduce.ma_wu_e import FIG7_CASES, PAPER, regimes_figure
from adadyn.reproduce.registry import Reproduction, reproduction


def _nn():
    """Import the torch back end (ImportError names the extra) with one thread."""
    from adadyn import nn

    nn.set_num_threads(1)
    return nn


def _torch():
    """torch, reached through :mod:`adadyn.nn` (the only module of the package that imports it)."""
    return _nn().torch


def late_median(series, frac: float = 0.2) -> float:
    """Median of the last ``frac`` of a recorded series (the late phase)."""
    s = np.asarray(series, dtype=float)
    return float(np.median(s[-max(1, int(len(s) * frac)):]))


# ------------------------------------------------------------------ the 2-class entries (Figures 2, 3, 4, 7)
#: hidden widths (default, --full) of the 2-class network entries; the --full ones are the paper's
#: (Figure 2's 256-128-64, which Figures 3 and 7 reuse; Figure 1's 256-256-128, which Figure 4 reuses)
TWO_CLASS_HIDDEN = {"mwe-fig7-net": ((32, 32), (256, 128, 64)), "mwe-fig3-net": ((64, 32), (256, 128, 64)),
                    "mwe-fig2-net": ((32, 16), (256, 128, 64)), "mwe-fig4-net": ((256, 256, 128), (256, 256, 128))}


def two_class_setup(name: str, nn, full: bool, data=None):
    """Problem, widths and a description for the 2-class entries of Figures 2, 3, 4 and 7.

    With ``full`` and ``data`` (a directory holding the CIFAR-10 python batches): the
    paper's data, CIFAR-10 classes 0 and 1 with 1000 images each; otherwise 2-class
    digits (``data`` is used only with ``full``). Widths: input, ``TWO_CLASS_HIDDEN[name]``
    (default or ``full``), 2.
    """
    if full and data is not None:
        prob, what = nn.cifar10(data, classes=(0, 1), per_class=1000), "CIFAR-10 classes 0, 1, 1000 images each"
    else:
        prob, what = nn.digits(2), "2-class digits"
    return prob, [prob.in_dim, *TWO_CLASS_HIDDEN[name][1 if full else 0], prob.out_dim], what


def _data_note(rep, full: bool, data) -> None:
    if data is not None and not full:
        rep.notes.append("--data is used with --full (the paper's 2 x 1000 CIFAR-10 images); this run used digits")
    elif data is None and full:
        rep.notes.append("the paper's data is 2 x 1000 CIFAR-10 images: add --data DIR (the CIFAR-10 python batches)")


# ------------------------------------------------------------------ Figure 7 on a network
FIG7_WANT = {"spike": "spike", "oscillation": "oscillation", "divergence": "large loss (or divergence)"}


@reproduction("mwe-fig7-net", PAPER, "Figure 7 on a network: spike / oscillation / large-loss regimes of Adam",
              176.0, requires=("torch",), datasets=("cifar10",))
def figure7_net(out, full: bool, scale: float, data=None) -> Reproduction:
    """Figure 7 on a network (square loss, full batch, float64): Adam, eta = 1e-3,
    (a, b) = (1, 100), (10, 10), (100, 1). Default: 2-class digits, 64-32-32-2 ReLU, 20,000 steps.
    ``--full``: the paper's sizes, 1000 steps of the Figure 2 net (in-256-128-64-2) on the
    paper's 2 x 1000 CIFAR-10 images with ``--data DIR``, else on 2-class digits (where 1000
    steps do not reach the late phase). Labels from :func:`adadyn.analysis.classify`; state
    space (|x|, |m|, |sqrt v|) from ``traj.x_norm``, ``m_norm``, ``sqrt_v_norm``."""
    torch = _torch()

    from adadyn.analysis import classify

    nn = _nn()
    eta = 1e-3
    steps = steps_at(20_000, 1000, full, scale, minimum=200)
    every = 1 if full else 2
    prob, widths, what = two_class_setup("mwe-fig7-net", nn, full, data)
    rep = Reproduction("mwe-fig7-net", PAPER, f"Figure 7 on {what}, MLP {'-'.join(map(str, widths))}")
    runs, lates = [], {}
    for a, b, want in FIG7_CASES:
        model = nn.mlp(widths, "relu", seed=0, dtype=torch.float64)
        tr = nn.train(ad.Adam.from_ab(eta, a, b), model, prob, steps, record_every=every, dtype=torch.float64)
        reg = classify(tr)
        runs.append((f"a={a:g}, b={b:g}", tr, reg))
        lates[want] = late_median(tr.loss)
        rep.values[f"a{a:g}_b{b:g}"] = dict(label=reg.label, level=reg.level, spikes=int(reg.spike_count),
                                            late_loss=lates[want], final_loss=float(tr.loss[-1]),
                                            status=str(tr.status))
    ref = lates["oscillation"]
    for (a, b, want), (_, tr, reg) in zip(FIG7_CASES, runs):
        ok = reg.label == want
        note = ""
        if want == "divergence":   # the paper's third panel: the loss stays large
            ratio = lates[want] / max(ref, 1e-300)
            rep.values["large_over_oscillation"] = ratio
            ok = ok or ratio >= 1e3
            note = f"late loss {ratio:.2g} x the (10, 10) run's"
        rep.add(f"a = {a:g}, b = {b:g}", FIG7_WANT[want],
                f"{reg.label} (late median loss {g(lates[want], 3)}, {reg.spike_count} spikes, "
                f"|sqrt v| late in [{g(tr.sqrt_v_norm[-len(tr.loss) // 5:].min(), 2)}, "
                f"{g(tr.sqrt_v_norm[-len(tr.loss) // 5:].max(), 2)}])", ok, note)
    rep.figures.append(regimes_figure(runs, out, "mwe_fig7_net.png",
                                      f"Adam on {what}, eta = {eta:g}, {steps} full-batch steps"))
    rep.notes.append(f"{steps} steps, seed 0, float64, {prob.n} training images; the paper: the Figure 2 "
                     "net and data (256-128-64 on 2 x 1000 CIFAR-10 images), 1000 iterations")
    _data_note(rep, full, data)
    rep.decide("(1, 100) labelled spike and (10, 10) labelled oscillation by adadyn.analysis.classify; "
               "(100, 1) labelled divergence or its late median loss >= 1e3 x the (10, 10) run's")
    return rep


# ------------------------------------------------------------------ Figure 10
def _dgm_setups(nn, full: bool, n: int):
    """The two problems of section 4.2 with the paper's networks (``full``) or narrower ones."""
    sq_w = [4, 200, 200, 1] if full else [4, 30, 30, 1]
    return (("square (0,1)^4", nn.poisson_square(n, n, n_test=10_000 if full else 2000), sq_w, "tanh"),
            ("unit disc", nn.poisson_disc(n, n, n_test=10_000 if full else 2000), [2, 10, 10, 10, 1], "gelu"))


@reproduction("mwe-fig10", PAPER, "Figure 10: DGM Poisson, Adam (a, b) = (2, 200) against a ~ b",
              86.0, requires=("torch",))
def figure10(out, full: bool, scale: float) -> Reproduction:
    """Figure 10: both deep Galerkin problems (eq. (13)), Adam with eta = 5e-4,
    (a, b) = (2, 200) (PyTorch's defaults) against (20, 20) (a ~ b), and (200, 2) with
    ``full``; late loss and test error E(u - u*)^2 on fresh points."""
    torch = _torch()

    from adadyn.analysis import classify

    nn = _nn()
    eta = 5e-4
    steps = steps_at(2000, 20_000, full, scale, minimum=50)
    n = 2000 if full else 400
    cases = [(2.0, 200.0), (20.0, 20.0)] + ([(200.0, 2.0)] if full else [])
    dt = torch.float64 if full else torch.float32
    rep = Reproduction("mwe-fig10", PAPER, "Figure 10, both DGM Poisson problems")
    fig, axes = figure(2, 2, size=(11, 8))
    for row, (pname, prob, widths, act) in enumerate(_dgm_setups(nn, full, n)):
        res = {}
        for a, b in cases:
            model = nn.mlp(widths, act, seed=0, dtype=dt)
            tr = nn.train(ad.Adam.from_ab(eta, a, b), model, prob, steps, record_every=5, dtype=dt)
            reg = classify(tr)
            res[(a, b)] = (late_median(tr.loss), late_median(tr.test_error), reg)
            key = f"{pname.split()[0]}_a{a:g}_b{b:g}"
            rep.values[key] = dict(late_loss=res[(a, b)][0], late_test_error=res[(a, b)][1], label=reg.label,
                                   final_loss=float(tr.loss[-1]), final_step=int(tr.step[-1]),
                                   spikes=int(reg.spike_count))
            lab = f"a={a:g}, b={b:g} ({reg.label})"
            axes[row, 0].semilogy(tr.step, tr.loss, lw=0.8, label=lab)
            axes[row, 1].semilogy(tr.step, tr.test_error, lw=0.8, label=lab)
        axes[row, 0].set_title(f"{pname} {'-'.join(map(str, widths))} {act}: loss")
        axes[row, 1].set_title(f"{pname}: test error E(u - u*)^2")
        for ax in axes[row]:
            ax.set_xlabel("step")
            ax.legend(fontsize="small")
        (ld, ed, rd), (lq, eq, rq) = res[cases[0]], res[cases[1]]
        rep.add(f"{pname}: late loss, (2, 200) vs (20, 20)", "a ~ b lower, more stable",
                f"{g(ld, 3)} vs {g(lq, 3)} (labels {rd.label}, {rq.label}; spikes {rd.spike_count}, "
                f"{rq.spike_count})", lq < ld)
        rep.add(f"{pname}: late test error, (2, 200) vs (20, 20)", "a ~ b lower",
                f"{g(ed, 3)} vs {g(eq, 3)}", eq < ed)
        if full:
            lw = res[(200.0, 2.0)][0]
            rep.add(f"{pname}: late loss of (200, 2)", "worst (a > b)", g(lw, 3), lw > max(ld, lq))
    rep.figures.append(save(fig, out, "mwe_fig10.png"))
    rep.notes.append(f"{steps} steps, {n} + {n} training points, seed 0"
                     + ("" if full else "; square problem on a 4-30-30-1 net instead of 4-200-200-1, float32; "
                        "the paper's late spikes of (2, 200) need longer runs (--full)"))
    rep.decide("on both problems the a ~ b run's late (last 20 %) median loss and test error are below the "
               "default (2, 200) run's" + ("; with --full, (200, 2) has the largest late loss" if full else ""))
    return rep


# ------------------------------------------------------------------ Figure 3 on a network
@reproduction("mwe-fig3-net", PAPER, "Figure 3 on a network: larger a, b converge faster (Adam, RMSprop)",
              16.0, requires=("torch",), datasets=("cifar10",))
def figure3_net(out, full: bool, scale: float, data=None) -> Reproduction:
    """Figure 3 on 2-class digits (full batch, square loss): eta = 1e-3, Adam with a = b and
    RMSprop with alpha = 1 - a eta, a in {1, 10, 100}; the time t = eta k at which the loss
    first falls to 1e-2 and 1e-3 of its initial value. The paper's network is 256-128-64
    on 2 x 1000 CIFAR-10 images (Figure 2); the default here is 64-64-32-2 on 2-class digits for
    4000 steps; ``--full``: in-256-128-64-2, 10,000 steps, on CIFAR-10 with ``--data DIR``
    (:func:`two_class_setup`; the paper does not state its step count)."""
    torch = _torch()

    from adadyn.reproduce.ma_wu_e import first_time

    nn = _nn()
    eta = 1e-3
    steps = steps_at(4000, 10_000, full, scale, minimum=100)
    prob, widths, what = two_class_setup("mwe-fig3-net", nn, full, data)
    rates = (1.0, 10.0, 100.0)
    levels = (1e-2, 1e-3)
    rep = Reproduction("mwe-fig3-net", PAPER, f"Figure 3 on {what}, MLP {'-'.join(map(str, widths))}")
    fig, axes = figure(1, 2, size=(11, 4))
    for ax, label, make in ((axes[0], "Adam", lambda a: ad.Adam.from_ab(eta, a, a)),
                            (axes[1], "RMSprop", lambda a: ad.RMSprop.from_a(eta, a))):
        trs = [nn.train(make(a), nn.mlp(widths, "relu", seed=0, dtype=torch.float32), prob, steps,
                        record_every=5, dtype=torch.float32) for a in rates]
        for a, tr in zip(rates, trs):
            ax.semilogy(tr.time, tr.loss, lw=1, label=f"a = {a:g}" + (f", b = {a:g}" if label == "Adam" else ""))
        ax.set_xlabel("time t = eta k")
        ax.set_ylabel("loss")
        ax.set_title(f"{label}, eta = {eta:g}")
        ax.legend(fontsize="small")
        for lv in levels:
            row = np.array([first_time(tr, lv) for tr in trs])
            rep.values[f"{label.lower()}_time_{lv:g}"] = row.tolist()
            with np.errstate(invalid="ignore"):
                dec = bool(np.all(np.isfinite(row[1:])) and np.all(np.diff(row) < 0))
            rep.add(f"{label}: time to loss/f0 = {lv:g}, a = 1, 10, 100", "falls as a, b grow",
                    ", ".join(g(t, 3) for t in row), dec)
    rep.figures.append(save(fig, out, "mwe_fig3_net.png"))
    rep.notes.append(f"{steps} full-batch steps, float32, seed 0; 'inf' = level not reached")
    _data_note(rep, full, data)
    rep.notes.append("RMSprop from v0 = 0 has no bias correction (eq. (2)): its first step is sqrt(eta/a) per "
                     "coordinate, so small a starts faster; where the RMSprop rows fail, this is why")
    rep.decide("each time-to-level row strictly decreasing over a = 1, 10, 100 (finite for a = 10, 100)")
    return rep


# ------------------------------------------------------------------ Figure 1 right
@reproduction("mwe-fig1-sine", PAPER, "Figure 1 right: full-batch Adam on sine regression, late spikes",
              40.0, requires=("torch",))
def figure1_sine(out, full: bool, scale: float) -> Reproduction:
    """Figure 1 right: f*(x) = sum_k sin(2 pi x_k) on 2000 points of [0, 1]^5, full-batch
    Adam (eta = 1e-3, beta = (0.9, 0.999)) and RMSprop (alpha = 0.99, as in Figure 2); the
    paper's net is 5-100-100-1 (``full``, float64), the default 5-50-50-1 in float32."""
    torch = _torch()

    from adadyn.analysis import classify

    nn = _nn()
    steps = steps_at(12_000, 50_000, full, scale, minimum=100)
    widths = [5, 100, 100, 1] if full else [5, 50, 50, 1]
    dt = torch.float64 if full else torch.float32
    prob = nn.sine_regression(2000, 5)
    rep = Reproduction("mwe-fig1-sine", PAPER, f"Figure 1 right, MLP {'-'.join(map(str, widths))}")
    fig, ax = figure(size=(7, 4))
    for label, spec, want in (("Adam", ad.Adam(1e-3), "spike"), ("RMSprop", ad.RMSprop(1e-3, alpha=0.99), None)):
        tr = nn.train(spec, nn.mlp(widths, "relu", seed=0, dtype=dt), prob, steps, record_every=2, dtype=dt)
        reg = classify(tr)
        rep.values[label.lower()] = dict(label=reg.label, spikes=int(reg.spike_count), late_loss=late_median(tr.loss),
                                         min_loss=float(np.min(tr.loss)), final_loss=float(tr.loss[-1]))
        ax.semilogy(tr.step, tr.loss, lw=0.7, label=f"{label} ({reg.label}, {reg.spike_count} spikes)")
        rep.add(f"{label}: late-phase regime", "large spikes keep appearing" if want else "-",
                f"{reg.label}, {reg.spike_count} spikes, late median loss {g(late_median(tr.loss), 3)}, "
                f"min {g(float(np.min(tr.loss)), 3)}", (reg.label == want) if want else None)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("sine regression, full batch, eta = 1e-3")
    ax.legend(fontsize="small")
    rep.figures.append(save(fig, out, "mwe_fig1_sine.png"))
    rep.notes.append(f"{steps} steps, seed 0" + ("" if full else "; narrower net and float32 at the default "
                                                  "scale (the paper's 5-100-100-1 with --full)"))
    rep.decide("classify labels Adam's run 'spike' (RMSprop's label is context: the paper's Figure 1 is Adam)")
    return rep


# ------------------------------------------------------------------ Figure 1 left
FIG1_LEFT_HIDDEN = (256, 256, 128)


def largest_rise(loss, start: float = 0.1) -> float:
    """Largest rise of a loss record above its running minimum, in decades:
    max over k >= ``start`` * len of log10(L_k / min_{j < k} L_j) (0 for a monotone curve)."""
    L = np.asarray(loss, dtype=float)
    k0 = max(1, int(len(L) * start))
    if k0 >= len(L):
        return 0.0
    runmin = np.minimum.accumulate(L)
    return float(max(0.0, np.max(np.log10(L[k0:] / runmin[k0 - 1:-1]))))


def fig1_left_setup(nn, full: bool, scale: float, data=None):
    """Problem, widths, dtype, steps and a description of ``mwe-fig1-left``.

    With ``data`` (a directory holding the CIFAR-10 python batches): classes 0 and 1
    (airplane, automobile), the paper's 1000 training images per class (``1000 *
    scale`` below ``--full``, at least 10) and as many test images per class from
    ``test_batch``. Without: scikit-learn's 2-class digits. The net is the paper's
    in-256-256-128-2 ReLU MLP in both cases; float64 with ``full``, else float32.
    """
    torch = nn.torch
    steps = steps_at(4000, 10_000, full, scale, minimum=100)
    dt = torch.float64 if full else torch.float32
    if data is None:
        prob = nn.digits(2)
        what = "2-class digits (scikit-learn's bundled 8x8 images; no --data given)"
    else:
        per = 1000 if full else max(10, int(round(1000 * scale)))
        prob = nn.cifar10(data, classes=(0, 1), per_class=per, test_per_class=per)
        what = f"CIFAR-10 classes 0, 1 (airplane, automobile), {per} training + {per} test images each"
    return prob, [prob.in_dim, *FIG1_LEFT_HIDDEN, prob.out_dim], dt, steps, what


@reproduction("mwe-fig1-left", PAPER, "Figure 1 left: full-batch Adam on 2-class images, FC 256-256-128, late spikes",
              35.0, requires=("torch",), datasets=("cifar10",))
def figure1_left(out, full: bool, scale: float, data=None) -> Reproduction:
    """Figure 1 left: full-batch Adam (eta = 1e-3, (beta1, beta2) = (0.9, 0.999), PyTorch's
    defaults) on a 2-class square-loss classification with the paper's FC 256-256-128 ReLU net.
    With ``--data DIR`` (the CIFAR-10 python batches): the paper's 2 x 1000 CIFAR-10 images
    (3072-256-256-128-2; 4000 float32 steps at about 0.25 s a step, measured under load on
    data of that shape: some 16 minutes; ``--scale`` also scales the images per class);
    otherwise 2-class digits (64-256-256-128-2, 4000 float32 steps, under a minute).
    ``--full``: float64, 10,000 steps (the paper does not state its step count; with CIFAR-10
    about 0.3 s a step, some 50 minutes).
    Measured: :func:`adadyn.analysis.classify`'s late-phase label and spike count, the largest
    rise of the loss above its running minimum after the first 10 % of the steps
    (:func:`largest_rise`), and the test error rate (context: the paper's 'generalization gap')."""
    from adadyn.analysis import classify

    nn = _nn()
    prob, widths, dt, steps, what = fig1_left_setup(nn, full, scale, data)
    tr = nn.train(ad.Adam(1e-3), nn.mlp(widths, "relu", seed=0, dtype=dt), prob, steps, record_every=2, dtype=dt)
    reg = classify(tr)
    loss, test = np.asarray(tr.loss), np.asarray(tr.test_error)
    rise = largest_rise(loss)
    hit = np.flatnonzero(loss <= 1e-2)
    test_at = float(test[hit[0]]) if hit.size else float("nan")
    net = "-".join(map(str, widths))
    rep = Reproduction("mwe-fig1-left", PAPER, f"Figure 1 left on {'CIFAR-10' if data else '2-class digits'}, "
                                               f"MLP {net}")
    rep.values.update(data="cifar10" if data else "digits", n=prob.n, widths=widths, steps=steps, label=reg.label,
                      spikes=int(reg.spike_count), largest_rise=rise, final_loss=float(loss[-1]),
                      min_loss=float(loss.min()), late_loss=late_median(loss), test_error_at_loss_1e_2=test_at,
                      final_test_error=float(test[-1]))
    rep.add("late-phase regime (classify, last 25 % of the steps)", "large spikes keep appearing",
            f"{reg.label}, {reg.spike_count} spikes, late median loss {g(late_median(loss), 3)}", reg.label == "spike")
    rep.add("largest rise above the running minimum after 10 % of the steps", "not monotone (large spikes)",
            f"{rise:.2f} decades", rise >= 1.0, "criterion >= 1 decade")
    rep.add("test error rate when the loss first reaches 1e-2 / at the end", "generalization gap dominates",
            f"{g(test_at, 3)} / {g(float(test[-1]), 3)}")
    fig, axes = figure(1, 2, size=(11, 4))
    axes[0].semilogy(tr.step, loss, lw=0.7, label=f"Adam ({reg.label}, {reg.spike_count} spikes)")
    if len(reg.spike_steps):
        sk = np.searchsorted(np.asarray(tr.step), reg.spike_steps)
        axes[0].semilogy(np.asarray(tr.step)[sk], loss[np.minimum(sk, len(loss) - 1)], "rv", ms=5, label="spikes")
    axes[0].set_title(f"training loss, {net}, eta = 1e-3, default betas")
    axes[0].legend(fontsize="small")
    axes[1].plot(tr.step, test, lw=0.8)
    axes[1].set_title("test error rate")
    for ax in axes:
        ax.set_xlabel("step")
    rep.figures.append(save(fig, out, "mwe_fig1_left.png"))
    rep.notes.append(f"{what}; {steps} full-batch steps, seed 0, {'float64' if full else 'float32'}")
    if data is None:
        rep.notes.append("the paper's data is 2 x 1000 CIFAR-10 images: give --data DIR (the CIFAR-10 python "
                         "batches; nothing is downloaded)")
    rep.decide("classify labels the run 'spike' and the loss rises >= 1 decade above its running minimum after "
               "the first 10 % of the steps")
    return rep


# ------------------------------------------------------------------ Figure 8 on a network
FIG8_PAPER_HIDDEN = (500,) * 6


def fig8_net_setup(nn, full: bool, scale: float, data=None) -> dict:
    """Problem, widths, grid, steps, dtype and chunk size of ``mwe-fig8-net``.

    Default: 2-class digits, 64-16-2 ReLU networks, a 4 x 4 grid, 10,000 steps.
    ``full``: an 8 x 8 grid and 20,000 steps; with ``data`` (a directory holding the
    Fashion-MNIST IDX files) the paper's network, 6 hidden layers of width 500
    (784-500-500-500-500-500-500-10), on all 10 classes with 1000 training images each
    (the paper does not state its data size; 1000 per class as in its Figures 1, 2 and 9),
    4 networks per batched chunk; without ``data`` the digits networks.
    """
    n = 8 if full else 4
    steps = steps_at(10_000, 20_000, full, scale, minimum=100)
    if full and data is not None:
        prob = nn.fashion_mnist(data, classes=tuple(range(10)), per_class=1000)
        return dict(problem=prob, widths=[prob.in_dim, *FIG8_PAPER_HIDDEN, prob.out_dim], grid=np.logspace(-1, 2, n),
                    steps=steps, dtype="float32", chunk_size=4, data="fashion_mnist",
                    what="Fashion-MNIST, 10 classes x 1000 images")
    return dict(problem=nn.digits(2), widths=[64, 16, 2], grid=np.logspace(-1, 2, n), steps=steps, dtype="float32",
                chunk_size=64, data="digits", what="2-class digits")


@reproduction("mwe-fig8-net", PAPER, "Figure 8 on a network: Adam's (a, b) phase diagram", 12.0,
              requires=("torch",), datasets=("fashion_mnist",))
def figure8_net(out, full: bool, scale: float, data=None) -> Reproduction:
    """Figure 8 on a network: Adam, eta = 1e-3, a, b on a log grid over [0.1, 100], full-batch
    ReLU networks trained batched (:func:`adadyn.nn.sweep.phase_diagram`); late mean log10 loss
    and regime per point. Default: 2-class digits, 64-16-2, 4 x 4 grid, 10,000 steps.
    ``--full``: 8 x 8 grid, 20,000 steps; with ``--data DIR`` (Fashion-MNIST IDX files) the
    paper's 784-500x6-10 network on 10 x 1000 Fashion-MNIST images (GPU-scale: 64 networks of
    1.6 M parameters), else the digits networks (:func:`fig8_net_setup`). ``--data`` without
    ``--full`` is not used."""
    from adadyn.nn.sweep import phase_diagram
    from adadyn.plotting.regimes import plot_late_loss, plot_regime_map

    nn = _nn()
    su = fig8_net_setup(nn, full, scale, data)
    grid, steps, net = su["grid"], su["steps"], "-".join(map(str, su["widths"]))
    pd = phase_diagram(su["problem"], su["widths"], grid, grid, 1e-3, steps, dtype=su["dtype"],
                       chunk_size=su["chunk_size"])
    rep = Reproduction("mwe-fig8-net", PAPER, f"Figure 8 on {su['what']}, {net} ({len(grid)} x {len(grid)} grid)")
    osc, div = score_fig8_regions(rep, pd, grid)
    rep.values.update(median_late_log10_osc=osc, median_late_log10_div=div, grid=grid.tolist(), steps=steps,
                      regime=pd.regime.tolist(), late_mean_log10_loss=pd.late_mean_log10_loss.tolist(),
                      data=su["data"], widths=su["widths"], n=su["problem"].n)
    rep.add("median late log10 loss: a ~ b vs a >> b", "small vs large", f"{osc:.3g} vs {div:.3g}", osc < div - 1)
    fig, axes = figure(1, 2, size=(12, 5))
    plot_late_loss(pd, axes[0])
    plot_regime_map(pd, axes[1])
    rep.figures.append(save(fig, out, "mwe_fig8_net.png"))
    rep.notes.append(f"{su['what']} ({su['problem'].n} images), {steps} full-batch steps per point, {su['dtype']}, "
                     "seed 0; the regions and the 60 % rule are those of the quadratic entry mwe-fig8")
    if data is not None and not full:
        rep.notes.append("--data is used with --full (the paper's Fashion-MNIST network); this run used digits")
    elif su["data"] == "digits":
        rep.notes.append("the paper's network is 784-500x6-10 on Fashion-MNIST: --full --data DIR (IDX files)")
    rep.decide("in each region at least 60 % of the grid points carry the paper's label, and the a ~ b region's "
               "median late loss is more than 1 decade below the a >> b region's")
    return rep


# ------------------------------------------------------------------ Figure 2 on a network
@reproduction("mwe-fig2-net", PAPER, "Figure 2 on a network: Adam/RMSprop approach signGD as eta shrinks",
              9.0, requires=("torch",), datasets=("cifar10",))
def figure2_net(out, full: bool, scale: float, data=None) -> Reproduction:
    """Figure 2 (Prop. 1, the eps-sign flow (4)): with beta = 0.9, alpha = 0.999 (Adam) and
    alpha = 0.99 (RMSprop) fixed, the early loss curves against time t = eta k approach
    signGD's (eta = 1e-5) as eta shrinks. Measured: max |log10 L(t) - log10 L_sign(t)| over
    t in [0, T]. Default: 2-class digits, 64-32-16-2 ReLU, float32, T = 0.05. ``--full``: the
    paper's in-256-128-64-2 net, T = 0.2 (20,000 signGD steps), on its 2 x 1000 CIFAR-10 images
    with ``--data DIR`` (:func:`two_class_setup`)."""
    torch = _torch()

    nn = _nn()
    T = 0.05 if not full else 0.2
    eta_s = 1e-5
    etas = (1e-3, 1e-4, 1e-5)
    prob, widths, what = two_class_setup("mwe-fig2-net", nn, full, data)

    def curve(spec, eta):
        steps = max(10, int(round(T * scale / eta))) if not full else int(round(T / eta))
        tr = nn.train(spec, nn.mlp(widths, "relu", seed=0, dtype=torch.float32), prob, steps,
                      record_every=max(1, steps // 500), dtype=torch.float32)
        return np.asarray(tr.time), np.log10(np.asarray(tr.loss))

    ts, ls = curve(ad.SignGD(eta_s), eta_s)
    rep = Reproduction("mwe-fig2-net", PAPER, f"Figure 2 on {what}, MLP {'-'.join(map(str, widths))}")
    fig, axes = figure(1, 2, size=(11, 4), sharey=True)
    for ax, label, make in ((axes[0], "Adam", lambda e: ad.Adam(e, beta1=0.9, beta2=0.999)),
                            (axes[1], "RMSprop", lambda e: ad.RMSprop(e, alpha=0.99))):
        ax.plot(ts, ls, "k", lw=2, label=f"signGD eta = {eta_s:g}")
        gaps = []
        for eta in etas:
            t, lv = curve(make(eta), eta)
            gaps.append(float(np.max(np.abs(np.interp(ts, t, lv) - ls))))
            ax.plot(t, lv, lw=1, label=f"eta = {eta:g}")
        ax.set_xlabel("time t = eta k")
        ax.set_title(label)
        ax.legend(fontsize="small")
        rep.values[f"{label.lower()}_gaps"] = gaps
        rep.add(f"{label}: max |log10 L - log10 L_sign| on [0, {ts[-1]:.3g}], eta = 1e-3, 1e-4, 1e-5",
                "shrinks with eta", ", ".join(g(x, 3) for x in gaps), bool(np.all(np.diff(gaps) < 0)))
    axes[0].set_ylabel("log10 loss")
    rep.figures.append(save(fig, out, "mwe_fig2_net.png"))
    rep.notes.append("eps = 1e-8 for every method; seed 0; the same initial network for every curve")
    _data_note(rep, full, data)
    rep.decide("for Adam and for RMSprop the largest log-loss gap to signGD strictly shrinks as eta = 1e-3 -> 1e-5")
    return rep


# ------------------------------------------------------------------ Figure 4 on a network
@reproduction("mwe-fig4-net", PAPER, "Figure 4 on a network: RMSprop's fast start, small oscillations, spikes",
              10.0, requires=("torch",), datasets=("cifar10",))
def figure4_net(out, full: bool, scale: float, data=None) -> Reproduction:
    """Figure 4 with the paper's FC 256-256-128 net (square loss, full batch): RMSprop,
    eta = 1e-3, alpha = 0.99, the paper's 2000 steps; on 2-class digits in float32 by default,
    in float64 with ``--full`` (on the paper's 2 x 1000 CIFAR-10 images with ``--data DIR``).
    The three features of section 3, measured: fast initial convergence (loss/f0 after 10 % of
    the steps), small oscillations (share of sign changes of the loss increments in the last
    quarter) and large spikes (:func:`adadyn.analysis.classify` spike count)."""
    torch = _torch()

    from adadyn.analysis import classify

    nn = _nn()
    steps = steps_at(2000, 2000, full, scale, minimum=100)
    dt = torch.float64 if full else torch.float32
    prob, widths, what = two_class_setup("mwe-fig4-net", nn, full, data)
    tr = nn.train(ad.RMSprop(1e-3, alpha=0.99), nn.mlp(widths, "relu", seed=0, dtype=dt), prob, steps, dtype=dt)
    loss = np.asarray(tr.loss)
    reg = classify(tr)
    early = float(loss[min(steps // 10, len(loss) - 1)] / loss[0])   # a diverged run stops early
    tail = np.diff(loss[-max(4, steps // 4):])
    flips = float(np.mean(np.sign(tail[1:]) != np.sign(tail[:-1])))
    rep = Reproduction("mwe-fig4-net", PAPER, f"Figure 4 on {what}, MLP {'-'.join(map(str, widths))}")
    rep.values.update(early_ratio=early, sign_flip_share=flips, label=reg.label, spikes=int(reg.spike_count),
                      final_loss=float(loss[-1]))
    rep.add(f"loss/f0 after {steps // 10} steps", "fast initial convergence", g(early, 3), early <= 0.1,
            "criterion <= 0.1")
    rep.add("share of sign changes of the loss increments, last quarter", "small oscillations", g(flips, 3),
            flips >= 0.2, "criterion >= 0.2; a monotone curve has 0")
    rep.add("spikes (classify)", "large spikes", f"{reg.spike_count} ({reg.label})", reg.spike_count >= 1)
    fig, axes = figure(1, 2, size=(11, 4))
    axes[0].semilogy(tr.step, loss, lw=0.7)
    axes[0].set_title("RMSprop, eta = 1e-3, alpha = 0.99: whole run")
    last = np.asarray(tr.step) >= steps - min(500, steps // 4)
    axes[1].semilogy(np.asarray(tr.step)[last], loss[last], lw=0.7)
    axes[1].set_title("last iterations")
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
    rep.figures.append(save(fig, out, "mwe_fig4_net.png"))
    rep.notes.append(f"{what} ({prob.n} images); seed 0; " + ("float64" if full else "float32"))
    _data_note(rep, full, data)
    rep.decide("loss/f0 <= 0.1 after 10 % of the steps, >= 20 % sign changes of the loss increments in the last "
               "quarter, and at least one spike found by classify")
    return rep


# ------------------------------------------------------------------ Figure 9 analogue
FIG9_NET = dict(image_shape=(1, 8, 8), channels=(16, 32), hidden=(64,), out_dim=10)


def fig9_setup(nn, full: bool, scale: float):
    """Problem, model factory, dtype and steps of ``mwe-fig9-net``: 10-class digits as
    (n, 1, 8, 8) images, :func:`adadyn.nn.convnet` conv(1 -> 16, 3x3)-ReLU-pool-conv(16 -> 32,
    3x3)-ReLU-pool-fc(128 -> 64)-ReLU-fc(64 -> 10); 4000 float32 steps, ``full`` 20,000 in float64."""
    torch = nn.torch
    steps = steps_at(4000, 20_000, full, scale, minimum=100)
    dt = torch.float64 if full else torch.float32
    return nn.digits(10, images=True), (lambda: nn.convnet(**FIG9_NET, seed=0, dtype=dt)), dt, steps


@reproduction("mwe-fig9-net", PAPER, "Figure 9 analogue: stochastic Adam, large batch, default betas vs a ~ b",
              99.0, requires=("torch",))
def figure9_net(out, full: bool, scale: float) -> Reproduction:
    """Figure 9 analogue: stochastic Adam (eta = 1e-3, batch 500 of the 1347 training images
    of 10-class digits, ~37 %) on a small convolutional net (:func:`fig9_setup`), PyTorch's
    defaults (a, b) = (1, 100) against a ~ b = (10, 10). The paper trains a half-width ResNet18
    on 10 x 1000 CIFAR-10 images with batch 1000 (no such data or model here; ``--full`` only
    runs 20,000 float64 steps). Recorded losses are minibatch losses."""
    from adadyn.analysis import classify

    nn = _nn()
    prob, make, dt, steps = fig9_setup(nn, full, scale)
    rep = Reproduction("mwe-fig9-net", PAPER, "Figure 9 analogue on 10-class digits, small convnet, batch 500")
    fig, ax = figure(size=(7, 4))
    res = {}
    for a, b in ((1.0, 100.0), (10.0, 10.0)):
        tr = nn.train(ad.Adam.from_ab(1e-3, a, b), make(), prob, steps, batch_size=500, seed=0, record_every=5,
                      dtype=dt)
        reg = classify(tr)
        res[(a, b)] = (late_median(tr.loss), reg)
        rep.values[f"a{a:g}_b{b:g}"] = dict(late_loss=res[(a, b)][0], label=reg.label, spikes=int(reg.spike_count),
                                            test_error=float(tr.test_error[-1]), final_loss=float(tr.loss[-1]),
                                            largest_rise=largest_rise(tr.loss))
        ax.semilogy(tr.step, tr.loss, lw=0.6, label=f"a={a:g}, b={b:g} ({reg.label}, {reg.spike_count} spikes)")
    ax.set_xlabel("step")
    ax.set_ylabel("minibatch loss")
    ax.set_title("stochastic Adam on a small convnet, eta = 1e-3, batch 500")
    ax.legend(fontsize="small")
    (ld, rd), (lq, rq) = res[(1.0, 100.0)], res[(10.0, 10.0)]
    rep.values["steps"] = steps
    rep.add("late median minibatch loss, (1, 100) vs (10, 10)", "a ~ b lower (faster, smooth)",
            f"{g(ld, 3)} vs {g(lq, 3)}", lq < ld)
    rep.add("spikes, (1, 100) vs (10, 10)", "default spikes, a ~ b smooth",
            f"{rd.spike_count} ({rd.label}) vs {rq.spike_count} ({rq.label})", rd.spike_count > rq.spike_count)
    rep.add("test error rate at the end, (1, 100) vs (10, 10)", "-",
            f"{g(rep.values['a1_b100']['test_error'], 3)} vs {g(rep.values['a10_b10']['test_error'], 3)}")
    rep.figures.append(save(fig, out, "mwe_fig9_net.png"))
    rep.notes.append(f"{steps} steps, seed 0 (initialisation and minibatches), {'float64' if full else 'float32'}; "
                     f"convnet {FIG9_NET['channels']} channels, hidden {FIG9_NET['hidden']}")
    rep.decide("the a ~ b run's late median minibatch loss is below the default's, and classify finds more "
               "spikes in the default run than in the a ~ b run")
    return rep
