"""The discrete front door: :func:`run` and :func:`step`."""
from __future__ import annotations

import numpy as np

from adadyn.discrete import kernels as K
from adadyn.discrete.specs import Optimizer
from adadyn.discrete.trajectory import State, Trajectory
from adadyn.objectives.base import Objective
from adadyn.status import status_from_code
from adadyn.validation import (
    box_arrays, check_int, check_nonnegative, check_objective, check_optimizer, check_record_size, check_x0, record_limit,
)


def _check_args(opt, obj):
    check_optimizer(opt)
    check_objective(obj)


def run(opt: Optimizer, obj: Objective, x0=None, steps: int = 1000, record_every: int = 1, *,
        state: State | None = None, gtol: float | None = None, record_state: bool = True,
        parallel: bool | None = None, fused: bool | None = None,
        max_record_bytes: int | None = None) -> Trajectory:
    """Iterate the discrete optimiser ``opt`` on ``obj``.

    Parameters
    ----------
    opt : Optimizer
        Spec such as ``Adam(eta=1e-3)``.
    obj : Objective
        The objective (its box, if any, is enforced by projection after each step).
    x0 : array_like, shape (d,)
        Start point (m = v = 0). Give either ``x0`` or ``state``.
    steps : int
        Number of steps to take.
    record_every : int
        Record the state every this many steps; memory is O(steps / record_every).
    state : State, optional
        Continue from a previous run's ``final_state`` (bit-for-bit).
    gtol : float, optional
        Stop with status ``'converged'`` once |grad f| <= gtol.
    record_state : bool
        If False, record only loss, grad_norm and time (x, m, v have zero rows).
    parallel : bool, optional
        Spread each step's coordinate loops over all cores. Default: only for
        d >= ``kernels.PARALLEL_MIN_DIM`` (50,000). Iterates are bit-identical
        either way.
    fused : bool, optional
        For objectives that declare a separable gradient (``obj.structure.coord``):
        fuse gradient, loss and update into one pass over memory
        (:mod:`adadyn.discrete.kernels_fused`). Default: when d >= 50,000, without a
        box, for GD, signGD, Lion and the moment methods other than AdaFix.
        x, m, v are bit-identical either way; the loss may differ in its last bits.
    max_record_bytes : int, optional
        Largest recording allowed (default 4 GiB, or ``ADADYN_MAX_RECORD_BYTES``;
        :func:`adadyn.validation.check_record_size`). The size is estimated before
        anything is allocated; above the limit a ValueError gives the estimate and
        the ``record_every`` that fits; above 512 MiB a ResourceWarning is issued.

    Returns
    -------
    Trajectory
        Never raises on numerical blow-up: a non-finite value ends the run with
        ``status='diverged'``, keeping what was recorded.
    """
    _check_args(opt, obj)
    steps = check_int("steps", steps, 0)
    record_every = check_int("record_every", record_every, 1)
    if gtol is not None:
        gtol = check_nonnegative("gtol", gtol)
    if not isinstance(record_state, (bool, np.bool_)):
        raise TypeError(f"record_state must be True or False, got {record_state!r}")
    if parallel is not None and not isinstance(parallel, (bool, np.bool_)):
        raise TypeError(f"parallel must be None, True or False, got {parallel!r}")
    if state is None:
        if x0 is None:
            raise ValueError("give x0 or state")
        st = State.initial(opt, check_x0(x0, obj.dim))
    else:
        if x0 is not None:
            raise ValueError("give x0 or state, not both")
        if state.dim != obj.dim:
            raise ValueError(f"state has dimension {state.dim}, objective {obj.dim}")
        st = state.copy()
    d = obj.dim
    kind, hp = opt.kernel_params()
    sched = opt.schedule
    nrec = steps // record_every + 1
    per_row = 8 * (3 + (3 * d if record_state else 0))
    fits = max(1, -(-steps * per_row // max(1, record_limit(max_record_bytes) - per_row)))
    check_record_size(nrec * per_row, what=f"recording {nrec} rows of a d = {d} run",
                      hint=f"record_every >= {fits} fits, or record_state=False",
                      max_record_bytes=max_record_bytes)
    rows = nrec if record_state else 0
    rec_x, rec_m, rec_v = (np.empty((rows, d)) for _ in range(3))
    loss, gn, tm = np.empty(nrec), np.empty(nrec), np.empty(nrec)
    stats = np.empty(K.N_STATS)
    lo, hi, has_box = box_arrays(obj)
    if parallel is None:
        parallel = d >= K.PARALLEL_MIN_DIM
    kernel = K.run_kernel_parallel if parallel else K.run_kernel
    args = (kind, hp, sched.kind, sched.params(), obj.value_grad_fn, obj.data, lo, hi, has_box)
    gtol = float(gtol or 0.0)
    if _fused_applies(obj, kind, has_box, fused):
        status, n, nr = _run_fused(obj, kernel, args, st, steps, record_every, gtol,
                                   rec_x, rec_m, rec_v, loss, gn, tm, record_state)
    else:
        status, n, nr = kernel(*args, st.x, st.m, st.v, st.aux, st.scalars, st.k, steps, record_every, gtol,
                               rec_x, rec_m, rec_v, loss, gn, tm, record_state, 0, stats)
    final = State(st.x, st.m, st.v, st.aux, st.scalars, st.k + n)
    status, extras = status_from_code(status), {}
    why = _zero_over_zero(opt, obj, final, loss[nr - 1] if nr else None) if status == "diverged" else None
    if why:  # not a blow-up: the update itself is undefined there
        status, extras = "failed", {"message": why}
    return Trajectory(
        x=rec_x[: nr if record_state else 0], m=rec_m[: nr if record_state else 0],
        v=rec_v[: nr if record_state else 0], loss=loss[:nr], grad_norm=gn[:nr], time=tm[:nr],
        step=st.k + record_every * np.arange(nr), status=status,
        stop_step=st.k + n, final_state=final, opt=opt, objective=obj, record_every=record_every,
        extras=extras,
    )


def _zero_over_zero(opt, obj, final, last_loss) -> str | None:
    """The message for a run that stopped because its update was 0/0, else None: eps = 0 and,
    in some coordinate, the second moment is exactly 0 after the step (so was the gradient:
    x is stationary there) while x became NaN, i.e. m / sqrt(v) = 0 / 0."""
    try:
        c = opt.coefficients()
    except (AttributeError, NotImplementedError, ValueError):
        return None
    if not c.has_v or c.eps != 0.0:
        return None
    zero = ~np.isfinite(np.asarray(final.x)) & (np.asarray(final.v) == 0.0)
    if not np.any(zero):
        return None
    loss = f" ({last_loss:.6g})" if last_loss is not None and np.isfinite(last_loss) else ""
    return (f"0/0 at step {final.k}: eps = 0 and, in {int(zero.sum())} of {zero.size} coordinates, the gradient "
            "and the second moment are exactly 0 (x is stationary there), so the update m / sqrt(v) is undefined. "
            f"Not a divergence: the loss stayed finite{loss}. Use eps > 0, or start away from the stationary point.")


def _fused_applies(obj, kind, has_box, fused) -> bool:
    from adadyn.discrete import kernels_fused as KF

    st = obj.structure
    ok = st is not None and st.coord is not None and not has_box and kind in KF.FUSED_KINDS
    if fused is None:
        return ok and obj.dim >= KF.FUSED_MIN_DIM
    if fused and not ok:
        raise ValueError("fused=True needs an objective that declares a separable gradient "
                         "(structure.coord), no box, and GD, signGD, Lion or a moment method other than AdaFix")
    return bool(fused)


def _run_fused(obj, kernel, args, st, steps, every, gtol, rec_x, rec_m, rec_v, loss, gn, tm, record_state):
    """The fused one-pass driver; when it stops early (or gtol is set) it hands back its
    last checkpoint and the reference driver replays from there, so the run stops
    exactly where :func:`kernels.run_core` stops."""
    from adadyn.discrete import kernels_fused as KF

    d = obj.dim
    coord = obj.structure.coord
    kern = KF.fused_kernel(coord, cache=getattr(coord, "__module__", "").startswith("adadyn."))
    if gtol > 0.0:
        # the fused pass learns |g| only after stepping: stopping at |g| <= gtol needs the
        # reference driver's check before each step
        return kernel(*args, st.x, st.m, st.v, st.aux, st.scalars, st.k, steps, every, gtol,
                      rec_x, rec_m, rec_v, loss, gn, tm, record_state, 0, np.empty(K.N_STATS))
    ck = [np.empty(d) for _ in range(4)] + [np.empty_like(st.scalars)]
    out = np.zeros(7)
    kind, hp, skind, sp, _vg, data = args[:6]
    kern(kind, hp, skind, sp, data, st.x, st.m, st.v, st.aux, st.scalars, st.k, steps, every,
         rec_x, rec_m, rec_v, loss, gn, tm, record_state, *ck, out)
    n, nr, replay, ck_n, ck_r = (int(out[i]) for i in range(1, 6))
    if not replay:
        return int(out[0]), n, nr
    for arr, saved in zip((st.x, st.m, st.v, st.aux, st.scalars), ck):
        arr[:] = saved
    rows = slice(ck_r, None)
    status, n2, nr2 = kernel(*args, st.x, st.m, st.v, st.aux, st.scalars, st.k + ck_n, steps - ck_n, every,
                             gtol, rec_x[rows] if record_state else rec_x, rec_m[rows] if record_state else rec_m,
                             rec_v[rows] if record_state else rec_v, loss[rows], gn[rows], tm[rows],
                             record_state, 0, np.empty(K.N_STATS))
    return status, ck_n + n2, ck_r + nr2


def step(opt: Optimizer, obj: Objective, state: State) -> State:
    """One step of the discrete map from ``state`` (a new State; the input is unchanged)."""
    _check_args(opt, obj)
    tr = run(opt, obj, steps=1, state=state, record_state=False)
    return tr.final_state
