"""The network reproductions of Ma, Wu & E (adadyn.reproduce.networks) at tiny scale.

The reported numbers are checked against a bare torch loop (torch.optim.Adam with
betas (1 - b eta, 1 - a eta), the paper's a, b), and the verdicts against the rows.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from adadyn import nn  # noqa: E402
from adadyn.reproduce import get  # noqa: E402
from adadyn.reproduce.registry import verdict_from  # noqa: E402


def bare_adam(model, prob, eta, a, b, steps):
    """Full-batch torch.optim.Adam with beta1 = 1 - b eta, beta2 = 1 - a eta; the loss after ``steps``."""
    opt = torch.optim.Adam(model.parameters(), lr=eta, betas=(1 - b * eta, 1 - a * eta), eps=1e-8)
    for _ in range(steps):
        opt.zero_grad()
        prob.loss(model).backward()
        opt.step()
    return float(prob.loss(model).detach())   # no no_grad: the DGM loss differentiates the model


def check_verdict(rep):
    assert rep.verdict == verdict_from([r.ok for r in rep.rows if r.ok is not None])
    assert rep.figures and all(p.exists() and p.stat().st_size > 1000 for p in rep.figures)


def test_fig7_net_numbers_match_a_bare_torch_adam_loop(tmp_path):
    e = get("mwe-fig7-net")
    assert e.requires == ("torch",) and e.available()
    rep = e.run(tmp_path, scale=0.01)          # 200 steps
    check_verdict(rep)
    nn.set_num_threads(1)
    model = nn.mlp([64, 32, 32, 2], "relu", seed=0, dtype=torch.float64)
    ref = bare_adam(model, nn.digits(2).to(dtype=torch.float64), 1e-3, 10.0, 10.0, 200)
    assert rep.values["a10_b10"]["final_loss"] == pytest.approx(ref, rel=1e-9)
    # the rule of the third row: label divergence or late loss >= 1e3 x the (10, 10) run's
    third = rep.rows[2]
    v = rep.values["a100_b1"]
    ratio = v["late_loss"] / rep.values["a10_b10"]["late_loss"]
    assert rep.values["large_over_oscillation"] == pytest.approx(ratio)
    assert third.ok == (v["label"] == "divergence" or ratio >= 1e3)
    assert rep.rows[0].ok == (rep.values["a1_b100"]["label"] == "spike")


def test_fig10_numbers_match_a_bare_torch_adam_loop(tmp_path):
    rep = get("mwe-fig10").run(tmp_path, scale=0.025)   # 50 steps
    check_verdict(rep)
    nn.set_num_threads(1)
    prob = nn.poisson_disc(400, 400, n_test=2000)
    model = nn.mlp([2, 10, 10, 10, 1], "gelu", seed=0, dtype=torch.float32)
    ref = bare_adam(model, prob.to(dtype=torch.float32), 5e-4, 2.0, 200.0, 50)
    got = rep.values["unit_a2_b200"]
    assert got["final_step"] == 50
    assert got["final_loss"] == pytest.approx(ref, rel=1e-4)
    for name in ("square", "unit"):
        d, q = rep.values[f"{name}_a2_b200"], rep.values[f"{name}_a20_b20"]
        oks = [r.ok for r in rep.rows if r.quantity.startswith("square" if name == "square" else "unit")]
        assert oks == [q["late_loss"] < d["late_loss"], q["late_test_error"] < d["late_test_error"]]


def test_late_median_is_the_median_of_the_last_fifth():
    from adadyn.reproduce.networks import late_median

    s = np.arange(100.0)
    assert late_median(s) == np.median(s[80:])
    assert late_median([3.0]) == 3.0


def test_fig3_net_times_are_first_crossings_of_a_bare_torch_rmsprop_run(tmp_path):
    rep = get("mwe-fig3-net").run(tmp_path, scale=0.05)   # 200 steps
    check_verdict(rep)
    for row in rep.rows:   # each row is ok exactly when its three times strictly decrease
        key = ("adam" if row.quantity.startswith("Adam") else "rmsprop") + "_time_" + row.quantity.split("= ")[1].split(",")[0]
        t = np.array(rep.values[key])
        assert row.ok == bool(np.all(np.isfinite(t[1:])) and np.all(np.diff(t) < 0))
    # RMSprop a = 10: alpha = 1 - a eta = 0.99 in torch.optim.RMSprop, first crossing of 1e-2 f0
    nn.set_num_threads(1)
    prob = nn.digits(2).to(dtype=torch.float32)
    model = nn.mlp([64, 64, 32, 2], "relu", seed=0, dtype=torch.float32)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.99, eps=1e-8)
    losses = []
    for k in range(201):
        opt.zero_grad()
        loss = prob.loss(model)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
    losses = np.array(losses)[::5]   # the reproduction records every 5 steps
    hit = np.nonzero(losses <= 1e-2 * losses[0])[0]
    assert hit.size   # reached at t ~ 0.055 (measured)
    want = 1e-3 * 5 * hit[0]
    assert rep.values["rmsprop_time_0.01"][1] == pytest.approx(want, rel=1e-6)


def test_fig1_sine_adam_row_follows_the_spike_label(tmp_path):
    rep = get("mwe-fig1-sine").run(tmp_path, scale=0.01)   # 120 steps
    check_verdict(rep)
    assert rep.rows[0].ok == (rep.values["adam"]["label"] == "spike")
    assert rep.rows[1].ok is None
    # the first 120 steps of full-batch default Adam, by torch.optim.Adam directly
    nn.set_num_threads(1)
    model = nn.mlp([5, 50, 50, 1], "relu", seed=0, dtype=torch.float32)
    ref = bare_adam(model, nn.sine_regression(2000, 5).to(dtype=torch.float32), 1e-3, 1.0, 100.0, 120)
    assert rep.values["adam"]["final_loss"] == pytest.approx(ref, rel=1e-4)


def test_fig8_net_shares_are_recomputed_from_the_regime_grid(tmp_path):
    rep = get("mwe-fig8-net").run(tmp_path, scale=0.02)   # 200 steps, 4 x 4 grid
    check_verdict(rep)
    grid = np.array(rep.values["grid"])
    assert np.allclose(grid, [0.1, 1.0, 10.0, 100.0])
    reg = np.array(rep.values["regime"])
    ratio = grid[None, :] / grid[:, None]          # b / a with a on the rows
    masks = {"spike": ratio >= 10, "oscillation": (ratio >= 1 / 3) & (ratio <= 3), "divergence": ratio <= 0.1}
    assert [int(m.sum()) for m in masks.values()] == [6, 4, 6]
    for row, (want, mask) in zip(rep.rows, masks.items()):
        frac = float(np.mean(reg[mask] == want))
        assert rep.values[f"frac_{want}"] == frac and row.ok == (frac >= 0.6)
    L = np.array(rep.values["late_mean_log10_loss"])
    assert rep.values["median_late_log10_osc"] == pytest.approx(float(np.median(L[masks["oscillation"]])))


def test_fig2_net_rows_follow_the_gaps(tmp_path):
    rep = get("mwe-fig2-net").run(tmp_path, scale=0.02)
    check_verdict(rep)
    for row, key in zip(rep.rows, ("adam_gaps", "rmsprop_gaps")):
        gaps = rep.values[key]
        assert len(gaps) == 3 and all(np.isfinite(gaps)) and min(gaps) >= 0
        assert row.ok == bool(np.all(np.diff(gaps) < 0))


def test_fig4_net_early_ratio_matches_torch_rmsprop(tmp_path):
    rep = get("mwe-fig4-net").run(tmp_path, scale=0.05)   # 100 steps
    check_verdict(rep)
    v = rep.values
    assert [r.ok for r in rep.rows] == [v["early_ratio"] <= 0.1, v["sign_flip_share"] >= 0.2, v["spikes"] >= 1]
    nn.set_num_threads(1)
    prob = nn.digits(2).to(dtype=torch.float32)
    model = nn.mlp([64, 256, 256, 128, 2], "relu", seed=0, dtype=torch.float32)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.99, eps=1e-8)
    losses = []
    for _ in range(11):
        opt.zero_grad()
        loss = prob.loss(model)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
    assert v["early_ratio"] == pytest.approx(losses[10] / losses[0], rel=1e-4)


def test_fig9_net_convnet_numbers_match_a_bare_minibatch_adam_loop(tmp_path):
    rep = get("mwe-fig9-net").run(tmp_path, scale=0.025)   # 100 steps
    check_verdict(rep)
    d, q = rep.values["a1_b100"], rep.values["a10_b10"]
    assert [r.ok for r in rep.rows] == [q["late_loss"] < d["late_loss"], d["spikes"] > q["spikes"], None]
    assert 0.0 <= d["test_error"] <= 1.0 and 0.0 <= q["test_error"] <= 1.0
    # torch.optim.Adam with betas (1 - b eta, 1 - a eta) = (0.99, 0.99) on the convnet, minibatches of 500
    # drawn as Problem.draw does (randperm from a generator seeded 0), the loss of the batch at step 100
    nn.set_num_threads(1)
    prob = nn.digits(10, images=True).to(dtype=torch.float32)
    model = nn.convnet((1, 8, 8), (16, 32), 10, hidden=(64,), seed=0, dtype=torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.99, 0.99), eps=1e-8)
    gen = torch.Generator().manual_seed(0)
    for k in range(101):
        idx = torch.randperm(prob.n, generator=gen)[:500]
        opt.zero_grad()
        loss = ((model(prob.data["X"][idx]) - prob.data["Y"][idx]) ** 2).sum() / 1000
        if k < 100:
            loss.backward()
            opt.step()
    assert q["final_loss"] == pytest.approx(float(loss.detach()), rel=1e-4)


# ------------------------------------------------------------------ Figure 1 left, local data
def bare_adam_record(model, prob, steps, every=2):
    """Full-batch torch.optim.Adam with PyTorch's defaults; the losses at steps 0, every, 2 every, ..."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for k in range(steps + 1):
        opt.zero_grad()
        loss = prob.loss(model)
        if k % every == 0:
            losses.append(float(loss.detach()))
        if k < steps:
            loss.backward()
            opt.step()
    return np.array(losses)


def rise_by_loop(losses, start=0.1):
    """Largest log10(L_k / min_{j<k} L_j) for k >= start * n, by a plain loop."""
    best, lo = 0.0, float("inf")
    k0 = max(1, int(len(losses) * start))
    for k, v in enumerate(losses):
        if k >= k0:
            best = max(best, float(np.log10(v / lo)))
        lo = min(lo, v)
    return best


def test_fig1_left_on_digits_matches_a_bare_torch_adam_loop(tmp_path):
    e = get("mwe-fig1-left")
    assert e.datasets == ("cifar10",)
    rep = e.run(tmp_path, scale=0.025)          # 100 steps, no data: 2-class digits
    check_verdict(rep)
    v = rep.values
    assert v["data"] == "digits" and v["widths"] == [64, 256, 256, 128, 2] and v["steps"] == 100
    nn.set_num_threads(1)
    ref = bare_adam_record(nn.mlp(v["widths"], "relu", seed=0, dtype=torch.float32),
                           nn.digits(2).to(dtype=torch.float32), 100)
    assert v["final_loss"] == pytest.approx(ref[-1], rel=1e-4)
    assert v["largest_rise"] == pytest.approx(rise_by_loop(ref), abs=1e-3)
    assert [r.ok for r in rep.rows] == [v["label"] == "spike", v["largest_rise"] >= 1.0, None]


def test_fig1_left_reads_cifar10_batches_given_by_data(tmp_path):
    from test_nn_problems import _cifar_files

    _cifar_files(tmp_path, n_per_batch=200, seed=3)   # ~20 images of each class per batch
    from adadyn.reproduce import run_all

    (rep,), index = run_all(tmp_path / "out", scale=0.01, names=["mwe-fig1-left"], data=tmp_path)  # 10/class
    assert "Figure 1 left on CIFAR-10" in index.read_text()
    check_verdict(rep)
    v = rep.values
    assert v["data"] == "cifar10" and v["n"] == 20 and v["widths"] == [3072, 256, 256, 128, 2]
    nn.set_num_threads(1)
    prob = nn.cifar10(tmp_path, classes=(0, 1), per_class=10, test_per_class=10).to(dtype=torch.float32)
    ref = bare_adam_record(nn.mlp(v["widths"], "relu", seed=0, dtype=torch.float32), prob, 100)
    assert v["final_loss"] == pytest.approx(ref[-1], rel=1e-3)
    assert v["largest_rise"] == pytest.approx(rise_by_loop(ref), abs=1e-3)
    assert 0.0 <= v["final_test_error"] <= 1.0


def test_reproduce_data_option_errors_are_one_line(tmp_path, capsys):
    from adadyn.commands.reproduce import main

    cases = ([["mwe-fig1-left", "--data", str(tmp_path / "absent")], "existing directory"],
             [["mwe-eq11", "--data", str(tmp_path)], "reads no local data; --data is for mwe-fig7-net"],
             [["mwe-fig1-left", "--data", str(tmp_path), "--out", str(tmp_path / "o")], "no CIFAR-10 batches"])
    for argv, msg in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("adadyn reproduce: error:") and msg in err


# ------------------------------------------------------------------ --full: the paper's sizes start
def _arch(model):
    return tuple(model.widths) if hasattr(model, "widths") else ("conv", model.channels, model.hidden)


@pytest.fixture
def capped_train(monkeypatch):
    """nn.train and phase_diagram run at most 4 records (the --full path with a tiny step override);
    each call's requested sizes are kept."""
    import adadyn.nn.sweep as sweep

    calls = []
    real_train, real_pd = nn.train, sweep.phase_diagram

    def train(spec, model, problem, steps, **kw):
        calls.append(dict(arch=_arch(model), steps=steps, n=problem.n, dtype=kw.get("dtype"),
                          batch=kw.get("batch_size")))
        return real_train(spec, model, problem, min(steps, 4 * kw.get("record_every", 1)), **kw)

    def phase_diagram(problem, widths, a, b, eta, steps, **kw):
        calls.append(dict(arch=tuple(widths), steps=steps, n=problem.n, dtype=kw.get("dtype"), grid=len(a)))
        return real_pd(problem, widths, a, b, eta, min(steps, 8), **kw)

    monkeypatch.setattr(nn, "train", train)
    monkeypatch.setattr(sweep, "phase_diagram", phase_diagram)
    return calls


F64, F32 = torch.float64, torch.float32
FULL = {   # entry: (architecture, steps, dtype) of every training run with --full
    "mwe-fig7-net": [((64, 256, 128, 64, 2), 1000, F64)] * 3,
    "mwe-fig3-net": [((64, 256, 128, 64, 2), 10_000, F32)] * 6,
    "mwe-fig1-sine": [((5, 100, 100, 1), 50_000, F64)] * 2,
    "mwe-fig4-net": [((64, 256, 256, 128, 2), 2000, F64)],
    "mwe-fig1-left": [((64, 256, 256, 128, 2), 10_000, F64)],
    "mwe-fig9-net": [(("conv", (16, 32), (64,)), 20_000, F64)] * 2,
    "mwe-fig8-net": [((64, 16, 2), 20_000, "float32")],
}


@pytest.mark.parametrize("name", sorted(FULL))
def test_full_sizes_start(name, tmp_path, capped_train):
    rep = get(name).run(tmp_path, full=True)
    assert rep.full and rep.figures and all(p.exists() for p in rep.figures)
    assert [(c["arch"], c["steps"], c["dtype"]) for c in capped_train] == FULL[name]
    if name == "mwe-fig9-net":
        assert all(c["batch"] == 500 for c in capped_train)
    if name == "mwe-fig8-net":
        assert capped_train[0]["grid"] == 8 and np.array(rep.values["regime"]).shape == (8, 8)


def test_full_sizes_of_fig10_and_fig2(tmp_path, capped_train):
    from adadyn.reproduce.networks import _dgm_setups

    setups = _dgm_setups(nn, True, 2000)
    assert [(s[2], s[3], s[1].n) for s in setups] == [([4, 200, 200, 1], "tanh", 2000),
                                                     ([2, 10, 10, 10, 1], "gelu", 2000)]
    get("mwe-fig2-net").run(tmp_path, full=True)
    # signGD at eta = 1e-5, then Adam and RMSprop at eta = 1e-3, 1e-4, 1e-5, each to time T = 0.2
    assert [c["steps"] for c in capped_train] == [20_000] + [200, 2000, 20_000] * 2


def test_full_with_local_data_reads_the_papers_sizes(tmp_path):
    """--full --data: Figure 1 left on 2 x 1000 CIFAR-10 images and Figure 8 on 10 x 1000
    Fashion-MNIST images with the 784-500x6-10 net; one minibatch step of each net starts."""
    import pickle

    import adadyn as ad
    from test_nn_problems import _idx

    from adadyn.reproduce.networks import fig1_left_setup, fig8_net_setup, two_class_setup

    rng = np.random.default_rng(0)
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    labels = np.repeat([0, 1, 2], [1000, 1000, 10])
    for name in ("data_batch_1", "test_batch"):
        with open(d / name, "wb") as fh:
            pickle.dump({b"data": rng.integers(0, 256, (labels.size, 3072), dtype=np.uint8),
                         b"labels": labels.tolist()}, fh, protocol=2)
    fl = np.repeat(np.arange(10), 1000)
    _idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (fl.size, 28, 28)), 2051)
    _idx(tmp_path / "train-labels-idx1-ubyte", fl, 2049)
    nn.set_num_threads(1)
    prob, widths, dt, steps, _ = fig1_left_setup(nn, True, 1.0, tmp_path)
    assert (prob.n, widths, dt, steps) == (2000, [3072, 256, 256, 128, 2], F64, 10_000)
    assert prob.data["X_test"].shape == (2000, 3072)
    su = fig8_net_setup(nn, True, 1.0, tmp_path)
    assert su["widths"] == [784] + [500] * 6 + [10] and su["problem"].n == 10_000 and su["steps"] == 20_000
    assert len(su["grid"]) == 8 and su["chunk_size"] == 4
    assert fig8_net_setup(nn, False, 1.0, tmp_path)["data"] == "digits"   # --data is used with --full
    paper = {"mwe-fig2-net": [256, 128, 64], "mwe-fig3-net": [256, 128, 64], "mwe-fig7-net": [256, 128, 64],
             "mwe-fig4-net": [256, 256, 128]}
    for name, hidden in paper.items():
        p, w, _ = two_class_setup(name, nn, True, tmp_path)
        assert p.n == 2000 and w == [3072, *hidden, 2]
        np.testing.assert_array_equal(p.data["X"].numpy(), prob.data["X"].numpy())   # Figure 1's images
        assert two_class_setup(name, nn, False, tmp_path)[0].in_dim == 64              # digits below --full
    for p, w in ((prob, widths), (su["problem"], su["widths"])):
        tr = nn.train(ad.Adam(1e-3), nn.mlp(w, seed=0, dtype=F32), p, 1, batch_size=8, dtype=F32)
        assert tr.status == "ok" and len(tr.loss) == 2
