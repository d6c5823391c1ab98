"""adadyn.nn problems: losses against NumPy formulas, the DGM Laplacian, local dataset files."""
import gzip
import pickle

import numpy as np
import pytest

import adadyn as ad

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # 2 threads on a shared 2-core machine oversubscribe
from adadyn import nn  # noqa: E402
from adadyn.nn.datasets import DatasetError  # noqa: E402
from adadyn.nn.pde import laplacian  # noqa: E402


def test_sine_regression_targets_and_loss_match_numpy():
    p = nn.sine_regression(300, 5, n_test=50, seed=3)
    X, Y = p.data["X"].numpy(), p.data["Y"].numpy()[:, 0]
    assert X.shape == (300, 5) and X.min() >= 0 and X.max() <= 1 and p.in_dim == 5 and p.out_dim == 1
    np.testing.assert_allclose(Y, np.sin(2 * np.pi * X).sum(axis=1), rtol=0, atol=1e-14)
    assert p.has_test and p.data["X_test"].shape == (50, 5)
    assert not np.allclose(p.data["X_test"].numpy(), X[:50])
    model = nn.mlp([5, 7, 1], seed=1)
    with torch.no_grad():
        out = model(p.data["X"]).numpy()[:, 0]
    assert float(p.loss(model).detach()) == pytest.approx(np.sum((out - Y) ** 2) / 600, rel=1e-14)
    idx = torch.tensor([3, 7, 11])
    assert float(p.loss(model, idx).detach()) == pytest.approx(np.sum((out[[3, 7, 11]] - Y[[3, 7, 11]]) ** 2) / 6, rel=1e-14)
    assert nn.sine_regression(300, 5, seed=3).identity() != nn.sine_regression(300, 5, seed=4).identity()
    assert p.identity() == nn.sine_regression(300, 5, n_test=50, seed=3).identity()


def test_regression_with_a_linear_model_is_least_squares():
    rng = np.random.default_rng(0)
    X, y, w = rng.standard_normal((25, 4)), rng.standard_normal(25), rng.standard_normal(4)
    obj = ad.objectives.least_squares(X, y)
    model = nn.mlp([4, 1], bias=False)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.from_numpy(w)[None])
    loss = nn.regression(X, y).loss(model)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(obj.value(w), rel=1e-14)
    np.testing.assert_allclose(model.layers[0].weight.grad.numpy()[0], obj.grad(w), rtol=1e-13)
    with pytest.raises(ValueError, match="rows"):
        nn.regression(X, y[:-1])
    with pytest.raises(ValueError, match="non-finite"):
        nn.regression(np.full((3, 2), np.nan), np.zeros(3))


def test_digits_two_and_ten_classes_with_square_loss_and_error_rate():
    from sklearn.datasets import load_digits

    t = load_digits().target
    for k in (2, 10):
        p = nn.digits(k, test_fraction=0.25, seed=0)
        n_all = int(np.sum(t < k))
        assert p.n + p.data["X_test"].shape[0] == n_all and p.out_dim == k and p.in_dim == 64
        Y = p.data["Y"].numpy()
        assert np.all(Y.sum(axis=1) == 1) and set(np.unique(Y)) == {0.0, 1.0}
        assert p.data["X"].max() <= 1.0
    p = nn.digits(2)
    Yt = p.data["Y_test"]

    class Oracle(torch.nn.Module):  # returns the right one-hot vector on the test set
        def forward(self, x):
            return Yt if x.shape[0] == Yt.shape[0] else torch.zeros(x.shape[0], 2, dtype=x.dtype)

    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[1.0, 0.0]], dtype=x.dtype).expand(x.shape[0], 2)

    assert float(p.test_error(Oracle())) == 0.0
    assert float(p.test_error(Constant())) == pytest.approx(float((Yt[:, 1] == 1).double().mean()))
    with pytest.raises(ValueError, match="n_classes"):
        nn.digits(11)


class _Exact(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return self.f(x)[:, None] + 0.0 * self.dummy


@pytest.mark.parametrize("make,exact", [
    (nn.poisson_square, lambda X: X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3]),
    (nn.poisson_disc, lambda X: (X[:, 0] ** 2 + X[:, 1] ** 2 - 1.0) / 4.0),
], ids=["square", "disc"])
def test_dgm_loss_vanishes_at_the_stated_solution_and_not_elsewhere(make, exact):
    p = make(200, 150, n_test=500, seed=2)
    Xi, Xb = p.data["X_int"].numpy(), p.data["X_bd"].numpy()
    assert Xi.shape[0] == 200 and Xb.shape[0] == 150 and p.data["X_test"].shape[0] == 500
    if p.in_dim == 4:
        assert np.all((Xi > 0) & (Xi < 1))
        assert np.all(np.any((Xb == 0) | (Xb == 1), axis=1))
    else:
        assert np.all(np.hypot(Xi[:, 0], Xi[:, 1]) < 1)
        np.testing.assert_allclose(np.hypot(Xb[:, 0], Xb[:, 1]), 1.0, rtol=1e-15)
    assert float(p.loss(_Exact(exact)).detach()) < 1e-28
    assert float(p.test_error(_Exact(exact))) < 1e-30
    wrong = _Exact(lambda X: exact(X) + 0.1 * X[:, 0] ** 2)  # Delta adds 0.2; boundary adds 0.1 x1^2
    want = 0.04 + np.mean((0.1 * Xb[:, 0] ** 2) ** 2)
    assert float(p.loss(wrong).detach()) == pytest.approx(want, rel=1e-12)


def test_laplacian_of_a_network_matches_finite_differences():
    torch.manual_seed(0)
    model = nn.mlp([3, 8, 8, 1], "gelu", seed=4)
    x = torch.rand(5, 3, dtype=torch.float64)
    u, lap = laplacian(model, x)
    h = 1e-4
    fd = torch.zeros(5, dtype=torch.float64)
    with torch.no_grad():
        for k in range(3):
            e = torch.zeros(3, dtype=torch.float64)
            e[k] = h
            fd += (model(x + e)[:, 0] - 2 * model(x)[:, 0] + model(x - e)[:, 0]) / h**2
    np.testing.assert_allclose(lap.detach().numpy(), fd.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(u.detach().numpy(), model(x)[:, 0].detach().numpy(), rtol=0, atol=0)


def test_dgm_trains_and_its_test_error_falls():
    p = nn.poisson_disc(50, 50, n_test=200, seed=0)
    model = nn.mlp([2, 10, 10, 10, 1], "gelu", seed=0)
    tr = nn.train(ad.Adam.from_ab(1e-2, a=10, b=10), model, p, 60, record_every=20)
    assert tr.status == "ok" and tr.loss[-1] < 0.2 * tr.loss[0]
    assert tr.test_error[-1] < tr.test_error[0]


# ---------------------------------------------------------------- local files in the real formats
def _cifar_files(root, n_per_batch=30, seed=0):
    rng = np.random.default_rng(seed)
    d = root / "cifar-10-batches-py"
    d.mkdir()
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        with open(d / name, "wb") as fh:
            pickle.dump({b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": [b"f"] * n_per_batch},
                        fh, protocol=2)
    return d


def _load_pickle(f):
    with open(f, "rb") as fh:
        return pickle.load(fh, encoding="bytes")


def test_cifar10_from_pickle_batches(tmp_path):
    d = _cifar_files(tmp_path)
    b1, b2, tb = (_load_pickle(d / n) for n in ("data_batch_1", "data_batch_2", "test_batch"))
    data = np.concatenate([b1[b"data"], b2[b"data"]])
    labels = np.concatenate([b1[b"labels"], b2[b"labels"]])
    per = min(int(np.sum(labels == c)) for c in (3, 5))
    p = nn.cifar10(tmp_path, classes=(3, 5), per_class=per, test_per_class=1)
    want = np.concatenate([data[labels == 3][:per], data[labels == 5][:per]]) / 255.0
    np.testing.assert_array_equal(p.data["X"].numpy(), want)
    assert p.in_dim == 3072 and p.out_dim == 2 and p.n == 2 * per
    np.testing.assert_array_equal(p.data["Y"].numpy().argmax(1), [0] * per + [1] * per)
    tl = np.asarray(tb[b"labels"])
    np.testing.assert_array_equal(p.data["X_test"].numpy()[0], tb[b"data"][tl == 3][0] / 255.0)
    assert nn.cifar10(d, classes=(3, 5), per_class=1).n == 2  # the batches directory itself works too
    with pytest.raises(DatasetError, match="only"):
        nn.cifar10(tmp_path, classes=(3, 5), per_class=1000)


def test_cifar10_missing_malformed_and_hostile_files(tmp_path):
    with pytest.raises(DatasetError, match="data_batch_1 .* data_batch_5 and test_batch"):
        nn.cifar10(tmp_path / "nowhere")
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    (d / "data_batch_1").write_bytes(b"not a pickle at all")
    with pytest.raises(DatasetError, match="not a CIFAR-10 batch.*expected the CIFAR-10 python version"):
        nn.cifar10(tmp_path, per_class=1)

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned",))

    (d / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(DatasetError, match="not allowed"):
        nn.cifar10(tmp_path, per_class=1)
    with open(d / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": np.zeros((3, 100), np.uint8), b"labels": [0, 1, 2]}, fh)
    with pytest.raises(DatasetError, match=r"shape \(3, 100\)"):
        nn.cifar10(tmp_path, per_class=1)
    with pytest.raises(ValueError, match="classes"):
        nn.cifar10(tmp_path, classes=(1, 1))


def _idx(path, arr, magic, gz=False):
    head = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    raw = head + arr.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


@pytest.mark.parametrize("gz", [False, True])
def test_fashion_mnist_from_idx_files(tmp_path, gz):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (60, 28, 28))
    labels = np.tile(np.arange(10), 6)
    _idx(tmp_path / "train-images-idx3-ubyte", imgs, 2051, gz)
    _idx(tmp_path / "train-labels-idx1-ubyte", labels, 2049, gz)
    _idx(tmp_path / "t10k-images-idx3-ubyte", imgs[:20], 2051, gz)
    _idx(tmp_path / "t10k-labels-idx1-ubyte", labels[:20], 2049, gz)
    p = nn.fashion_mnist(tmp_path, classes=(2, 7), per_class=4, test_per_class=2)
    want = np.concatenate([imgs[labels == 2][:4], imgs[labels == 7][:4]]).reshape(8, -1) / 255.0
    np.testing.assert_array_equal(p.data["X"].numpy(), want)
    assert p.out_dim == 2 and p.in_dim == 784 and p.data["X_test"].shape == (4, 784)
    assert nn.fashion_mnist(tmp_path, per_class=6).n == 60


def test_fashion_mnist_missing_and_malformed_files(tmp_path):
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte and train-labels-idx1-ubyte"):
        nn.fashion_mnist(tmp_path)
    _idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28)), 2049)  # labels' magic
    _idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2), 2049)
    with pytest.raises(DatasetError, match="magic 2051"):
        nn.fashion_mnist(tmp_path, per_class=1)
    raw = (2051).to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in (2, 28, 28)) + b"\0" * 100
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw)
    with pytest.raises(DatasetError, match="header says"):
        nn.fashion_mnist(tmp_path, per_class=1)
    with pytest.raises(DatasetError, match="not a directory"):
        nn.fashion_mnist(tmp_path / "absent")


# ---------------------------------------------------------------- the small convolutional net
def np_convnet(model, x):
    """ConvNet's forward pass transcribed in NumPy: same-padded k x k convolution (cross-correlation)
    + bias, ReLU, 2 x 2 max-pool (floor), channel-first flatten, affine layers with ReLU between."""
    h = np.asarray(x, dtype=float)
    for conv in model.convs:
        W, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
        k = W.shape[-1]
        p = k // 2
        n, c, H, Wd = h.shape
        hp = np.zeros((n, c, H + 2 * p, Wd + 2 * p))
        hp[:, :, p:p + H, p:p + Wd] = h
        out = np.zeros((n, W.shape[0], H, Wd))
        for o in range(W.shape[0]):
            for i in range(H):
                for j in range(Wd):
                    out[:, o, i, j] = np.sum(hp[:, :, i:i + k, j:j + k] * W[o], axis=(1, 2, 3)) + b[o]
        out = np.maximum(out, 0.0)
        H2, W2 = H // 2, Wd // 2
        h = out[:, :, :2 * H2, :2 * W2].reshape(n, W.shape[0], H2, 2, W2, 2).max(axis=(3, 5))
    h = h.reshape(h.shape[0], -1)
    for idx, lin in enumerate(model.fcs):
        h = h @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
        if idx < len(model.fcs) - 1:
            h = np.maximum(h, 0.0)
    return h


def test_convnet_forward_matches_numpy_and_accepts_rows():
    m = nn.convnet((2, 7, 6), channels=(3, 4), out_dim=5, hidden=(6,), seed=3)
    x = np.random.default_rng(0).normal(size=(4, 2, 7, 6))
    out = m(torch.tensor(x))
    assert out.shape == (4, 5) and out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), np_convnet(m, x), rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(m(torch.tensor(x.reshape(4, -1))).detach().numpy(), out.detach().numpy())
    d = nn.convnet()   # the digits default: 8x8 -> 4x4 -> 2x2, 16 * 2 * 2 = 64 features -> 10
    assert [tuple(p.shape) for p in d.parameters()] == [(8, 1, 3, 3), (8,), (16, 8, 3, 3), (16,), (10, 64), (10,)]
    assert d(torch.zeros(3, 1, 8, 8, dtype=torch.float64)).shape == (3, 10)
    with pytest.raises(ValueError, match="expects images of shape"):
        d(torch.zeros(3, 1, 7, 7, dtype=torch.float64))


def test_convnet_init_is_seeded_and_uniform_in_the_fan_in_bound():
    a, b, c = (nn.convnet(channels=(8, 16), hidden=(32,), seed=s) for s in (5, 5, 6))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    fans = [1 * 9, 1 * 9, 8 * 9, 8 * 9, 64, 64, 32, 32]
    for p, fan in zip(a.parameters(), fans):
        top = float(p.detach().abs().max())
        assert 0.5 / np.sqrt(fan) < top <= 1 / np.sqrt(fan)
    assert nn.convnet(dtype=torch.float32).convs[0].weight.dtype == torch.float32


def test_convnet_gradient_matches_central_differences():
    m = nn.convnet((1, 6, 6), channels=(2, 3), out_dim=2, hidden=(4,), seed=1)
    x = torch.tensor(np.random.default_rng(2).normal(size=(3, 1, 6, 6)))
    y = torch.tensor(np.random.default_rng(3).normal(size=(3, 2)))

    def loss():
        return ((m(x) - y) ** 2).sum() / 6

    loss().backward()
    rng = np.random.default_rng(4)
    h = 1e-6
    for p in m.parameters():
        flat = p.data.view(-1)
        for i in rng.choice(flat.numel(), size=min(4, flat.numel()), replace=False):
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + h
                up = float(loss())
                flat[i] = old - h
                down = float(loss())
                flat[i] = old
            assert float(p.grad.view(-1)[i]) == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("kw, msg", [
    (dict(channels=()), "channels must be a non-empty"), (dict(channels=(8, 0)), "channels"),
    (dict(kernel_size=2), "odd integer"), (dict(channels=(2, 2, 2, 2)), "below 1 pixel"),
    (dict(image_shape=(8, 8)), r"\(channels, height, width\)"), (dict(out_dim=0), "out_dim"),
    (dict(hidden=(3, -1)), "hidden"), (dict(seed=-1), "seed")])
def test_convnet_rejects_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        nn.convnet(**kw)
    with pytest.raises(TypeError, match="dtype"):
        nn.convnet(dtype=torch.int64)


def test_digits_as_images_hold_the_same_numbers():
    flat, img = nn.digits(10), nn.digits(10, images=True)
    assert img.image_shape == (1, 8, 8) and flat.image_shape is None and img.in_dim == 64 and img.n == flat.n
    assert img.data["X"].shape == (flat.n, 1, 8, 8) and img.data["X_test"].shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(img.data["X"].reshape(flat.n, 64).numpy(), flat.data["X"].numpy())
    m = nn.convnet()
    with torch.no_grad():
        assert float(img.loss(m)) == float(flat.loss(m))
    assert float(img.test_error(m)) == float(flat.test_error(m))
    with pytest.raises(ValueError, match="product 64"):
        nn.classification(np.zeros((4, 64)), [0, 1, 0, 1], image_shape=(1, 7, 7))
