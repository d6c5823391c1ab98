"""Matrix-free implicit solves: BDF with Newton-Krylov (GMRES) on Jacobian-vector products.

For an objective without a Numba-compiled gradient (a network, :func:`adadyn.nn.objective`)
with a state too long for a dense Jacobian (:data:`DENSE_JAC_MAX_STATE`), the implicit
solve never forms the n x n Jacobian: each Newton system (I - c J) dy = r of scipy's
BDF is solved by GMRES on products J w.

The field of every smooth flow (eqs. (4), (7), (8) of Ma, Wu & E) depends on x only
through g = grad f(x), and on m, v coordinate by coordinate. So

    J w = D_g (H w_x) + D_mv w_mv ,

where, per coordinate i, D_g and D_mv are the columns of the k x k Jacobian of the
one-dimensional flow with Hessian 1 (:func:`adadyn.flows.kernels.jac_separable` with
h = 1), and H w_x is one Hessian-vector product of the objective (``obj.hvp``, double
backward for a network). The operator is frozen at the (t, y) where BDF asks for its
Jacobian, as a dense Jacobian would be (an objective with ``hvp_at(x)``, such as a
network's, builds the gradient's graph there once for all the products).
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import BDF
from scipy.sparse import csc_matrix, eye
from scipy.sparse.linalg import LinearOperator, gmres

from adadyn.flows import kernels as FK

__all__ = ["KrylovBDF", "jacobian_operator", "DENSE_JAC_MAX_STATE", "GMRES_RTOL"]

#: Longest state for which a network objective's implicit solve builds the dense Jacobian
#: (d Hessian columns by autograd and an n x n LU); above it the solve is matrix-free.
DENSE_JAC_MAX_STATE = 3000
#: Relative residual of each GMRES solve inside the Newton iteration (an inexact Newton
#: forcing term: on a 25-parameter net 1e-4 took 35% fewer products than 1e-8 at the same
#: end-point accuracy, 4e-9).
GMRES_RTOL = 1e-4


def jacobian_operator(flow, obj, t: float, y: np.ndarray, hvps: list | None = None) -> LinearOperator:
    """The flow's Jacobian dF/dy at (t, y) as a LinearOperator (one ``obj.hvp`` per product).

    ``hvps`` (a one-element list) counts the Hessian-vector products taken.
    """
    y = np.ascontiguousarray(y, dtype=np.float64)
    d = obj.dim
    k = len(flow.blocks)
    n = k * d
    x = y[:d].copy()
    g = obj.grad(x)
    nz = np.empty(d * k * k)
    FK.jac_separable(flow.kernel_kind, flow.params(), float(t), y, g, np.ones(d), k, nz)
    B = nz.reshape(d, k, k)          # B[i, r, c]: row block r, column block c, coordinate i
    at = getattr(obj, "hvp_at", None)   # a network's: the gradient's graph built once for all products
    hvp = at(x) if at is not None else (lambda u: obj.hvp(x, u))

    def mv(w):
        w = np.ravel(w).astype(np.float64, copy=False)
        W = w.reshape(k, d)
        hw = hvp(W[0].copy())
        if hvps is not None:
            hvps[0] += 1
        out = B[:, :, 0].T * hw[None, :]
        for c in range(1, k):
            out += B[:, :, c].T * W[c][None, :]
        return out.reshape(n)

    return LinearOperator((n, n), matvec=mv, dtype=np.float64)


class KrylovBDF(BDF):
    """scipy's BDF whose Newton systems are solved by GMRES on a Jacobian LinearOperator.

    ``jac(t, y)`` must return a LinearOperator (e.g. :func:`jacobian_operator`). The
    step-size and order control, error estimate and Newton iteration are scipy's; only
    the linear algebra changes: "factorising" I - c J keeps the operator, and each solve
    is a GMRES run to the relative residual :data:`GMRES_RTOL` (``nlu`` counts the
    operators built, ``gmres_iters`` the inner iterations).
    """

    def __init__(self, fun, t0, y0, t_bound, jac=None, **kw):
        if not callable(jac):
            raise ValueError("KrylovBDF needs jac: a callable (t, y) -> LinearOperator")
        self._jac_op = jac
        self.gmres_iters = 0
        super().__init__(fun, t0, y0, t_bound, jac=jac, **kw)
        self.J = self._jac_op(t0, self.y)
        n = self.n

        def lu(A):
            self.nlu += 1
            return A

        def solve_lu(A, b):
            count = [0]

            def cb(_):
                count[0] += 1

            sol, info = gmres(A, b, rtol=GMRES_RTOL, atol=0.0, restart=min(n, 60), maxiter=20,
                              callback=cb, callback_type="pr_norm")
            self.gmres_iters += count[0]
            return sol

        self.lu, self.solve_lu = lu, solve_lu
        self.I = LinearOperator((n, n), matvec=lambda w: np.ravel(w).copy(), dtype=np.float64)

    def _validate_jac(self, jac, sparsity):
        """Defer the operator: scipy's __init__ gets a sparse placeholder (so it builds only an
        O(n) sparse identity, replaced after), and later Jacobians come from ``jac`` as operators."""
        n = self.n

        def jac_wrapped(t, y):
            self.njev += 1
            return self._jac_op(t, y)

        return jac_wrapped, csc_matrix((n, n)) if n else eye(0, format="csc")
