import os

os.environ.setdefault("MPLBACKEND", "Agg")
# no background warm-up process (adadyn._warm) from the suite or its subprocesses, whose
# temporary caches it would write into; tests/test_warm.py turns it on where it is tested
os.environ.setdefault("ADADYN_WARMUP", "0")

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import adadyn as ad


@pytest.fixture(scope="session")
def quad10():
    """The paper's Figure 5 problem: f = x^T A x / 2, A = U U^T, U 10x10 standard normal."""
    return ad.objectives.random_quadratic(10, seed=0)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_collection_modifyitems(config, items):
    # Every test in a module that imports torch at module level (pytest.importorskip("torch"))
    # carries the `torch` mark, so `.ci/run` can run exactly those after installing torch.
    torch_mark = pytest.mark.torch
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and getattr(getattr(module, "torch", None), "__name__", "") == "torch":
            item.add_marker(torch_mark)
