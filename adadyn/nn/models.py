"""Networks of the experiments of Ma, Wu & E (section 4): fully connected nets
(:func:`mlp`) and a small convolutional net for 8 x 8 digits (:func:`convnet`,
the stand-in for Figure 9's ResNet18)."""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["MLP", "mlp", "ConvNet", "convnet", "ACTIVATIONS"]

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu}


def _uniform_init(layer, fan_in: int, generator, dtype) -> None:
    """PyTorch's default initialisation U(-1/sqrt(fan_in), 1/sqrt(fan_in)) of weight then bias, from ``generator``."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        layer.weight.copy_((2.0 * torch.rand(layer.weight.shape, generator=generator, dtype=dtype) - 1.0) * bound)
        if layer.bias is not None:
            layer.bias.copy_((2.0 * torch.rand(layer.bias.shape, generator=generator, dtype=dtype) - 1.0) * bound)


class MLP(torch.nn.Module):
    """x -> L_n(s(... s(L_1 x))) with affine layers L_i of the given widths and activation s.

    Built by :func:`mlp`; ``widths`` and ``activation`` are kept so that
    :mod:`adadyn.nn.sweep` can stack many copies into batched weights.
    """

    def __init__(self, widths: Sequence[int], activation: str, bias: bool, dtype, generator):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        self.activation = activation
        self.bias = bool(bias)
        self._act = ACTIVATIONS[activation]
        layers = []
        for fan_in, fan_out in zip(self.widths[:-1], self.widths[1:]):
            lin = torch.nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype)
            _uniform_init(lin, fan_in, generator, dtype)   # PyTorch's default, from our generator
            layers.append(lin)
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        for lin in hidden:
            x = self._act(lin(x))
        return last(x)

    def extra_repr(self) -> str:
        return f"widths={'-'.join(map(str, self.widths))}, activation={self.activation!r}"


def mlp(widths: Sequence[int], activation: str = "relu", dtype: torch.dtype = torch.float64, seed: int = 0,
        *, bias: bool = True) -> MLP:
    """A fully connected network, e.g. ``mlp([5, 100, 100, 1])`` (Figure 1 right of Ma, Wu & E).

    Parameters
    ----------
    widths : sequence of int
        Input width, hidden widths, output width (at least two entries, all >= 1).
    activation : {'relu', 'tanh', 'gelu'}
        Between the affine layers (not after the last).
    dtype : torch.dtype
        Floating-point type of the weights (default float64).
    seed : int
        Seed of the initialisation, PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        for weights and biases, drawn in layer order.
    bias : bool
        Affine layers with biases (default) or linear ones.

    Returns
    -------
    MLP
    """
    widths = list(widths)
    if len(widths) < 2:
        raise ValueError(f"widths needs at least an input and an output width, got {widths!r}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"widths must be integers >= 1, got {widths!r}")
        if w > 1_000_000:
            raise ValueError(f"widths must be <= 1,000,000, got {w}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    _check_dtype_seed(dtype, seed)
    gen = torch.Generator().manual_seed(seed)
    return MLP(widths, activation, bias, dtype, gen)


def _check_dtype_seed(dtype, seed) -> None:
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


def _ints(name: str, values, lo: int, allow_empty: bool) -> tuple:
    try:
        vals = tuple(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integers >= {lo}, got {values!r}") from None
    if (not vals and not allow_empty) or any(isinstance(v, bool) or not isinstance(v, int) or v < lo or v > 1_000_000
                                             for v in vals):
        raise ValueError(f"{name} must be a {'' if allow_empty else 'non-empty '}sequence of integers in "
                         f"[{lo}, 1,000,000], got {values!r}")
    return vals


class ConvNet(torch.nn.Module):
    """Images -> [conv k x k (same padding) -> ReLU -> 2 x 2 max-pool] per entry of ``channels``
    -> flatten -> affine layers (ReLU between) to ``out_dim``.

    Built by :func:`convnet`. Accepts images ``(N, C, H, W)`` or rows ``(N, C * H * W)``
    (reshaped, channel first), so it trains on flat problems too.
    """

    def __init__(self, image_shape, channels, out_dim, kernel_size, hidden, dtype, generator):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.channels, self.hidden = tuple(channels), tuple(hidden)
        self.out_dim, self.kernel_size = int(out_dim), int(kernel_size)
        c, h, w = self.image_shape
        convs = []
        for c_out in self.channels:
            conv = torch.nn.Conv2d(c, c_out, self.kernel_size, padding=self.kernel_size // 2, dtype=dtype)
            _uniform_init(conv, c * self.kernel_size ** 2, generator, dtype)
            convs.append(conv)
            c, h, w = c_out, h // 2, w // 2
        self.convs = torch.nn.ModuleList(convs)
        widths = (c * h * w, *self.hidden, self.out_dim)
        fcs = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            lin = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
            _uniform_init(lin, fan_in, generator, dtype)
            fcs.append(lin)
        self.fcs = torch.nn.ModuleList(fcs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            x = x.reshape(x.shape[0], *self.image_shape)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"ConvNet expects images of shape (N, {', '.join(map(str, self.image_shape))}) or rows "
                             f"of {math.prod(self.image_shape)}, got {tuple(x.shape)}")
        for conv in self.convs:
            x = torch.nn.functional.max_pool2d(torch.relu(conv(x)), 2)
        x = x.flatten(1)
        *hidden, last = self.fcs
        for lin in hidden:
            x = torch.relu(lin(x))
        return last(x)

    def extra_repr(self) -> str:
        return (f"image_shape={self.image_shape}, channels={self.channels}, kernel_size={self.kernel_size}, "
                f"hidden={self.hidden}, out_dim={self.out_dim}")


def convnet(image_shape: Sequence[int] = (1, 8, 8), channels: Sequence[int] = (8, 16), out_dim: int = 10, *,
            kernel_size: int = 3, hidden: Sequence[int] = (), dtype: torch.dtype = torch.float64,
            seed: int = 0) -> ConvNet:
    """A small convolutional net: for the defaults, on 8 x 8 digits,
    conv(1 -> 8, 3 x 3) - ReLU - pool - conv(8 -> 16, 3 x 3) - ReLU - pool - fc(64 -> 10).

    The stand-in for the half-width ResNet18 of Ma, Wu & E's Figure 9 (section 4.1),
    which needs CIFAR-10 and far more compute.

    Parameters
    ----------
    image_shape : (int, int, int)
        Channels, height, width of the input images (each >= 1).
    channels : sequence of int
        Output channels of the convolution blocks (non-empty); each block is a
        ``kernel_size`` x ``kernel_size`` convolution with same padding, ReLU and a
        2 x 2 max-pool (height and width halve, rounded down; they must stay >= 1).
    out_dim : int
        Outputs (classes), >= 1.
    kernel_size : int
        Odd, >= 1.
    hidden : sequence of int
        Widths of hidden affine layers after the flattening (default none).
    dtype : torch.dtype
        Floating-point type of the weights (default float64).
    seed : int
        Seed of the initialisation: PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        (fan_in = in_channels * kernel_size^2 for a convolution) for weights and biases,
        drawn layer by layer.

    Returns
    -------
    ConvNet
    """
    shape = _ints("image_shape", image_shape, 1, False)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (channels, height, width), got {image_shape!r}")
    chans = _ints("channels", channels, 1, False)
    hid = _ints("hidden", hidden, 1, True)
    if isinstance(out_dim, bool) or not isinstance(out_dim, int) or not 1 <= out_dim <= 1_000_000:
        raise ValueError(f"out_dim must be an integer in [1, 1,000,000], got {out_dim!r}")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd integer >= 1, got {kernel_size!r}")
    if min(shape[1:]) // 2 ** len(chans) < 1:
        raise ValueError(f"{len(chans)} pooling blocks halve the {shape[1]} x {shape[2]} images below 1 pixel; "
                         f"use at most {int(math.log2(min(shape[1:])))} entries in channels")
    _check_dtype_seed(dtype, seed)
    gen = torch.Generator().manual_seed(seed)
    return ConvNet(shape, chans, out_dim, kernel_size, hid, dtype, gen)
