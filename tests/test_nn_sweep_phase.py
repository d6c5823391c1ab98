"""adadyn.nn.sweep.phase_diagram: late statistics of blown-up points, memory budget, threads."""
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from adadyn import nn  # noqa: E402
from adadyn.nn import sweep as SW  # noqa: E402


def test_late_log10_stats_match_nanmean_and_nanstd_and_are_nan_without_finite_samples():
    loss = np.array([[1e-3, 1e-5, 1e-4, 1e-6],
                     [np.nan, np.nan, np.nan, np.nan],     # blew up before the late window
                     [1e-2, np.inf, 0.0, 1e-8],            # inf and 0 (log10 -inf) are not samples
                     [0.3, 0.3, 0.3, 0.3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, std = SW._late_log10_stats(loss)
    assert np.isnan(mean[1]) and np.isnan(std[1])
    np.testing.assert_allclose(mean[[0, 2, 3]], [-4.5, -5.0, np.log10(0.3)], rtol=1e-14)
    np.testing.assert_allclose(std[[0, 2, 3]], [np.sqrt(1.25), 3.0, 0.0], atol=1e-14)
    with np.errstate(divide="ignore"):
        lg = np.log10(loss[[0, 2]])
    lg[~np.isfinite(lg)] = np.nan
    np.testing.assert_allclose(mean[[0, 2]], np.nanmean(lg, axis=1), rtol=1e-14)
    np.testing.assert_allclose(std[[0, 2]], np.nanstd(lg, axis=1), rtol=1e-14)


def test_phase_diagram_of_runs_that_blow_up_at_once_warns_nothing():
    """Targets of 1e20 in float32: the first loss overflows, every point diverges at step 0."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (20, 2))
    big = nn.regression(X, np.full((20, 1), 1e20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pd = SW.phase_diagram(big, (2, 4, 1), [1.0, 10.0], [1.0], 1e-3, 8, dtype="float32", chunk_size=2)
    assert np.all(pd.status == "diverged") and np.all(np.isnan(pd.late_mean_log10_loss))
    assert np.all(np.isnan(pd.late_std_log10_loss))
    assert np.all(pd.regime == "divergence") and np.all(np.isnan(pd.final_loss))


def _small():
    return nn.sine_regression(30, 2, seed=1)


def test_memory_budget_refuses_a_grid_whose_records_do_not_fit_and_names_what_fits():
    """2 x 3 points x 11 records x 5 series x 8 bytes = 2640 bytes; record_every = 2 gives 6 records."""
    kw = dict(eta=1e-3, steps=10, chunk_size=6)
    a, b = [1.0, 2.0], [1.0, 2.0, 3.0]
    ok = SW.phase_diagram(_small(), (2, 3, 1), a, b, memory_budget=2640, **kw)    # exactly fits
    assert ok.loss.shape == (2, 3, 11)
    with pytest.raises(ValueError, match=r"memory_budget: 6 points x 11 records x 5 series take 2.64e\+03 bytes "
                                         r"> memory_budget = 2.64e\+03; use record_every >= 2"):
        SW.phase_diagram(_small(), (2, 3, 1), a, b, memory_budget=2639, **kw)
    with pytest.raises(ValueError, match="use record_every >= 3"):          # 6 x 5 x 8 x 4 = 960 <= 1000
        SW.phase_diagram(_small(), (2, 3, 1), a, b, memory_budget=1000, **kw)
    with pytest.raises(ValueError, match="fewer grid points"):              # even 2 records do not fit
        SW.phase_diagram(_small(), (2, 3, 1), a, b, memory_budget=100, **kw)
    with pytest.raises(ValueError, match="memory_budget"):
        SW.phase_diagram(_small(), (2, 3, 1), a, b, memory_budget=0, **kw)
    big = SW.phase_diagram(_small(), (2, 3, 1), a, b, memory_budget=None, **kw)   # no limit
    np.testing.assert_array_equal(big.loss, ok.loss)
    assert SW.RESULT_BUDGET == 2**30


@pytest.mark.parametrize("budget, steps, expect", [
    (10**6, 10**12, "record_every >= 500000000001"),   # 4e5 bytes a record: 2 records fit, closed form
    (10**6, 10**12 - 1, "record_every >= 500000000000"),
    (7 * 10**5, 10**12, "fewer grid points"),           # not even 2 records: answered without a search
])
def test_memory_budget_advice_is_closed_form_for_huge_step_counts(budget, steps, expect):
    # 10,000 points x 5 series x 8 bytes = 4e5 bytes a record; the smallest k with
    # 4e5 (steps // k + 1) <= budget; a search over k would not end
    with pytest.raises(ValueError, match=expect):
        SW._check_budget(budget, 10_000, steps, 1)


def test_phase_diagram_applies_the_thread_rule_and_restores_the_count(monkeypatch):
    """threads=2 is used while training and the count is restored; None follows the rule of
    torch_threads (the user's set_num_threads is kept), reported on pd.sweep."""
    from adadyn.nn import threads as TH

    seen = []
    real = SW.NetworkTask.run_chunk

    def spy(self, points):
        seen.append(torch.get_num_threads())
        return real(self, points)

    monkeypatch.setattr(SW.NetworkTask, "run_chunk", spy)   # run_all goes through it too
    before = torch.get_num_threads()
    pd = SW.phase_diagram(_small(), (2, 3, 1), [1.0], [1.0, 2.0], steps=5, threads=2)
    assert seen and set(seen) == {2} and torch.get_num_threads() == before
    assert pd.sweep.threads == 2 and pd.sweep.threads_reason == "2 (asked for)"
    seen.clear()
    monkeypatch.setitem(TH._torch_state, "user", False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    cores = TH._cores()
    monkeypatch.setitem(TH._torch_state, "default", cores)
    torch.set_num_threads(cores)
    try:   # torch's own default count: the rule picks 1 thread for this tiny network
        pd = SW.phase_diagram(_small(), (2, 3, 1), [1.0], [1.0, 2.0], steps=5)
        assert set(seen) == {1} and pd.sweep.threads == 1 and "small network" in pd.sweep.threads_reason
        assert torch.get_num_threads() == cores
        work = 6.0 * 30 * (3 * 3 + 4 * 1) * 2          # 6 n params x the chunk's 2 networks
        assert f"{work:.2g} flop per step" in pd.sweep.threads_reason
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads"):
        SW.phase_diagram(_small(), (2, 3, 1), [1.0], [1.0], steps=5, threads=0)
