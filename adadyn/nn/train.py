"""Training a network with a spec: :func:`train` returns an :class:`adadyn.Trajectory`.

The loop is the one of :func:`adadyn.run` (:mod:`adadyn.discrete.kernels`):
at x_k evaluate the loss and its gradient (on the minibatch of step k + 1),
record every ``record_every`` steps, stop on a non-finite value, then take the
step. A record holds the loss, |grad|, the time t = sum of the step sizes
taken, and the state-space coordinates of Figure 7 of Ma, Wu & E,
(|x|, |m|, |sqrt(v)|), in ``Trajectory.extras``.

The parts: :class:`_Run` holds the model, the optimiser and the minibatch generator
(evaluate, step, snapshot, restore); :class:`adadyn.nn.record.Recorder` owns the
records and the device buffer they pass through, read back once per block of
steps; :func:`_loop` is the loop; :func:`_replay` retakes a block's finite steps
after a non-finite one, so that the run ends exactly where a check after every
step would have ended it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from adadyn.discrete.run import _zero_over_zero
from adadyn.discrete.trajectory import Trajectory
from adadyn.nn import record
from adadyn.nn import threads as _threads
from adadyn.nn.optim import optimizer as make_optimizer
from adadyn.nn.progress import advance, train_progress
from adadyn.nn.problems import Problem
from adadyn.status import Status
from adadyn.validation import check_optimizer

__all__ = ["NetState", "train"]

#: steps whose records are read back (and checked for a non-finite value) at once
_BLOCK_STEPS = record.BLOCK_STEPS


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
    threads : int
        torch's thread count during the run (0: not known), and ``threads_reason``
        why (the user's setting, or the default rule of :func:`train`).
    """

    params: tuple
    optim: dict
    rng: torch.Tensor
    k: int
    last_grad_norm: float
    _moments: tuple = ()
    threads: int = 0
    threads_reason: str = ""

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
        return f"NetState(k={self.k}, time={self.time:.6g}, d={self.dim}, threads={self.threads})"


_flat = record.flat


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
          state: NetState | None = None, threads: int | None = None, progress=None) -> Trajectory:
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
        minibatches included (at the same thread count).
    threads : int, optional
        torch's thread count for the run (restored afterwards). None: the count the user
        set (:func:`adadyn.nn.set_num_threads`, ``torch.set_num_threads``,
        ``OMP_NUM_THREADS``), else that of the run ``state`` continues, else one thread
        unless the network is large (about 6 x batch x parameters >=
        :data:`adadyn.nn.threads.TORCH_WORK_MIN` flop per step) and cores are idle
        (:func:`adadyn.nn.threads.default_torch_threads`, decided once per process):
        threads waiting for busy cores made small networks 5 to 20 times slower. The
        count and the reason are in ``final_state.threads`` and
        ``final_state.threads_reason``. Results can differ in the last bits between
        thread counts.
    progress : bool, callable or Progress, optional
        A line on stderr with the step and the current loss, updated as blocks of
        records are read back (every 64 steps). None (default): when stderr is a
        terminal; True/False: always/never; a callable gets ``(step, steps, loss)``;
        or a meter of :mod:`adadyn.sweep.progress` (see :mod:`adadyn.nn.progress`).

    Returns
    -------
    adadyn.Trajectory
        ``loss``, ``grad_norm``, ``time`` (sum of eta_t), ``step``; ``extras``:
        ``x_norm``, ``m_norm``, ``sqrt_v_norm`` (Figure 7's state space, m and v of
        the coefficient view), ``test_error`` when the problem has a test set,
        ``sharpness`` when asked. ``x``, ``m``, ``v`` have no rows unless the
        parameters are recorded (then ``x``). A non-finite loss or gradient ends
        the run with status ``'diverged'`` at ``stop_step``, keeping the records
        before it; ``'failed'`` instead, with the reason in ``message``, when it came from
        0 / 0 (eps = 0 and a parameter whose gradient and second moment are exactly 0). ``final_state`` is a :class:`NetState`.
    """
    _check_args(spec, model, problem, steps, record_every, batch_size, seed, dtype,
                record_params_every, sharpness_every)
    steps, record_every = int(steps), int(record_every)
    dev = _device(device)
    model.to(device=dev, dtype=dtype)
    prob = problem.to(dev, dtype)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = make_optimizer(spec, params)
    run = _Run(model, prob, opt, params, torch.Generator().manual_seed(int(seed)), batch_size, dev)
    last_gn, k0 = run.resume(state)
    p_every = None if record_params_every is None else int(record_params_every) // record_every
    rec = record.Recorder(opt, params, prob, steps, record_every, p_every, bool(sharpness_every), last_gn,
                          block=_BLOCK_STEPS)
    meter = train_progress(progress)
    work = 6.0 * (prob.n if batch_size is None else int(batch_size)) * rec.d
    with _threads.torch_threads(threads, work, resume=getattr(state, "threads", 0)) as th:
        meter.start(steps, 0, "train")
        try:
            n, stop, rng = _loop(run, rec, steps, sharpness_every, k0, meter)
        finally:
            meter.close()
    if opt.m_is_last_grad:
        last_gn = rec.end_gn
    final = run.state(k0 + n, rng, last_gn, th)
    nr = rec.n_records
    extras, status = rec.extras(), Status.OK if stop is None else Status.DIVERGED
    if stop is not None:
        finite = rec.loss[:nr][np.isfinite(rec.loss[:nr])]
        why = _zero_over_zero(spec, None, final, finite[-1] if finite.size else None)
        if why:                 # eps = 0 at a stationary coordinate: 0/0, not a divergence
            status, extras["message"] = Status.FAILED, why
    return Trajectory(
        x=rec.params_recorded(), m=np.empty((0, rec.d)), v=np.empty((0, rec.d)), loss=rec.loss[:nr].copy(),
        grad_norm=rec.grad_norm[:nr].copy(), time=rec.time[:nr].copy(), step=k0 + record_every * np.arange(nr),
        status=status, stop_step=k0 + n, final_state=final,
        opt=spec, objective=problem, record_every=record_every, extras=extras,
    )


def _loop(run, rec, steps, sharpness_every, k0, meter):
    """Steps 0..steps of one call: at x_n evaluate, record, check a full block, step.

    Returns ``(n, stop, rng)``: the steps taken, the row of the first non-finite loss or
    gradient (None: the run ended at ``steps``) and the minibatch generator's state at x_n."""
    n, rng, stop = 0, None, None
    while True:
        if rec.rows == 0:
            b0, snap = n, run.snapshot()  # a block is retaken from here after a non-finite step
        if n == steps:
            rng = run.gen.get_state()
        j = rec.record(n, run.evaluate(), run.model)
        if j is not None and _due(sharpness_every, k0 + n):
            if (stop := _check(rec, meter, n)) is not None:  # no Lanczos at a non-finite point
                break
            rec.sharp[j] = _sharpness(run)
        if n == steps:
            break
        if rec.full and (stop := _check(rec, meter, n)) is not None:
            break
        run.step()
        n += 1
        rec.note_state(n)
    if stop is None and rec.rows:
        stop = _check(rec, meter, n)
    if stop is None:
        return n, None, rng
    n = b0 + stop
    _replay(run, snap, b0, n)
    return n, stop, run.gen.get_state()


def _due(every: int | None, k: int) -> bool:
    """A sharpness point: every ``every`` steps in all, not at the start."""
    return bool(every) and k > 0 and k % int(every) == 0


def _check(rec, meter, n: int) -> int | None:
    """Read the block back (:meth:`~adadyn.nn.record.Recorder.flush`) and show the progress
    to step n; the row of the first non-finite loss or gradient, or None."""
    stop = rec.flush()
    if stop is None:
        advance(meter, n, rec.last_loss())
    return stop


def _replay(run, snap, b0: int, n: int) -> None:
    """Bring the run to step n, the first non-finite loss or gradient: restore the state
    ``snap`` at step b0 and retake the block's finite steps (the same operations, the same bits)."""
    run.restore(snap)
    for _ in range(b0, n):
        run.evaluate()
        run.step()


def _sharpness(run) -> float:
    from adadyn.nn.hessian import sharpness_at

    return sharpness_at(run.model, run.problem, run.opt)


class _Run:
    """The model, optimiser and minibatch generator of one :func:`train` call."""

    def __init__(self, model, problem, opt, params, gen, batch_size, dev):
        self.model, self.problem, self.opt, self.params, self.gen = model, problem, opt, params, gen
        self.batch_size, self.dev = (None if batch_size is None else int(batch_size)), dev
        self.batch = None
        self._closure = self._evaluate_only if opt.needs_closure else None

    def resume(self, state) -> tuple[float, int]:
        """Load a previous run's final state (when given); ``(last |g|, steps taken before)``."""
        if state is None:
            return 0.0, 0
        if not isinstance(state, NetState):
            raise TypeError(f"state must be a NetState (a run's final_state), got {type(state).__name__}")
        if [tuple(p.shape) for p in state.params] != [tuple(p.shape) for p in self.params]:
            raise ValueError("state does not fit this model: its parameter shapes differ")
        self.restore((state.params, state.optim, state.rng.clone()))
        return float(state.last_grad_norm), state.k

    def _evaluate_only(self):
        self.opt.zero_grad()
        lo = self.problem.loss(self.model, self.batch)
        lo.backward()
        return lo

    def evaluate(self) -> torch.Tensor:
        """Draw the step's minibatch, then the loss and its gradient (in ``p.grad``) at x."""
        if self.batch_size is not None:
            self.batch = self.problem.draw(self.gen, self.batch_size).to(self.dev)
        self.opt.zero_grad()
        lo = self.problem.loss(self.model, self.batch)
        if lo.ndim != 0:
            raise ValueError(f"the problem's loss is not a scalar (shape {tuple(lo.shape)}): does the model "
                             f"map {self.problem.in_dim} inputs to {self.problem.out_dim} outputs?")
        lo.backward()
        return lo

    def step(self) -> None:
        if self._closure is not None:
            self.opt.step(self._closure)
        else:
            self.opt.step()

    def snapshot(self):
        return (tuple(p.detach().clone() for p in self.params), copy.deepcopy(self.opt.state_dict()),
                self.gen.get_state())

    def restore(self, snap) -> None:
        with torch.no_grad():
            for p, q in zip(self.params, snap[0]):
                p.copy_(q)
        self.opt.load_state_dict(copy.deepcopy(snap[1]))
        self.gen.set_state(snap[2])

    def state(self, k: int, rng, last_gn: float, th) -> NetState:
        """The :class:`NetState` after k steps in all (``rng``: the generator before the next draw)."""
        ms, vs = self.opt.moments()
        c = self.opt.coefficients
        d = int(sum(p.numel() for p in self.params))
        mflat = _flat(ms) if ms is not None else np.zeros(d)
        vflat = _flat(vs) if vs is not None else np.full(d, c.v0 if c.has_v else 0.0)
        return NetState(params=tuple(p.detach().clone() for p in self.params),
                        optim=copy.deepcopy(self.opt.state_dict()), rng=rng.clone(), k=k,
                        last_grad_norm=float(last_gn), _moments=(mflat, vflat), threads=th.threads,
                        threads_reason=th.reason)
