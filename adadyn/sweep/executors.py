"""One adapter over the places a sweep's chunks can run.

``None`` runs in the calling process; any :class:`concurrent.futures.Executor`
(process or thread pool) and a ``dask.distributed`` ``Client`` (or its address
as a string) get chunks as futures. Process-pool workers are tied to the
sweep's process: each one, on its first chunk, asks the kernel to kill it when
its parent dies (``PR_SET_PDEATHSIG`` on Linux) and starts a watchdog thread on
the parent's pid, so no worker outlives a sweep killed by any signal.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import secrets
import signal
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures import as_completed as _cf_as_completed

from adadyn.sweep.store import _alive, _start_time

__all__ = ["process_pool", "dask_client", "orphan_guard"]

_GUARDED = False
_TASKS: OrderedDict = OrderedDict()
_PR_SET_PDEATHSIG = 1


def orphan_guard(parent_pid: int, parent_start=None, pdeathsig: bool = True) -> None:
    """Make this worker process die with ``parent_pid`` (idempotent; a no-op outside
    multiprocessing children).

    On Linux the kernel sends SIGKILL when the process that started this one
    exits (``prctl(PR_SET_PDEATHSIG)``; skipped with ``pdeathsig=False``, which
    is needed when the pool was started from a thread that may end before the
    process). A daemon thread also checks every 0.25 s that the parent still
    runs and that this process was not re-parented, and exits if not.
    """
    global _GUARDED
    if _GUARDED or multiprocessing.parent_process() is None:
        return
    _GUARDED = True
    if threading.current_thread() is threading.main_thread():
        # a worker forked while the sweep's SIGTERM handler was installed inherits it: undo
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not _alive(parent_pid, parent_start):  # died before prctl took effect
        os._exit(1)
    ppid0 = os.getppid()

    def watch():
        while True:
            time.sleep(0.25)
            if os.getppid() != ppid0 or not _alive(parent_pid, parent_start):
                os._exit(1)

    threading.Thread(target=watch, name="adadyn-orphan-guard", daemon=True).start()


def _task_of(payload):
    """The task of a payload: a Task, or (token, pickled bytes) cached per worker."""
    if not isinstance(payload, tuple):
        return payload
    token, blob = payload
    task = _TASKS.get(token)
    if task is None:
        task = pickle.loads(blob)
        _TASKS[token] = task
        while len(_TASKS) > 4:
            _TASKS.popitem(last=False)
    return task


def _call_chunk(payload, points, guard):
    """Run one chunk in a worker (module-level: picklable)."""
    if guard is not None:
        orphan_guard(*guard)
    return _task_of(payload).run_chunk(points)


def process_pool(max_workers: int | None = None, mp_context=None) -> ProcessPoolExecutor:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` whose workers die with this
    process (:func:`orphan_guard` as the initializer). Start it from the main thread."""
    pid = os.getpid()
    return ProcessPoolExecutor(max_workers, mp_context=mp_context, initializer=orphan_guard,
                               initargs=(pid, _start_time(pid), threading.current_thread() is threading.main_thread()))


def dask_client(address: str, timeout: float = 5.0):
    """A ``dask.distributed.Client`` connected to ``address``, or a ValueError naming
    the address after at most ``timeout`` seconds (no hang on an unreachable scheduler)."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("a dask address needs the 'distributed' package (pip install distributed)") from None
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"dask address must be a non-empty string like tcp://host:8786, got {address!r}")
    try:
        return Client(address, timeout=f"{float(timeout)}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"cannot reach the dask scheduler at {address!r} within {timeout:g} s "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None


def _is_dask(executor) -> bool:
    return type(executor).__module__.split(".")[0] == "distributed"


class Runner:
    """Submits chunks of one task to one executor and collects them."""

    def __init__(self, executor, task):
        self.own = False
        if isinstance(executor, str):
            executor = dask_client(executor)
            self.own = True
        self.dask = _is_dask(executor)
        if not (self.dask or isinstance(executor, Executor)):
            raise TypeError("executor must be None, a concurrent.futures.Executor, a dask.distributed.Client "
                            f"or a dask scheduler address, got {type(executor).__name__}")
        self.executor = executor
        self.process = isinstance(executor, ProcessPoolExecutor)
        if self.process or self.dask:
            try:
                blob = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise ValueError(f"the task cannot be sent to worker processes: {exc}") from None
            self.payload = (secrets.token_hex(8), blob)
        else:
            self.payload = task
        pid = os.getpid()
        main = threading.current_thread() is threading.main_thread()
        self.guard = (pid, _start_time(pid), main) if self.process else None
        self.futures: dict = {}

    def submit(self, i: int, points: dict) -> None:
        if self.dask:
            f = self.executor.submit(_call_chunk, self.payload, points, None, pure=False)
        else:
            f = self.executor.submit(_call_chunk, self.payload, points, self.guard)
        self.futures[f] = i

    def completed(self):
        """(chunk index, output) as chunks finish."""
        if self.dask:
            from distributed import as_completed
        else:
            as_completed = _cf_as_completed
        for f in as_completed(list(self.futures)):
            i = self.futures.pop(f)
            yield i, f.result()

    def cancel(self) -> None:
        """Cancel the chunks not started (after an error in one of them)."""
        futs = list(self.futures)
        self.futures.clear()
        if self.dask:
            self.executor.cancel(futs)
        else:
            for f in futs:
                f.cancel()

    def abort(self) -> None:
        """Stop at once (interrupt): cancel everything and, for a process pool,
        terminate its workers and shut it down without waiting."""
        self.cancel()
        if self.process:
            ex = self.executor
            kill = getattr(ex, "kill_workers", None)  # Python >= 3.14
            if kill is not None:
                kill()
            else:
                for p in list((getattr(ex, "_processes", None) or {}).values()):
                    try:
                        p.kill()
                    except (OSError, AttributeError):
                        pass
            ex.shutdown(wait=False, cancel_futures=True)
        elif not self.dask:
            self.executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self.own:
            self.executor.close()
