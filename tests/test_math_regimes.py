"""Regime features against curves whose answer is known by construction (the
classifier's own thresholds are not restated): the oscillation frequency is in
cycles per optimiser step whatever the record stride."""
import numpy as np
import pytest

import adadyn as ad


@pytest.mark.parametrize("stride", [1, 5, 10])
@pytest.mark.parametrize("period", [50, 100, 400])
def test_oscillation_frequency_is_per_step(stride, period):
    """log10 loss = -6 + 0.5 sin(2 pi k / period) over 8000 steps, recorded every
    ``stride`` steps: one upward crossing of the (flat) baseline per period, so
    osc_frequency = 1 / period per step."""
    k = np.arange(0, 8001, stride)
    loss = 10.0 ** (-6.0 + 0.5 * np.sin(2 * np.pi * k / period + 0.3))
    reg = ad.analysis.classify(loss, k, f_star=0.0)
    dense = ad.analysis.classify(10.0 ** (-6.0 + 0.5 * np.sin(2 * np.pi * np.arange(8001) / period + 0.3)),
                                 f_star=0.0)
    assert reg.osc_frequency == pytest.approx(dense.osc_frequency, rel=0.05)
    # the late window holds 2000 steps: few slow cycles let the rolling baseline add a crossing
    assert reg.osc_frequency == pytest.approx(1.0 / period, rel=0.1 if period <= 100 else 0.25)
