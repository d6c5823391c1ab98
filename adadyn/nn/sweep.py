"""Hyperparameter sweeps of network training: a task for the sweep engine.

:class:`NetworkTask` follows the task contract of :mod:`adadyn.sweep`
(picklable; ``identity()`` gives the resume-key parts; ``run_chunk(points)``
maps named arrays of hyperparameters, one entry per grid point, to named result
arrays with the number of points as leading dimension; ``describe()``).

Every grid point trains the same network (same initial weights, from ``seed``)
with the base spec changed at that point (``spec.replace(a=..., b=..., eta=...)``:
any field of the spec, or the memory rates a, b of beta2 = 1 - a eta,
beta1 = 1 - b eta, Prop. 2 of Ma, Wu & E). ``run_chunk`` trains the chunk's
networks *batched*: their weights are stacked along a leading grid axis, each
layer of the forward and the (hand-written) backward pass is one batched matrix
product (``torch.bmm``) with the bias folded in, and the optimiser update is the
coefficient view's eq. (1) with per-point coefficient tensors, in the operation
order of :mod:`adadyn.discrete.kernels` (see :class:`_BatchedRun`). For small
networks this is several times faster than training the points one after
another (``benchmarks/bench_nn.py``); :meth:`NetworkTask.run_points` is that
per-point path (through :func:`adadyn.nn.train`), used for AdaFix, the deep
Galerkin problems, activations without a batched derivative, and for checking.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from adadyn.analysis.hyper import RESULT_BUDGET
from adadyn.nn.models import mlp
from adadyn.nn.threads import torch_threads
from adadyn.nn.problems import Problem, Regression
from adadyn.nn.train import _device, train
from adadyn.status import Status
from adadyn.sweep import Grid, Task, run_sweep
from adadyn.validation import check_int, check_optimizer

__all__ = ["NetworkTask"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}  # as adadyn.nn.DTYPES


class NetworkTask(Task):
    """Train an MLP on a regression/classification problem at each grid point.

    Parameters
    ----------
    problem : Problem
        A square-loss problem (:func:`~adadyn.nn.sine_regression`, :func:`~adadyn.nn.digits`,
        :func:`~adadyn.nn.regression`, ...); the deep Galerkin problems train per point.
    widths : sequence of int
        The network, e.g. (5, 20, 20, 1).
    spec : Optimizer
        Base spec; grid axes replace its fields (``eta``, ``beta1``, ``eps``, ...)
        or its memory rates ``a``, ``b``.
    steps : int
        Training steps per point (full batch).
    activation : {'relu', 'tanh', 'gelu'}
    record_every : int
        Loss record spacing.
    seed : int
        Initial weights (the same at every point).
    dtype : {'float64', 'float32'}
    device : str
        'cpu' or 'cuda'.

    ``run_chunk`` returns ``loss``, ``grad_norm``, ``x_norm``, ``m_norm``,
    ``sqrt_v_norm`` (points x records; NaN after a divergence), ``status``
    (:data:`adadyn.status.STATUS_CODES`) and ``stop_step``.
    """

    keys = ("loss", "grad_norm", "x_norm", "m_norm", "sqrt_v_norm", "status", "stop_step")
    status_key = "status"

    def __init__(self, problem: Problem, widths, spec, steps: int, *, activation: str = "relu",
                 record_every: int = 1, seed: int = 0, dtype: str = "float64", device: str = "cpu"):
        check_optimizer(spec)
        if not isinstance(problem, Problem):
            raise TypeError(f"problem must be an adadyn.nn Problem, got {type(problem).__name__}")
        mlp(widths, activation, seed=int(seed))  # validates widths, activation, seed
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
        for name, val, lo in (("steps", steps, 1), ("record_every", record_every, 1)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}")
        self.problem, self.widths, self.spec = problem, tuple(int(w) for w in widths), spec
        self.steps, self.record_every, self.seed = int(steps), int(record_every), int(seed)
        _device(device)  # a clear error now, not in a worker later
        if getattr(problem, "image_shape", None) is not None:
            raise ValueError(f"problem {problem.name!r} is image-shaped (image_shape={problem.image_shape}); "
                             "NetworkTask trains MLPs on flat rows: build the problem without images=True")
        self.activation, self.dtype, self.device = activation, dtype, str(device)

    # ---------------------------------------------------------------- the task contract
    def identity(self) -> dict:
        """Everything that determines the results (the sweep's resume key is a hash of it)."""
        return {"task": "adadyn.nn.NetworkTask", "problem": self.problem.identity(),
                "widths": "-".join(map(str, self.widths)), "activation": self.activation, "spec": repr(self.spec),
                "steps": self.steps, "record_every": self.record_every, "seed": self.seed, "dtype": self.dtype}

    def describe(self) -> dict:
        """A JSON-serialisable summary (the store's manifest)."""
        return {"task": "NetworkTask", "network": f"{'-'.join(map(str, self.widths))} {self.activation}",
                "problem": self.problem.name, "spec": repr(self.spec), "steps": self.steps, "seed": self.seed,
                "dtype": self.dtype, "device": self.device}

    def work(self) -> float:
        """Floating-point operations of one network's training step (about 6 x points x
        parameters: forward and backward), the measure of :mod:`adadyn.nn.threads`."""
        return 6.0 * self.problem.n * sum((i + 1) * o for i, o in zip(self.widths[:-1], self.widths[1:]))

    def point_bytes(self) -> int:
        """Activations and optimiser state of one network while its chunk trains."""
        n_par = sum((i + 1) * o for i, o in zip(self.widths[:-1], self.widths[1:]))
        act = self.problem.n * sum(self.widths[1:]) * 3
        return 8 * (act + 5 * n_par)

    def specs(self, points: dict) -> list:
        """The spec at each point (``spec.replace(**point)``)."""
        names = list(points)
        cols = [np.asarray(points[k]).reshape(-1) for k in names]
        n = cols[0].shape[0] if cols else 0
        if any(c.shape[0] != n for c in cols):
            raise ValueError("every axis of points must have one entry per point")
        return [self.spec.replace(**{k: float(c[i]) for k, c in zip(names, cols)}) for i in range(n)]

    def run_chunk(self, points: dict) -> dict:
        """Train every point of the chunk, batched (see the module docstring)."""
        specs = self.specs(points)
        cs = [s.coefficients() for s in specs]
        if not specs:
            return self._empty(0)
        if not _batchable(self.problem, cs, self.activation):
            return self.run_points(points)
        if len(specs) == 1:  # torch's bmm of one matrix rounds differently: train it twice, keep one
            return {k: v[:1] for k, v in _BatchedRun(self, specs * 2, cs * 2).run().items()}
        return _BatchedRun(self, specs, cs).run()

    def run_all(self, points: dict) -> dict:
        """The whole grid at once (the engine's optional fast path): one batched chunk."""
        return self.run_chunk(points)

    def run_points(self, points: dict) -> dict:
        """Train the points one after another with :func:`adadyn.nn.train` (the reference path)."""
        specs = self.specs(points)
        out = self._empty(len(specs))
        for i, s in enumerate(specs):
            model = mlp(self.widths, self.activation, dtype=_DTYPES[self.dtype], seed=self.seed)
            tr = train(s, model, self.problem, self.steps, record_every=self.record_every,
                       device=self.device, dtype=_DTYPES[self.dtype], progress=False)  # the sweep's meter shows it
            k = len(tr)
            out["loss"][i, :k] = tr.loss
            out["grad_norm"][i, :k] = tr.grad_norm
            for key in ("x_norm", "m_norm", "sqrt_v_norm"):
                out[key][i, :k] = tr.extras[key]
            out["status"][i] = tr.status.code
            out["stop_step"][i] = tr.stop_step
        return out

    def _empty(self, n: int) -> dict:
        nrec = self.steps // self.record_every + 1
        out = {k: np.full((n, nrec), np.nan) for k in ("loss", "grad_norm", "x_norm", "m_norm", "sqrt_v_norm")}
        out["status"] = np.zeros(n, dtype=np.int64)
        out["stop_step"] = np.full(n, self.steps, dtype=np.int64)
        return out

    def __repr__(self) -> str:
        d = self.describe()
        return f"NetworkTask({d['network']} on {d['problem']}, {d['spec']}, {self.steps} steps)"


def _batchable(problem, cs, activation) -> bool:
    c0 = cs[0]
    if not isinstance(problem, Regression) or c0.method == "adafix" or activation not in _ACT:
        return False
    same = ("method", "eps_inside", "bias_correction", "amsgrad")
    return all(all(getattr(c, k) == getattr(c0, k) for k in same) and c.schedule == c0.schedule for c in cs)


def _relu(z, out):
    torch.clamp_min(z, 0.0, out=out)


def _relu_back(dz, z, a):  # autograd's relu backward: threshold_backward(grad, result, 0)
    torch.ops.aten.threshold_backward.grad_input(dz, a, 0.0, grad_input=dz)


def _tanh(z, out):
    torch.tanh(z, out=out)


def _tanh_back(dz, z, a):
    torch.ops.aten.tanh_backward.grad_input(dz, a, grad_input=dz)


def _gelu(z, out):
    torch._C._nn.gelu(z, approximate="none", out=out)


def _gelu_back(dz, z, a):
    torch.ops.aten.gelu_backward.grad_input(dz, z, approximate="none", grad_input=dz)


#: activation -> (forward into ``out``, backward in place on dL/da given z and a): torch's own
#: kernels, the ones autograd calls, so that a batched network computes what a single one does
_ACT = {"relu": (_relu, _relu_back), "tanh": (_tanh, _tanh_back), "gelu": (_gelu, _gelu_back)}

#: steps whose losses and gradient norms are read back (and checked) at once
_BLOCK_STEPS = 32


class _BatchedRun:
    """G networks of the same widths, trained at once.

    Parameters live in one tensor ``flat`` of shape (G, P): row g is network g, and layer l
    is the block [W_l | b_l] of shape (fan_out, fan_in + 1) of it (weights and bias side by
    side). Activations are kept transposed, (G, width, n) with a row of ones under each
    hidden layer's, so that a layer is one batched product with the bias folded in,
    z_l = [W_l | b_l] @ [a_{l-1}; 1]; the first layer, whose input X is shared, is one matrix
    product for all the networks ((G fan_out) x (fan_in + 1) times (fan_in + 1) x n).
    The gradient of each network's loss sum_i |f(x_i) - y_i|^2 / (2n) is computed by hand
    (backpropagation through the same products) into preallocated buffers, with torch's own
    activation-derivative kernels, and the optimiser update of eq. (1) is a handful of
    operations on (G, P) arrays with (G, 1) per-point coefficients, in the operation order
    of :mod:`adadyn.discrete.kernels`.

    The losses and squared gradient norms of every step are written to a device buffer that
    is read back every :data:`_BLOCK_STEPS` steps: a network whose loss or gradient turns
    non-finite is marked diverged at that step (its records after it are NaN), exactly as a
    check after every step would mark it; networks do not interact, so its later (non-finite)
    steps change nothing for the others.
    """

    def __init__(self, task: NetworkTask, specs, cs):
        self.task, self.cs, self.c0 = task, cs, cs[0]
        dt = _DTYPES[task.dtype]
        dev = _device(task.device)
        G = len(specs)
        proto = mlp(task.widths, task.activation, dtype=dt, seed=task.seed)
        pieces, self.segs, off = [], [], 0
        for lin in proto.layers:
            Wb = torch.cat([lin.weight.detach(), lin.bias.detach()[:, None]], dim=1)  # (fan_out, fan_in + 1)
            pieces.append(Wb.reshape(-1))
            self.segs.append((off, Wb.shape[0], Wb.shape[1] - 1))
            off += Wb.numel()
        self.flat = torch.cat(pieces).to(dev)[None, :].expand(G, -1).contiguous()
        self.grad = torch.zeros_like(self.flat)
        self.W = [self.flat[:, s:s + o * (i + 1)].view(G, o, i + 1) for s, o, i in self.segs]
        self.dW = [self.grad[:, s:s + o * (i + 1)].view(G, o, i + 1) for s, o, i in self.segs]
        prob = task.problem.to(dev, dt)
        X, Y = prob.data["X"], prob.data["Y"]
        n = X.shape[0]
        self.n = n
        Xa = torch.cat([X.t(), torch.ones((1, n), dtype=dt, device=dev)]).contiguous()  # (fan_in + 1, n)
        self.Xa = Xa.expand(G, -1, -1)  # the shared input of every network (no copy)
        self.YT = Y.t().contiguous()  # (out, n)
        self.Z = [torch.empty((G, w, n), dtype=dt, device=dev) for w in task.widths[1:]]
        self.A = []  # hidden activations with a row of ones (the bias input of the next layer)
        for w in task.widths[1:-1]:
            A = torch.empty((G, w + 1, n), dtype=dt, device=dev)
            A[:, w].fill_(1.0)
            self.A.append(A)
        self.dA = [torch.empty((G, w, n), dtype=dt, device=dev) for w in task.widths[1:-1]]
        self.act, self.act_back = _ACT[task.activation]

        def col(vals):
            return torch.tensor(vals, dtype=dt, device=dev)[:, None]

        self.h, self.r = col([c.h for c in cs]), col([c.r for c in cs])
        self.p, self.q = col([c.p for c in cs]), col([c.q for c in cs])
        self.eps, self.mix = col([c.eps for c in cs]), col([c.sign_mix for c in cs])
        self.h_abs = self.h[:, 0].abs()
        self.eta = np.array([c.eta for c in cs])
        self.rs, self.qs = np.array([c.r for c in cs]), np.array([c.q for c in cs])
        self.p1, self.p2 = np.ones(G), np.ones(G)
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat) + col([c.v0 for c in cs])
        self.aux = torch.zeros_like(self.flat)
        self.G, self.dt, self.dev = G, dt, dev

    def loss_and_grad(self) -> torch.Tensor:
        """Each network's loss (G,) at ``flat``; its gradient into ``grad``.

        Every product is batched over the networks (one ``bmm`` each), so a network's
        numbers do not depend on which others share its chunk."""
        n, L = self.n, len(self.segs)
        Z, A, W, dW = self.Z, self.A, self.W, self.dW
        torch.bmm(W[0], self.Xa, out=Z[0])
        for k in range(1, L):
            self.act(Z[k - 1], A[k - 1][:, :-1])
            torch.bmm(W[k], A[k - 1], out=Z[k])
        R = Z[-1].sub_(self.YT)
        loss = (R * R).sum(dim=(1, 2)).div_(2 * n)
        dZ = R.div_(n)  # d loss / d z_L
        for k in range(L - 1, -1, -1):
            inp = A[k - 1] if k else self.Xa
            dW[k].copy_(torch.bmm(inp, dZ.transpose(1, 2)).transpose(1, 2))
            if k == 0:
                break
            dA, Wk = self.dA[k - 1], W[k][:, :, :-1].transpose(1, 2)
            if dZ.shape[1] == 1:  # an outer product: a broadcast multiplication is the same numbers, faster
                torch.mul(Wk, dZ, out=dA)
            else:
                torch.bmm(Wk, dZ, out=dA)
            self.act_back(dA, Z[k - 1], A[k - 1][:, :-1])
            dZ = dA
        return loss

    def run(self) -> dict:
        task, c0, G = self.task, self.c0, self.G
        out = task._empty(G)
        sched = c0.schedule
        fac = np.ones(task.steps) if sched.kind == 0 else np.asarray(sched.factor(np.arange(1, task.steps + 1)))
        K = _BLOCK_STEPS
        lg = torch.empty((K, 2, G), dtype=self.dt, device=self.dev)  # per step: loss, |g|^2
        rec = torch.empty((K, 3, G), dtype=self.dt, device=self.dev)  # per recorded step: |x|, |m|, |sqrt v|
        blk_rec = np.full(K, -1)
        alive = np.ones(G, dtype=bool)
        last_g2 = torch.zeros(G, dtype=self.dt, device=self.dev)
        b0, i, n = 0, 0, 0
        while True:
            L = self.loss_and_grad()
            with torch.no_grad():
                g2 = (self.grad * self.grad).sum(1)
                torch.stack((L, g2), out=lg[i])
                if n % task.record_every == 0:
                    torch.stack(self._norms(last_g2), out=rec[i])
                    blk_rec[i] = n // task.record_every
                i += 1
                done = n == task.steps
                if i == K or done:
                    self._flush(out, lg[:i], rec[:i], blk_rec[:i], b0, alive)
                    b0, i = n + 1, 0
                    if done or not alive.any():
                        break
                self._step(float(fac[n]))
                last_g2 = g2
            n += 1
        return out

    def _norms(self, last_g2):
        c0 = self.c0
        x = (self.flat * self.flat).sum(1).sqrt()
        if c0.method in ("moment", "lion") and c0.r != 0.0:
            m = (self.m * self.m).sum(1).sqrt()
        elif c0.method == "moment":
            m = self.h_abs * last_g2.sqrt()
        else:
            m = torch.zeros_like(x)
        v = self.v.sum(1).sqrt() if c0.has_v else torch.zeros_like(x)
        return x, m, v

    def _flush(self, out, lg, rec, blk_rec, b0, alive):
        """Read back a block: mark the networks that diverged in it, fill the records before that."""
        lg = lg.to("cpu", torch.float64).numpy()
        rec = rec.to("cpu", torch.float64).numpy()
        bad = ~(np.isfinite(lg[:, 0]) & np.isfinite(lg[:, 1]))  # (rows, G)
        first = np.where(bad.any(0), np.argmax(bad, axis=0), lg.shape[0])  # first bad row of each network
        first = np.where(alive, first, -1)  # networks already stopped record nothing more
        newly = alive & (first < lg.shape[0])
        out["status"][newly] = Status.DIVERGED.code
        out["stop_step"][newly] = b0 + first[newly]
        alive &= ~newly
        for row in np.flatnonzero(blk_rec >= 0):
            j, ok = blk_rec[row], row < first
            if not ok.any():
                continue
            out["loss"][ok, j] = lg[row, 0, ok]
            out["grad_norm"][ok, j] = np.sqrt(lg[row, 1, ok])
            for key, vals in zip(("x_norm", "m_norm", "sqrt_v_norm"), rec[row]):
                out[key][ok, j] = vals[ok]
        blk_rec[:] = -1

    def _coef(self, *cols) -> torch.Tensor:
        """Per-point step coefficients as one (k, G, 1) tensor (one transfer per step)."""
        return torch.as_tensor(np.stack(cols), dtype=self.dt).to(self.dev)[:, :, None]

    def _step(self, factor):
        """One step of every network: the kernels' operations (adadyn.discrete.kernels) per row."""
        c0, x, m, v, g = self.c0, self.flat, self.m, self.v, self.grad
        eta = self.eta * factor
        if c0.method == "gd":
            x.sub_(self._coef(eta)[0] * g)
            return
        if c0.method == "sign":
            x.sub_(self._coef(eta)[0] * torch.sign(g))
            return
        if c0.method == "lion":
            u = self.mix * m + (1.0 - self.mix) * g
            x.sub_(self._coef(eta)[0] * torch.sign(u))
            m.mul_(self.r).add_(self.h * g)
            return
        self.p1 *= self.rs
        self.p2 *= self.qs
        if c0.bias_correction:
            stp, c2 = eta / (1.0 - self.p1), np.sqrt(1.0 - self.p2)
        else:
            stp, c2 = eta, np.ones(self.G)
        stp_t, inv_c2, c2sq = self._coef(stp, 1.0 / c2, c2 * c2)
        m.mul_(self.r).add_(self.h * g)
        v.mul_(self.q).add_(self.p * (g * g))
        vi = v
        if c0.amsgrad == "raw":
            torch.maximum(self.aux, v, out=self.aux)
            vi = self.aux
        elif c0.amsgrad == "hat":
            torch.maximum(self.aux, v / c2sq, out=self.aux)
            vi = self.aux * c2sq
        if c0.eps_inside:
            den = torch.sqrt(vi / c2sq + self.eps)
        else:
            den = torch.sqrt(vi) * inv_c2 + self.eps
        x.sub_(stp_t * m / den)


def task_hash(task: NetworkTask) -> str:
    """sha256 of :meth:`NetworkTask.identity` (a directory name for a sweep's results)."""
    return hashlib.sha256(repr(sorted(task.identity().items())).encode()).hexdigest()


def phase_diagram(problem: Problem, widths, a, b, eta: float = 1e-3, steps: int = 1000, *, spec=None,
                  activation: str = "relu", seed: int = 0, record_every: int = 1, window: float = 0.5,
                  chunk_size: int = 64, dtype: str = "float64", device: str = "cpu", executor=None, out=None,
                  progress=None, threads: int | None = None, memory_budget: int | None = RESULT_BUDGET):
    """Figure 8 of Ma, Wu & E for a network: Adam's late-phase regime over an (a, b) grid.

    Every point trains ``mlp(widths, activation, seed=seed)`` on ``problem`` for
    ``steps`` full-batch steps of ``spec.replace(eta=eta, a=a_i, b=b_j)``
    (default spec ``Adam(eta)``), ``chunk_size`` networks at a time batched
    (:class:`NetworkTask`), through :func:`adadyn.sweep.run_sweep` (``executor``:
    a process pool or a dask client; ``out``: a store directory, resumable;
    ``progress``: a meter); each loss curve is classified by
    :func:`adadyn.analysis.classify` over its last ``window`` fraction.

    ``threads``: torch threads of the batched training in this process (None: the rule of
    :class:`adadyn.nn.threads.torch_threads`, one thread unless a chunk is large and cores
    are idle; the user's :func:`adadyn.nn.set_num_threads` is kept); the choice and its
    reason are ``pd.sweep.threads`` and ``pd.sweep.threads_reason``. ``memory_budget``:
    bytes the recorded series (loss, |grad|, |x|, |m|, |sqrt v| of every point) may take
    (default :data:`~adadyn.analysis.hyper.RESULT_BUDGET`, 1 GiB; None: no limit); a grid
    whose records would exceed it is refused before anything runs, with the smallest
    ``record_every`` that fits (the labels read these records, so they are not thinned).

    Returns
    -------
    adadyn.analysis.phase.PhaseDiagram
        Indexed [i, j] = (a[i], b[j]); ``final_x`` is empty (the networks' weights are not kept).
    """
    from adadyn.analysis.phase import PhaseDiagram
    from adadyn.analysis.regimes import classify
    from adadyn.discrete.specs import Adam
    from adadyn.status import status_from_code

    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    for name, arr in (("a", a), ("b", b)):
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr) & (arr > 0) & (arr * eta <= 1.0)):
            raise ValueError(f"{name} must be a non-empty 1-D array of memory rates in (0, 1/eta], got {arr}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if not 0.0 < window <= 1.0:
        raise ValueError(f"window must be a fraction in (0, 1], got {window!r}")
    spec = Adam(eta) if spec is None else spec.replace(eta=float(eta))
    task = NetworkTask(problem, widths, spec, steps, activation=activation, record_every=record_every, seed=seed,
                       dtype=dtype, device=device)
    _check_budget(memory_budget, a.size * b.size, task.steps, task.record_every)
    with torch_threads(threads, task.work() * min(int(chunk_size), a.size * b.size)) as th:
        sw = run_sweep(task, Grid(a=a, b=b), executor=executor, out=out, progress=progress,
                       chunk_size=int(chunk_size))
    res = {k: np.asarray(v).reshape((a.size * b.size,) + np.asarray(v).shape[2:]) for k, v in sw.data.items()}
    step = record_every * np.arange(res["loss"].shape[1])
    regs = []
    for loss, code in zip(res["loss"], res["status"]):
        ok = np.isfinite(loss)
        if ok.sum() < 4:   # blew up within its first records: classify the whole row (non-finite)
            ok[:] = True
        regs.append(classify(loss[ok], step[ok], f_star=0.0, f_star_known=False, window=window,
                             diverged=status_from_code(code) == "diverged"))
    late_mean, late_std = _late_log10_stats(res["loss"][:, step >= step[-1] * (1.0 - window)])
    shape = (a.size, b.size)
    grid = lambda vals, dt=float: np.array(vals, dtype=dt).reshape(shape)  # noqa: E731
    regime = grid([r.label for r in regs], object).astype(str)
    from adadyn.analysis.regimes import REGIMES

    return PhaseDiagram(
        a=a, b=b, eta=float(eta), steps=int(steps), record_every=int(record_every),
        window=int(round(steps * window)), regime=regime, regime_code=np.vectorize(REGIMES.index)(regime),
        late_mean_log10_loss=late_mean.reshape(shape), late_std_log10_loss=late_std.reshape(shape),
        spike_count=grid([r.spike_count for r in regs], int), osc_amplitude=grid([r.osc_amplitude for r in regs]),
        level=grid([r.level for r in regs]), trend=grid([r.trend for r in regs]),
        status=np.array([str(status_from_code(c)) for c in res["status"]]).reshape(shape),
        final_loss=np.array([lo[np.isfinite(lo)][-1] if np.isfinite(lo).any() else np.nan
                             for lo in res["loss"]]).reshape(shape),
        final_x=np.empty(shape + (0,)), loss=res["loss"].reshape(shape + (-1,)), step=step,
        opt=spec, objective=repr(task), sweep=_NetworkSweep(sw, grid(regs, object), th.threads, th.reason),
    )


#: recorded series per point of a network sweep (loss, |grad|, |x|, |m|, |sqrt v|)
_SERIES = 5


def _check_budget(memory_budget, n_points: int, steps: int, record_every: int) -> None:
    """Refuse (ValueError naming ``memory_budget``) a sweep whose records exceed the budget."""
    if memory_budget is None:
        return
    budget = check_int("memory_budget", memory_budget, 1)
    need = 8 * _SERIES * n_points * (steps // record_every + 1)
    if need > budget:
        per = 8 * _SERIES * n_points
        r = budget // per - 1                # the most records after the first that fit
        fit = max(record_every, steps // (r + 1) + 1) if r >= 1 else None   # smallest k: steps // k <= r
        how = f"record_every >= {fit}" if fit is not None and fit <= steps else "fewer grid points"
        raise ValueError(f"memory_budget: {n_points} points x {steps // record_every + 1} records x {_SERIES} "
                         f"series take {need:.3g} bytes > memory_budget = {budget:.3g}; use {how}, or a larger "
                         "memory_budget (None: no limit)")


def _late_log10_stats(loss) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (ddof 0) of log10 |loss| over the finite, nonzero samples of
    each row of ``loss`` (points x late records); NaN for a row with none (a run that blew up
    before its late window), without numpy's empty-slice warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(np.abs(np.asarray(loss, dtype=np.float64)))
    ok = np.isfinite(lg)
    n = ok.sum(axis=1)
    z = np.where(ok, lg, 0.0)
    has = n > 0
    mean = np.full(n.shape, np.nan)
    mean[has] = z[has].sum(axis=1) / n[has]
    dev = np.where(ok, lg - np.where(has, mean, 0.0)[:, None], 0.0)
    std = np.full(n.shape, np.nan)
    std[has] = np.sqrt((dev[has] ** 2).sum(axis=1) / n[has])
    return mean, std


class _NetworkSweep:
    """What :class:`~adadyn.analysis.phase.PhaseDiagram` reads from its ``sweep``: the
    engine's result and the :class:`~adadyn.analysis.regimes.Regime` of every point."""

    def __init__(self, result, regimes, threads: int = 0, threads_reason: str = ""):
        self.result, self.regimes = result, regimes
        self.threads, self.threads_reason = int(threads), str(threads_reason)

    def regime_at(self, index):
        return self.regimes[index]

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def message(self) -> str:
        return self.result.message
