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
from adadyn.validation import check_optimizer

__all__ = ["NetworkTask"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class NetworkTask:
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
    def identity(self) -> tuple:
        """Resume-key parts: everything that determines the results."""
        return ("adadyn.nn.NetworkTask", self.problem.identity(), "-".join(map(str, self.widths)), self.activation,
                repr(self.spec), str(self.steps), str(self.record_every), str(self.seed), self.dtype)

    def describe(self) -> str:
        return (f"{'-'.join(map(str, self.widths))} {self.activation} network on {self.problem.name}, "
                f"{self.spec.name} (base {self.spec!r}), {self.steps} full-batch steps, seed {self.seed}, {self.dtype}")

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
        return f"NetworkTask({self.describe()})"


def _batchable(problem, cs) -> bool:
    c0 = cs[0]
    if not isinstance(problem, Regression) or c0.method == "adafix":
        return False
    same = ("method", "eps_inside", "bias_correction", "amsgrad")
    return all(all(getattr(c, k) == getattr(c0, k) for k in same) and c.schedule == c0.schedule for c in cs)


class _BatchedRun:
    """G networks with stacked weights W_l (G, fan_in, fan_out), b_l (G, 1, fan_out)."""

    def __init__(self, task: NetworkTask, specs, cs):
        self.task, self.cs, self.c0 = task, cs, cs[0]
        dt = _DTYPES[task.dtype]
        dev = torch.device(task.device)
        G = len(specs)
        proto = mlp(task.widths, task.activation, dtype=dt, seed=task.seed)
        self.params = []
        for lin in proto.layers:
            W = lin.weight.detach().t().contiguous().to(dev).expand(G, -1, -1).clone().requires_grad_(True)
            b = lin.bias.detach().to(dev)[None, None, :].expand(G, 1, -1).clone().requires_grad_(True)
            self.params += [W, b]
        self.act = ACTIVATIONS[task.activation]
        prob = task.problem.to(dev, dt)
        self.X, self.Y = prob.data["X"], prob.data["Y"]
        self.Xe = self.X.expand(G, -1, -1)

        def col(vals):
            return torch.tensor(vals, dtype=dt, device=dev)

        self.h, self.r = col([c.h for c in cs]), col([c.r for c in cs])
        self.p, self.q = col([c.p for c in cs]), col([c.q for c in cs])
        self.eps, self.mix = col([c.eps for c in cs]), col([c.sign_mix for c in cs])
        self.eta = np.array([c.eta for c in cs])
        self.p1 = np.ones(G)
        self.p2 = np.ones(G)
        self.m = [torch.zeros_like(t) for t in self.params]
        v0 = col([c.v0 for c in cs])
        self.v = [torch.zeros_like(t) + s for t, s in zip(self.params, self._bc(v0))]
        self.aux = [torch.zeros_like(t) for t in self.params]
        self.G, self.dt, self.dev = G, dt, dev
        # per-point coefficients shaped (G, 1, 1) against each stacked parameter
        self.bc = {k: self._bc(getattr(self, k)) for k in ("h", "r", "p", "q", "eps", "mix")}

    def _bc(self, t: torch.Tensor) -> list:
        """Per-point tensors shaped to broadcast against each stacked parameter."""
        return [t.view(-1, *([1] * (p.ndim - 1))) for p in self.params]

    def loss(self) -> torch.Tensor:
        (W, b), rest = self.params[:2], self.params[2:]
        z = torch.baddbmm(b, self.Xe, W)
        for i in range(0, len(rest), 2):
            z = torch.baddbmm(rest[i + 1], self.act(z), rest[i])
        r = z - self.Y
        return (r * r).sum(dim=(1, 2)) / (2 * self.X.shape[0])

    def _sqnorm(self, ts) -> torch.Tensor:
        return sum((t * t).sum(dim=tuple(range(1, t.ndim))) for t in ts)

    def run(self) -> dict:
        task, c0 = self.task, self.c0
        out = task._empty(self.G)
        alive = torch.ones(self.G, dtype=torch.bool, device=self.dev)
        sched = c0.schedule
        fac = np.ones(task.steps) if sched.kind == 0 else np.asarray(sched.factor(np.arange(1, task.steps + 1)))
        last_g2 = torch.zeros(self.G, dtype=self.dt, device=self.dev)
        time_ = np.zeros(self.G)
        for n in range(task.steps + 1):
            for t in self.params:
                t.grad = None
            L = self.loss()
            L.sum().backward()
            grads = [t.grad for t in self.params]
            with torch.no_grad():
                g2 = self._sqnorm(grads)
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
                self._step(grads, float(fac[n]), n + 1)
                last_g2 = g2
        return out

    def _record(self, out, j, L, g2, last_g2, alive):
        c0 = self.c0
        mask = alive.cpu().numpy()
        rows = {"loss": L, "grad_norm": g2.sqrt(), "x_norm": self._sqnorm(self.params).sqrt()}
        if c0.method in ("moment", "lion") and c0.r != 0.0:
            rows["m_norm"] = self._sqnorm(self.m).sqrt()
        elif c0.method == "moment":
            rows["m_norm"] = self.h.abs() * last_g2.sqrt()
        else:
            rows["m_norm"] = torch.zeros_like(L)
        rows["sqrt_v_norm"] = (sum(t.sum(dim=tuple(range(1, t.ndim))) for t in self.v).sqrt()
                               if c0.has_v else torch.zeros_like(L))
        for k, val in rows.items():
            col = val.detach().to("cpu", torch.float64).numpy()
            out[k][:, j] = np.where(mask, col, np.nan)

    def _step(self, grads, factor, t):
        c0 = self.c0
        P = self.params
        eta = self.eta * factor
        if c0.method == "gd":
            for x, g, e in zip(P, grads, self._bc(torch.tensor(eta, dtype=self.dt, device=self.dev))):
                x.sub_(e * g)
            return
        if c0.method == "sign":
            for x, g, e in zip(P, grads, self._bc(torch.tensor(eta, dtype=self.dt, device=self.dev))):
                x.sub_(e * torch.sign(g))
            return
        if c0.method == "lion":
            e = self._bc(torch.tensor(eta, dtype=self.dt, device=self.dev))
            for x, g, m, ei, c1, r, h in zip(P, grads, self.m, e, self.bc["mix"], self.bc["r"], self.bc["h"]):
                u = c1 * m + (1.0 - c1) * g
                x.sub_(ei * torch.sign(u))
                m.mul_(r).add_(h * g)
            return
        self.p1 *= np.array([c.r for c in self.cs])
        self.p2 *= np.array([c.q for c in self.cs])
        if c0.bias_correction:
            stp, c2 = eta / (1.0 - self.p1), np.sqrt(1.0 - self.p2)
        else:
            stp, c2 = eta, np.ones(self.G)
        stp_t = self._bc(torch.tensor(stp, dtype=self.dt, device=self.dev))
        c2_t = torch.tensor(c2, dtype=self.dt, device=self.dev)
        ic2 = self._bc(1.0 / c2_t)
        c2sq = self._bc(c2_t * c2_t)
        for i, (x, g) in enumerate(zip(P, grads)):
            r, h, p, q, eps = (self.bc[k][i] for k in ("r", "h", "p", "q", "eps"))
            m, v = self.m[i], self.v[i]
            m.copy_(r * m + h * g)
            v.copy_(q * v + p * (g * g))
            vi = v
            if c0.amsgrad == "raw":
                torch.maximum(self.aux[i], v, out=self.aux[i])
                vi = self.aux[i]
            elif c0.amsgrad == "hat":
                torch.maximum(self.aux[i], v / c2sq[i], out=self.aux[i])
                vi = self.aux[i] * c2sq[i]
            den = torch.sqrt(vi / c2sq[i] + eps) if c0.eps_inside else torch.sqrt(vi) * ic2[i] + eps
            x.sub_(stp_t[i] * m / den)


def task_hash(task: NetworkTask) -> str:
    """sha256 of :meth:`NetworkTask.identity` (a directory name for a sweep's results)."""
    return hashlib.sha256("\x00".join(task.identity()).encode()).hexdigest()
