"""The Filippov signGD flow's general (non-quadratic) path against the exact quadratic path:
the event margins of components that just left their surface (the platform-dependent stall)."""
import math

import numpy as np
import pytest

import adadyn as ad
from adadyn import flows
from adadyn.flows import filippov


def test_margins_of_just_left_components_start_positive():
    """A component that just left its surface has h = -u g ~ 0, possibly -1e-16 after
    rounding; its margin is offset by 2 ztol so min(margins) > 0 at a segment's start
    and the first zero is a real arrival."""
    g = np.array([1e-16, -0.3, 0.0, 2.0])
    u = np.array([1.0, 1.0, 0.2, -1.0])        # component 0 leaves with u = +1 while g > 0 by rounding
    S = np.array([False, False, True, False])
    left = np.array([True, False, False, False])
    h = filippov._margins(g, u, S, left, 1e-12)
    assert h[2] == np.inf
    assert h[0] == pytest.approx(2e-12 - 1e-16) and h[1] == pytest.approx(0.3) and h[3] == pytest.approx(2.0)
    assert np.min(h) > 0


@pytest.mark.parametrize("seed", range(12))
def test_general_path_matches_exact_path_on_random_quadratics(seed):
    """The same quadratic given with its matrix (closed-form segments) and as least squares
    (no declared matrix: per-segment DOP853 with events). Without the margin offset 2 of
    these 12 starts stalled on this platform: a missed arrival, after which the flow ran
    with the wrong sign and never stopped."""
    d = 6
    q = ad.objectives.random_quadratic(d, seed=seed)
    general = ad.objectives.least_squares(np.linalg.cholesky(q.A).T * math.sqrt(d), np.zeros(d))
    x0 = np.random.default_rng(seed + 100).standard_normal(d)
    exact = flows.solve(flows.SignGDFlow(), q, x0, 6.0)
    gen = flows.solve(flows.SignGDFlow(), general, x0, 6.0)
    assert exact.status == gen.status == "converged"
    assert abs(exact.stop_time - gen.stop_time) < 1e-8
    ts = np.linspace(0, 6.0, 25)
    np.testing.assert_allclose(gen.x_at(ts), exact.x_at(ts), atol=1e-8)


def test_signgd_time_limit_and_t_eval_size_are_bounded(quad10):
    x0 = np.random.default_rng(1).standard_normal(10)
    with pytest.raises(ValueError, match="t_eval has"):
        flows.solve(flows.SignGDFlow(), quad10, x0, 1.0, t_eval=np.linspace(0, 1, 10_000), max_bytes=10_000)
    general = ad.objectives.least_squares(np.linalg.cholesky(quad10.A).T * math.sqrt(10), np.zeros(10))
    sol = flows.solve(flows.SignGDFlow(), general, x0, 3.0, time_limit=1e-9)
    assert sol.status == "failed" and "time_limit" in sol.message and not sol.success
