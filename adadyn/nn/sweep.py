"""Hyperparameter sweeps of network training: a task for the sweep engine.

:class:`NetworkTask` follows the task contract of :mod:`adadyn.sweep`
(picklable; ``identity()`` gives the resume-key parts; ``run_chunk(points)``
maps named arrays of hyperparameters, one entry per grid point, to named result
arrays with the number of points as leading dimension; ``describe()``).

Every grid point trains the same network (same initial weights, from ``seed``)
with the base spec changed at that point (``spec.replace(a=..., b=..., eta=...)``:
any field of the spec, or the memory rates a, b of beta2 = 1 - a eta,
beta1 = 1 - b eta, Prop. 2 of Ma, Wu & E). ``run_chunk`` trains the chunk's
networks *batched*: their weights are stacked along a leading grid axis, the
forward pass is one batched matrix product per layer (``torch.baddbmm``) and
the optimiser update is the coefficient view's eq. (1) with per-point
coefficient tensors, in the operation order of :mod:`adadyn.discrete.kernels`.
For small networks this is several times faster than training the points one
after another (``benchmarks/bench_nn.py``); :meth:`NetworkTask.run_points` is
that per-point path (through :func:`adadyn.nn.train`), used for AdaFix and for
checking.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from adadyn.nn.models import ACTIVATIONS, mlp
from adadyn.nn.problems import Problem, Regression
from adadyn.nn.train import train
from adadyn.status import Status
from adadyn.sweep import Grid, Task, run_sweep
from adadyn.validation import check_optimizer

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
        if not _batchable(self.problem, cs):
            return self.run_points(points)
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
                       device=self.device, dtype=_DTYPES[self.dtype])
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


def _batchable(problem, cs) -> bool:
    c0 = cs[0]
    if not isinstance(problem, Regression) or c0.method == "adafix":
        return False
    same = ("method", "eps_inside", "bias_correction", "amsgrad")
    return all(all(getattr(c, k) == getattr(c0, k) for k in same) and c.schedule == c0.schedule for c in cs)


class _BatchedRun:
    """G networks in one leaf tensor ``flat`` of shape (G, P): row g holds network g's
    parameters; layer l's weight (G, fan_in, fan_out) and bias (G, 1, fan_out) are views
    of it, so the gradient of the summed losses is one (G, P) tensor and the optimiser
    update is a handful of operations on (G, P) arrays with (G, 1) coefficients."""

    def __init__(self, task: NetworkTask, specs, cs):
        self.task, self.cs, self.c0 = task, cs, cs[0]
        dt = _DTYPES[task.dtype]
        dev = torch.device(task.device)
        G = len(specs)
        proto = mlp(task.widths, task.activation, dtype=dt, seed=task.seed)
        pieces, self.layout, off = [], [], 0
        for lin in proto.layers:
            W = lin.weight.detach().t().contiguous()  # (fan_in, fan_out): x @ W
            pieces += [W.reshape(-1), lin.bias.detach()]
            self.layout.append((off, W.shape, off + W.numel(), lin.bias.numel()))
            off += W.numel() + lin.bias.numel()
        self.flat = torch.cat(pieces).to(dev)[None, :].expand(G, -1).clone().requires_grad_(True)
        self.act = ACTIVATIONS[task.activation]
        prob = task.problem.to(dev, dt)
        self.X, self.Y = prob.data["X"], prob.data["Y"]
        self.Xe = self.X.expand(G, -1, -1)

        def col(vals):
            return torch.tensor(vals, dtype=dt, device=dev)[:, None]

        self.h, self.r = col([c.h for c in cs]), col([c.r for c in cs])
        self.p, self.q = col([c.p for c in cs]), col([c.q for c in cs])
        self.eps, self.mix = col([c.eps for c in cs]), col([c.sign_mix for c in cs])
        self.eta = np.array([c.eta for c in cs])
        self.rs, self.qs = np.array([c.r for c in cs]), np.array([c.q for c in cs])
        self.p1, self.p2 = np.ones(G), np.ones(G)
        with torch.no_grad():
            self.m = torch.zeros_like(self.flat)
            self.v = torch.zeros_like(self.flat) + col([c.v0 for c in cs])
            self.aux = torch.zeros_like(self.flat)
        self.G, self.dt, self.dev = G, dt, dev

    def _col(self, vals) -> torch.Tensor:
        return torch.as_tensor(vals, dtype=self.dt).to(self.dev)[:, None]

    def loss(self) -> torch.Tensor:
        G, z = self.G, None
        for i, (w0, shape, b0, nb) in enumerate(self.layout):
            W = self.flat[:, w0:w0 + shape[0] * shape[1]].view(G, shape[0], shape[1])
            b = self.flat[:, b0:b0 + nb].view(G, 1, nb)
            # one batched product per layer: each network's product is the same computation
            # whatever the chunk holds, so chunks of any size give the same bits
            z = torch.baddbmm(b, self.Xe if i == 0 else self.act(z), W)
        r = z - self.Y
        return (r * r).sum(dim=(1, 2)) / (2 * self.X.shape[0])

    def run(self) -> dict:
        task, c0 = self.task, self.c0
        out = task._empty(self.G)
        alive = torch.ones(self.G, dtype=torch.bool, device=self.dev)
        sched = c0.schedule
        fac = np.ones(task.steps) if sched.kind == 0 else np.asarray(sched.factor(np.arange(1, task.steps + 1)))
        last_g2 = torch.zeros(self.G, dtype=self.dt, device=self.dev)
        for n in range(task.steps + 1):
            self.flat.grad = None
            L = self.loss()
            L.sum().backward()
            g = self.flat.grad
            with torch.no_grad():
                g2 = (g * g).sum(1)
                ok = torch.isfinite(L) & torch.isfinite(g2)
                newly = alive & ~ok
                if bool(newly.any()):
                    idx = newly.nonzero()[:, 0].cpu().numpy()
                    out["status"][idx] = Status.DIVERGED.code
                    out["stop_step"][idx] = n
                    alive &= ok
                if n % task.record_every == 0:
                    self._record(out, n // task.record_every, L, g2, last_g2, alive)
                if n == task.steps or not bool(alive.any()):
                    break
                self._step(g, float(fac[n]))
                last_g2 = g2
        return out

    def _record(self, out, j, L, g2, last_g2, alive):
        c0 = self.c0
        mask = alive.cpu().numpy()
        rows = {"loss": L, "grad_norm": g2.sqrt(), "x_norm": (self.flat * self.flat).sum(1).sqrt()}
        if c0.method in ("moment", "lion") and c0.r != 0.0:
            rows["m_norm"] = (self.m * self.m).sum(1).sqrt()
        elif c0.method == "moment":
            rows["m_norm"] = self.h[:, 0].abs() * last_g2.sqrt()
        else:
            rows["m_norm"] = torch.zeros_like(L)
        rows["sqrt_v_norm"] = self.v.sum(1).sqrt() if c0.has_v else torch.zeros_like(L)
        for k, val in rows.items():
            out[k][:, j] = np.where(mask, val.detach().to("cpu", torch.float64).numpy(), np.nan)

    def _step(self, g, factor):
        """One step of every network: the kernels' operations (adadyn.discrete.kernels) per row."""
        c0, x, m, v = self.c0, self.flat, self.m, self.v
        eta = self.eta * factor
        if c0.method == "gd":
            x.sub_(self._col(eta) * g)
            return
        if c0.method == "sign":
            x.sub_(self._col(eta) * torch.sign(g))
            return
        if c0.method == "lion":
            u = self.mix * m + (1.0 - self.mix) * g
            x.sub_(self._col(eta) * torch.sign(u))
            m.copy_(self.r * m + self.h * g)
            return
        self.p1 *= self.rs
        self.p2 *= self.qs
        if c0.bias_correction:
            stp, c2 = eta / (1.0 - self.p1), np.sqrt(1.0 - self.p2)
        else:
            stp, c2 = eta, np.ones(self.G)
        c2sq = self._col(c2 * c2)
        m.copy_(self.r * m + self.h * g)
        v.copy_(self.q * v + self.p * (g * g))
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
            den = torch.sqrt(vi) * self._col(1.0 / c2) + self.eps
        x.sub_(self._col(stp) * m / den)


def task_hash(task: NetworkTask) -> str:
    """sha256 of :meth:`NetworkTask.identity` (a directory name for a sweep's results)."""
    return hashlib.sha256(repr(sorted(task.identity().items())).encode()).hexdigest()


def phase_diagram(problem: Problem, widths, a, b, eta: float = 1e-3, steps: int = 1000, *, spec=None,
                  activation: str = "relu", seed: int = 0, record_every: int = 1, window: float = 0.5,
                  chunk_size: int = 64, dtype: str = "float64", device: str = "cpu", executor=None, out=None,
                  progress=None):
    """Figure 8 of Ma, Wu & E for a network: Adam's late-phase regime over an (a, b) grid.

    Every point trains ``mlp(widths, activation, seed=seed)`` on ``problem`` for
    ``steps`` full-batch steps of ``spec.replace(eta=eta, a=a_i, b=b_j)``
    (default spec ``Adam(eta)``), ``chunk_size`` networks at a time batched
    (:class:`NetworkTask`), through :func:`adadyn.sweep.run_sweep` (``executor``:
    a process pool or a dask client; ``out``: a store directory, resumable;
    ``progress``: a meter); each loss curve is classified by
    :func:`adadyn.analysis.classify` over its last ``window`` fraction.

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
    sw = run_sweep(task, Grid(a=a, b=b), executor=executor, out=out, progress=progress,
                   chunk_size=int(chunk_size))
    res = {k: np.asarray(v).reshape((a.size * b.size,) + np.asarray(v).shape[2:]) for k, v in sw.data.items()}
    step = record_every * np.arange(res["loss"].shape[1])
    regs = []
    for loss, code in zip(res["loss"], res["status"]):
        ok = np.isfinite(loss)
        regs.append(classify(loss[ok], step[ok], f_star=0.0, window=window,
                             diverged=status_from_code(code) == "diverged"))
    late = step >= step[-1] * (1.0 - window)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(np.abs(res["loss"][:, late]))
    shape = (a.size, b.size)
    grid = lambda vals, dt=float: np.array(vals, dtype=dt).reshape(shape)  # noqa: E731
    regime = grid([r.label for r in regs], object).astype(str)
    from adadyn.analysis.regimes import REGIMES

    return PhaseDiagram(
        a=a, b=b, eta=float(eta), steps=int(steps), record_every=int(record_every),
        window=int(round(steps * window)), regime=regime, regime_code=np.vectorize(REGIMES.index)(regime),
        late_mean_log10_loss=np.nanmean(np.where(np.isfinite(lg), lg, np.nan), axis=1).reshape(shape),
        late_std_log10_loss=np.nanstd(np.where(np.isfinite(lg), lg, np.nan), axis=1).reshape(shape),
        spike_count=grid([r.spike_count for r in regs], int), osc_amplitude=grid([r.osc_amplitude for r in regs]),
        level=grid([r.level for r in regs]), trend=grid([r.trend for r in regs]),
        status=np.array([str(status_from_code(c)) for c in res["status"]]).reshape(shape),
        final_loss=np.array([lo[np.isfinite(lo)][-1] if np.isfinite(lo).any() else np.nan
                             for lo in res["loss"]]).reshape(shape),
        final_x=np.empty(shape + (0,)), loss=res["loss"].reshape(shape + (-1,)), step=step,
        opt=spec, objective=repr(task), sweep=_NetworkSweep(sw, grid(regs, object)),
    )


class _NetworkSweep:
    """What :class:`~adadyn.analysis.phase.PhaseDiagram` reads from its ``sweep``: the
    engine's result and the :class:`~adadyn.analysis.regimes.Regime` of every point."""

    def __init__(self, result, regimes):
        self.result, self.regimes = result, regimes

    def regime_at(self, index):
        return self.regimes[index]

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def message(self) -> str:
        return self.result.message
