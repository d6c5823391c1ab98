"""eps = 0 at a coordinate where the gradient vanishes: the update m / sqrt(v) is 0 / 0.

The discrete run ends ``failed`` with a 0/0 message (tests/test_hardening*); the flow solve must say
the same thing rather than "diverged", and ``compare`` must refuse a run that covers no time with
a message naming why, not fail inside NumPy.
"""
import numpy as np
import pytest

import adadyn as ad
from adadyn.status import Status


@pytest.fixture(scope="module")
def quad():
    return ad.objectives.quadratic(np.diag([1.0, 2.0]))


@pytest.mark.parametrize("opt", [ad.Adam(eta=1e-2, eps=0.0), ad.Adam(eta=1e-2, eps=0.0, bias_correction=False)])
def test_flow_zero_over_zero_is_failed_not_diverged(quad, opt):
    sol = ad.flows.solve(ad.flows.limit(opt), quad, x0=[1.0, 0.0], t_final=1.0)
    assert sol.status == Status.FAILED
    assert "0/0" in sol.message and "1 of 2 coordinates" in sol.message
    assert np.all(np.isfinite(sol.x))


def test_flow_eps_zero_away_from_stationary_coordinates_runs(quad):
    opt = ad.Adam(eta=1e-2, eps=0.0)
    sol = ad.flows.solve(ad.flows.limit(opt), quad, x0=[1.0, 0.5], t_final=1.0)
    assert sol.status == Status.OK and sol.t_end == pytest.approx(1.0)


def test_compare_refuses_a_run_that_covers_no_time(quad):
    opt = ad.Adam(eta=1e-2, eps=0.0)
    tr = ad.run(opt, quad, x0=[1.0, 0.0], steps=100)
    assert tr.status == Status.FAILED and tr.loss.shape == (1,)
    sol = ad.flows.solve(ad.flows.limit(opt), quad, x0=[1.0, 0.0], t_final=1.0)
    with pytest.raises(ValueError, match=r"traj covers no time after t = 0.*0/0 at step 1"):
        ad.analysis.compare(tr, sol, scaling="rates")


def test_compare_still_works_with_eps_zero_off_the_stationary_set(quad):
    # the closed form of the early Adam flow: every coordinate moves at speed eta per step (Prop. 3),
    # so the gap of a 100-step run to its flow is O(eta) and well below the distance travelled (~1)
    opt = ad.Adam(eta=1e-2, eps=0.0)
    tr = ad.run(opt, quad, x0=[1.0, 0.5], steps=100)
    sol = ad.flows.solve(ad.flows.limit(opt), quad, x0=[1.0, 0.5], t_final=1.0)
    c = ad.analysis.compare(tr, sol, scaling="rates")
    assert c.T == pytest.approx(1.0) and 0 < c.gap_x < 0.05
