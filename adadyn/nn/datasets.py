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
import math
import os
import pickle
import stat
import zlib
from pathlib import Path

import numpy as np

from adadyn.nn.problems import Problem, _count, classification

__all__ = ["DatasetError", "cifar10", "fashion_mnist", "system_dataset_dirs", "CIFAR_LAYOUT", "FASHION_LAYOUT",
           "MAX_IDX_ITEMS"]

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


#: Most items an IDX header may announce (Fashion-MNIST has 60000 + 10000); a header claiming
#: more is refused before anything is decompressed.
MAX_IDX_ITEMS = 1_000_000
#: Fashion-MNIST's image size.
FASHION_IMAGE = (28, 28)
_GZIP_MAGIC = b"\x1f\x8b"


def _idx_file(path: Path, stem: str) -> Path:
    for f in (path / stem, path / (stem + ".gz")):
        try:
            st = os.lstat(f)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            try:
                st = os.stat(f)  # a symlink to a regular file is fine for reading (Debian links them)
            except OSError:
                continue
        if stat.S_ISREG(st.st_mode):
            return f
        raise DatasetError(f"{str(f)!r} is not a regular file (a FIFO or device is never opened); "
                           f"expected {FASHION_LAYOUT}")
    raise DatasetError(f"missing {str(path / stem)!r} (or .gz); expected {FASHION_LAYOUT}")


class _IDX:
    """An IDX file opened for streaming: its header is checked before any data is read or
    decompressed, and reads are bounded by what the header promises."""

    def __init__(self, f: Path, magic: int, ndim: int):
        self.f = f
        self.raw = open(f, "rb")
        try:
            if f.suffix == ".gz":
                if self.raw.read(2) != _GZIP_MAGIC:
                    raise DatasetError(f"{str(f)!r} is not a gzip file; expected {FASHION_LAYOUT}")
                self.raw.seek(0)
                self.fh = gzip.GzipFile(fileobj=self.raw, mode="rb")
            else:
                self.fh = self.raw
            head = self.read_exact(4 + 4 * ndim, "the header")
        except BaseException:
            self.close()
            raise
        got = int.from_bytes(head[:4], "big")
        if got != magic:
            self.close()
            raise DatasetError(f"{str(f)!r} is not an IDX file with magic {magic} (got {got}); "
                               f"expected {FASHION_LAYOUT}")
        self.dims = [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
        if self.dims[0] > MAX_IDX_ITEMS:
            self.close()
            raise DatasetError(f"{str(f)!r}: the header claims {self.dims[0]} items (at most {MAX_IDX_ITEMS} "
                               f"are read; Fashion-MNIST has 60000 and 10000); expected {FASHION_LAYOUT}")
        self.item = math.prod(self.dims[1:])  # Python ints: no overflow
        if self.fh is self.raw:  # uncompressed: the file's size must be what the header says
            have = os.fstat(self.raw.fileno()).st_size - (4 + 4 * ndim)
            if have != self.dims[0] * self.item:
                self.close()
                raise DatasetError(f"{str(f)!r}: header says {self.dims} ({self.dims[0] * self.item} bytes) but "
                                   f"the file has {have} data bytes; expected {FASHION_LAYOUT}")

    def read_exact(self, n: int, what: str) -> bytes:
        try:
            data = self.fh.read(n)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DatasetError(f"{str(self.f)!r} is corrupt or truncated while reading {what} "
                               f"({type(exc).__name__}: {str(exc)[:120]}); expected {FASHION_LAYOUT}") from None
        if len(data) != n:
            raise DatasetError(f"{str(self.f)!r} is truncated: the header says {what} ({n} bytes), the file "
                               f"has {len(data)}; expected {FASHION_LAYOUT}")
        return data

    def items(self, count: int) -> np.ndarray:
        """The first ``count`` items (at most the header's count), shape ``(count, *dims[1:])``."""
        count = min(int(count), self.dims[0])
        body = self.read_exact(count * self.item, f"{count} items of {self.item} bytes")
        if count == self.dims[0] and self.fh is not self.raw:  # at the end: gzip checks its CRC and length
            try:
                extra = self.fh.read(1)
            except (OSError, EOFError, zlib.error) as exc:
                raise DatasetError(f"{str(self.f)!r} is corrupt ({type(exc).__name__}: {str(exc)[:120]}); "
                                   f"expected {FASHION_LAYOUT}") from None
            if extra:
                raise DatasetError(f"{str(self.f)!r} is longer than its header says ({self.dims}); "
                                   f"expected {FASHION_LAYOUT}")
        return np.frombuffer(body, dtype=np.uint8).reshape([count] + self.dims[1:])

    def close(self) -> None:
        for h in (getattr(self, "fh", None), self.raw):
            if h is not None:
                try:
                    h.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _first_per_class(labels: np.ndarray, classes, per_class: int | None, what: str) -> np.ndarray:
    """Indices of the first ``per_class`` items of each class (all of them when None)."""
    keep = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if per_class is not None:
            idx = idx[:per_class]
            if idx.shape[0] < per_class:
                raise DatasetError(f"{what}: class {c} has only {idx.shape[0]} images, {per_class} asked for")
        keep.append(idx)
    return np.concatenate(keep)


def _fashion_split(root, prefix, classes=tuple(range(10)), per_class=None):
    """``(images as rows of 784 uint8, labels)`` of the ``per_class`` first images of each of
    ``classes``; only the images up to the last one needed are decompressed."""
    imf = _idx_file(root, f"{prefix}-images-idx3-ubyte")
    with _IDX(imf, 2051, 3) as im:  # both headers are checked before any data is read
        if tuple(im.dims[1:]) != FASHION_IMAGE:
            raise DatasetError(f"{str(imf)!r} holds images of {im.dims[1]} x {im.dims[2]}, not "
                               f"{FASHION_IMAGE[0]} x {FASHION_IMAGE[1]}: not Fashion-MNIST; expected {FASHION_LAYOUT}")
        lf = _idx_file(root, f"{prefix}-labels-idx1-ubyte")
        with _IDX(lf, 2049, 1) as lab:
            if im.dims[0] != lab.dims[0]:
                raise DatasetError(f"{prefix}: {im.dims[0]} images but {lab.dims[0]} labels; "
                                   f"expected {FASHION_LAYOUT}")
            labels = lab.items(lab.dims[0]).astype(np.int64)
        if labels.size and labels.max() > 9:
            raise DatasetError(f"{str(lf)!r}: a label > 9; expected {FASHION_LAYOUT}")
        idx = _first_per_class(labels, classes, per_class, str(root))
        images = im.items(int(idx.max()) + 1 if idx.size else 0)
    return images.reshape(images.shape[0], -1)[idx], labels[idx]


def system_dataset_dirs(name: str = "fashion-mnist") -> list[Path]:
    """Where system-wide datasets are looked for: ``DIR/datasets/NAME`` for ``DIR`` in
    ``$XDG_DATA_HOME`` (default ``~/.local/share``) and ``$XDG_DATA_DIRS`` (default
    ``/usr/local/share:/usr/share``, where Debian's ``dataset-fashion-mnist`` installs)."""
    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    dirs = [home] + (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    out = []
    for d in dirs:
        if d and os.path.isabs(d):
            p = Path(d) / "datasets" / name
            if p not in out:
                out.append(p)
    return out


def _fashion_dir(path) -> Path:
    if path is None:
        looked = system_dataset_dirs()
        for cand in looked:
            if any((cand / f"train-images-idx3-ubyte{gz}").is_file() for gz in ("", ".gz")):
                return cand
        raise DatasetError("no Fashion-MNIST found: looked in " + ", ".join(str(p) for p in looked)
                           + " (install the Debian package dataset-fashion-mnist, or give path=DIR); "
                           f"expected {FASHION_LAYOUT}")
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{str(path)!r} is not a directory; expected {FASHION_LAYOUT}")
    for cand in (path, path / "fashion-mnist", path / "FashionMNIST" / "raw"):
        if any((cand / f"train-images-idx3-ubyte{gz}").is_file() for gz in ("", ".gz")):
            return cand
    return path   # _idx_file names the missing file


def fashion_mnist(path=None, classes=tuple(range(10)), per_class: int = 1000, *, test_per_class: int = 0,
                  images: bool = False, pool: int = 1) -> Problem:
    """Square-loss classification on a Fashion-MNIST class subset read from local IDX files
    (see :data:`FASHION_LAYOUT`); the first ``per_class`` training images of each class,
    ``test_per_class`` from the t10k files; ``images=True`` stores the inputs as
    (n, 1, 28, 28) images instead of rows of 784. ``pool`` (a divisor of 28: 1, 2, 4, 7,
    14, 28) averages each image over ``pool`` x ``pool`` blocks, giving (28 / pool)^2
    pixels (``pool=2``: 14 x 14, rows of 196), still in [0, 1].

    ``path=None`` looks in the system's dataset directories
    (:func:`system_dataset_dirs`, e.g. ``/usr/share/datasets/fashion-mnist`` from the
    Debian package ``dataset-fashion-mnist``) and raises :class:`DatasetError` naming
    them when none holds the files.

    Hostile or damaged files fail with a :class:`DatasetError` naming the file, in
    bounded time and memory: the gzip and IDX headers are checked first (magic,
    at most :data:`MAX_IDX_ITEMS` items, 28 x 28 images, as many images as labels),
    and only the images up to the last one needed are decompressed.
    """
    cl, per_class = _classes(classes), _count("per_class", per_class, 1)
    test_per_class = _count("test_per_class", test_per_class, 0)
    side = FASHION_IMAGE[0]
    if isinstance(pool, bool) or not isinstance(pool, (int, np.integer)) or pool < 1 or side % pool:
        raise ValueError(f"pool must be a divisor of {side} (1, 2, 4, 7, 14, 28), got {pool!r}")
    root = _fashion_dir(path)
    X, y = _subset(*_fashion_split(root, "train", cl, per_class), cl, per_class, str(root))
    Xt = yt = None
    if test_per_class:
        Xt, yt = _subset(*_fashion_split(root, "t10k", cl, test_per_class), cl, test_per_class, str(root))
    side //= int(pool)
    if pool > 1:
        X, Xt = (None if Z is None else _pool(Z, int(pool)) for Z in (X, Xt))
    return classification(X, y, classes=np.array(cl), X_test=Xt, labels_test=yt,
                          name=f"Fashion-MNIST classes {cl}, {per_class} per class"
                               + (f", {side} x {side} ({pool} x {pool} averages)" if pool > 1 else ""),
                          image_shape=(1, side, side) if images else None)


def _pool(X: np.ndarray, k: int) -> np.ndarray:
    """Rows of square images averaged over k x k blocks (rows of (side / k)^2)."""
    side = math.isqrt(X.shape[1])
    m = side // k
    return X.reshape(X.shape[0], m, k, m, k).mean(axis=(2, 4)).reshape(X.shape[0], m * m)
