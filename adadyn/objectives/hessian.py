"""The Hessian of an objective at a point, with a statement of its accuracy."""
from __future__ import annotations

import numpy as np

from adadyn.objectives.base import Objective

__all__ = ["hessian_at", "FD_ACCURACY"]

#: Accuracy of the Hessian by central differences (see adadyn.objectives.finite_diff).
FD_ACCURACY = "finite-difference Hessian (central differences of the gradient, ~1e-10 relative)"


def hessian_at(obj: Objective, x, exact: bool | None = None) -> tuple[np.ndarray, str]:
    """The Hessian of ``obj`` at ``x`` and a statement of its accuracy.

    Parameters
    ----------
    obj : Objective
    x : array_like, shape (d,)
    exact : bool, optional
        True: differentiate ``obj.expr`` with sympy and evaluate at x with 30
        significant digits (symbolic objectives only). None (default): sympy
        when the objective is symbolic, else the compiled Hessian, else
        central finite differences. False: never sympy.

    Returns
    -------
    H : ndarray, shape (d, d)
    accuracy : str
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if exact is None:
        exact = obj.is_symbolic
    if exact:
        if not obj.is_symbolic:
            raise ValueError("exact=True needs a symbolic objective (Objective.from_expr / from_sympy)")
        import sympy as sp

        syms = list(obj.symbols)
        from adadyn.objectives.derivative import Differentiator

        # the package's own differentiator: cost follows the size of the result, nonzero
        # entries only, and the a.e. conventions of abs/sign/max/min (docs/formulas.md)
        D = Differentiator("Hessian")
        d = len(syms)
        Hs = sp.zeros(d, d)
        for i, gi in enumerate(D.gradient(obj.expr, syms)):
            for j in range(i, d):
                if syms[j] in D.free(gi):
                    Hs[i, j] = Hs[j, i] = D.d(gi, syms[j])
        sub = {s: sp.Float(repr(float(xi)), 30) for s, xi in zip(syms, x)}
        H = np.array(Hs.subs(sub).evalf(30).tolist(), dtype=np.float64)
        return H, "exact (sympy Hessian, evaluated to 30 digits)"
    H = obj.hessian(x)
    declared = getattr(obj, "hessian_accuracy", None)   # e.g. a network's autograd Hessian
    return H, declared or ("exact (compiled Hessian)" if obj.has_hessian else FD_ACCURACY)
