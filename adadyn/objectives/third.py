"""Third-derivative-vector products: the gradient of the Hessian's quadratic form.

:func:`hessian_form_grad` returns grad_x (u^T H(x) u) at fixed u, i.e. the vector
with entries sum_jk T_ijk u_j u_k, T the third-derivative tensor. With u the top
(unit) Hessian eigenvector, this is the gradient of the sharpness S(x) = lambda_max(H(x))
(first-order perturbation theory of a simple eigenvalue), which the central flows of
:mod:`adadyn.flows.central` need.

Three routes, by what the objective knows:

* declared quadratics (``obj.A`` or ``obj.diagonal``): the Hessian is constant, the
  result is exactly zero;
* formula objectives (``Objective.from_expr`` / ``from_sympy``): exact. The
  expression the objective holds (already parsed and checked by
  :mod:`adadyn.objectives.parser`; no user text is read here) is differentiated
  three times by :class:`adadyn.objectives.derivative.Differentiator` (the same
  a.e. rules for abs, sign, max and min as the compiled Hessian, and the same size
  limit): q(x, u) = sum_{j<=k} c_jk H_jk(x) u_j u_k over the nonzero Hessian entries
  (c = 1 on the diagonal, 2 off it), then grad_x q, built on first use and kept on the
  objective. It is evaluated by walking the expression tree with NumPy (:func:`evaluate`,
  every shared sub-expression once per call): no code is generated or executed;
* anything else with ``hvp`` (library objectives without a formula, networks):
  a central difference of Hessian-vector products along u,
  sum_jk T_ijk u_j u_k = d/ds [H(x + s u) u]_i at s = 0, so
  (H(x + h u) u - H(x - h u) u) / (2 h) with h = 1e-4 max(1, |x|_inf) / |u|_inf
  (truncation O(h^2); when ``hvp`` itself differences gradients the rounding error
  is about 1e-16 / h^2 relative, ~1e-8 at this h).
"""
from __future__ import annotations

import numpy as np
import sympy as sp

__all__ = ["hessian_form_grad", "fd_hessian_form_grad", "symbolic_hessian_form_grad", "evaluate"]

#: Relative step of the central difference of Hessian-vector products.
FD_STEP = 1e-4


def _functions():
    from adadyn.objectives.nonsmooth import AbsAE, MaxAE, MinAE, SignAE

    return {sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan, sp.exp: np.exp, sp.log: np.log,
            sp.tanh: np.tanh, sp.sinh: np.sinh, sp.cosh: np.cosh, sp.atan: np.arctan, sp.asin: np.arcsin,
            sp.acos: np.arccos, AbsAE: np.abs, SignAE: np.sign, MaxAE: np.maximum, MinAE: np.minimum}


def evaluate(exprs, env: dict) -> list:
    """Values of sympy expressions (the whitelisted nodes of :mod:`adadyn.objectives.parser`
    and their derivatives) at ``env`` (symbol -> float), by a tree walk with a shared memo."""
    funcs = _functions()
    memo: dict = {}

    def ev(e):
        got = memo.get(e)
        if got is not None:
            return got
        if e.is_Symbol:
            val = env[e]
        elif e.is_Number or e in (sp.pi, sp.E):
            val = float(e)
        elif isinstance(e, sp.Add):
            val = sum(ev(a) for a in e.args)
        elif isinstance(e, sp.Mul):
            val = 1.0
            for a in e.args:
                val = val * ev(a)
        elif isinstance(e, sp.Pow):
            b, c = ev(e.args[0]), ev(e.args[1])
            val = np.sqrt(b) if c == 0.5 else np.power(b, c)
        elif type(e) in funcs:
            val = funcs[type(e)](*[ev(a) for a in e.args])
        else:
            raise ValueError(f"hessian_form_grad cannot evaluate the node {type(e).__name__}")
        memo[e] = val
        return val

    return [ev(e) for e in exprs]


def _build_symbolic(obj):
    """A NumPy function ``f(x, u, t) -> ndarray (d,)`` of grad_x u^T H(x) u for a
    formula objective, from its checked sympy expression."""
    from adadyn.objectives import nonsmooth
    from adadyn.objectives.derivative import Differentiator
    from adadyn.objectives.symbolic import upper_hessian

    syms = list(obj.symbols)
    d = len(syms)
    xs = [sp.Symbol(f"_x{i}", real=True) for i in range(d)]
    us = [sp.Symbol(f"_u{i}", real=True) for i in range(d)]
    tsym = sp.Symbol("_t", real=True)
    others = [s for s in obj.expr.free_symbols if s not in set(syms)]
    sub = dict(zip(syms, xs))
    sub.update({s: tsym for s in others})          # the time symbol of an online objective
    e = nonsmooth.canonical(obj.expr.xreplace(sub))
    D = Differentiator("third derivatives")
    grads = D.gradient(e, xs)
    q = sp.Integer(0)
    for i, j, h in upper_hessian(grads, xs, D):   # u^T H u from the upper triangle
        q += (1 if i == j else 2) * h * us[i] * us[j]
    out = D.gradient(q, xs)

    def third(x, u, t):
        env = dict(zip(xs, map(float, x)))
        env.update(zip(us, map(float, u)))
        env[tsym] = float(t)
        return np.asarray(evaluate(out, env), dtype=np.float64).reshape(d)

    return third


def symbolic_hessian_form_grad(obj, x, u, t: float = 1.0) -> np.ndarray:
    """Exact grad_x (u^T H(x) u) of a formula objective (built on first use, then kept)."""
    fn = getattr(obj, "_hessian_form_grad_fn", None)
    if fn is None:
        fn = _build_symbolic(obj)
        obj._hessian_form_grad_fn = fn
    with np.errstate(all="ignore"):
        return fn(x, u, t)


def fd_hessian_form_grad(obj, x, u, t: float = 1.0, rel_step: float = FD_STEP) -> np.ndarray:
    """grad_x (u^T H(x) u) by a central difference of ``obj.hvp`` along u (see the module doc)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    un = float(np.max(np.abs(u)))
    if un == 0.0:
        return np.zeros_like(x)
    h = rel_step * max(1.0, float(np.max(np.abs(x)))) / un
    return (obj.hvp(x + h * u, u, t) - obj.hvp(x - h * u, u, t)) / (2.0 * h)


def hessian_form_grad(obj, x, u, t: float = 1.0) -> np.ndarray:
    """grad_x (u^T H(x) u) at fixed u: zero for declared quadratics, exact for formula
    objectives, central differences of Hessian-vector products otherwise."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    st = getattr(obj, "structure", None)
    if st is not None and st.kind in ("quadratic", "diagonal"):
        return np.zeros_like(x)
    if getattr(obj, "is_symbolic", False):
        return symbolic_hessian_form_grad(obj, x, u, t)
    return fd_hessian_form_grad(obj, x, u, t)
