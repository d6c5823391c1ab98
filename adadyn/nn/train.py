"""Training a network with a spec: :func:`train` returns an :class:`adadyn.Trajectory`.

The loop is the one of :func:`adadyn.run` (:mod:`adadyn.discrete.kernels`):
at x_k evaluate the loss and its gradient (on the minibatch of step k + 1),
record every ``record_every`` steps, stop on a non-finite value, then take the
step. A record holds the loss, |grad|, the time t = sum of the step sizes
taken, and the state-space coordinates of Figure 7 of Ma, Wu & E,
(|x|, |m|, |sqrt(v)|), in ``Trajectory.extras``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from adadyn.discrete.trajectory import Trajectory
from adadyn.nn.optim import optimizer as make_optimizer
from adadyn.nn.problems import Problem
from adadyn.status import Status
from adadyn.validation import check_optimizer

__all__ = ["NetState", "train"]

#: steps whose records are read back (and checked for a non-finite value) at once
_BLOCK_STEPS = 64


@dataclass(frozen=True, eq=False)
class NetState:
    """Everything needed to continue a network run bit for bit (``train(..., state=)``).

    Attributes
    ----------
    params : tuple of torch.Tensor
        Copies of the model's parameters (in ``model.parameters()`` order).
    optim : dict
        A copy of the optimiser's ``state_dict()`` (moments, step count, time,
        AdaFix's estimate).
    rng : torch.Tensor
        State of the minibatch generator, before the next step's draw.
    k : int
        Steps taken.
    last_grad_norm : float
        |g| of the last step's gradient (m = h g for the methods with r = 0).
    """

    params: tuple
    optim: dict
    rng: torch.Tensor
    k: int
    last_grad_norm: float
    _moments: tuple = ()

    @property
    def time(self) -> float:
        """Continuous time reached: the sum of the step sizes taken."""
        return float(self.optim["param_groups"][0].get("time", 0.0))

    @property
    def x(self) -> np.ndarray:
        """The parameters as one float64 vector."""
        return _flat(self.params)

    @property
    def m(self) -> np.ndarray:
        """The first moment as one vector (zeros where the method has none or stores none)."""
        return self._moments[0]

    @property
    def v(self) -> np.ndarray:
        """The second moment as one vector."""
        return self._moments[1]

    @property
    def dim(self) -> int:
        return int(sum(p.numel() for p in self.params))

    def __repr__(self) -> str:
        return f"NetState(k={self.k}, time={self.time:.6g}, d={self.dim})"


def _flat(ts) -> np.ndarray:
    if not ts:
        return np.zeros(0)
    return torch.cat([t.detach().reshape(-1) for t in ts]).to("cpu", torch.float64).numpy()


def _norm(ts, ord=2.0) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(ts, ord)), ord)


def _check_args(spec, model, problem, steps, record_every, batch_size, seed, dtype, rpe, sharp_every):
    check_optimizer(spec)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an adadyn.nn Problem (sine_regression, digits, ...), "
                        f"got {type(problem).__name__}")
    for name, val, lo in (("steps", steps, 0), ("record_every", record_every, 1), ("seed", seed, 0)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or not 1 <= batch_size <= problem.n):
        raise ValueError(f"batch_size must be None (full batch) or an integer in [1, {problem.n}], got {batch_size!r}")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    for name, val in (("record_params_every", rpe), ("sharpness_every", sharp_every)):
        if val is None:
            continue
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1 or val % record_every:
            raise ValueError(f"{name} must be a positive multiple of record_every={record_every}, got {val!r}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters")


def _device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but torch sees no CUDA device "
                         "(a CPU-only torch, or no GPU): use device='cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: torch sees {torch.cuda.device_count()} CUDA device(s)")
    return dev


def train(spec, model: torch.nn.Module, problem: Problem, steps: int, *, record_every: int = 1,
          batch_size: int | None = None, seed: int = 0, device="cpu", dtype: torch.dtype = torch.float64,
          record_params_every: int | None = None, sharpness_every: int | None = None,
          state: NetState | None = None) -> Trajectory:
    """Train ``model`` on ``problem`` with the optimiser ``spec`` for ``steps`` steps.

    Parameters
    ----------
    spec : adadyn.discrete.specs.Optimizer
        Any spec (``ad.Adam(1e-3)``, ``ad.RMSprop.from_a(...)``, ...); the torch
        optimiser is :func:`adadyn.nn.optimizer` ``(spec, model.parameters())``.
    model : torch.nn.Module
        Trained in place (moved to ``device`` and ``dtype`` first).
    problem : Problem
        Data and loss (:func:`sine_regression`, :func:`digits`, :func:`poisson_square`, ...).
    steps : int
        Number of optimiser steps.
    record_every : int
        Record every this many steps (row j is the state after j * record_every steps).
    batch_size : int, optional
        Minibatch size (``batch_size`` distinct points drawn uniformly each step
        from a generator seeded by ``seed``); None is full batch.
    seed : int
        Seed of the minibatch generator.
    device : str or torch.device
        ``'cpu'`` or ``'cuda'``.
    dtype : torch.dtype
        Floating type of the model and the data (default float64).
    record_params_every : int, optional
        Also record the flattened parameters every this many steps (a multiple
        of ``record_every``) as ``traj.x``: row i is at step
        ``traj.step[i * record_params_every // record_every]``.
    sharpness_every : int, optional
        Record the preconditioned sharpness lambda_max(P^{1/2} H P^{1/2}),
        P = diag(1 / (sqrt(v_hat) + eps)), of the full-batch loss every this
        many steps (a multiple of ``record_every``) in ``extras["sharpness"]``
        (NaN elsewhere and at step 0); see :func:`adadyn.nn.preconditioned_sharpness`.
    state : NetState, optional
        Continue from a previous run's ``final_state`` (same model architecture,
        spec and problem): the continuation is bit for bit the uninterrupted run,
        minibatches included.

    Returns
    -------
    adadyn.Trajectory
        ``loss``, ``grad_norm``, ``time`` (sum of eta_t), ``step``; ``extras``:
        ``x_norm``, ``m_norm``, ``sqrt_v_norm`` (Figure 7's state space, m and v of
        the coefficient view), ``test_error`` when the problem has a test set,
        ``sharpness`` when asked. ``x``, ``m``, ``v`` have no rows unless the
        parameters are recorded (then ``x``). A non-finite loss or gradient ends
        the run with status ``'diverged'`` at ``stop_step``, keeping the records
        before it. ``final_state`` is a :class:`NetState`.
    """
    _check_args(spec, model, problem, steps, record_every, batch_size, seed, dtype,
                record_params_every, sharpness_every)
    steps, record_every = int(steps), int(record_every)
    dev = _device(device)
    model.to(device=dev, dtype=dtype)
    prob = problem.to(dev, dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    d = int(sum(p.numel() for p in params))
    opt = make_optimizer(spec, params)
    c = opt.coefficients
    gen = torch.Generator().manual_seed(int(seed))
    last_gn = 0.0
    k0 = 0
    if state is not None:
        if not isinstance(state, NetState):
            raise TypeError(f"state must be a NetState (a run's final_state), got {type(state).__name__}")
        shapes = [tuple(p.shape) for p in params]
        if [tuple(p.shape) for p in state.params] != shapes:
            raise ValueError("state does not fit this model: its parameter shapes differ")
        with torch.no_grad():
            for p, q in zip(params, state.params):
                p.copy_(q)
        opt.load_state_dict(copy.deepcopy(state.optim))
        gen.set_state(state.rng.clone())
        last_gn = float(state.last_grad_norm)
        k0 = state.k

    nrec = steps // record_every + 1
    np_ = len(params)
    loss_rec, gn_rec, x_rec, m_rec, v_rec, times = (np.empty(nrec) for _ in range(6))
    test = np.full(nrec, np.nan) if prob.has_test else None
    sharp = np.full(nrec, np.nan) if sharpness_every else None
    p_every = None if record_params_every is None else int(record_params_every) // record_every
    xs = np.empty(((nrec - 1) // p_every + 1 if p_every else 0, d))
    sqrt_v0 = math.sqrt(d * c.v0) if c.has_v else 0.0
    h_abs = abs(c.h)
    last_is_grad = bool(opt.m_is_last_grad)
    # Per step, one row of a block buffer on the device holds the loss and the per-tensor
    # gradient norms, [loss, |g_1|, ..., |g_P|]; at a recorded step the row goes on with the
    # per-tensor norms of x and m and the l1 norms of v (v >= 0: the sums), and the test error:
    # [..., |x_1|, ..., |x_P|, |m_1|, ..., |m_P|, sum v_1, ..., sum v_P, test]. A row costs one
    # foreach reduction and one stack (and, before a recorded step, two foreach reductions taken
    # right after the optimiser step, while x, m and v are in the cache), and no host
    # synchronisation; a block of rows is read back at once, checked for a non-finite loss or
    # gradient and reduced in float64.
    nt = 1 if test is not None else 0
    buf = torch.zeros((_BLOCK_STEPS, 1 + 4 * np_ + nt), dtype=dtype, device=dev)
    blk_rec = np.full(_BLOCK_STEPS, -1)  # record index of each row (-1: not a recorded step)
    blk_m = np.zeros(_BLOCK_STEPS, dtype=bool)  # the row holds m's norms
    blk_v = np.zeros(_BLOCK_STEPS, dtype=bool)  # the row holds v's sums
    batch = None
    closure = None
    if opt.needs_closure:
        def closure():
            opt.zero_grad()
            lo = prob.loss(model, batch)
            lo.backward()
            return lo

    def evaluate():
        opt.zero_grad()
        lo = prob.loss(model, batch)
        if lo.ndim != 0:
            raise ValueError(f"the problem's loss is not a scalar (shape {tuple(lo.shape)}): "
                             f"does the model map {prob.in_dim} inputs to {prob.out_dim} outputs?")
        lo.backward()
        return lo

    def take_step():
        if closure is not None:
            opt.step(closure)
        else:
            opt.step()

    def snapshot():
        return (tuple(p.detach().clone() for p in params), copy.deepcopy(opt.state_dict()), gen.get_state())

    def restore(snap):
        with torch.no_grad():
            for p, q in zip(params, snap[0]):
                p.copy_(q)
        opt.load_state_dict(copy.deepcopy(snap[1]))
        gen.set_state(snap[2])

    status = Status.OK
    n = 0  # steps taken in this call
    nr = 0  # records made
    b0, i = 0, 0  # the block's first step; rows filled
    snap = None  # the state at step b0 (a block is retaken from it after a non-finite step)
    prev_gn = last_gn  # |g| of the step before the block's first
    end_gn = last_gn  # |g| of the step before the last one read back
    rng_state = None
    stop = None
    moments = None  # opt.moments(), once they exist
    state_norms = None  # norms of (x, m, v) at the current point, taken right after the step to it

    def norms_of_state():
        """Per-tensor norms of x and m and sums of v (v >= 0), as a list of 0-d tensors."""
        nonlocal moments
        if moments is None:
            ms, vs = opt.moments()
            if opt.steps_taken:  # the moment tensors exist and are updated in place from now on
                moments = ms, vs
        else:
            ms, vs = moments
        out = list(torch._foreach_norm(params if ms is None else params + ms))
        if vs is not None:
            out += torch._foreach_norm(vs, 1.0)
        return out, ms is not None, vs is not None

    def flush():
        """Read back rows [0, i): fill the records; return the row of the first non-finite step or None."""
        nonlocal prev_gn, end_gn, nr
        rows = buf[:i].to("cpu", torch.float64).numpy()
        lv = rows[:, 0]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is a divergence
            gv = np.sqrt(np.sum(rows[:, 1:1 + np_] ** 2, axis=1))
        bad = ~(np.isfinite(lv) & np.isfinite(gv))
        first_bad = int(np.argmax(bad)) if bad.any() else i
        gprev = np.concatenate(([prev_gn], gv[:-1]))
        rec = blk_rec[:first_bad]
        sel = np.flatnonzero(rec >= 0)
        if sel.size:
            js = rec[sel]
            r = rows[sel]
            loss_rec[js], gn_rec[js] = lv[sel], gv[sel]
            x_rec[js] = np.sqrt(np.sum(r[:, 1 + np_:1 + 2 * np_] ** 2, axis=1))
            hm, hv = blk_m[sel], blk_v[sel]
            m_rec[js] = h_abs * gprev[sel] if last_is_grad else 0.0
            v_rec[js] = sqrt_v0
            for fm, fv in {(bool(x), bool(y)) for x, y in zip(hm, hv)}:
                at = (hm == fm) & (hv == fv)
                ra, ja = r[at], js[at]
                o = 1 + 2 * np_
                if fm:
                    m_rec[ja] = np.sqrt(np.sum(ra[:, o:o + np_] ** 2, axis=1))
                    o += np_
                if fv:
                    v_rec[ja] = np.sqrt(np.sum(ra[:, o:o + np_], axis=1))
                    o += np_
                if test is not None:
                    test[ja] = ra[:, o]
            nr = int(js[-1]) + 1
        end_gn = float(gprev[min(first_bad, i - 1)])
        prev_gn = float(gv[i - 1])
        blk_rec[:i] = -1
        return first_bad if first_bad < i else None

    with torch.no_grad():
        zero = [torch.zeros_like(p) for p in params]
    views = [(buf[k], buf[k, :1 + np_]) for k in range(_BLOCK_STEPS)]
    while True:
        if i == 0:
            b0, snap = n, snapshot()
        if batch_size is not None:
            if n == steps:
                rng_state = gen.get_state()
            batch = prob.draw(gen, int(batch_size)).to(dev)
        loss = evaluate()
        with torch.no_grad():
            gs = [p.grad if p.grad is not None else z for p, z in zip(params, zero)]
            row, short = views[i]
            if n % record_every == 0:
                j = n // record_every
                if state_norms is None:
                    state_norms = norms_of_state()
                xmv, has_m, has_v = state_norms
                state_norms = None
                vals = [loss, *torch._foreach_norm(gs), *xmv]
                if test is not None:
                    vals.append(prob.test_error(model))
                torch.stack(vals, out=row[:len(vals)])
                blk_rec[i], blk_m[i], blk_v[i] = j, has_m, has_v
                times[j] = opt.time
                if p_every and j % p_every == 0:
                    xs[j // p_every] = _flat(params)
                i += 1
                if sharp is not None and (k0 + n) % int(sharpness_every) == 0 and k0 + n > 0:
                    stop = flush()  # no Lanczos at a non-finite point
                    i = 0
                    if stop is not None:
                        break
                    from adadyn.nn.hessian import sharpness_at

                    sharp[j] = sharpness_at(model, prob, opt)
            else:
                torch.stack((loss, *torch._foreach_norm(gs)), out=short)
                i += 1
        if n == steps:
            break
        if i == _BLOCK_STEPS:
            stop = flush()
            if stop is not None:
                break
            i = 0
        take_step()
        n += 1
        if n % record_every == 0:
            with torch.no_grad():  # while the step's tensors are still in the cache
                state_norms = norms_of_state()
    if stop is None and i:
        stop = flush()
    if stop is not None:
        # the first non-finite loss or gradient was at step b0 + stop: return the state there,
        # retaking the block's finite steps from its snapshot (the same operations, the same bits)
        status = Status.DIVERGED
        n = b0 + stop
        restore(snap)
        s = b0
        while s < n:
            if batch_size is not None:
                batch = prob.draw(gen, int(batch_size)).to(dev)
            evaluate()
            take_step()
            s += 1
        rng_state = gen.get_state()
    if rng_state is None:
        rng_state = gen.get_state()
    if last_is_grad:
        last_gn = end_gn
    ms, vs = opt.moments()
    mflat = _flat(ms) if ms is not None else np.zeros(d)
    vflat = _flat(vs) if vs is not None else np.full(d, c.v0 if c.has_v else 0.0)
    final = NetState(params=tuple(p.detach().clone() for p in params), optim=copy.deepcopy(opt.state_dict()),
                     rng=rng_state.clone(), k=k0 + n, last_grad_norm=float(last_gn), _moments=(mflat, vflat))
    extras = {"x_norm": x_rec[:nr].copy(), "m_norm": m_rec[:nr].copy(), "sqrt_v_norm": v_rec[:nr].copy()}
    if test is not None:
        extras["test_error"] = test[:nr].copy()
    if sharp is not None:
        extras["sharpness"] = sharp[:nr].copy()
    nx = (nr - 1) // p_every + 1 if (p_every and nr) else 0
    empty = np.empty((0, d))
    return Trajectory(
        x=xs[:nx], m=empty, v=empty, loss=loss_rec[:nr].copy(), grad_norm=gn_rec[:nr].copy(), time=times[:nr].copy(),
        step=k0 + record_every * np.arange(nr), status=status, stop_step=k0 + n, final_state=final,
        opt=spec, objective=problem, record_every=record_every, extras=extras,
    )
