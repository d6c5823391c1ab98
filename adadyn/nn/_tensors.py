"""Tensors rebuilt from the arrays of a result file (:mod:`adadyn.persist`, network states)."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["from_array"]


def from_array(arr: np.ndarray) -> torch.Tensor:
    """A CPU tensor with the dtype, shape and bits of ``arr`` (owning its memory)."""
    return torch.from_numpy(np.array(arr, copy=True))
