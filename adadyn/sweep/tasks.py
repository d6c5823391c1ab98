"""Sweep tasks built into adadyn: any optimiser spec on any objective."""
from __future__ import annotations

import numpy as np

from adadyn.status import STATUS_CODES, Status
from adadyn.sweep.task import Task

__all__ = ["OptimizerTask", "decimation"]

_STATS = ("late_mean_log10_loss", "late_std_log10_loss", "late_min_loss", "late_max_loss", "final_loss")


def decimation(nrec: int, keep: int | None) -> np.ndarray:
    """Indices of ``keep`` evenly spaced records out of ``nrec`` (first and last
    included); all of them when ``keep`` is None or >= nrec."""
    if keep is None or keep >= nrec:
        return np.arange(nrec)
    return np.unique(np.round(np.linspace(0, nrec - 1, keep)).astype(np.int64))


class OptimizerTask(Task):
    """Run one optimiser spec on one objective at every grid point.

    Each point is ``opt.replace(**point)``: axes are the spec's hyperparameters
    (``eta``, ``eps``, ``beta1``, ...) or the memory rates ``a``, ``b``
    (beta2 = 1 - a*eta, beta1 = 1 - b*eta; Prop. 2 of Ma, Wu & E). Every point
    starts from ``x0`` with zero moments and runs ``steps`` steps of
    :func:`adadyn.discrete.run_grid`, so each point's history is bit-identical to
    :func:`adadyn.run` of that spec.

    Parameters
    ----------
    opt : Optimizer
        Template spec.
    obj : Objective
        Needs a recipe (:meth:`~adadyn.Objective.identity`) to be stored or sent
        to worker processes.
    x0 : ndarray, shape (d,)
    steps : int
    record_every : int
        Stride of the recorded loss histories.
    window : int, optional
        Late window (steps) of the ``late_*`` statistics (default ``max(1, steps // 10)``).
    history : int, optional
        Keep only this many evenly spaced records of each loss history (first
        and last included) in the ``loss`` output; None keeps all. Features are
        computed from the full history before it is thinned.
    full_history : bool
        Also write every record to the store as the store-only output
        ``loss_full`` (needs ``out=`` in :func:`~adadyn.sweep.run_sweep`).
    features : callable, optional
        ``features(loss (n, nrec), step (nrec,), diverged (n,) bool) -> dict`` of
        (with ``grad_norm`` (n, nrec) and ``step_size`` (n,) or None as keywords too
        when ``features.wants_gradient`` is true)
        per-point arrays named ``features.keys``; picklable (a module-level
        class instance), with an ``identity()`` string for the resume key.

    Outputs
    -------
    ``loss`` (n, len(step)), ``final_x`` (n, d), ``status`` (status codes),
    ``steps_done``, the late-window statistics of :class:`~adadyn.discrete.GridResult`,
    the feature arrays, ``grad_norm`` (|grad f| at the records kept, like ``loss``)
    when the features want the gradient, and ``loss_full`` with ``full_history``.

    Notes
    -----
    :meth:`run_all` is ``run_grid(parallel=True)`` (points spread over threads,
    vectorised across points where the objective has a batched gradient);
    :meth:`run_chunk` is ``run_grid(parallel=False)``, everything on the worker's
    own thread, as a worker that is already one per core should. Neither starts
    Numba's OpenMP runtime (a process forked after that runtime started cannot
    use it), and both give the same bits.
    """

    def __init__(self, opt, obj, x0, steps: int, *, record_every: int = 100, window: int | None = None,
                 history: int | None = None, full_history: bool = False, features=None):
        from adadyn.validation import check_int, check_objective, check_optimizer, check_x0

        check_optimizer(opt)
        check_objective(obj)
        self.opt, self.obj = opt, obj
        self.x0 = check_x0(x0, obj.dim)
        self.steps = check_int("steps", steps, 0)
        self.record_every = check_int("record_every", record_every, 1)
        self.window = max(1, self.steps // 10) if window is None else check_int("window", window, 1)
        self.history = None if history is None else check_int("history", history, 2)
        self.full_history = bool(full_history)
        self.features = features
        nrec = self.steps // self.record_every + 1
        self.full_step = self.record_every * np.arange(nrec)
        self.kept = decimation(nrec, self.history)
        self.step = self.full_step[self.kept]
        fkeys = tuple(features.keys) if features is not None else ()
        self._with_gradient = features is not None and bool(getattr(features, "wants_gradient", False))
        self.keys = ("loss", "final_x", "status", "steps_done") + _STATS + fkeys + (
            ("grad_norm",) if self._with_gradient else ()) + (("loss_full",) if self.full_history else ())
        self.store_only = ("loss_full",) if self.full_history else ()

    # -- the contract -----------------------------------------------------------
    def identity(self) -> dict:
        kind, hp = self.opt.kernel_params()
        return {"objective": self.obj.identity(), "opt": repr(self.opt), "kind": kind, "hp": hp,
                "schedule": repr(self.opt.schedule), "x0": self.x0, "steps": self.steps,
                "record_every": self.record_every, "window": self.window, "history": self.history,
                "full_history": self.full_history,
                "features": "" if self.features is None else self.features.identity()}

    def describe(self) -> dict:
        return {"task": "OptimizerTask", "objective": self.obj.name, "optimizer": repr(self.opt),
                "steps": self.steps, "record_every": self.record_every, "history": self.history}

    def point_bytes(self) -> int:
        return 8 * (2 * self.full_step.size + 4 * self.obj.dim + 16)

    def run_chunk(self, points: dict) -> dict:
        return self._run(points, parallel=False)

    def run_all(self, points: dict) -> dict:
        return self._run(points, parallel=True)

    # -- work ---------------------------------------------------------------------
    def _run(self, points: dict, parallel: bool) -> dict:
        from adadyn.discrete.grid import run_grid

        gr = run_grid(self.opt, self.obj, self.x0, self.steps, record_every=self.record_every,
                      window=self.window, parallel=parallel, **points)
        codes = np.empty(gr.status.shape, dtype=np.int64)
        for s in np.unique(gr.status):
            codes[gr.status == s] = STATUS_CODES[Status(s)]
        out = {"final_x": gr.final_x, "status": codes, "steps_done": gr.steps_done.astype(np.int64)}
        for k in _STATS:
            out[k] = getattr(gr, k)
        loss = gr.loss
        if self.features is not None:
            div = codes == STATUS_CODES[Status.DIVERGED]
            if self._with_gradient:
                out.update(self.features(loss, self.full_step, div, grad_norm=gr.grad_norm,
                                         step_size=self._step_sizes(points, loss.shape[0])))
            else:
                out.update(self.features(loss, self.full_step, div))
        full = self.kept.size == loss.shape[1]
        out["loss"] = loss if full else np.ascontiguousarray(loss[:, self.kept])
        if self._with_gradient:  # the features' other input, kept as the loss is
            out["grad_norm"] = gr.grad_norm if full else np.ascontiguousarray(gr.grad_norm[:, self.kept])
        if self.full_history:
            out["loss_full"] = loss
        return out

    def _step_sizes(self, points, n):
        """eta at each point when the optimiser steps by about eta per coordinate
        (:data:`adadyn.analysis.regimes.ETA_STEP_OPTIMIZERS`), else None."""
        from adadyn.analysis.regimes import ETA_STEP_OPTIMIZERS

        if self.opt.name not in ETA_STEP_OPTIMIZERS:
            return None
        if "eta" in points:
            return np.asarray(points["eta"], dtype=np.float64).reshape(n)
        return np.full(n, float(self.opt.eta))

    def __repr__(self) -> str:
        return f"OptimizerTask({self.opt!r}, {self.obj.name!r}, steps={self.steps})"
