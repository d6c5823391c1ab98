"""A generic, resumable sweep engine (``docs/sweeps.md``).

:func:`run_sweep` runs a :class:`Task` at every point of a :class:`Grid` of
named hyperparameter axes, in chunks, in this process or on any executor
(``concurrent.futures`` pools, ``dask.distributed``), saving each finished
chunk to a locked :class:`SweepStore` so that a killed sweep resumes, and
reporting to a progress meter. :class:`OptimizerTask` runs any optimiser on
any objective; :func:`adadyn.analysis.hyperparameter_sweep` and
:func:`adadyn.analysis.phase_diagram` are built on it.
"""
from __future__ import annotations

from adadyn.sweep.engine import MEMORY_BUDGET, SweepInterrupted, SweepResult, run_sweep
from adadyn.sweep.executors import dask_client, orphan_guard, process_pool
from adadyn.sweep.grid import Grid
from adadyn.sweep.progress import CallbackProgress, NoProgress, Progress, TextProgress, TqdmProgress, as_progress
from adadyn.sweep.store import SweepError, SweepStore, SweepWarning, sweep_key
from adadyn.sweep.task import Task
from adadyn.sweep.tasks import OptimizerTask

__all__ = [
    "Grid", "Task", "OptimizerTask", "run_sweep", "SweepResult", "SweepInterrupted", "SweepStore",
    "SweepError", "SweepWarning", "sweep_key", "Progress", "NoProgress", "TextProgress", "TqdmProgress",
    "CallbackProgress", "as_progress", "process_pool", "dask_client", "orphan_guard", "MEMORY_BUDGET",
]
