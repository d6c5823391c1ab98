"""Many runs at once: :func:`run_grid` over arrays of hyperparameters.

Grid points are independent runs. Where the objective has a batched gradient
and the optimiser is one the structure-of-arrays kernel supports, chunks of 64
points advance together, vectorised across points
(:mod:`adadyn.discrete.kernels_soa`); otherwise each point runs the serial driver
:func:`adadyn.run` runs. Both kernels release the GIL, and chunks (or points)
are spread over Python threads, so results are bit-identical to running each
point alone at any thread count, and no parallel runtime is compiled or started.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adadyn._threads import spread
from adadyn.discrete import kernels as K
from adadyn.discrete.kernels_soa import LANES, chunk_kernel, soa_supported
from adadyn.discrete.specs import Optimizer
from adadyn.status import status_from_code
from adadyn.validation import box_arrays, check_objective, check_optimizer, check_record_size, check_x0, record_limit


def with_params(opt: Optimizer, **vals) -> Optimizer:
    """``opt`` with hyperparameters replaced; ``a``/``b`` are the memory rates,
    applied at the new eta through :meth:`~adadyn.discrete.specs.Optimizer.with_rates`."""
    vals = {k: float(v) for k, v in vals.items()}
    a, b = vals.pop("a", None), vals.pop("b", None)
    fields = opt.__dataclass_fields__
    unknown = [k for k in vals if k not in fields or k in ("schedule",)]
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r} for {opt.name}; "
                         f"known: {sorted(k for k in fields if k != 'schedule') + list(opt._RATE_FIELDS)}")
    new = opt.replace(**vals) if vals else opt
    return new.with_rates(a=a, b=b) if (a is not None or b is not None) else new


@dataclass(frozen=True, eq=False)
class GridResult:
    """Runs over a grid of hyperparameters (arrays have the grid's shape first).

    ``loss[..., j]`` is the loss after ``step[j]`` steps and ``grad_norm[..., j]``
    the gradient norm there (NaN after a divergence);
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
    grad_norm: np.ndarray | None = field(default=None, repr=False)

    @property
    def shape(self):
        return self.status.shape

    def __repr__(self):
        counts = {s: int(np.sum(self.status == s)) for s in np.unique(self.status)}
        return f"GridResult(shape={self.shape}, params={list(self.params)}, status={counts})"


def run_grid(opt: Optimizer, obj, x0, steps: int, *, record_every: int = 100, window: int | None = None,
             parallel: bool = True, **params) -> GridResult:
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
    parallel : bool
        True (default): chunks of points on ``NUMBA_NUM_THREADS`` Python threads
        (the kernels release the GIL). False: everything on this thread (for
        workers that are already one per core). Bit-identical either way, and
        neither starts Numba's OpenMP runtime (safe in forked workers).
    **params : array_like
        Hyperparameter arrays, broadcast together to the grid shape, e.g.
        ``a=A, b=B`` with ``A, B = np.meshgrid(...)`` or ``eta=[1e-3, 1e-2]``.
    """
    check_optimizer(opt)
    check_objective(obj)
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
    fixed = 8 * (2 * d + K.N_STATS + 3)  # per point: x0, final x, statistics, status, steps
    room = record_limit() - G * fixed
    fits = f"record_every >= {max(1, -(-16 * G * steps // room))} fits" if room > 0 else "fewer grid points"
    check_record_size(G * (fixed + 16 * nrec),
                      what=f"loss and gradient-norm histories of {G} grid points x {nrec} records", hint=fits)
    loss = np.empty((G, nrec))
    gnorm = np.empty((G, nrec))
    fx = np.empty((G, d))
    st = np.empty(G, dtype=np.int64)
    nd = np.empty(G, dtype=np.int64)
    stats = np.empty((G, K.N_STATS))
    lo, hi, has_box = box_arrays(obj)
    sched = opt.schedule
    out = (loss, gnorm, fx, st, nd, stats)
    if obj.value_grad_batch_fn is not None and not has_box and soa_supported(kind, HP[0]):
        # vectorised across grid points; the same bits as one run per point
        sp = sched.params()

        def task(a, b):
            chunk_kernel(kind, HP[a:b], sched.kind, sp, obj.value_grad_batch_fn, obj.data,
                         np.ascontiguousarray(X0[a:b].T), steps, record_every, window,
                         *(arr[a:b] for arr in out))

        spread(G, LANES, task, parallel)
    else:
        spread(G, 1, lambda a, b: _run_points(opts[a:b], obj, X0[a:b], steps, record_every, window,
                                                lo, hi, has_box, *(arr[a:b] for arr in out)), parallel)
    names = np.array([str(status_from_code(c)) for c in range(4)])
    return GridResult(
        params={k: a.copy() for k, a in zip(params, arrays)},
        loss=loss.reshape(shape + (nrec,)), step=record_every * np.arange(nrec),
        grad_norm=gnorm.reshape(shape + (nrec,)),
        final_x=fx.reshape(shape + (d,)), status=names[st].reshape(shape),
        steps_done=nd.reshape(shape), late_mean_log10_loss=stats[:, 0].reshape(shape),
        late_std_log10_loss=stats[:, 1].reshape(shape), late_min_loss=stats[:, 2].reshape(shape),
        late_max_loss=stats[:, 3].reshape(shape), final_loss=stats[:, 5].reshape(shape),
        window=window, opts=opts.reshape(shape),
    )


def _run_points(opts, obj, X0, steps, record_every, window, lo, hi, has_box, loss, gnr, fx, st, nd, stats):
    """Grid points one after another with the serial driver :func:`adadyn.run` uses."""
    from adadyn.discrete.trajectory import State

    nrec = loss.shape[1]
    d = X0.shape[1]
    e = np.empty((0, d))
    for gi, o in enumerate(opts):
        kind, hp = o.kernel_params()
        sched = o.schedule
        s0 = State.initial(o, X0[gi])
        tm = np.empty(nrec)
        status, n, nr = K.run_kernel(
            kind, hp, sched.kind, sched.params(), obj.value_grad_fn, obj.data, lo, hi, has_box,
            s0.x, s0.m, s0.v, s0.aux, s0.scalars, 0, steps, record_every, 0.0,
            e, e, e, loss[gi], gnr[gi], tm, False, window, stats[gi])
        loss[gi, nr:] = np.nan
        gnr[gi, nr:] = np.nan
        fx[gi] = s0.x
        st[gi] = status
        nd[gi] = n
