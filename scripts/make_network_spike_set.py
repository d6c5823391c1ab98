"""Network spike-train curves for the regime classifier's labelled set (issue 20, item 4).

Records, once, full-batch training curves of wider MLPs on two-class digits (RMSprop at
alpha = 0.99 and Adam at a few (a, b)), labels each by the written rule of docs/regimes.md
("Network spike trains") WITHOUT calling the classifier, and stores them in
``regime_network_spikes.npz``: part 0 (model seeds 0, 1: calibration) and part 1 (model seeds
2, 3 on the digits split of seed 1: held back). ``--score`` prints the confusion matrices of
``classify`` on the held-back network part (this family plus the test part of the small-network
family) and on the calibration part.

    python scripts/make_network_spike_set.py            # regenerate (needs torch, ~6 min on one core)
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


def loss_spike_climbs(loss, step, window: float = 0.25) -> int:
    """Climbs in the late window of the loss to >= 100 x the late median, each counted only once
    the loss has returned below 10 x the late median (the written rule; f* is never used)."""
    loss, step = np.asarray(loss, dtype=np.float64), np.asarray(step, dtype=np.float64)
    late = loss[step >= step[-1] - window * (step[-1] - step[0])]
    m = np.median(late)
    climbs, up = 0, False
    for v in late:
        if not up and v >= 100.0 * m:
            up = True
        elif up and v < 10.0 * m:
            up, climbs = False, climbs + 1
    return climbs


def written_label(loss, step, grad_norm, diverged: bool, adaptive: bool = True):
    """The label of a network curve by the written rule (docs/regimes.md, "Network spike trains"),
    read from the curve relative to itself, never from f* nor from the classifier:

    1. blow-up (non-finite, or the run diverged) or a late median loss >= half the initial
       loss -> divergence;
    2. progress (late median < 1e-2 x the initial loss) and >= 2 late climbs of the loss to
       >= 2 decades above its late median, each followed by a return below 10 x it -> spike;
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
                                bool(z[f"diverged_{k}"])))
        i += 1
    return out


def network_part(part: int) -> list[mrd.Case]:
    """All labelled network curves of a part: the small-network family and this family."""
    return mrd.load_networks(part) + load(part)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--score", action="store_true", help="only score the stored curves")
    args = ap.parse_args(argv)
    if not args.score:
        save()
    for part, title in ((0, "calibration"), (1, "held back")):
        cases = network_part(part)
        pred = mrd.predict(cases)
        print(f"\nnetwork {title} part: {len(cases)} curves")
        print(mrd.report(cases, pred))
        for c, p in zip(cases, pred):
            if p != c.label:
                print(f"  miss: {c.name}: {c.label} -> {p}")


if __name__ == "__main__":
    main()
