"""Grids of named hyperparameter axes: products of axes and of zipped axis groups.

A :class:`Grid` is a product of *dimensions*; each dimension is one axis
(``a``) or a group of zipped axes of equal length (``eta`` and ``a`` moving
together). Points are numbered in C order over the grid's shape, and
:meth:`Grid.take` gives the coordinates of any set of points without building
the whole grid, so a grid of millions of points costs nothing until a chunk of
it is run.
"""
from __future__ import annotations

import numbers
from typing import Mapping

import numpy as np

__all__ = ["Grid"]

#: Largest number of points a grid may have (the flat index is an int64).
MAX_POINTS = 2**40


def _axis(name, vals) -> np.ndarray:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"axis names must be identifiers, got {name!r}")
    try:
        arr = np.asarray(vals)
    except (TypeError, ValueError):
        raise ValueError(f"axis {name!r} must be a 1-D array of numbers") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"axis {name!r} must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f" or (arr.dtype.kind == "O" and all(isinstance(v, numbers.Real) for v in arr)):
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"axis {name!r} must hold finite numbers, got {arr}")
    else:
        raise ValueError(f"axis {name!r} must hold numbers (int or float), got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


class Grid:
    """A grid of named hyperparameter axes.

    ``Grid(a=[...], b=[...])`` is the product of the axes (shape
    ``(len(a), len(b))``); :meth:`zip` makes one dimension of several axes that
    move together; ``g1 * g2`` is the product of two grids.

    Parameters
    ----------
    axes : mapping of str to 1-D array_like, optional
        Axes of the product, in order (keyword arguments are appended).
    **kw : 1-D array_like
        More axes.

    Examples
    --------
    >>> g = Grid(a=[0.1, 1.0, 10.0], b=[1.0, 10.0])
    >>> g.shape, g.size, g.names
    ((3, 2), 6, ('a', 'b'))
    >>> (Grid.zip(eta=[1e-3, 1e-2], a=[1.0, 0.1]) * Grid(eps=[1e-8, 1e-6])).shape
    (2, 2)
    """

    def __init__(self, axes: Mapping | None = None, /, **kw):
        items = list((axes or {}).items()) + list(kw.items())
        self._dims = [{name: _axis(name, vals)} for name, vals in items]
        self._check()

    @classmethod
    def zip(cls, axes: Mapping | None = None, /, **kw) -> "Grid":
        """One dimension of several axes of equal length, taken together."""
        items = list((axes or {}).items()) + list(kw.items())
        g = cls()
        if items:
            dim = {name: _axis(name, vals) for name, vals in items}
            sizes = {n: a.size for n, a in dim.items()}
            if len(set(sizes.values())) != 1:
                raise ValueError(f"zipped axes must have equal lengths, got {sizes}")
            g._dims = [dim]
        g._check()
        return g

    def __mul__(self, other: "Grid") -> "Grid":
        if not isinstance(other, Grid):
            return NotImplemented
        g = Grid()
        g._dims = self._dims + other._dims
        g._check()
        return g

    def _check(self):
        names = [n for d in self._dims for n in d]
        if len(set(names)) != len(names):
            raise ValueError(f"axis names must be distinct, got {names}")
        if self.size > MAX_POINTS:
            raise ValueError(f"the grid has {self.size} points, more than the limit {MAX_POINTS}")

    # ------------------------------------------------------------------ shape
    @property
    def names(self) -> tuple[str, ...]:
        """Axis names, in order."""
        return tuple(n for d in self._dims for n in d)

    @property
    def dims(self) -> tuple[tuple[str, ...], ...]:
        """Axis names of each dimension (a zipped group has several)."""
        return tuple(tuple(d) for d in self._dims)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(next(iter(d.values())).size for d in self._dims)

    @property
    def ndim(self) -> int:
        return len(self._dims)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def axes(self) -> dict[str, np.ndarray]:
        """The 1-D values of every axis (read-only arrays)."""
        return {n: a for d in self._dims for n, a in d.items()}

    # ------------------------------------------------------------------ points
    def take(self, index) -> dict[str, np.ndarray]:
        """Coordinates of the points with flat (C-order) indices ``index``."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= self.size):
            raise IndexError(f"point index out of range [0, {self.size})")
        out = {}
        if not self._dims:
            return out
        sub = np.unravel_index(index, self.shape)
        for d, ix in zip(self._dims, sub):
            for n, a in d.items():
                out[n] = a[ix]
        return out

    def points(self) -> dict[str, np.ndarray]:
        """Every point, flat in C order: ``{name: array of size G}``."""
        return self.take(np.arange(self.size))

    def mesh(self) -> dict[str, np.ndarray]:
        """Every axis broadcast to the grid's shape."""
        return {n: v.reshape(self.shape) for n, v in self.points().items()}

    def point(self, i: int) -> dict:
        """Coordinates of point ``i`` as Python scalars."""
        return {n: v[0].item() for n, v in self.take([i]).items()}

    # ------------------------------------------------------------------ identity
    def identity(self) -> dict:
        """Parts of the sweep key: the layout and the exact values of every axis."""
        parts = {"grid.dims": repr(self.dims)}
        for n, a in self.axes.items():
            parts[f"grid.{n}"] = a
        return parts

    def describe(self) -> dict:
        """A JSON summary for the manifest."""
        return {"dims": [list(d) for d in self.dims], "shape": list(self.shape),
                "axes": {n: [float(a.min()), float(a.max()), int(a.size)] for n, a in self.axes.items()}}

    def __eq__(self, other):
        if not isinstance(other, Grid):
            return NotImplemented
        return self.dims == other.dims and all(
            a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(self.axes.values(), other.axes.values()))

    __hash__ = None

    def __repr__(self) -> str:
        parts = []
        for d in self._dims:
            s = "+".join(d)
            parts.append(f"{s}[{next(iter(d.values())).size}]")
        return f"Grid({' x '.join(parts) or 'empty'})"
