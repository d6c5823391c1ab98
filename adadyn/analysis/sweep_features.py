"""Regime features of a sweep's loss histories, computed chunk by chunk in the workers.

Shared by :mod:`adadyn.analysis.hyper` (the general sweep) and
:mod:`adadyn.analysis.phase` (its (a, b) case), so that neither imports the other.
"""
from __future__ import annotations

import numpy as np

from adadyn.analysis.regimes import REGIMES, classify_many

__all__ = ["_classify_all", "_Features"]


def _classify_all(loss2d, step, f_star, diverged, classify_kw):
    """Classify every row of ``loss2d`` (G, n) recorded at ``step`` at once
    (:func:`adadyn.analysis.regimes.classify_many`: the labels of one
    :func:`~adadyn.analysis.classify` call per curve, compiled)."""
    diverged = np.asarray(diverged, dtype=bool).reshape(-1)
    return classify_many(loss2d, step, f_star=f_star, diverged=diverged, **dict(classify_kw or {}))


class _Features:
    """Regime features of a chunk's loss histories (an :class:`~adadyn.sweep.OptimizerTask`
    ``features`` hook: picklable, so it runs in the workers, on the full histories)."""

    keys = ("regime_code", "spike_count", "osc_amplitude", "level", "trend")
    def __init__(self, f_star, classify_kw):
        self.f_star = f_star
        self.classify_kw = dict(classify_kw)
        #: the gradient rules of :func:`~adadyn.analysis.regimes.classify` need |grad f| and
        #: eta, and a known minimum value (2 |f - f*| / |g| is then a distance)
        self.wants_gradient = f_star is not None

    def identity(self) -> str:
        return repr((self.f_star, sorted(self.classify_kw.items()), REGIMES, "gradient rules", "far steady falls"))

    def __call__(self, loss, step, diverged, grad_norm=None, step_size=None) -> dict:
        kw = dict(self.classify_kw)
        if self.f_star is not None and grad_norm is not None and step_size is not None:
            kw.update(grad_norm=grad_norm, step_size=step_size)
        r = _classify_all(loss, step, self.f_star, diverged, kw)
        return {"regime_code": np.asarray(r.code, dtype=np.int64),
                "spike_count": np.asarray(r.spike_count, dtype=np.int64),
                "osc_amplitude": np.asarray(r.osc_amplitude, dtype=np.float64),
                "level": np.asarray(r.level, dtype=np.float64), "trend": np.asarray(r.trend, dtype=np.float64)}
