"""The optional torch back end: networks trained by the same optimiser specs.

``adadyn.nn`` turns any spec (:class:`~adadyn.Adam`, :class:`~adadyn.RMSprop`,
...) into a torch optimiser with the same update (:func:`optimizer`), trains a
network on a problem and returns the :class:`~adadyn.Trajectory` that
:func:`adadyn.run` returns (:func:`train`), so that
:func:`adadyn.analysis.classify` and the plots work unchanged. It provides the
networks (:func:`mlp`, :func:`convnet`) and problems of the experiments of Ma, Wu & E (section 4: sine
regression, the deep Galerkin Poisson problems of section 4.2, digits, local
CIFAR-10 and Fashion-MNIST files), the preconditioned sharpness along a run
(the adaptive edge of stability) and batched training of many small networks
for hyperparameter sweeps (:mod:`adadyn.nn.sweep`). See ``docs/nn.md``.

torch is imported only by this subpackage; without it, ``import adadyn.nn``
raises ImportError naming the extra to install.
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError('adadyn.nn needs PyTorch: pip install "adadyn[torch]"') from exc

from adadyn.nn import threads as _threads
from adadyn.nn.models import MLP, ConvNet, convnet, mlp
from adadyn.nn.optim import optimizer
from adadyn.nn.problems import Problem, classification, digits, regression, sine_regression
from adadyn.nn.pde import poisson_disc, poisson_square
from adadyn.nn.datasets import cifar10, fashion_mnist
from adadyn.nn.train import NetState, train
from adadyn.nn.objective import NetObjective, objective  # noqa: F401  (networks as objectives)
from adadyn.nn.hessian import (
    critical_learning_rate,
    edge_of_stability,
    preconditioned_sharpness,
    top_hessian_eigenvalue,
)

#: dtype names used by the command line and :class:`~adadyn.nn.sweep.NetworkTask`
DTYPES = {"float64": torch.float64, "float32": torch.float32}


_threads.note_torch_default()


def set_num_threads(n: int) -> None:
    """``torch.set_num_threads(n)``, kept by :func:`train` and the ``nn-*`` commands
    instead of their default rule (one thread unless the network is large and cores
    are idle: :func:`adadyn.nn.threads.default_torch_threads`)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be an integer >= 1, got {n!r}")
    torch.set_num_threads(n)
    _threads.mark_user_threads()


__all__ = [
    "DTYPES", "set_num_threads",
    "MLP", "mlp", "ConvNet", "convnet", "optimizer", "Problem", "regression", "classification", "sine_regression", "digits",
    "poisson_square", "poisson_disc", "cifar10", "fashion_mnist", "NetState", "train",
    "preconditioned_sharpness", "top_hessian_eigenvalue", "critical_learning_rate", "edge_of_stability",
]
