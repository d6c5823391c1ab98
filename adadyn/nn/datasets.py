"""CIFAR-10 and Fashion-MNIST from local files (never downloaded).

The experiments of Ma, Wu & E (Figures 1 left, 2, 3, 4, 7: two CIFAR-10
classes with 1000 images each; Figure 8: Fashion-MNIST) use a class subset
and a per-class count; :func:`cifar10` and :func:`fashion_mnist` read the
standard distribution files from a directory the user gives and build a
square-loss classification :class:`~adadyn.nn.problems.Problem` (pixels / 255,
one-hot targets). The first ``per_class`` images of each class in file order
are taken, so the subset is deterministic.

CIFAR-10 pickles are read with an unpickler that admits only numpy arrays,
so a hostile file cannot run code.
"""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from adadyn.nn.problems import Problem, _count, classification

__all__ = ["DatasetError", "cifar10", "fashion_mnist", "CIFAR_LAYOUT", "FASHION_LAYOUT"]

CIFAR_LAYOUT = ("the CIFAR-10 python version: a directory (or its parent) 'cifar-10-batches-py' holding "
                "data_batch_1 ... data_batch_5 and test_batch, each a pickled dict with b'data' "
                "(uint8, N x 3072) and b'labels' (N ints in 0..9)")
FASHION_LAYOUT = ("the Fashion-MNIST IDX files in one directory (or in its subdirectory 'fashion-mnist' or "
                  "'FashionMNIST/raw', torchvision's layout): train-images-idx3-ubyte and "
                  "train-labels-idx1-ubyte (and t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte for a "
                  "test set), optionally gzipped (.gz); images magic 2051 (N x 28 x 28 uint8), labels 2049")


class DatasetError(ValueError):
    """A dataset file is missing or malformed (the message names the expected layout)."""


class _NumpyOnly(pickle.Unpickler):
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"),
                ("_codecs", "encode")}  # how Python 3 writes bytes at protocol 2

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")


def _cifar_dir(path: Path) -> Path:
    for cand in (path, path / "cifar-10-batches-py"):
        if (cand / "data_batch_1").is_file():
            return cand
    raise DatasetError(f"no CIFAR-10 batches under {str(path)!r}; expected {CIFAR_LAYOUT}")


def _cifar_batch(f: Path):
    if not f.is_file():
        raise DatasetError(f"missing {str(f)!r}; expected {CIFAR_LAYOUT}")
    try:
        with open(f, "rb") as fh:
            d = _NumpyOnly(fh, encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except Exception as exc:  # any unpickling failure is a malformed file
        raise DatasetError(f"{str(f)!r} is not a CIFAR-10 batch ({type(exc).__name__}: {exc}); "
                           f"expected {CIFAR_LAYOUT}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],) or \
            (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise DatasetError(f"{str(f)!r} has data of shape {data.shape} and {labels.shape[0]} labels; "
                           f"expected {CIFAR_LAYOUT}")
    return data, labels


def _subset(data, labels, classes, per_class, what):
    keep = []
    for c in classes:
        idx = np.flatnonzero(labels == c)[:per_class]
        if idx.shape[0] < per_class:
            raise DatasetError(f"{what}: class {c} has only {idx.shape[0]} images, {per_class} asked for")
        keep.append(idx)
    idx = np.concatenate(keep)
    return data[idx].astype(np.float64) / 255.0, labels[idx]


def _classes(classes):
    cl = [int(c) for c in classes]
    if len(cl) < 2 or len(set(cl)) != len(cl) or min(cl) < 0 or max(cl) > 9:
        raise ValueError(f"classes must be at least two distinct labels in 0..9, got {classes!r}")
    return cl


def cifar10(path, classes=(0, 1), per_class: int = 1000, *, test_per_class: int = 0, images: bool = False) -> Problem:
    """Square-loss classification on a CIFAR-10 class subset read from local files.

    Parameters
    ----------
    path : str or Path
        ``cifar-10-batches-py`` or its parent (see :data:`CIFAR_LAYOUT`).
    classes : sequence of int
        Labels to keep (default the first two, airplane and automobile).
    per_class : int
        Training images per class (the first ones in data_batch_1, 2, ...).
    test_per_class : int
        Test images per class from ``test_batch`` (0: no test set).
    images : bool
        Store the inputs as (n, 3, 32, 32) images (for :func:`adadyn.nn.convnet`)
        instead of rows of 3072 (the file's channel-first order either way).
    """
    cl, per_class = _classes(classes), _count("per_class", per_class, 1)
    test_per_class = _count("test_per_class", test_per_class, 0)
    root = _cifar_dir(Path(path))
    parts, labs = [], []
    for i in range(1, 6):
        f = root / f"data_batch_{i}"
        if not f.exists() and i > 1:
            break
        x, y = _cifar_batch(f)
        parts.append(x)
        labs.append(y)
        have = min(int(np.sum(np.concatenate(labs) == c)) for c in cl)
        if have >= per_class:
            break
    X, y = _subset(np.concatenate(parts), np.concatenate(labs), cl, per_class, str(root))
    Xt = yt = None
    if test_per_class:
        xt, lt = _cifar_batch(root / "test_batch")
        Xt, yt = _subset(xt, lt, cl, test_per_class, str(root / "test_batch"))
    return classification(X, y, classes=np.array(cl), X_test=Xt, labels_test=yt,
                          name=f"CIFAR-10 classes {cl}, {per_class} per class",
                          image_shape=(3, 32, 32) if images else None)


def _idx(path: Path, stem: str, magic: int, ndim: int) -> np.ndarray:
    for f in (path / stem, path / (stem + ".gz")):
        if f.is_file():
            break
    else:
        raise DatasetError(f"missing {str(path / stem)!r} (or .gz); expected {FASHION_LAYOUT}")
    opener = gzip.open if f.suffix == ".gz" else open
    try:
        with opener(f, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise DatasetError(f"cannot read {str(f)!r} ({exc}); expected {FASHION_LAYOUT}") from None
    if len(raw) < 4 + 4 * ndim or int.from_bytes(raw[:4], "big") != magic:
        got = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise DatasetError(f"{str(f)!r} is not an IDX file with magic {magic} (got {got}); expected {FASHION_LAYOUT}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise DatasetError(f"{str(f)!r}: header says {dims} ({int(np.prod(dims))} bytes) but the file has "
                           f"{len(body)} data bytes; expected {FASHION_LAYOUT}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _fashion_split(root, prefix):
    images = _idx(root, f"{prefix}-images-idx3-ubyte", 2051, 3)
    labels = _idx(root, f"{prefix}-labels-idx1-ubyte", 2049, 1).astype(np.int64)
    if images.shape[0] != labels.shape[0] or (labels.size and labels.max() > 9):
        raise DatasetError(f"{prefix}: {images.shape[0]} images but {labels.shape[0]} labels (or a label > 9); "
                           f"expected {FASHION_LAYOUT}")
    return images.reshape(images.shape[0], -1), labels


def _fashion_dir(path: Path) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{str(path)!r} is not a directory; expected {FASHION_LAYOUT}")
    for cand in (path, path / "fashion-mnist", path / "FashionMNIST" / "raw"):
        if any((cand / f"train-images-idx3-ubyte{gz}").is_file() for gz in ("", ".gz")):
            return cand
    return path   # _idx names the missing file


def fashion_mnist(path, classes=tuple(range(10)), per_class: int = 1000, *, test_per_class: int = 0,
                  images: bool = False) -> Problem:
    """Square-loss classification on a Fashion-MNIST class subset read from local IDX files
    (see :data:`FASHION_LAYOUT`); the first ``per_class`` training images of each class,
    ``test_per_class`` from the t10k files; ``images=True`` stores the inputs as
    (n, 1, 28, 28) images instead of rows of 784."""
    cl, per_class = _classes(classes), _count("per_class", per_class, 1)
    test_per_class = _count("test_per_class", test_per_class, 0)
    root = _fashion_dir(Path(path))
    X, y = _subset(*_fashion_split(root, "train"), cl, per_class, str(root))
    Xt = yt = None
    if test_per_class:
        Xt, yt = _subset(*_fashion_split(root, "t10k"), cl, test_per_class, str(root))
    return classification(X, y, classes=np.array(cl), X_test=Xt, labels_test=yt,
                          name=f"Fashion-MNIST classes {cl}, {per_class} per class",
                          image_shape=(1, 28, 28) if images else None)
