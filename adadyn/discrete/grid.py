"""Many runs at once: :func:`run_grid` over arrays of hyperparameters.

One independent run per grid point inside a Numba ``prange``: each point runs
exactly the code :func:`adadyn.run` runs, so results are bit-identical to
running the point alone, at any thread count.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn.discrete import kernels as K
from adadyn.discrete.run import _box, _check_args, check_x0
from adadyn.discrete.kernels_soa import grid_soa_kernel, soa_supported
from adadyn.discrete.specs import Optimizer


def with_params(opt: Optimizer, **vals) -> Optimizer:
    """``opt`` with hyperparameters replaced; ``a``/``b`` are the memory rates
    (beta2 = 1 - a*eta, beta1 = 1 - b*eta, RMSprop alpha = 1 - a*eta) at the new eta."""
    vals = {k: float(v) for k, v in vals.items()}
    eta = vals.pop("eta", opt.eta)
    changes = {"eta": eta}
    a = vals.pop("a", None)
    b = vals.pop("b", None)
    if a is not None:
        if hasattr(opt, "beta2"):
            changes["beta2"] = 1.0 - a * eta
        elif hasattr(opt, "alpha"):
            changes["alpha"] = 1.0 - a * eta
        else:
            raise ValueError(f"{opt.name} has no memory rate 'a'")
    if b is not None:
        if not hasattr(opt, "beta1"):
            raise ValueError(f"{opt.name} has no memory rate 'b'")
        changes["beta1"] = 1.0 - b * eta
    for k, v in vals.items():
        if k not in opt.__dataclass_fields__:
            raise ValueError(f"unknown hyperparameter {k!r} for {opt.name}; "
                             f"known: {sorted(opt.__dataclass_fields__) + ['a', 'b']}")
        changes[k] = v
    return opt.replace(**changes)


@dataclass(frozen=True, eq=False)
class GridResult:
    """Runs over a grid of hyperparameters (arrays have the grid's shape first).

    ``loss[..., j]`` is the loss after ``step[j]`` steps (NaN after a divergence);
    the ``late_*`` statistics are over the last ``window`` steps actually taken
    (every step, not only recorded ones): mean and standard deviation of
    log10|f|, min and max of f.
    """

    params: dict
    loss: np.ndarray
    step: np.ndarray
    final_x: np.ndarray
    status: np.ndarray
    steps_done: np.ndarray
    late_mean_log10_loss: np.ndarray
    late_std_log10_loss: np.ndarray
    late_min_loss: np.ndarray
    late_max_loss: np.ndarray
    final_loss: np.ndarray
    window: int
    opts: np.ndarray = field(repr=False)

    @property
    def shape(self):
        return self.status.shape

    def __repr__(self):
        counts = {s: int(np.sum(self.status == s)) for s in np.unique(self.status)}
        return f"GridResult(shape={self.shape}, params={list(self.params)}, status={counts})"


def run_grid(opt: Optimizer, obj, x0, steps: int, *, record_every: int = 100, window: int | None = None,
             **params) -> GridResult:
    """Run ``opt`` at every point of a hyperparameter grid, in parallel.

    Parameters
    ----------
    opt : Optimizer
        Template spec; the grid replaces some of its hyperparameters.
    obj : Objective
    x0 : array_like
        Shape (d,) for a common start, or grid shape + (d,).
    steps : int
    record_every : int
        Stride of the recorded loss histories.
    window : int, optional
        Late window (in steps) for the statistics; default ``max(1, steps // 10)``.
    **params : array_like
        Hyperparameter arrays, broadcast together to the grid shape, e.g.
        ``a=A, b=B`` with ``A, B = np.meshgrid(...)`` or ``eta=[1e-3, 1e-2]``.
    """
    _check_args(opt, obj)
    if not params:
        raise ValueError("give at least one hyperparameter array, e.g. a=..., b=...")
    steps, record_every = int(steps), int(record_every)
    if steps < 0 or record_every < 1:
        raise ValueError(f"need steps >= 0 and record_every >= 1, got {steps}, {record_every}")
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in params.values()])
    shape = arrays[0].shape
    G = int(np.prod(shape)) if shape else 1
    flat = [a.reshape(-1) for a in arrays]
    opts = np.empty(G, dtype=object)
    HP = np.empty((G, K.N_HP))
    for gi in range(G):
        o = with_params(opt, **{k: f[gi] for k, f in zip(params, flat)})
        opts[gi] = o
        kind, HP[gi] = o.kernel_params()
    d = obj.dim
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.shape == (d,):
        X0 = np.tile(check_x0(x0, d), (G, 1))  # writable: Numba rejects read-only views
    elif x0.shape == shape + (d,):
        X0 = np.ascontiguousarray(x0.reshape(G, d))
        if not np.all(np.isfinite(X0)):
            raise ValueError("x0 must be finite (no NaN or inf)")
    else:
        raise ValueError(f"x0 must have shape ({d},) or {shape + (d,)}, got {x0.shape}")
    window = max(1, steps // 10) if window is None else int(window)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    nrec = steps // record_every + 1
    loss = np.empty((G, nrec))
    fx = np.empty((G, d))
    st = np.empty(G, dtype=np.int64)
    nd = np.empty(G, dtype=np.int64)
    stats = np.empty((G, K.N_STATS))
    lo, hi, has_box = _box(obj)
    sched = opt.schedule
    if obj.value_grad_batch_fn is not None and not has_box and soa_supported(kind, HP[0]):
        # vectorised across grid points; the same bits as one run per point
        grid_soa_kernel(kind, HP, sched.kind, sched.params(), obj.value_grad_batch_fn, obj.data,
                        X0, steps, record_every, window, loss, fx, st, nd, stats)
    else:
        K.grid_kernel(kind, HP, sched.kind, sched.params(), obj.value_grad_fn, obj.data, lo, hi, has_box,
                      X0, steps, record_every, window, loss, fx, st, nd, stats)
    names = np.array(K.STATUS_NAMES)
    return GridResult(
        params={k: a.copy() for k, a in zip(params, arrays)},
        loss=loss.reshape(shape + (nrec,)), step=record_every * np.arange(nrec),
        final_x=fx.reshape(shape + (d,)), status=names[st].reshape(shape),
        steps_done=nd.reshape(shape), late_mean_log10_loss=stats[:, 0].reshape(shape),
        late_std_log10_loss=stats[:, 1].reshape(shape), late_min_loss=stats[:, 2].reshape(shape),
        late_max_loss=stats[:, 3].reshape(shape), final_loss=stats[:, 5].reshape(shape),
        window=window, opts=opts.reshape(shape),
    )
