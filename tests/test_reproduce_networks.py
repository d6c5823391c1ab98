"""The network reproductions of Ma, Wu & E (adadyn.reproduce.networks) at tiny scale.

The reported numbers are checked against a bare torch loop (torch.optim.Adam with
betas (1 - b eta, 1 - a eta), the paper's a, b), and the verdicts against the rows.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from adadyn import nn  # noqa: E402
from adadyn.reproduce import get  # noqa: E402
from adadyn.reproduce.networks import SPIKE_RISES  # noqa: E402
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
    x0 = float(torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters())))
    ref = bare_adam(model, nn.digits(2).to(dtype=torch.float64), 1e-3, 10.0, 10.0, 200)
    x1 = float(torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters())))
    w = rep.values["a10_b10"]
    assert w["final_loss"] == pytest.approx(ref, rel=1e-9)
    # the parameter norm |x| at the start and the end, and its growth, are the bare loop's
    assert (w["x_norm_start"], w["x_norm_end"]) == (pytest.approx(x0, rel=1e-12), pytest.approx(x1, rel=1e-9))
    assert w["x_growth"] == pytest.approx(x1 / x0, rel=1e-9)
    # the rules of the third row: label divergence, late loss >= 1e3 x the (10, 10) run's, |x| grew 1e3-fold
    third = rep.rows[2]
    v = rep.values["a100_b1"]
    ratio = v["late_loss"] / rep.values["a10_b10"]["late_loss"]
    assert rep.values["large_over_oscillation"] == pytest.approx(ratio)
    assert v["x_growth"] == pytest.approx(v["x_norm_end"] / v["x_norm_start"])
    assert third.ok == (v["label"] == "divergence" or ratio >= 1e3 or v["x_growth"] >= 1e3)
    assert rep.rows[0].ok == (rep.values["a1_b100"]["label"] == "spike")
    by = rep.values["large_passed_by"]     # which rule passed is said
    assert by == [w for w, hit in (("label divergence", v["label"] == "divergence"),
                                   ("late loss >= 1e3 x (10, 10)'s", ratio >= 1e3),
                                   ("|x| grew >= 1000-fold (blew up)", v["x_growth"] >= 1e3)) if hit]
    assert ("passed by: no rule" in third.note) == (not by)
    assert f"|x| grew {v['x_growth']:.2g}-fold" in third.note
    # the controls: the large-loss rules on (1, 100), the spike label on the other two
    c = rep.values["a1_b100"]["late_loss"] / rep.values["a10_b10"]["late_loss"]
    assert rep.values["control_spike_over_oscillation"] == pytest.approx(c)
    assert rep.rows[3].ok == (c < 1e3 and rep.values["a1_b100"]["x_growth"] < 1e3
                              and rep.values["a1_b100"]["label"] != "divergence")
    assert rep.rows[4].ok == (rep.values["a10_b10"]["label"] != "spike" and v["label"] != "spike")


def test_norm_growth_is_last_over_first_and_inf_once_non_finite():
    from adadyn.reproduce.networks import FIG7_X_GROWTH, norm_growth

    assert norm_growth([2.0, 3.0, 2e3]) == 1e3 and norm_growth([2.0, 1.0]) == 0.5
    assert norm_growth([2.0, 5.0, np.inf]) == np.inf and norm_growth([2.0, np.nan]) == np.inf
    assert norm_growth([0.0, 1.0]) == np.inf and np.isnan(norm_growth([]))
    assert FIG7_X_GROWTH == 1e3


def _fig10_expected_oks(v, SPIKE_RISES):
    """The rows of mwe-fig10 recomputed from its own numbers (FIG10_RULE)."""
    oks = []
    for name in ("square", "unit"):
        d, q = v[f"{name}_a2_b200"], v[f"{name}_a20_b20"]
        holds = [c["label"] == "spike" and c["rises"] >= SPIKE_RISES for c in (d, q)]
        oks += [holds[0], not holds[1],
                q["late_loss"] < d["late_loss"] and q["late_test_error"] < d["late_test_error"]]
    return oks


def test_fig10_rows_apply_the_spike_rule_and_match_a_bare_torch_adam_loop(tmp_path):
    from adadyn.reproduce.networks import FIG10_DEFAULT, SPIKE_RISES

    rep = get("mwe-fig10").run(tmp_path, scale=50 / FIG10_DEFAULT[0])   # 50 steps of each run
    assert rep.figures and all(p.exists() and p.stat().st_size > 1000 for p in rep.figures)
    v = rep.values
    assert (v["steps"], v["dtype"]) == (50, "float32")
    oks = _fig10_expected_oks(v, SPIKE_RISES)
    assert [r.ok for r in rep.rows] == oks
    assert rep.verdict == ("does not reproduce" if not (oks[0] or oks[3]) else verdict_from(oks))
    nn.set_num_threads(1)
    prob = nn.poisson_disc(400, 400, n_test=2000)
    model = nn.mlp([2, 10, 10, 10, 1], "gelu", seed=0, dtype=torch.float32)
    ref = bare_adam(model, prob.to(dtype=torch.float32), 5e-4, 2.0, 200.0, 50)
    got = v["unit_a2_b200"]
    assert got["final_step"] == 50
    assert got["final_loss"] == pytest.approx(ref, rel=1e-4)


@pytest.mark.parametrize("spikes, want", [
    ((True, True, True, True, True, True), "reproduces"),
    ((True, True, False, True, True, True), "partly"),
    ((False, True, True, True, True, True), "partly"),
    ((False, True, True, False, True, True), "does not reproduce"),   # controls and a ~ b rows pass
    ((False, False, False, False, False, False), "does not reproduce"),
])
def test_fig10_verdict_needs_the_default_to_spike(spikes, want):
    from adadyn.reproduce.networks import fig10_verdict
    from adadyn.reproduce.registry import Reproduction

    rep = Reproduction("mwe-fig10", "p", "c")
    for name, i in (("square", 0), ("unit", 3)):
        rep.add(f"{name}, a = 2, b = 200: spike-train rule", "spikes", "m", spikes[i])
        rep.add(f"{name}, a = 20, b = 20: spike-train rule (control: must fail)", "none", "m", spikes[i + 1])
        rep.add(f"{name}: late loss and test error, (20, 20) vs (2, 200)", "lower", "m", spikes[i + 2])
    assert fig10_verdict(rep) == want
    assert "2, 200" in rep.criterion and "20, 20" in rep.criterion


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


def test_fig1_sine_rows_apply_the_spike_rule_to_claim_and_control(tmp_path):
    from adadyn.reproduce._common import rises
    from adadyn.reproduce.networks import SPIKE_RISES

    rep = get("mwe-fig1-sine").run(tmp_path, scale=0.005)   # 200 steps of each run
    check_verdict(rep)
    v = rep.values
    assert (v["n"], v["steps"], v["dtype"]) == (500, 200, "float32")
    claim, ctrl = v["a1_b100"], v["a10_b10"]
    holds = [c["label"] == "spike" and c["rises"] >= SPIKE_RISES for c in (claim, ctrl)]
    assert [r.ok for r in rep.rows] == [holds[0], not holds[1]]
    # the first 200 steps of the control (beta1 = beta2 = 0.99), by torch.optim.Adam directly
    nn.set_num_threads(1)
    model = nn.mlp([5, 100, 100, 1], "relu", seed=0, dtype=torch.float32)
    ref = bare_adam(model, nn.sine_regression(500, 5).to(dtype=torch.float32), 1e-3, 10.0, 10.0, 200)
    assert ctrl["final_loss"] == pytest.approx(ref, rel=1e-4)


def test_rises_counts_climbs_of_two_decades_above_the_running_minimum():
    from adadyn.reproduce._common import rises

    base = [1.0, 1e-3]
    # 1e-3 -> 0.1 is exactly 2 decades (counts); 1e-3 -> 0.0999 is not
    assert rises(base + [1e-1, 1e-3], start=0.0) == 1
    assert rises(base + [0.0999, 1e-3], start=0.0) == 0
    # a spike train: three climbs; the running minimum falls, so later climbs are measured from lower
    train = base + [0.2, 1e-4, 0.011, 1e-5, 0.0011, 1e-6]
    assert rises(train, start=0.0) == 3
    assert rises(train, decades=2.2, start=0.0) == 1   # climbs of 2.30, 2.04, 2.04 decades
    # climbs before start * len are not counted; a blow-up counts once; non-finite samples are dropped
    assert rises(train, start=0.5) == 2
    assert rises([1.0, 1e-3, 1.0, 1e3, 1e6], start=0.0) == 1
    assert rises([1.0, 0.5, 60.0, 0.4, 0.3, 50.0, 40.0, 0.2, 0.1], start=0.0) == 2
    assert rises([1.0, np.nan, 1e-3, np.inf, 1.0], start=0.0) == 1


class _PD:
    """What fig8_rules reads from a phase diagram."""

    def __init__(self, regime, L, status=None, loss=None):
        self.regime = np.array(regime)
        self.late_mean_log10_loss = np.array(L, dtype=float)
        self.status = np.full(self.regime.shape, "ok", dtype=object) if status is None else np.array(status)
        self.loss = np.ones(self.regime.shape + (10,)) if loss is None else loss


def test_fig8_rules_at_and_beside_their_thresholds():
    from adadyn.reproduce.networks import fig8_rules

    grid = np.array([1.0, 10.0, 100.0])
    reg = [["oscillation", "oscillation", "spike"], ["divergence", "convergence", "oscillation"],
           ["oscillation", "oscillation", "oscillation"]]
    # a ~ b median: -8; (10, 1) labelled divergence; (100, 1) exactly 2 decades above; (100, 10) just below
    L = [[-8, -7, -7], [-9, -8, -6.0001], [-6.0, -6.0001, -7]]
    spiky = np.ones((3, 3, 10))
    spiky[0, 2] = [1, 1e-3, 0.2, 1e-4, 0.011, 1e-5, 0.0011, 1e-6, 1e-6, 1e-6]   # three climbs
    r = fig8_rules(_PD(reg, L, loss=spiky), grid)
    assert r["ref"] == -8.0
    assert r["large"].tolist() == [[False] * 3, [True, False, False], [True, False, False]]
    assert r["spike"].tolist() == [[False, False, True], [False] * 3, [False] * 3]
    assert r["small"][2, 1] and not r["small"][1, 0]
    assert r["b_gg_a"].sum() == 1 and r["near"].sum() == 3 and r["a_gg_b"].sum() == 3
    assert r["b_le_a"].sum() == 6 and r["b_ge_10a"].sum() == 3
    spiky[0, 2, 6:] = 1e-5                                                         # now only two climbs
    assert not fig8_rules(_PD(reg, L, loss=spiky), grid)["spike"][0, 2]
    # a blown-up point (non-finite loss) is large and never small, whatever its label
    lo = np.ones((3, 3, 10))
    lo[2, 2, 5:] = np.nan
    r = fig8_rules(_PD(reg, L, loss=lo), grid)
    assert r["large"][2, 2] and not r["small"][2, 2] and r["blew"].sum() == 1


def test_fig8_rules_on_the_default_3_x_4_grid():
    """a in {1, 10, 100}, b in {1, 10, 100, 1000}: three points in each claim region."""
    from adadyn.reproduce.networks import FIG8_A, FIG8_B, fig8_rules

    a, b = np.array(FIG8_A), np.array(FIG8_B)
    reg = np.full((3, 4), "oscillation")
    L = np.full((3, 4), -5.0)
    r = fig8_rules(_PD(reg, L), a, b)
    pts = {k: sorted((float(a[i]), float(b[j])) for i, j in zip(*np.nonzero(r[k])))
           for k in ("b_gg_a", "near", "a_gg_b", "b_le_a", "b_ge_10a")}
    assert pts["b_gg_a"] == [(1, 100), (1, 1000), (10, 1000)]
    assert pts["near"] == [(1, 1), (10, 10), (100, 100)]
    assert pts["a_gg_b"] == [(10, 1), (100, 1), (100, 10)]
    assert pts["b_le_a"] == [(1, 1), (10, 1), (10, 10), (100, 1), (100, 10), (100, 100)]
    assert pts["b_ge_10a"] == [(1, 10), (1, 100), (1, 1000), (10, 100), (10, 1000), (100, 1000)]
    assert r["climbs"].shape == (3, 4) and not r["climbs"].any()


def test_fig8_net_rows_are_recomputed_from_the_rules(tmp_path):
    from adadyn.reproduce._common import rises
    from adadyn.reproduce.networks import FIG8_CLAIMS

    rep = get("mwe-fig8-net").run(tmp_path, scale=0.02)
    check_verdict(rep)
    v = rep.values
    a, b = np.array(v["a"]), np.array(v["b"])
    assert a.tolist() == [1.0, 10.0, 100.0] and b.tolist() == [1.0, 10.0, 100.0, 1000.0]
    fm = v["data"].startswith("Fashion-MNIST")
    assert v["widths"] == ([196] + [64] * 6 + [10] if fm else [64] + [50] * 6 + [2])
    assert v["n"] == (200 if fm else nn.digits(2).n)
    spike, blew = np.array(v["spike"]), np.array(v["blew_up"])
    regime, climbs = np.array(v["regime"]), np.array(v["climbs"])
    assert np.array_equal(spike, (regime == "spike") & (climbs >= 3))
    claim_rows = [r for r in rep.rows if r.ok is not None]
    context = [r for r in rep.rows if r.ok is None]
    assert len(claim_rows) == 2 * len(FIG8_CLAIMS) and len(context) == 12   # a row per grid point
    A, B = np.meshgrid(a, b, indexing="ij")
    for row, (i, j) in zip(context, np.ndindex(3, 4)):
        assert row.quantity.startswith(f"point a = {A[i, j]:g}, b = {B[i, j]:g} (")
        assert row.measured.startswith(f"{regime[i, j]}, {climbs[i, j]} climbs >= 2 decades")
        assert ("blew up" in row.measured) == bool(blew[i, j])
    # spike claim: b >= 100 a, three points; control: the six points with b <= a
    r = B / A
    assert claim_rows[0].ok == (np.mean(spike[r >= 100]) >= 2 / 3)
    assert claim_rows[1].ok == (np.mean(spike[r <= 1]) <= 1 / 3)
    L = np.array(v["late_mean_log10_loss"], dtype=float)
    assert v["median_late_log10_near"] == pytest.approx(float(np.nanmedian(L[(r >= 1 / 3) & (r <= 3)])))
    assert v["spike_share_claim"] == pytest.approx(np.mean(spike[r >= 100]))
    large_ctrl = [r for r in claim_rows if r.quantity.startswith("control: b >= 10 a")]
    assert len(large_ctrl) == 1 and large_ctrl[0].ok == (v["large_share_control"] <= 1 / 3)
    assert v["large_share_control"] >= np.mean(blew[r >= 10])   # a blown-up point is large
    assert rises([1.0, 1e-3, 1.0, 1e-3, 1.0, 1e-3, 1.0], start=0.0) == 3


def test_fig2_net_rows_follow_the_gaps(tmp_path):
    rep = get("mwe-fig2-net").run(tmp_path, scale=0.02)
    check_verdict(rep)
    for row, key in zip(rep.rows, ("adam_gaps", "rmsprop_gaps")):
        gaps = rep.values[key]
        assert len(gaps) == 3 and all(np.isfinite(gaps)) and min(gaps) >= 0
        order = np.polyfit([-3.0, -4.0, -5.0], np.log10(gaps), 1)[0]
        assert rep.values[key.replace("gaps", "order")] == pytest.approx(order, rel=1e-9)
        assert row.ok == (order >= 0.5)


def test_gap_order_is_the_log_log_slope():
    from adadyn.reproduce.networks import gap_order

    etas = [1e-3, 1e-4, 1e-5]
    assert gap_order(etas, [1e-3 * 7, 1e-4 * 7, 1e-5 * 7]) == pytest.approx(1.0)
    assert gap_order(etas, [0.17, 0.17 * 10 ** -0.5, 0.017]) == pytest.approx(0.5)
    assert gap_order(etas, [0.17, 0.132, 0.124]) == pytest.approx(0.0684, abs=1e-3)   # the gaps of before
    assert np.isnan(gap_order(etas, [0.1, 0.0, 0.1]))


def test_fig4_net_early_ratio_matches_torch_rmsprop(tmp_path):
    from adadyn.reproduce._common import fashion_mnist_or_none
    from adadyn.reproduce.networks import SPIKE_RISES, fig4_setup

    rep = get("mwe-fig4-net").run(tmp_path, scale=0.02)   # 120 steps (Fashion-MNIST) or 200 (digits)
    check_verdict(rep)
    v = rep.values
    spiky = v["label"] == "spike" and v["rises"] >= SPIKE_RISES
    assert [r.ok for r in rep.rows] == [v["early_ratio"] <= 0.1, v["sign_flip_share"] >= 0.2, spiky]
    nn.set_num_threads(1)
    prob, widths, steps, dt, what = fig4_setup(nn, False, 0.02)
    assert v["data"] == what and v["steps"] == steps
    assert what.startswith("Fashion-MNIST") == (fashion_mnist_or_none(nn, None, classes=(0, 1), per_class=1)
                                                is not None)
    prob = prob.to(dtype=torch.float32)
    model = nn.mlp(widths, "relu", seed=0, dtype=torch.float32)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.99, eps=1e-8)
    losses = []
    for _ in range(steps // 10 + 1):
        opt.zero_grad()
        loss = prob.loss(model)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
    assert v["early_ratio"] == pytest.approx(losses[-1] / losses[0], rel=1e-4)


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
    assert v["data"].startswith("2-class digits") and v["widths"] == [64, 256, 256, 128, 2] and v["steps"] == 100
    nn.set_num_threads(1)
    ref = bare_adam_record(nn.mlp(v["widths"], "relu", seed=0, dtype=torch.float32),
                           nn.digits(2).to(dtype=torch.float32), 100)
    d, c = v["a1_b100"], v["a10_b10"]
    assert d["final_loss"] == pytest.approx(ref[-1], rel=1e-4)
    assert d["largest_rise"] == pytest.approx(rise_by_loop(ref), abs=1e-3)
    # the verdict rows are the spike-train rule: it must hold for (1, 100) and fail for (10, 10);
    # the largest rise and the test error are context (no verdict)
    holds = [d["label"] == "spike" and d["rises"] >= SPIKE_RISES, c["label"] == "spike" and c["rises"] >= SPIKE_RISES]
    assert [r.ok for r in rep.rows] == [None, None, None, None, holds[0], not holds[1]]


def test_fig1_left_reads_cifar10_batches_given_by_data(tmp_path):
    from test_nn_problems import _cifar_files

    _cifar_files(tmp_path, n_per_batch=200, seed=3)   # ~20 images of each class per batch
    from adadyn.reproduce import run_all

    (rep,), index = run_all(tmp_path / "out", scale=0.01, names=["mwe-fig1-left"], data=tmp_path)  # 10/class
    assert "Figure 1 left on CIFAR-10" in index.read_text()
    check_verdict(rep)
    v = rep.values
    assert v["data"].startswith("CIFAR-10") and v["n"] == 20 and v["widths"] == [3072, 256, 256, 128, 2]
    nn.set_num_threads(1)
    prob = nn.cifar10(tmp_path, classes=(0, 1), per_class=10, test_per_class=10).to(dtype=torch.float32)
    ref = bare_adam_record(nn.mlp(v["widths"], "relu", seed=0, dtype=torch.float32), prob, 100)
    assert v["a1_b100"]["final_loss"] == pytest.approx(ref[-1], rel=1e-3)
    assert v["a1_b100"]["largest_rise"] == pytest.approx(rise_by_loop(ref), abs=1e-3)
    assert 0.0 <= v["a1_b100"]["final_test_error"] <= 1.0


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
    "mwe-fig1-sine": [((5, 100, 100, 1), 150_000, F64)] * 2,
    "mwe-fig4-net": [((64, 256, 256, 128, 2), 10_000, F64)],
    "mwe-fig1-left": [((64, 256, 256, 128, 2), 10_000, F64)] * 2,
    "mwe-fig9-net": [(("conv", (16, 32), (64,)), 20_000, F64)] * 2,
    "mwe-fig8-net": [((64, 50, 50, 50, 50, 50, 50, 2), 20_000, "float32")],
}


@pytest.mark.parametrize("name", sorted(FULL))
def test_full_sizes_start(name, tmp_path, capped_train, monkeypatch):
    import adadyn.reproduce.networks as N

    monkeypatch.setattr(N, "fashion_mnist_or_none", lambda *a, **k: None)   # the digits network at --full
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
    fl_images = rng.integers(0, 256, (fl.size, 28, 28))
    _idx(tmp_path / "train-images-idx3-ubyte", fl_images, 2051)
    _idx(tmp_path / "train-labels-idx1-ubyte", fl, 2049)
    nn.set_num_threads(1)
    prob, widths, dt, steps, _ = fig1_left_setup(nn, True, 1.0, tmp_path)
    assert (prob.n, widths, dt, steps) == (2000, [3072, 256, 256, 128, 2], F64, 10_000)
    assert prob.data["X_test"].shape == (2000, 3072)
    su = fig8_net_setup(nn, True, 1.0, tmp_path)
    assert su["widths"] == [784] + [500] * 6 + [10] and su["problem"].n == 10_000 and su["steps"] == 20_000
    assert len(su["a"]) == len(su["b"]) == 8 and su["chunk_size"] == 4 and su["problem"].in_dim == 784
    small = fig8_net_setup(nn, False, 1.0, tmp_path)   # default scale: 10 x 20 images at 14 x 14, 196-64x6-10
    assert small["problem"].n == 200 and small["widths"] == [196] + [64] * 6 + [10] and small["steps"] == 8000
    assert small["data"] == f"Fashion-MNIST ({tmp_path})" and list(small["a"]) == [1.0, 10.0, 100.0]
    assert list(small["b"]) == [1.0, 10.0, 100.0, 1000.0] and small["chunk_size"] == 12
    X = fl_images[np.concatenate([np.flatnonzero(fl == c)[:20] for c in range(10)])] / 255.0
    np.testing.assert_allclose(small["problem"].data["X"].numpy(),
                               X.reshape(200, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(200, 196), rtol=1e-12)
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


def test_fashion_mnist_is_found_in_order_data_autodiscovery_system_dir(tmp_path, monkeypatch):
    """fashion_mnist_or_none: --data first, then nn.fashion_mnist() without a path, then the
    Debian package's directory, else None (the caller's fallback)."""
    import adadyn.reproduce._common as C
    from test_nn_problems import _idx

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 3)
    for d in ("given", "system"):
        (tmp_path / d).mkdir()
        _idx(tmp_path / d / "train-images-idx3-ubyte", rng.integers(0, 256, (30, 28, 28)), 2051, gz=d == "system")
        _idx(tmp_path / d / "train-labels-idx1-ubyte", labels, 2049, gz=d == "system")
    kw = dict(classes=(0, 1), per_class=2)
    prob, where = C.fashion_mnist_or_none(nn, tmp_path / "given", **kw)
    assert prob.n == 4 and where == str(tmp_path / "given")
    real = nn.fashion_mnist

    def no_autodiscovery(path=None, *a, **k):
        if path is None:
            raise TypeError("path is required")
        return real(path, *a, **k)

    monkeypatch.setattr(nn, "fashion_mnist", no_autodiscovery)
    monkeypatch.setattr(C, "FASHION_SYSTEM_DIR", tmp_path / "system")
    prob, where = C.fashion_mnist_or_none(nn, None, **kw)
    assert prob.n == 4 and where == str(tmp_path / "system")
    monkeypatch.setattr(C, "FASHION_SYSTEM_DIR", tmp_path / "absent")
    assert C.fashion_mnist_or_none(nn, None, **kw) is None
    monkeypatch.setattr(nn, "fashion_mnist", lambda path=None, **k: real(tmp_path / "given", **k))
    prob, where = C.fashion_mnist_or_none(nn, None, **kw)   # auto-discovery, when nn offers it
    assert prob.n == 4 and where == "found by nn.fashion_mnist()"


def test_fashion_mnist_pool_averages_pixel_blocks(tmp_path):
    """fashion_mnist(pool=k): each image averaged over k x k blocks (mwe-fig8-net's 14 x 14 default)."""
    from test_nn_problems import _idx

    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (20, 28, 28))
    labels = np.tile(np.arange(10), 2)
    _idx(tmp_path / "train-images-idx3-ubyte", imgs, 2051)
    _idx(tmp_path / "train-labels-idx1-ubyte", labels, 2049)
    _idx(tmp_path / "t10k-images-idx3-ubyte", imgs[::-1], 2051)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", labels[::-1], 2049)
    full = nn.fashion_mnist(tmp_path, classes=(3, 7), per_class=2, test_per_class=1)
    for k in (2, 4, 7):
        p = nn.fashion_mnist(tmp_path, classes=(3, 7), per_class=2, test_per_class=1, pool=k)
        m = 28 // k
        assert p.in_dim == m * m and f"{m} x {m}" in p.name
        for key in ("X", "X_test"):
            Z = full.data[key].numpy().reshape(-1, 28, 28)
            want = np.array([[Z[:, i * k:(i + 1) * k, j * k:(j + 1) * k].mean(axis=(1, 2)) for j in range(m)]
                             for i in range(m)]).transpose(2, 0, 1).reshape(-1, m * m)
            np.testing.assert_allclose(p.data[key].numpy(), want, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(p.data["Y"].numpy(), full.data["Y"].numpy())
    # the pixel (0, 0) block of image 0 by hand
    p2 = nn.fashion_mnist(tmp_path, classes=(3, 7), per_class=2, pool=2)
    first = imgs[np.flatnonzero(labels == 3)[0]]
    assert p2.data["X"][0, 0].item() == pytest.approx(first[:2, :2].mean() / 255.0, rel=1e-12)
    assert nn.fashion_mnist(tmp_path, classes=(3, 7), per_class=2, pool=2, images=True).data["X"].shape == \
        (4, 1, 14, 14)
    for bad in (0, 3, 5, 2.0, True, 56):
        with pytest.raises(ValueError, match="pool must be a divisor of 28"):
            nn.fashion_mnist(tmp_path, classes=(3, 7), per_class=2, pool=bad)
