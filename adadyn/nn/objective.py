"""A network's full-batch loss as an :class:`adadyn.objectives.Objective` on a flat parameter vector.

``objective(model, problem)`` turns f(x) = ``problem.loss(model)`` with the model's
parameters set to x into an objective that :func:`adadyn.flows.solve`,
:func:`adadyn.analysis.compare`, :func:`adadyn.analysis.linearize`,
:func:`adadyn.analysis.critical_learning_rate` and
:func:`adadyn.analysis.preconditioned_sharpness` accept, so that a network's
discrete runs (:func:`adadyn.nn.train`) can be set against its flows (eqs. (4),
(7), (8) of Ma, Wu & E): Figure 2 as the paper intends it.

The parameter vector x (float64, length d) is the model's trainable parameters
concatenated in ``model.named_parameters()`` order, each flattened row-major
(``tensor.reshape(-1)``), the order in which :func:`adadyn.nn.train` records
``traj.x``; :attr:`NetObjective.names` and :attr:`NetObjective.shapes` list them.

Derivatives are by torch autograd in float64 (the model and data are copied to
float64): the gradient by one backward pass, Hessian-vector products by double
backward, u^T H u's gradient (a third-derivative-vector product, the gradient of
the sharpness used by the central flow) by triple backward, and the dense Hessian
(d <= :data:`HESSIAN_MAX`) by batched Hessian-vector products with unit vectors. The objective is not
Numba-backed (``numba_backed = False``): the flows and the linearisation take
their Python paths for it, and :func:`adadyn.run` (whose Numba kernels need a
compiled gradient) refuses it; the discrete side is :func:`adadyn.nn.train` or
:meth:`NetObjective.train`.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib

import numpy as np
import torch

from adadyn.nn.problems import Problem
from adadyn.objectives.base import Objective

__all__ = ["NetObjective", "objective", "HESSIAN_MAX"]

#: Largest d for which :meth:`NetObjective.hessian` forms the dense d x d Hessian.
HESSIAN_MAX = 5000
#: Hessian rows per batched double-backward pass (``is_grads_batched``); bounds the memory of
#: the batch (on 64-8-2 digits, d = 538, 30x faster than ``torch.func.hessian``).
_HESSIAN_CHUNK = 128


class _Loss(torch.nn.Module):
    """``problem.loss(model)`` as a module, so ``torch.func.functional_call`` can swap the parameters."""

    def __init__(self, model, problem):
        super().__init__()
        self.model = model
        self._problem = problem

    def forward(self):
        return self._problem.loss(self.model)


class NetObjective(Objective):
    """f(x) = full-batch ``problem.loss(model)`` at parameters x (see :func:`objective`).

    Attributes
    ----------
    dim : int
        d, the number of trainable parameters.
    names, shapes : tuple
        Parameter names and shapes in the order they are laid out in x.
    x0 : ndarray (d,)
        The model's parameters when the objective was built.
    model : torch.nn.Module
        A float64 copy of the model (never changed by the objective).
    problem : Problem
        The problem (float64 copy).
    numba_backed : bool
        False: no compiled value/gradient; the flows and analyses use the Python methods.
    hessian_accuracy : str
        How :meth:`hessian` is obtained (reported by :func:`adadyn.analysis.linearize`).
    lower_bound : float
        0 (the problem's loss is >= 0; its minimum value is unknown):
        :func:`adadyn.analysis.classify` treats f* as unknown.
    """

    numba_backed = False
    lower_bound = 0.0
    hessian_accuracy = "exact (torch autograd Hessian)"

    def __init__(self, model: torch.nn.Module, problem: Problem, *, name: str | None = None):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(problem, Problem):
            raise TypeError(f"problem must be an adadyn.nn Problem (sine_regression, digits, ...), "
                            f"got {type(problem).__name__}")
        net = copy.deepcopy(model).to("cpu", torch.float64)
        named = [(k, p) for k, p in net.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("model has no trainable parameters")
        self.names = tuple(k for k, _ in named)
        self.shapes = tuple(tuple(p.shape) for _, p in named)
        self._sizes = [int(p.numel()) for _, p in named]
        d = int(sum(self._sizes))
        super().__init__(d, None, None, name=name or f"{type(model).__name__} on {problem.name}")
        self.model = net
        self.problem = problem.to("cpu", torch.float64)
        self._loss = _Loss(net, self.problem)
        self._work = copy.deepcopy(net)      # gradients: x copied into its parameters (no functional_call)
        self._wparams = [p for p in self._work.parameters() if p.requires_grad]
        self.x0 = self.flatten(net)
        self._arch = repr(net)
        self._check_scalar()

    # -- layout ------------------------------------------------------------------
    def flatten(self, model_or_params) -> np.ndarray:
        """x from a model with this layout (its trainable parameters) or a sequence of tensors
        in the order of :attr:`names`, as a float64 array."""
        ps = ([p for p in model_or_params.parameters() if p.requires_grad]
              if isinstance(model_or_params, torch.nn.Module) else list(model_or_params))
        if [tuple(p.shape) for p in ps] != list(self.shapes):
            raise ValueError(f"the parameters do not have this objective's shapes {self.shapes}")
        return torch.cat([p.detach().reshape(-1) for p in ps]).to("cpu", torch.float64).numpy().copy()

    def unflatten(self, x) -> dict:
        """{name: tensor} (float64, shaped as the model's parameters) from x."""
        xt = self._tensor(x)
        return dict(zip(self.names, self._views(xt)))

    def to_model(self, x, model: torch.nn.Module | None = None) -> torch.nn.Module:
        """Write x into ``model``'s trainable parameters (default: a fresh copy of :attr:`model`)
        and return the model."""
        model = copy.deepcopy(self.model) if model is None else model
        ps = [p for p in model.parameters() if p.requires_grad]
        if [tuple(p.shape) for p in ps] != list(self.shapes):
            raise ValueError(f"model's parameters do not have this objective's shapes {self.shapes}")
        with torch.no_grad():
            for p, v in zip(ps, self._views(self._tensor(x))):
                p.copy_(v.to(p.dtype))
        return model

    def _tensor(self, x) -> torch.Tensor:
        return torch.from_numpy(self._x(x).copy())

    def _views(self, xt):
        out, o = [], 0
        for n, s in zip(self._sizes, self.shapes):
            out.append(xt[o:o + n].view(s))
            o += n
        return out

    def _f(self, xt: torch.Tensor) -> torch.Tensor:
        """The loss as a torch function of the flat x (differentiable to any order)."""
        params = {"model." + k: v for k, v in zip(self.names, self._views(xt))}
        return torch.func.functional_call(self._loss, params, ())

    def _check_scalar(self):
        with torch.no_grad():
            lo = self._f(torch.from_numpy(self.x0))
        if lo.ndim != 0:
            raise ValueError(f"the problem's loss is not a scalar (shape {tuple(lo.shape)}): "
                             f"does the model map {self.problem.in_dim} inputs to {self.problem.out_dim} outputs?")

    # -- derivatives -------------------------------------------------------------
    @property
    def value_grad_fn(self):
        raise TypeError(f"{self.name!r} is a network objective with no Numba-compiled gradient: the Numba "
                        "kernels (adadyn.run, grid sweeps, the signGD flow's Filippov solver) cannot use it. "
                        "Its discrete runs are adadyn.nn.train(spec, model, problem, steps) or "
                        "NetObjective.train(spec, steps)")

    @property
    def d(self) -> int:
        """The number of parameters (= :attr:`dim`)."""
        return self.dim

    @property
    def has_hessian(self) -> bool:
        """True: exact second derivatives by autograd (:meth:`hvp`; dense :meth:`hessian` up to
        :data:`HESSIAN_MAX`)."""
        return True

    def value(self, x, t: float = 1.0) -> float:
        """f(x) (``t`` is ignored: the objective is time independent)."""
        with torch.no_grad():
            return float(self._f(self._tensor(x)))

    __call__ = value

    def value_and_grad(self, x, t: float = 1.0) -> tuple[float, np.ndarray]:
        """f(x) and its gradient (one backward pass)."""
        xt = self._tensor(x)
        ps = self._wparams
        with torch.no_grad():
            torch._foreach_copy_(ps, self._views(xt))
        with torch.enable_grad():
            lo = self.problem.loss(self._work)
            gs = torch.autograd.grad(lo, ps)
        return float(lo.detach()), torch.cat([g.reshape(-1) for g in gs]).numpy()

    def grad(self, x, t: float = 1.0) -> np.ndarray:
        """The gradient of f at x."""
        return self.value_and_grad(x, t)[1]

    def hvp(self, x, u, t: float = 1.0) -> np.ndarray:
        """H(x) u by double backward (d/dx of g(x) . u), never forming H."""
        xt = self._tensor(x).requires_grad_(True)
        ut = self._tensor(u)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self._f(xt), xt, create_graph=True)
            (hv,) = torch.autograd.grad(g, xt, grad_outputs=ut)
        return hv.numpy()

    def hvp_at(self, x, t: float = 1.0):
        """u -> H(x) u for many u at one x: the gradient's graph is built once and each product is
        one backward pass through it (half the cost of repeated :meth:`hvp` calls; the matrix-free
        implicit solves use it)."""
        xt = self._tensor(x).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self._f(xt), xt, create_graph=True)

        def product(u) -> np.ndarray:
            (hv,) = torch.autograd.grad(g, xt, grad_outputs=self._tensor(u), retain_graph=True)
            return hv.numpy()

        return product

    def hessian(self, x, t: float = 1.0) -> np.ndarray:
        """The dense d x d Hessian (batched double backward against unit vectors, 128 rows a pass),
        for d <= :data:`HESSIAN_MAX`."""
        if self.dim > HESSIAN_MAX:
            raise ValueError(f"the dense Hessian of a network is formed only up to d = {HESSIAN_MAX} parameters "
                             f"(HESSIAN_MAX); this one has d = {self.dim}: use hvp(x, u) (Hessian-vector products, "
                             f"e.g. method='lanczos' in critical_learning_rate)")
        xt = self._tensor(x).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self._f(xt), xt, create_graph=True)
        d = self.dim
        H = np.empty((d, d))
        for s in range(0, d, _HESSIAN_CHUNK):     # batched products with unit vectors (vmap'ed backward)
            e = min(d, s + _HESSIAN_CHUNK)
            E = torch.zeros((e - s, d), dtype=torch.float64)
            E[torch.arange(e - s), torch.arange(s, e)] = 1.0
            (rows,) = torch.autograd.grad(g, xt, grad_outputs=E, is_grads_batched=True, retain_graph=True)
            H[s:e] = rows.numpy()
        return np.ascontiguousarray(0.5 * (H + H.T))

    def hessian_form_grad(self, x, u, t: float = 1.0) -> np.ndarray:
        """grad_x (u^T H(x) u) with u held fixed: the third-derivative tensor contracted twice
        with u (triple backward). For a unit top eigenvector u of H this is the gradient of
        the sharpness lambda_max(H(x)) (where it is simple)."""
        xt = self._tensor(x).requires_grad_(True)
        ut = self._tensor(u)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self._f(xt), xt, create_graph=True)
            (hv,) = torch.autograd.grad(g, xt, grad_outputs=ut, create_graph=True)
            q = torch.dot(hv, ut)
            if not q.requires_grad:   # u^T H u does not depend on x (a quadratic loss)
                return np.zeros(self.dim)
            (out,) = torch.autograd.grad(q, xt, allow_unused=True)
        return np.zeros(self.dim) if out is None else out.numpy()

    # -- the discrete side -------------------------------------------------------
    def train(self, spec, steps: int, *, x0=None, v0=None, record_state: bool = False, **kw):
        """:func:`adadyn.nn.train` of ``spec`` from x0 (default :attr:`x0`) on a copy of the model,
        recording x at every recorded step (``record_params_every = record_every``); the
        returned Trajectory's ``objective`` is this objective, so :func:`adadyn.analysis.compare`
        pairs it with a flow solved on it.

        ``v0`` (RMSprop and the other methods without a first moment, whose torch optimiser
        keeps v as ``square_avg`` or ``v``): start the second moment there instead of at 0,
        as ``flows.solve(..., v0=v0)`` does (from v = 0 the RMSprop run keeps an O(sqrt(eta))
        initial layer against flow (7); from v0 > 0 the gap is O(eta)). Other keywords go to
        :func:`adadyn.nn.train` (``state`` excepted when ``v0`` is given).

        ``record_state=True`` also records m and v (raw, as the flows report them) at every
        ``record_every``-th step, as :func:`adadyn.run` does with ``record_state``: the run is
        taken in pieces of ``record_every`` steps, each continuing the last bit for bit
        (``nn.train(..., state=)``), and the moments are read between the pieces. Then
        :func:`adadyn.analysis.compare` reports the m and v gaps too, and
        :func:`adadyn.analysis.preconditioned_sharpness` accepts the run. ``extras`` is empty then."""
        from adadyn.nn.train import train

        model = self.to_model(self.x0 if x0 is None else x0)
        kw.setdefault("record_params_every", kw.get("record_every", 1))
        if v0 is not None:
            kw["state"] = self._state_with_v0(spec, model, v0)
        if record_state:
            return self._train_recording_state(spec, model, int(steps), kw)
        traj = train(spec, model, self.problem, steps, **kw)
        return dataclasses.replace(traj, objective=self)

    def _train_recording_state(self, spec, model, steps, kw):
        """:meth:`train` in pieces of ``record_every`` steps, reading x, m, v between them."""
        from adadyn.nn.train import train

        every = int(kw.pop("record_every", 1))
        if steps % every:
            raise ValueError(f"record_state needs steps ({steps}) to be a multiple of record_every ({every})")
        kw.pop("record_params_every", None)
        st = kw.pop("state", None)
        c = spec.coefficients()
        rows = {k: [] for k in ("x", "m", "v", "loss", "grad_norm", "time", "step")}

        def push(x, m, v, tr, j):
            for k, val in (("x", x), ("m", m), ("v", v), ("loss", tr.loss[j]), ("grad_norm", tr.grad_norm[j]),
                           ("time", tr.time[j]), ("step", tr.step[j])):
                rows[k].append(val)

        m0 = np.zeros(self.dim)
        v_start = np.full(self.dim, c.v0 if c.has_v else 0.0) if st is None else st.v
        x, m, v = self.flatten(model), m0 if st is None else st.m, v_start
        tr = None
        for _ in range(steps // every):
            tr = train(spec, model, self.problem, every, record_every=every, state=st, **kw)
            push(x, m, v, tr, 0)
            st = tr.final_state
            x, m, v = st.x, st.m, st.v
            if tr.status != "ok":
                break
        if tr is None:
            tr = train(spec, model, self.problem, 0, state=st, **kw)
        if tr.status == "ok" and len(tr.loss) > 1:
            push(x, m, v, tr, -1)
        arr = {k: np.array(val) for k, val in rows.items()}
        return dataclasses.replace(tr, x=arr["x"], m=arr["m"], v=arr["v"], loss=arr["loss"],
                                   grad_norm=arr["grad_norm"], time=arr["time"], step=arr["step"],
                                   record_every=every, objective=self, extras={})

    def _state_with_v0(self, spec, model, v0):
        """A :class:`NetState` at step 0 whose second moment is v0."""
        from adadyn.nn.optim import MomentOptimizer, TorchRMSprop, _torch_class
        from adadyn.nn.train import NetState, train

        c = spec.coefficients()
        cls = _torch_class(c)
        if not (c.has_v and c.r == 0.0 and cls in (TorchRMSprop, MomentOptimizer)):
            raise ValueError(f"v0 is supported for RMSprop-type methods (no first moment), not {spec.name}")
        v = np.broadcast_to(np.asarray(v0, dtype=np.float64), (self.dim,))
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError("v0 must be finite and >= 0")
        st = train(spec, model, self.problem, 0, dtype=torch.float64).final_state
        optim = copy.deepcopy(st.optim)
        key = "square_avg" if cls is TorchRMSprop else "v"
        for i, vi in enumerate(self._views(torch.from_numpy(v.copy()))):
            entry = {key: vi.clone()}
            if cls is TorchRMSprop:
                entry["step"] = torch.tensor(0.0, dtype=torch.float64)
            optim["state"][i] = entry
        return NetState(st.params, optim, st.rng, 0, 0.0, (np.zeros(self.dim), v.copy()))

    # -- identity ----------------------------------------------------------------
    def identity(self) -> str:
        """SHA-256 of the problem's data, the architecture (the model's repr) and the parameter
        layout: equal for objectives that are the same function of x."""
        h = hashlib.sha256(b"adadyn-net-objective/1\0")
        h.update(self.problem.identity().encode())
        h.update(self._arch.encode())
        h.update(repr(list(zip(self.names, self.shapes))).encode())
        return h.hexdigest()

    def same_objective(self, other) -> bool:
        """True for ``other`` the same function of x: an objective with the same :meth:`identity`,
        or the Problem of this objective (what a run of :func:`adadyn.nn.train` records as its
        ``objective``; the architecture cannot be checked from such a run, only its dimension
        and start, which :func:`adadyn.analysis.compare` checks)."""
        if other is self:
            return True
        if isinstance(other, Problem):
            return other.identity() == self.problem.identity()
        try:
            return other.identity() == self.identity()
        except (AttributeError, ValueError):
            return False

    def __reduce__(self):
        raise TypeError(f"{self!r} does not pickle: build the network objective in each process")

    def __repr__(self) -> str:
        return f"NetObjective({self.name!r}, dim={self.dim})"


def objective(model: torch.nn.Module, problem: Problem, *, name: str | None = None) -> NetObjective:
    """A network's full-batch loss as an objective of its flat parameter vector.

    Parameters
    ----------
    model : torch.nn.Module
        Copied to float64 (the original is never changed); its trainable parameters, in
        ``named_parameters()`` order and each flattened row-major, are x.
    problem : Problem
        f(x) = ``problem.loss(model)`` on the whole training set (float64 copy).
    name : str, optional
        Label (default "<model class> on <problem name>").

    Returns
    -------
    NetObjective
        value, grad, value_and_grad, hvp, hessian (d <= :data:`HESSIAN_MAX`),
        hessian_form_grad, flatten / unflatten / to_model, ``x0`` (the model's
        parameters) and :meth:`~NetObjective.train` (the discrete side).

    Examples
    --------
    >>> import adadyn as ad
    >>> from adadyn import nn
    >>> prob = nn.sine_regression(n=64, dim=1)
    >>> obj = nn.objective(nn.mlp([1, 8, 1], "tanh", seed=0), prob)
    >>> obj.dim
    25
    """
    return NetObjective(model, problem, name=name)
