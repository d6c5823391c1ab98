"""Scaling and splits of the bundled problems against closed forms: pixels / 255 (Fashion-MNIST,
CIFAR-10), the test set read from the test files, digits' per-class held-out count, the sine
problem's uniform inputs and targets, and the test mean squared error of a multi-output
regression (mean over points of |model(x) - y|^2)."""
import gzip
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
from adadyn import nn  # noqa: E402
from adadyn.nn.datasets import system_dataset_dirs  # noqa: E402


def _idx(path, arr, magic):
    head = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    path.write_bytes(head + arr.astype(np.uint8).tobytes())


def _read_idx(path):
    """A NumPy reader of (gzipped) IDX files, independent of adadyn's."""
    raw = gzip.open(path).read() if str(path).endswith(".gz") else open(path, "rb").read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def test_fashion_pixels_are_over_255_and_the_test_set_comes_from_the_t10k_files(tmp_path):
    labels = np.tile(np.arange(10), 4)
    imgs = np.zeros((40, 28, 28), dtype=np.uint8)
    imgs[:, 0, 0] = 255
    imgs[:, 0, 1] = 51
    imgs[:, 1, :] = np.arange(40)[:, None]          # each image its own row value
    test = imgs.copy()
    test[:, 2, :] = 200                              # the test images differ from the training ones
    _idx(tmp_path / "train-images-idx3-ubyte", imgs, 2051)
    _idx(tmp_path / "train-labels-idx1-ubyte", labels, 2049)
    _idx(tmp_path / "t10k-images-idx3-ubyte", test, 2051)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", labels, 2049)
    p = nn.fashion_mnist(tmp_path, classes=(3, 8), per_class=3, test_per_class=2)
    X, Xt = p.data["X"].numpy(), p.data["X_test"].numpy()
    assert np.all(X[:, 0] == 1.0) and np.all(X[:, 1] == 0.2)   # 255 -> 1, 51 -> 0.2 exactly
    np.testing.assert_array_equal(X[:, 28], [3 / 255, 13 / 255, 23 / 255, 8 / 255, 18 / 255, 28 / 255])
    want_t = np.concatenate([test[labels == 3][:2], test[labels == 8][:2]]).reshape(4, -1) / 255.0
    np.testing.assert_array_equal(Xt, want_t)
    assert np.all(Xt[:, 56:84] == 200 / 255) and np.all(X[:, 56:84] == 0.0)


def test_cifar_pixels_are_over_255(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    data = np.zeros((4, 3072), dtype=np.uint8)
    data[:, 0], data[:, 1], data[:, 2] = 255, 51, 17
    for name in ("data_batch_1", "test_batch"):
        with open(d / name, "wb") as fh:
            pickle.dump({b"data": data, b"labels": [0, 1, 0, 1]}, fh)
    p = nn.cifar10(tmp_path, classes=(0, 1), per_class=2, test_per_class=1)
    for X in (p.data["X"].numpy(), p.data["X_test"].numpy()):
        assert np.all(X[:, 0] == 1.0) and np.all(X[:, 1] == 0.2) and np.all(X[:, 2] == 17 / 255)


def _system_fashion():
    for d in system_dataset_dirs():
        if (d / "train-images-idx3-ubyte.gz").is_file() and (d / "t10k-images-idx3-ubyte.gz").is_file():
            return d
    return None


@pytest.mark.skipif(_system_fashion() is None, reason="Fashion-MNIST not installed (Debian dataset-fashion-mnist)")
def test_real_fashion_mnist_is_the_files_over_255_train_and_test():
    d = _system_fashion()
    p = nn.fashion_mnist(None, classes=(0, 9), per_class=20, test_per_class=10)
    for prefix, key, per in (("train", "X", 20), ("t10k", "X_test", 10)):
        imgs = _read_idx(d / f"{prefix}-images-idx3-ubyte.gz")
        lab = _read_idx(d / f"{prefix}-labels-idx1-ubyte.gz")
        want = np.concatenate([imgs[lab == 0][:per], imgs[lab == 9][:per]]).reshape(2 * per, -1) / 255.0
        got = p.data[key].numpy()
        np.testing.assert_array_equal(got, want)
        assert got.min() == 0.0 and got.max() == 1.0
        np.testing.assert_array_equal(np.round(got * 255), got * 255)


@pytest.mark.parametrize("n_classes, frac", [(2, 0.25), (10, 0.25), (10, 0.1)])
def test_digits_hold_out_the_rounded_fraction_of_each_class(n_classes, frac):
    from sklearn.datasets import load_digits

    target = load_digits().target
    p = nn.digits(n_classes, test_fraction=frac, seed=3)
    ytr = p.data["Y"].numpy().argmax(1)
    yte = p.data["Y_test"].numpy().argmax(1)
    for c in range(n_classes):
        count = int(np.sum(target == c))
        assert np.sum(yte == c) == round(frac * count), c
        assert np.sum(ytr == c) == count - round(frac * count), c
    # the case of a half: 182 ones at 0.25 are 45.5, rounded to 46 (not floored to 45)
    if n_classes == 2 and frac == 0.25:
        assert np.sum(target == 1) == 182 and np.sum(yte == 1) == 46


def test_sine_inputs_are_uniform_on_the_unit_cube_train_and_test():
    """x ~ U[0, 1]^d, f*(x) = sum_k sin(2 pi x_k): E x = 1/2, Var x = 1/12, E f* = 0,
    Var f* = d/2; 8000 samples (the bounds are 6 standard errors)."""
    d = 2
    p = nn.sine_regression(8000, d, n_test=8000, seed=2)
    for kx, ky in (("X", "Y"), ("X_test", "Y_test")):
        X, Y = p.data[kx].numpy(), p.data[ky].numpy()[:, 0]
        assert X.min() >= 0.0 and X.max() < 1.0 and X.min() < 1e-3 and X.max() > 1 - 1e-3
        assert abs(X.mean() - 0.5) < 6 * np.sqrt(1 / 12 / X.size)
        assert abs(X.var() - 1 / 12) < 6 * np.sqrt((1 / 80 - 1 / 144) / X.size)
        np.testing.assert_allclose(Y, np.sin(2 * np.pi * X).sum(axis=1), rtol=0, atol=1e-14)
        assert abs(Y.mean()) < 6 * np.sqrt(d / 2 / Y.size)
        assert abs(Y.var() - d / 2) < 0.1


def test_test_mse_of_a_multi_output_regression_sums_over_outputs():
    """test_metric 'mse' = mean over test points of |model(x) - y|^2 (the squared norm of the
    residual vector, as the training loss sums over outputs)."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((30, 2)), rng.standard_normal((30, 3))
    Xt, Yt = rng.standard_normal((12, 2)), rng.standard_normal((12, 3))
    p = nn.regression(X, Y, Xt, Yt)
    model = nn.mlp([2, 4, 3], seed=0)
    with torch.no_grad():
        out = model(torch.from_numpy(Xt)).numpy()
    want = np.mean(np.sum((out - Yt) ** 2, axis=1))
    assert float(p.test_error(model)) == pytest.approx(want, rel=1e-14)
    with torch.no_grad():
        tr = model(torch.from_numpy(X)).numpy()
    assert float(p.loss(model).detach()) == pytest.approx(np.sum((tr - Y) ** 2) / 60, rel=1e-14)


def test_digits_split_is_a_seeded_random_partition_of_each_class():
    """Train and test partition the images of the kept classes; the held-out images are a random
    subset fixed by the seed (another seed, another subset; not the first images of a class)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    ref = d.data[d.target < 2] / 16.0
    key = lambda A: sorted(map(tuple, np.round(A * 16).astype(int)))   # noqa: E731
    tests = []
    for seed in (0, 1, 0):
        p = nn.digits(2, test_fraction=0.25, seed=seed)
        X, Xt = p.data["X"].numpy(), p.data["X_test"].numpy()
        assert key(np.concatenate([X, Xt])) == key(ref)
        tests.append(key(Xt))
    assert tests[0] == tests[2] and tests[0] != tests[1]
    first = np.concatenate([ref[d.target[d.target < 2] == c][: int(round(0.25 * np.sum(d.target == c)))]
                            for c in (0, 1)])
    assert tests[0] != key(first)


def test_minibatches_are_distinct_points_drawn_from_the_seeded_generator():
    p = nn.sine_regression(50, 2, seed=0)
    draws = [p.draw(torch.Generator().manual_seed(s), 20).tolist() for s in (7, 7, 8)]
    assert draws[0] == draws[1] and draws[0] != draws[2]
    assert all(len(set(d)) == 20 and min(d) >= 0 and max(d) < 50 for d in draws)
    assert p.draw(torch.Generator().manual_seed(7), 20).tolist() == torch.randperm(
        50, generator=torch.Generator().manual_seed(7))[:20].tolist()
