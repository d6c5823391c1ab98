"""Network spike-train curves for the regime classifier's labelled set (issue 20, item 4).

Records, once, full-batch training curves of MLPs on two-class digits and two-class
Fashion-MNIST (RMSprop at alpha = 0.99, Adam at many (a, b), GD), labels each by the written
rule of docs/regimes.md ("Network spike trains") WITHOUT calling the classifier, and stores them:
``regime_network_spikes.npz`` (the first family) and ``regime_network_more.npz`` (the second).
Part 0 of each is calibration, part 1 (other model seeds, other digits splits) is held back.
``--score`` prints the confusion matrices of ``classify`` on the network parts. Since round 3 every
curve of those parts is calibration, and ``regime_network_heldout2.npz`` (``--heldout2``; other
digits split, model seeds and Fashion-MNIST classes) was the held-back part of round 3; since round 4
it is calibration too, and ``regime_network_heldout3.npz`` (``--heldout3``) was held back; since
round 5 that is calibration too and ``regime_network_heldout4.npz`` (``--heldout4``) is held back.
Network curves are classified with f* unknown (``f_star_known=False``).

    python scripts/make_network_spike_set.py            # regenerate the first family (~6 CPU-min)
    python scripts/make_network_spike_set.py --more     # regenerate the second (~13 CPU-min)
    python scripts/make_network_spike_set.py --heldout2 # regenerate the second held-back part (~5 CPU-min)
    python scripts/make_network_spike_set.py --heldout3 # regenerate the third held-back part (~5.3 CPU-min)
    python scripts/make_network_spike_set.py --heldout4 # regenerate the fourth held-back part (~5.7 CPU-min)
    python scripts/make_network_spike_set.py --relabel  # re-apply the written rule to the stored files
    python scripts/make_network_spike_set.py --score    # score the stored curves
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import make_regime_dataset as mrd  # noqa: E402

SPIKE_FILE = Path(__file__).with_name("regime_network_spikes.npz")
#: the second family (more Adam b >> a, RMSprop on digits and Fashion-MNIST, GD, a ~ b, a >> b)
MORE_FILE = Path(__file__).with_name("regime_network_more.npz")
#: the second held-back part (generated 2026-12-06 before any rule was changed in round 3; digits
#: split 4, model seeds 40-42, Fashion-MNIST classes 7 and 9: none used before); stored as part 2
HELDOUT2_FILE = Path(__file__).with_name("regime_network_heldout2.npz")
#: the third held-back part (generated 2026-12-06 13:00 UTC before any rule was changed in round 4;
#: digits split 5, model seeds 50-53, Fashion-MNIST classes 2 and 3: none used before); part 3
HELDOUT3_FILE = Path(__file__).with_name("regime_network_heldout3.npz")
#: the fourth held-back part (generated 2026-12-06 14:20 UTC before any rule was changed in round 5;
#: digits split 6, model seeds 60-63, Fashion-MNIST classes 4 and 8: none used before); part 4
HELDOUT4_FILE = Path(__file__).with_name("regime_network_heldout4.npz")


def loss_spike_climbs(loss, step, window: float = 0.25, hold: float = 10.0) -> int:
    """Climbs in the late window: the loss rises suddenly to >= 100 x the level it last held,
    then recovers below 10 x that level (the written rule; f* is never used).

    The held level ``H`` is the lowest value, since the last counted climb (or the window's
    start), of the loss's running maximum over the last ``hold`` steps: a level the loss stayed
    at or below for ``hold`` steps, so that a single deep sample of a fast oscillation is no
    valley. A climb starts at the first sample >= 100 H and is counted when the loss is next
    below 10 H; H then restarts from the samples after it.
    """
    loss, step = np.asarray(loss, dtype=np.float64), np.asarray(step, dtype=np.float64)
    keep = step >= step[-1] - window * (step[-1] - step[0])
    late, st = loss[keep], step[keep]
    climbs, up, held = 0, False, np.inf
    j = 0      # start of the last `hold` steps (restarts after each climb)
    for i, v in enumerate(late):
        if up:
            if v < 10.0 * held:
                up, climbs, held, j = False, climbs + 1, np.inf, i
            continue
        if v >= 100.0 * held:
            up = True
            continue
        while j + 1 <= i and st[j + 1] <= st[i] - hold:
            j += 1
        if st[j] <= st[i] - hold:    # samples j..i span `hold` steps: their maximum was held
            held = min(held, float(np.max(late[j:i + 1])))
    return climbs


def written_label(loss, step, grad_norm, diverged: bool, adaptive: bool = True):
    """The label of a network curve by the written rule (docs/regimes.md, "Network spike trains"),
    read from the curve relative to itself, never from f* nor from the classifier:

    1. blow-up (non-finite, or the run diverged) or a late median loss >= half the initial
       loss -> divergence;
    2. progress (late median < 1e-2 x the initial loss) and >= 2 late climbs (``loss_spike_climbs``:
       sudden rises to >= 100 x the level the loss last held for 10 steps, each followed by a
       return below 10 x that level) -> spike;
    3. otherwise the clauses of ``network_label``: steadily falling quarter medians, by >= 0.3
       decade -> convergence; a non-falling late loss within 2x with a bounded, non-vanishing
       gradient -> oscillation; two gradient excursions 30-fold above the late median that the
       loss rule does not count (an unclear spike) or anything else -> left out (None).
    """
    loss, g = np.asarray(loss, dtype=np.float64), np.asarray(grad_norm, dtype=np.float64)
    if diverged or not (np.all(np.isfinite(loss)) and np.all(np.isfinite(g))):
        return "divergence"
    late = step >= step[-1] - 0.25 * (step[-1] - step[0])
    fl, gl = loss[late], g[late]
    med = np.median(fl)
    if med >= 0.5 * loss[0]:
        return "divergence"
    if med < 1e-2 * loss[0] and loss_spike_climbs(loss, step) >= 2:
        return "spike"
    above = gl > 30 * np.median(gl)
    if int(np.count_nonzero(above[1:] & ~above[:-1]) + above[0]) >= 2:
        return None
    k = fl.shape[0] // 10 + 1
    first, last = np.median(fl[:k]), np.median(fl[-k:])
    q = [np.median(p) for p in np.array_split(fl, 4)]
    steady_fall = all(q[i + 1] < q[i] for i in range(3))
    if steady_fall and last < 0.5 * first:
        return "convergence"
    if (adaptive and not steady_fall and 0.5 < last / first < 2 and gl.max() < 10 * np.median(gl)
            and np.median(gl) > 1e-3 * g[0]):
        return "oscillation"
    return None


# (optimiser name, constructor(eta), eta): RMSprop at alpha = 0.99 (a = 0.01 / eta), Adam in the
# paper's three regimes
def _optimisers():
    import adadyn as ad
    return [("RMSprop alpha=0.99", lambda eta: ad.RMSprop.from_a(eta, 0.01 / eta), 1e-3),
            ("RMSprop alpha=0.99", lambda eta: ad.RMSprop.from_a(eta, 0.01 / eta), 3e-3),
            ("Adam a=1 b=100", lambda eta: ad.Adam.from_ab(eta, 1.0, 100.0), 1e-3),
            ("Adam a=10 b=10", lambda eta: ad.Adam.from_ab(eta, 10.0, 10.0), 1e-3),
            ("Adam a=100 b=1", lambda eta: ad.Adam.from_ab(eta, 100.0, 1.0), 1e-3),
            ("Adam a=100 b=1", lambda eta: ad.Adam.from_ab(eta, 100.0, 1.0), 3e-3)]


def record(part: int, steps: int = 4000, record_every: int = 2) -> list[dict]:
    """Train the family's part ``part`` (float32, one torch thread) and label each run."""
    import torch

    import adadyn.nn as nn

    nn.set_num_threads(1)
    prob = nn.digits(2, seed=part)
    out = []
    for seed in (2 * part, 2 * part + 1):
        for oname, make, eta in _optimisers():
            model = nn.mlp([64, 128, 128, 2], dtype=torch.float32, seed=seed)
            tr = nn.train(make(eta), model, prob, steps, record_every=record_every)
            loss, step, g = np.asarray(tr.loss), np.asarray(tr.step, dtype=np.float64), np.asarray(tr.grad_norm)
            lab = written_label(loss, step, g, tr.status == "diverged")
            name = f"net {oname} eta={eta:g} digits2 64-128-128-2 seed={seed} ({steps} steps)"
            print(f"part {part}: {name}: {lab}", flush=True)
            out.append(dict(name=name, label="" if lab is None else lab, loss=loss, step=step, grad=g,
                            diverged=tr.status == "diverged"))
    return out + record_long(part)


def record_long(part: int, steps: int = 10_000, record_every: int = 2) -> list[dict]:
    """The issue's RMSprop case: alpha = 0.99, eta = 1e-3, 64-256-256-128-2 on two-class digits,
    10,000 steps (float32), one model seed per part."""
    import torch

    import adadyn as ad
    import adadyn.nn as nn

    nn.set_num_threads(1)
    prob, seed = nn.digits(2, seed=part), 10 + part
    tr = nn.train(ad.RMSprop.from_a(1e-3, 10.0), nn.mlp([64, 256, 256, 128, 2], dtype=torch.float32, seed=seed),
                  prob, steps, record_every=record_every)
    loss, step, g = np.asarray(tr.loss), np.asarray(tr.step, dtype=np.float64), np.asarray(tr.grad_norm)
    lab = written_label(loss, step, g, tr.status == "diverged")
    name = f"net RMSprop alpha=0.99 eta=0.001 digits2 64-256-256-128-2 seed={seed} ({steps} steps)"
    print(f"part {part}: {name}: {lab}", flush=True)
    return [dict(name=name, label="" if lab is None else lab, loss=loss, step=step, grad=g,
                 diverged=tr.status == "diverged")]


# the second family, per part: (name, optimiser constructor, model widths key, steps); digits split
# 2 + part and model seeds 20 + 10 part, 21 + 10 part: none of them used by the first family
def _more_specs():
    import adadyn as ad
    adam = [(1.0, 100.0), (0.5, 100.0), (1.0, 300.0), (2.0, 200.0),   # b >> a: the spike regime
            (30.0, 30.0), (100.0, 100.0),                              # a ~ b
            (100.0, 1.0), (300.0, 3.0), (30.0, 0.3)]                   # a >> b
    out = [(f"Adam a={a:g} b={b:g} eta=0.001", (lambda a=a, b=b: ad.Adam.from_ab(1e-3, a, b))) for a, b in adam]
    out += [("RMSprop alpha=0.99 eta=0.003", lambda: ad.RMSprop.from_a(3e-3, 0.01 / 3e-3)),
            ("GD eta=0.1", lambda: ad.GD(0.1)), ("GD eta=0.3", lambda: ad.GD(0.3)),
            ("Adam a=1 b=1 eta=0.001", lambda: ad.Adam.from_ab(1e-3, 1.0, 1.0))]
    return out


def _run(make, widths, prob, steps, seed, record_every=2):
    import torch

    import adadyn.nn as nn
    tr = nn.train(make(), nn.mlp(widths, dtype=torch.float32, seed=seed), prob, steps, record_every=record_every)
    return dict(loss=np.asarray(tr.loss, dtype=np.float32), step=np.asarray(tr.step, dtype=np.float64),
                grad=np.asarray(tr.grad_norm, dtype=np.float32), diverged=tr.status == "diverged")


def record_more(part: int, steps: int = 4000) -> list[dict]:
    """The second family's part ``part``: 13 optimisers x 2 model seeds on 64-128-128-2, two-class
    digits (split 2 + part), 4000 steps; RMSprop (alpha = 0.99, eta = 1e-3) and Adam (1, 100) on
    Fashion-MNIST 2 x 1000 (classes 0, 1), 784-64-64-2, 2000 steps; in part 1 also the issue's
    Figure 4 case (RMSprop on Fashion-MNIST 2 x 1000, 784-256-256-128-2, 2000 steps, model seed 0).
    Float32, one torch thread. Unlabelled here: :func:`relabel` applies the written rule."""
    import adadyn as ad
    import adadyn.nn as nn

    nn.set_num_threads(1)
    prob = nn.digits(2, seed=2 + part)
    out = []
    for seed in (20 + 10 * part, 21 + 10 * part):
        for oname, make in _more_specs():
            r = _run(make, [64, 128, 128, 2], prob, steps, seed)
            r["name"] = f"net {oname} digits2/{2 + part} 64-128-128-2 seed={seed} ({steps} steps)"
            print(f"part {part}: {r['name']}", flush=True)
            out.append(r)
    fm = nn.fashion_mnist(classes=(0, 1), per_class=1000)
    seed = 20 + 10 * part
    fash = [("RMSprop alpha=0.99 eta=0.001", lambda: ad.RMSprop(1e-3, alpha=0.99), [784, 64, 64, 2], seed),
            ("Adam a=1 b=100 eta=0.001", lambda: ad.Adam.from_ab(1e-3, 1.0, 100.0), [784, 64, 64, 2], seed)]
    if part == 1:
        fash.append(("RMSprop alpha=0.99 eta=0.001", lambda: ad.RMSprop(1e-3, alpha=0.99),
                     [784, 256, 256, 128, 2], 0))
    for oname, make, widths, sd in fash:
        r = _run(make, widths, fm, 2000, sd)
        r["name"] = f"net {oname} fashion2x1000 {'-'.join(map(str, widths))} seed={sd} (2000 steps)"
        print(f"part {part}: {r['name']}", flush=True)
        out.append(r)
    return out + record_more_ab(part, steps)


def record_more_ab(part: int, steps: int = 4000) -> list[dict]:
    """Adam at a = b (0.5, 0.5) and (2, 2), model seeds 20 + 10 part and 21 + 10 part, and (1, 1)
    at seed 22 + 10 part, on the same digits split (added to give the held-back part six or more
    convergence curves by the written rule)."""
    import adadyn as ad
    import adadyn.nn as nn

    nn.set_num_threads(1)
    prob = nn.digits(2, seed=2 + part)
    runs = [(a, seed) for a in (0.5, 2.0) for seed in (20 + 10 * part, 21 + 10 * part)] + [(1.0, 22 + 10 * part)]
    out = []
    for a, seed in runs:
        r = _run(lambda a=a: ad.Adam.from_ab(1e-3, a, a), [64, 128, 128, 2], prob, steps, seed)
        r["name"] = f"net Adam a={a:g} b={a:g} eta=0.001 digits2/{2 + part} 64-128-128-2 seed={seed} ({steps} steps)"
        print(f"part {part}: {r['name']}", flush=True)
        out.append(r)
    return out


def save_more(path=MORE_FILE, parts=(0, 1)) -> None:
    """Record the second family (about 13 CPU-minutes) and store it with the written rule's labels."""
    arrays = {}
    for part in parts:
        for i, r in enumerate(record_more(part)):
            r["label"] = written_label(r["loss"], r["step"], r["grad"], r["diverged"]) or ""
            _store(arrays, part, i, r)
        np.savez_compressed(path, **arrays)


# the second held-back part: (name, optimiser constructor) per model seed on 64-128-128-2, digits
# split 4; chosen from the earlier families' written labels to give each class about 9 curves
def _heldout2_specs():
    import adadyn as ad
    adam = [(1.0, 300.0), (2.0, 200.0), (0.7, 150.0),    # b >> a: the spike regime
            (30.0, 30.0), (100.0, 100.0), (50.0, 50.0),  # a ~ b, fast memories: oscillation
            (100.0, 1.0), (300.0, 3.0), (50.0, 0.5),     # a >> b
            (1.0, 1.0), (2.0, 2.0), (1.5, 1.5)]          # a ~ b, slow memories: convergence
    out = [(f"Adam a={a:g} b={b:g} eta=0.001", (lambda a=a, b=b: ad.Adam.from_ab(1e-3, a, b))) for a, b in adam]
    return out + [("RMSprop alpha=0.99 eta=0.003", lambda: ad.RMSprop.from_a(3e-3, 0.01 / 3e-3))]


def _record_part(tag: str, digits_split: int, digit_runs, fashion_classes, fashion_runs, steps: int) -> list[dict]:
    """Record one held-back part: ``digit_runs`` ((seed, name, make) on 64-128-128-2, two-class
    digits of split ``digits_split``, ``steps`` steps) and ``fashion_runs`` ((seed, name, make) on
    784-64-64-2, Fashion-MNIST ``fashion_classes`` x 1000 images, 2000 steps); float32, one torch
    thread, in that order (the order and names are the stored file's)."""
    import adadyn.nn as nn

    nn.set_num_threads(1)
    jobs = [(make, [64, 128, 128, 2], nn.digits(2, seed=digits_split), steps, seed,
             f"net {name} digits2/{digits_split} 64-128-128-2 seed={seed} ({steps} steps)")
            for seed, name, make in digit_runs]
    fm = nn.fashion_mnist(classes=fashion_classes, per_class=1000)
    cls = ",".join(map(str, fashion_classes))
    jobs += [(make, [784, 64, 64, 2], fm, 2000, seed,
              f"net {name} fashion2x1000/{cls} 784-64-64-2 seed={seed} (2000 steps)")
             for seed, name, make in fashion_runs]
    out = []
    for make, widths, prob, n, seed, label in jobs:
        r = _run(make, widths, prob, n, seed)
        r["name"] = label
        out.append(r)
        print(f"{tag}: {label}", flush=True)
    return out


def _save_part(records, part: int, path) -> None:
    """Store a recorded part (key ``part``) with the written rule's labels, applied without the
    classifier."""
    arrays = {}
    for i, r in enumerate(records):
        r["label"] = written_label(r["loss"], r["step"], r["grad"], r["diverged"]) or ""
        _store(arrays, part, i, r)
    np.savez_compressed(path, **arrays)


def record_heldout2(steps: int = 4000) -> list[dict]:
    """The second held-back part: 13 optimisers x model seeds 40, 41, 42 on 64-128-128-2, two-class
    digits split 4, 4000 steps; RMSprop (alpha = 0.99, eta = 1e-3) and GD (eta = 0.3) at seed 40;
    RMSprop (alpha = 0.99, eta = 1e-3) and Adam (1, 100) on Fashion-MNIST classes 7 and 9
    (1000 images each, the real IDX files), 784-64-64-2, 2000 steps, model seeds 40, 41.
    Float32, one torch thread (about 10 CPU-minutes)."""
    import adadyn as ad

    digits = [(sd, nm, mk) for sd in (40, 41, 42) for nm, mk in _heldout2_specs()]
    digits += [(40, "RMSprop alpha=0.99 eta=0.001", lambda: ad.RMSprop.from_a(1e-3, 10.0)),
               (40, "GD eta=0.3", lambda: ad.GD(0.3))]
    fashion = [(sd, nm, mk) for sd in (40, 41) for nm, mk in (
        ("RMSprop alpha=0.99 eta=0.001", lambda: ad.RMSprop(1e-3, alpha=0.99)),
        ("Adam a=1 b=100 eta=0.001", lambda: ad.Adam.from_ab(1e-3, 1.0, 100.0)))]
    return _record_part("heldout2", 4, digits, (7, 9), fashion, steps)


def save_heldout2(path=HELDOUT2_FILE) -> None:
    """Record the second held-back part and store it (part key 2)."""
    _save_part(record_heldout2(), 2, path)


# the third held-back part, per model seed on 64-128-128-2, digits split 5: the families of the
# second, with more candidates for oscillation (RMSprop at eta = 1e-3 and 3e-4, Adam a ~ b)
def _heldout3_specs():
    import adadyn as ad
    adam = [(1.0, 300.0), (0.7, 150.0),    # b >> a: the spike regime
            (30.0, 30.0), (50.0, 50.0),    # a ~ b, fast memories: oscillation
            (100.0, 1.0), (50.0, 0.5),     # a >> b
            (1.0, 1.0), (1.5, 1.5)]        # a ~ b, slow memories: convergence
    out = [(f"Adam a={a:g} b={b:g} eta=0.001", (lambda a=a, b=b: ad.Adam.from_ab(1e-3, a, b))) for a, b in adam]
    return out + [(f"RMSprop alpha=0.99 eta={eta:g}", (lambda eta=eta: ad.RMSprop(eta, alpha=0.99)))
                  for eta in (1e-3, 3e-4)]


def record_heldout3(steps: int = 4000) -> list[dict]:
    """The third held-back part: 10 optimisers x model seeds 50-53 on 64-128-128-2, two-class
    digits split 5, 4000 steps; RMSprop (alpha = 0.99, eta = 1e-3 and 3e-4) and Adam (30, 30) on
    Fashion-MNIST classes 2 and 3 (1000 images each, the real IDX files), 784-64-64-2, 2000 steps,
    model seeds 50, 51. Float32, one torch thread (about 6 CPU-minutes)."""
    digits = [(sd, nm, mk) for sd in (50, 51, 52, 53) for nm, mk in _heldout3_specs()]
    return _record_part("heldout3", 5, digits, (2, 3), _fashion_runs((50, 51)), steps)


def _fashion_runs(seeds):
    """(seed, name, make) of the Fashion-MNIST runs of the third and fourth held-back parts:
    RMSprop (alpha = 0.99, eta = 1e-3 and 3e-4) and Adam (30, 30) per model seed."""
    import adadyn as ad

    return [(sd, nm, mk) for sd in seeds for nm, mk in (
        ("RMSprop alpha=0.99 eta=0.001", lambda: ad.RMSprop(1e-3, alpha=0.99)),
        ("RMSprop alpha=0.99 eta=0.0003", lambda: ad.RMSprop(3e-4, alpha=0.99)),
        ("Adam a=30 b=30 eta=0.001", lambda: ad.Adam.from_ab(1e-3, 30.0, 30.0)))]


def save_heldout3(path=HELDOUT3_FILE) -> None:
    """Record the third held-back part and store it (part key 3)."""
    _save_part(record_heldout3(), 3, path)


def record_heldout4(steps: int = 4000) -> list[dict]:
    """The fourth held-back part: the third's 10 optimisers and RMSprop (alpha = 0.99) at
    eta = 6e-4 x model seeds 60-63 on 64-128-128-2, two-class digits split 6, 4000 steps; RMSprop
    (alpha = 0.99, eta = 1e-3 and 3e-4) and Adam (30, 30) on Fashion-MNIST classes 4 and 8 (1000
    images each, the real IDX files), 784-64-64-2, 2000 steps, model seeds 60, 61. Float32, one
    torch thread (about 7 CPU-minutes)."""
    import adadyn as ad

    specs = _heldout3_specs() + [("RMSprop alpha=0.99 eta=0.0006", lambda: ad.RMSprop(6e-4, alpha=0.99))]
    digits = [(sd, nm, mk) for sd in (60, 61, 62, 63) for nm, mk in specs]
    return _record_part("heldout4", 6, digits, (4, 8), _fashion_runs((60, 61)), steps)


def save_heldout4(path=HELDOUT4_FILE) -> None:
    """Record the fourth held-back part and store it (part key 4)."""
    _save_part(record_heldout4(), 4, path)


def relabel(path) -> int:
    """Rewrite the stored labels of ``path`` by the written rule (the curves are unchanged);
    returns how many changed."""
    z = dict(np.load(path))
    changed = 0
    for key in [k for k in z if k.startswith("name_")]:
        k = key[5:]
        lab = written_label(z[f"loss_{k}"], z[f"step_{k}"], z[f"grad_{k}"], bool(z[f"diverged_{k}"])) or ""
        changed += lab != str(z[f"label_{k}"])
        z[f"label_{k}"] = np.array(lab)
    np.savez_compressed(path, **z)
    return changed


def _store(arrays: dict, part: int, i: int, r: dict) -> None:
    k = f"{part}_{i}"
    arrays.update({f"name_{k}": np.array(r["name"]), f"label_{k}": np.array(r["label"]),
                   f"loss_{k}": r["loss"], f"step_{k}": r["step"], f"grad_{k}": r["grad"],
                   f"diverged_{k}": np.array(r["diverged"])})


def save(path=SPIKE_FILE) -> None:
    arrays = {}
    for part in (0, 1):
        for i, r in enumerate(record(part)):
            _store(arrays, part, i, r)
    np.savez_compressed(path, **arrays)


def load(part: int, path=SPIKE_FILE, labelled_only: bool = True) -> list[mrd.Case]:
    """Part ``part`` (0: calibration, 1: held back) as Cases with f* unknown (no gradient record
    is passed: the gradient rules need f*). Runs the written rule left out are dropped."""
    if not Path(path).exists():
        return []
    z = np.load(path)
    out, i = [], 0
    while f"name_{part}_{i}" in z:
        k = f"{part}_{i}"
        lab = str(z[f"label_{k}"])
        if lab or not labelled_only:
            out.append(mrd.Case(str(z[f"name_{k}"]), lab, z[f"loss_{k}"], z[f"step_{k}"], 0.0,
                                bool(z[f"diverged_{k}"]), f_star_known=False))
        i += 1
    return out


def network_part(part: int) -> list[mrd.Case]:
    """All labelled network curves of a part: the small-network family and the two spike-train
    families."""
    return mrd.load_networks(part) + load(part) + load(part, MORE_FILE)


def calibration_networks() -> list[mrd.Case]:
    """Every network curve recorded before the second held-back part (both parts of the three
    earlier families): the calibration set since round 3 (docs/regimes.md)."""
    return network_part(0) + network_part(1)


def heldout2() -> list[mrd.Case]:
    """The second held-back part (``regime_network_heldout2.npz``), labelled curves only."""
    return load(2, HELDOUT2_FILE)


def heldout3() -> list[mrd.Case]:
    """The third held-back part (``regime_network_heldout3.npz``), labelled curves only."""
    return load(3, HELDOUT3_FILE)


def heldout4() -> list[mrd.Case]:
    """The fourth held-back part (``regime_network_heldout4.npz``), labelled curves only."""
    return load(4, HELDOUT4_FILE)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--score", action="store_true", help="only score the stored curves")
    ap.add_argument("--more", action="store_true", help=f"regenerate {MORE_FILE.name} instead")
    ap.add_argument("--relabel", action="store_true", help="re-apply the written rule to the stored curves")
    ap.add_argument("--heldout2", action="store_true",
                    help=f"regenerate {HELDOUT2_FILE.name} (the second held-back part; prints its written "
                         "labels only, never the classifier's)")
    ap.add_argument("--heldout3", action="store_true",
                    help=f"regenerate {HELDOUT3_FILE.name} (the third held-back part; prints its written "
                         "labels only, never the classifier's)")
    ap.add_argument("--heldout4", action="store_true",
                    help=f"regenerate {HELDOUT4_FILE.name} (the fourth held-back part; prints its written "
                         "labels only, never the classifier's)")
    args = ap.parse_args(argv)
    for flag, save_part, part, path in ((args.heldout3, save_heldout3, 3, HELDOUT3_FILE),
                                        (args.heldout4, save_heldout4, 4, HELDOUT4_FILE)):
        if flag:
            import time
            t0 = time.process_time()
            save_part()
            labels = [c.label for c in load(part, path, labelled_only=False)]
            print({lab or "left out": labels.count(lab) for lab in sorted(set(labels))},
                  f"CPU {time.process_time() - t0:.0f} s")
            return
    if args.heldout2:
        save_heldout2()
        labels = [c.label for c in load(2, HELDOUT2_FILE, labelled_only=False)]
        print({lab or "left out": labels.count(lab) for lab in sorted(set(labels))})
        return
    if args.relabel:
        for f in (SPIKE_FILE, MORE_FILE, HELDOUT2_FILE, HELDOUT3_FILE, HELDOUT4_FILE):
            print(f"{f.name}: {relabel(f)} labels changed")
    elif args.more:
        save_more()
    elif not args.score:
        save()
    for title, cases in (("first calibration part", network_part(0)), ("first held-back part", network_part(1)),
                         ("calibration set (both earlier parts)", calibration_networks()),
                         ("second held-back part", heldout2()), ("third held-back part", heldout3()),
                         ("fourth held-back part", heldout4())):
        pred = mrd.predict(cases)
        print(f"\nnetwork {title}: {len(cases)} curves")
        print(mrd.report(cases, pred))
        for c, p in zip(cases, pred):
            if p != c.label:
                print(f"  miss: {c.name}: {c.label} -> {p}")


if __name__ == "__main__":
    main()
