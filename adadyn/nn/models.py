"""Fully connected networks: the models of the experiments of Ma, Wu & E (section 4)."""
from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["MLP", "mlp", "ACTIVATIONS"]

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "gelu": torch.nn.functional.gelu}


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
            # PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from our generator
            bound = 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                lin.weight.copy_((2.0 * torch.rand(lin.weight.shape, generator=generator, dtype=dtype) - 1.0) * bound)
                if bias:
                    lin.bias.copy_((2.0 * torch.rand(lin.bias.shape, generator=generator, dtype=dtype) - 1.0) * bound)
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
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    gen = torch.Generator().manual_seed(seed)
    return MLP(widths, activation, bias, dtype, gen)
