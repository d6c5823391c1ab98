"""Second hardening round, class 3 (datasets): hostile or damaged IDX files fail with a
DatasetError naming the file, in bounded time and memory; the real Fashion-MNIST of the
Debian package ``dataset-fashion-mnist`` is found without a path."""
import gzip
import os
import tracemalloc
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")  # adadyn.nn needs torch at import; CI runs these in its torch pass

from adadyn.nn import datasets as D  # noqa: E402
from adadyn.nn.datasets import DatasetError  # noqa: E402


def _head(magic, dims):
    return magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in dims)


def _write(path, raw, gz):
    if gz:
        with gzip.open(str(path) + ".gz", "wb", compresslevel=1) as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def _labels(d, n, gz=True):
    _write(d / "train-labels-idx1-ubyte", _head(2049, [n]) + (np.arange(n) % 10).astype(np.uint8).tobytes(), gz)


def test_gzip_bomb_is_decompressed_only_as_far_as_the_request(tmp_path):
    n = 200_000  # 157 MB of images inflated, about 150 KB on disk
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb", compresslevel=9) as fh:
        fh.write(_head(2051, [n, 28, 28]))
        zeros = bytes(784 * 10_000)
        for _ in range(n // 10_000):
            fh.write(zeros)
    assert (tmp_path / "train-images-idx3-ubyte.gz").stat().st_size < 1 << 20
    _labels(tmp_path, n)
    tracemalloc.start()
    X, y = D._fashion_split(tmp_path, "train", range(10), 3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert X.shape == (30, 784) and np.array_equal(y, np.repeat(np.arange(10), 3))
    assert peak < 8 << 20, peak  # the first 30 images and 200 KB of labels, not 157 MB


@pytest.mark.parametrize("dims,match", [
    ([5_000_000, 28, 28], "claims 5000000 items"),
    ([2, 2**32 - 1, 2**32 - 1], "not 28 x 28"),  # the product overflows int64
    ([2, 1, 1], "images of 1 x 1"),
])
def test_header_claims_are_refused_before_any_data_is_read(tmp_path, dims, match):
    _write(tmp_path / "train-images-idx3-ubyte", _head(2051, dims) + bytes(64), gz=True)
    _labels(tmp_path, 2)
    with pytest.raises(DatasetError, match=match) as exc:
        D._fashion_split(tmp_path, "train", range(2), 1)
    assert "train-images-idx3-ubyte.gz" in str(exc.value)


def _real_gz(tmp_path, n=40):
    rng = np.random.default_rng(0)
    raw = _head(2051, [n, 28, 28]) + rng.integers(0, 4, n * 784).astype(np.uint8).tobytes()
    _write(tmp_path / "train-images-idx3-ubyte", raw, gz=True)
    _labels(tmp_path, n)
    return (tmp_path / "train-images-idx3-ubyte.gz").read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "not-gzip", "empty"])
def test_damaged_gzip_is_a_dataset_error_naming_the_file(tmp_path, damage):
    blob = _real_gz(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte.gz"
    if damage == "truncated":
        f.write_bytes(blob[: len(blob) // 2])
    elif damage == "corrupt":
        mid = len(blob) // 2
        f.write_bytes(blob[:mid] + bytes(b ^ 0xFF for b in blob[mid:mid + 64]) + blob[mid + 64:])
    elif damage == "not-gzip":
        f.write_bytes(b"PK\x03\x04" + blob[4:])
    else:
        f.write_bytes(b"")
    with pytest.raises(DatasetError) as exc:
        D._fashion_split(tmp_path, "train", range(10), 4)
    assert str(f) in str(exc.value)
    assert not isinstance(exc.value.__context__, (EOFError, zlib.error)) or exc.value.__suppress_context__


def test_fifo_in_place_of_a_dataset_file_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(DatasetError, match="not a regular file"):
        D._fashion_split(tmp_path, "train", range(2), 1)


def test_system_locations_are_named_when_nothing_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_DIRS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    with pytest.raises(DatasetError, match="looked in") as exc:
        D.fashion_mnist(None, per_class=1)
    for d in ("home", "a", "b"):
        assert str(tmp_path / d / "datasets" / "fashion-mnist") in str(exc.value)
    found = tmp_path / "b" / "datasets" / "fashion-mnist"
    found.mkdir(parents=True)
    _real_gz(found)
    assert D._fashion_dir(None) == tmp_path / "b" / "datasets" / "fashion-mnist"


def _system_fashion():
    for d in D.system_dataset_dirs():
        if (d / "train-images-idx3-ubyte.gz").is_file() or (d / "train-images-idx3-ubyte").is_file():
            return d
    return None


@pytest.mark.skipif(_system_fashion() is None,
                    reason="the Debian package dataset-fashion-mnist is not installed (no system Fashion-MNIST)")
def test_real_fashion_mnist_from_the_system_package():
    root = _system_fashion()
    X, y = D._fashion_split(root, "train")
    Xt, yt = D._fashion_split(root, "t10k")
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784) and X.dtype == np.uint8
    assert np.array_equal(np.bincount(y), np.full(10, 6000)) and np.array_equal(np.bincount(yt), np.full(10, 1000))
    assert 0 < X.mean() < 255 and X.max() == 255
    pytest.importorskip("torch")
    p = D.fashion_mnist(None, classes=(0, 9), per_class=3, test_per_class=2)
    assert p.in_dim == 784 and p.out_dim == 2 and p.n == 6
    np.testing.assert_array_equal(p.data["X"].numpy()[:3], X[y == 0][:3] / 255.0)
