"""Objectives: value, gradient and Hessian compiled with Numba.

Build one from a sympy expression (:meth:`Objective.from_sympy`), a safely
parsed formula (:meth:`Objective.from_expr`), user ``@njit`` functions
(:meth:`Objective.from_numba`), or take one from the library below.
"""
from adadyn.objectives.base import Box, Objective, Structure
from adadyn.objectives.library import (
    cosine_bowl,
    diagonal_quadratic,
    least_squares,
    quadratic,
    random_quadratic,
    reddi_online,
    rosenbrock,
)

__all__ = [
    "Objective", "Box", "Structure", "quadratic", "random_quadratic", "diagonal_quadratic",
    "rosenbrock", "cosine_bowl", "least_squares", "reddi_online",
]
