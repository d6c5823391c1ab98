"""Training problems: data, a loss and (optionally) a test error, with no download.

A :class:`Problem` holds its data as tensors and gives the loss of a model on
the whole training set or on a minibatch drawn by :meth:`Problem.draw`.
Regression and classification use the square loss of Ma, Wu & E (section 4:
"the quadratic loss is used for all the experiments, including the
classification problems"), L = sum_i |model(x_i) - y_i|^2 / (2 n), which for a
bias-free linear model is exactly :func:`adadyn.objectives.least_squares`.
"""
from __future__ import annotations

import copy
import hashlib

import numpy as np
import torch

__all__ = ["Problem", "regression", "classification", "sine_regression", "digits"]


class Problem:
    """Base class: tensors in ``self.data``, ``loss(model, batch)``, ``test_error(model)``.

    Attributes
    ----------
    name : str
    in_dim, out_dim : int
        Input and output widths a model needs.
    image_shape : tuple of int or None
        (channels, height, width) when the inputs are stored as images
        ``(n, C, H, W)`` (for :func:`adadyn.nn.convnet`); None for rows ``(n, in_dim)``.
    n : int
        Number of training points (of each part, for the deep Galerkin problems).
    has_test : bool
        Whether :meth:`test_error` is defined.
    min_value : None
        The minimum of the loss is not known.
    lower_bound : float
        0: the loss (cross-entropy, mean squared error, squared residuals) is >= 0, so
        :func:`adadyn.analysis.classify` measures the loss from 0 and treats f* as unknown
        (``f_star_known=False``).
    """

    name = "problem"
    image_shape = None
    min_value = None
    lower_bound = 0.0
    has_test = False
    test_metric = ""

    def __init__(self, data: dict, in_dim: int, out_dim: int, n: int):
        self.data = data
        self.in_dim, self.out_dim, self.n = int(in_dim), int(out_dim), int(n)

    def to(self, device=None, dtype=None) -> "Problem":
        """A copy with every tensor on ``device`` in floating type ``dtype``."""
        new = copy.copy(self)
        new.data = {k: t.to(device=device, dtype=dtype if t.is_floating_point() else None)
                    for k, t in self.data.items()}
        return new

    def draw(self, generator: torch.Generator, batch_size: int):
        """Indices of a minibatch: ``batch_size`` distinct training points, uniformly
        at random from ``generator`` (on the CPU, so the stream does not depend on the device)."""
        return torch.randperm(self.n, generator=generator)[:batch_size]

    def loss(self, model, batch=None) -> torch.Tensor:
        raise NotImplementedError

    def test_error(self, model) -> torch.Tensor:
        raise ValueError(f"{self.name} has no test set")

    def identity(self) -> str:
        """sha256 of the name and the data (the resume key of a sweep over this problem)."""
        h = hashlib.sha256(self.name.encode())
        for k in sorted(self.data):
            t = self.data[k].detach().to("cpu", torch.float64).contiguous()
            h.update(k.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.numpy().tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        test = f", test: {self.test_metric}" if self.has_test else ""
        return f"{type(self).__name__}({self.name!r}, n={self.n}, {self.in_dim} -> {self.out_dim}{test})"


class Regression(Problem):
    """Square loss sum_i |model(x_i) - y_i|^2 / (2 n) over the (batch's) points.

    ``test_metric``: ``'mse'`` (mean over test points of |model(x) - y|^2) or
    ``'error_rate'`` (fraction of test points whose largest output is not the
    label, for one-hot targets). With ``image_shape`` (C, H, W) the rows of X (and
    X_test) are stored reshaped to images (n, C, H, W), channel first.
    """

    def __init__(self, X, Y, X_test=None, Y_test=None, *, name="regression", test_metric="mse", image_shape=None):
        X, Y = _as_2d("X", X), _as_2d("Y", Y)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        if X.shape[0] == 0:
            raise ValueError("the training set is empty")
        data = {"X": X, "Y": Y}
        if X_test is not None:
            Xt, Yt = _as_2d("X_test", X_test), _as_2d("Y_test", Y_test)
            if Xt.shape[1] != X.shape[1] or Yt.shape[1] != Y.shape[1] or Xt.shape[0] != Yt.shape[0]:
                raise ValueError(f"test data shapes {tuple(Xt.shape)}, {tuple(Yt.shape)} do not match "
                                 f"training shapes {tuple(X.shape)}, {tuple(Y.shape)}")
            data.update(X_test=Xt, Y_test=Yt)
            self.has_test = Xt.shape[0] > 0
        if test_metric not in ("mse", "error_rate"):
            raise ValueError(f"test_metric must be 'mse' or 'error_rate', got {test_metric!r}")
        super().__init__(data, X.shape[1], Y.shape[1], X.shape[0])
        self.name, self.test_metric = name, test_metric
        if image_shape is not None:
            shape = tuple(int(c) for c in image_shape)
            if len(shape) != 3 or min(shape) < 1 or int(np.prod(shape)) != X.shape[1]:
                raise ValueError(f"image_shape must be (channels, height, width) with product {X.shape[1]} "
                                 f"(the width of X), got {image_shape!r}")
            for k in ("X", "X_test"):
                if k in data:
                    data[k] = data[k].reshape(data[k].shape[0], *shape)
            self.image_shape = shape

    def loss(self, model, batch=None) -> torch.Tensor:
        X, Y = self.data["X"], self.data["Y"]
        if batch is not None:
            X, Y = X[batch], Y[batch]
        r = model(X) - Y
        return (r * r).sum() / (2 * X.shape[0])

    @torch.no_grad()
    def test_error(self, model) -> torch.Tensor:
        if not self.has_test:
            return super().test_error(model)
        out, Y = model(self.data["X_test"]), self.data["Y_test"]
        if self.test_metric == "mse":
            return ((out - Y) ** 2).sum() / Y.shape[0]
        return (out.argmax(1) != Y.argmax(1)).to(out.dtype).mean()


def _as_2d(name, a) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a, dtype=np.float64) if not isinstance(a, torch.Tensor) else a)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains non-finite values")
    return t.to(torch.float64)


def regression(X, Y, X_test=None, Y_test=None, *, name: str = "regression") -> Problem:
    """Square-loss regression on given data: L = sum_i |model(x_i) - y_i|^2 / (2 n).

    With a bias-free linear model (``mlp([d, 1], bias=False)``) this is
    :func:`adadyn.objectives.least_squares` ``(X, y)``: f(w) = |X w - y|^2 / (2 n).
    """
    return Regression(X, Y, X_test, Y_test, name=name)


def sine_regression(n: int = 2000, dim: int = 5, *, n_test: int = 0, seed: int = 0) -> Problem:
    """Fit f*(x) = sum_k sin(2 pi x_k) on [0, 1]^dim from ``n`` uniform points
    (Figure 1, right, of Ma, Wu & E: dim = 5, n = 2000, a 5-100-100-1 ReLU network).

    ``n_test`` further uniform points (independent of the training points) give
    the test mean squared error.
    """
    n, dim, n_test = _count("n", n, 1), _count("dim", dim, 1), _count("n_test", n_test, 0)
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, (n, dim))
    Xt = rng.uniform(0.0, 1.0, (n_test, dim))
    f = lambda Z: np.sin(2 * np.pi * Z).sum(axis=1)  # noqa: E731
    return Regression(X, f(X), Xt if n_test else None, f(Xt) if n_test else None,
                      name=f"sine regression (d={dim}, n={n})")


def classification(X, labels, *, classes=None, X_test=None, labels_test=None, name="classification",
                   image_shape=None) -> Problem:
    """Square-loss classification: targets are one-hot vectors over ``classes``
    (default: the sorted distinct labels); test error = fraction misclassified.
    ``image_shape`` (C, H, W): store the inputs as images (n, C, H, W) (see :class:`Problem`)."""
    labels = np.asarray(labels).reshape(-1)
    classes = np.unique(labels) if classes is None else np.asarray(classes).reshape(-1)
    index = {c: i for i, c in enumerate(classes.tolist())}

    def onehot(lab):
        Y = np.zeros((lab.shape[0], len(index)))
        try:
            Y[np.arange(lab.shape[0]), [index[c] for c in lab.tolist()]] = 1.0
        except KeyError as exc:
            raise ValueError(f"label {exc.args[0]!r} is not among classes {classes.tolist()}") from None
        return Y

    Xm = np.asarray(X, dtype=np.float64).reshape(labels.shape[0], -1)
    Yt = None
    if X_test is not None:
        lt = np.asarray(labels_test).reshape(-1)
        X_test = np.asarray(X_test, dtype=np.float64).reshape(lt.shape[0], -1)
        Yt = onehot(lt)
    p = Regression(Xm, onehot(labels), X_test, Yt, name=name, test_metric="error_rate", image_shape=image_shape)
    p.classes = classes
    return p


def digits(n_classes: int = 2, *, test_fraction: float = 0.25, seed: int = 0, images: bool = False) -> Problem:
    """scikit-learn's bundled UCI digits (1797 8x8 images, no download), pixels / 16,
    the first ``n_classes`` digits (2 or 10 in the experiments), square loss on
    one-hot targets; a ``test_fraction`` of each class is held out (seeded).
    ``images=True`` stores the inputs as (n, 1, 8, 8) images (for :func:`adadyn.nn.convnet`)
    instead of rows of 64 (the same numbers)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover
        raise ImportError('digits needs scikit-learn: pip install "adadyn[torch]"') from exc
    n_classes = _count("n_classes", n_classes, 2)
    if n_classes > 10:
        raise ValueError(f"n_classes must be in [2, 10], got {n_classes}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    d = load_digits()
    keep = d.target < n_classes
    X, y = d.data[keep] / 16.0, d.target[keep]
    rng = np.random.default_rng(seed)
    test = np.zeros(y.shape[0], dtype=bool)
    for c in range(n_classes):
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[: int(round(test_fraction * idx.shape[0]))]] = True
    return classification(X[~test], y[~test], classes=np.arange(n_classes),
                          X_test=X[test] if test.any() else None, labels_test=y[test] if test.any() else None,
                          name=f"digits ({n_classes} classes)", image_shape=(1, 8, 8) if images else None)


def _count(name, val, lo) -> int:
    if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo or val > 10**8:
        raise ValueError(f"{name} must be an integer in [{lo}, 1e8], got {val!r}")
    return int(val)
