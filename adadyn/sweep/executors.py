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
        # a worker forked while the sweep's SIGTERM handler was installed inherits it: undo;
        # Ctrl-C is the parent's to handle (it stops the workers): no worker traceback
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
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


def _worker_init(parent_pid: int, parent_start, pdeathsig: bool) -> None:
    """Pool-worker initializer: ignore SIGINT (the parent handles Ctrl-C and stops the
    workers; an idle worker must not print a KeyboardInterrupt traceback), unblock it
    (it was blocked across the fork), then :func:`orphan_guard`."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    orphan_guard(parent_pid, parent_start, pdeathsig)


def process_pool(max_workers: int | None = None, mp_context=None) -> ProcessPoolExecutor:
    """A :class:`~concurrent.futures.ProcessPoolExecutor` whose workers die with this
    process (:func:`orphan_guard`) and ignore SIGINT. Start it from the main thread.

    With the fork start method the workers are started here, with SIGINT blocked until
    each one ignores it, so a Ctrl-C at any moment reaches only this process (which stops
    the workers) and never prints a worker's traceback.
    """
    pid = os.getpid()
    main = threading.current_thread() is threading.main_thread()
    pool = ProcessPoolExecutor(max_workers, mp_context=mp_context, initializer=_worker_init,
                               initargs=(pid, _start_time(pid), main))
    if main and hasattr(signal, "pthread_sigmask"):
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pool.submit(int).result()  # forks the workers now (fork) with SIGINT blocked
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return pool


#: Address schemes a dask scheduler listens on.
DASK_SCHEMES = ("tcp", "tls", "ucx", "inproc")


def check_dask_address(address) -> str:
    """``address`` if it reads as a dask scheduler address (``[tcp|tls|ucx|inproc]://host:port``
    or ``host:port``), else a ValueError saying what was expected."""
    if not isinstance(address, str) or not address.strip() or any(c.isspace() or c == "\0" for c in address):
        raise ValueError(f"dask address must be a non-empty string like tcp://host:8786, got {address!r}")
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in DASK_SCHEMES:
        raise ValueError(f"dask address {address!r}: scheme {scheme!r} is not one of "
                         f"{', '.join(DASK_SCHEMES)} (like tcp://host:8786)")
    if scheme in ("tcp", "tls"):
        host, colon, port = rest.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in rest:
            raise ValueError(f"dask address {address!r} is not HOST:PORT with a port in 1..65535 "
                             "(like tcp://host:8786)")
    return address if sep else f"tcp://{address}"


def probe_scheduler(address: str, timeout: float = 5.0) -> dict:
    """Ask ``address`` for its identity within ``timeout`` seconds (one deadline for the
    connection, the handshake and the answer): the scheduler's identity dict, or a
    ValueError saying that nothing answered or that what answered is not a dask scheduler."""
    import asyncio

    from distributed.comm import connect

    async def ask():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        ident = asyncio.run(asyncio.wait_for(ask(), timeout))
    except (asyncio.TimeoutError, TimeoutError, OSError) as exc:
        kind = "nothing answered" if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) else type(exc).__name__
        detail = f": {str(exc)[:160]}" if str(exc) else ""
        raise ValueError(f"cannot reach the dask scheduler at {address!r} within {timeout:g} s "
                         f"({kind}{detail})") from None
    except Exception as exc:  # noqa: BLE001 - a foreign service can make the protocol fail any way
        raise ValueError(f"{address!r} answered, but not as a dask scheduler "
                         f"({type(exc).__name__}: {str(exc)[:160]})") from None
    if not (isinstance(ident, dict) and ident.get("type") == "Scheduler"):
        raise ValueError(f"{address!r} answered, but not as a dask scheduler (identity "
                         f"{str(ident)[:80]!r})")
    return ident


def _quiet_client_del() -> None:
    """Drop the 'Exception ignored in Client.__del__' report of a client that failed to
    connect (its finaliser runs at exit and has nothing left to close)."""
    prev = sys.unraisablehook
    if getattr(prev, "_adadyn_quiet", False):
        return

    def hook(u):
        if getattr(u.object, "__qualname__", "") == "Client.__del__":
            return
        prev(u)

    hook._adadyn_quiet = True
    sys.unraisablehook = hook


def dask_client(address: str, timeout: float = 5.0):
    """A ``dask.distributed.Client`` connected to ``address``, or a ValueError naming
    the address after at most about ``timeout`` seconds: a malformed address or another
    scheme is refused at once, and a service that does not answer as a dask scheduler
    (:func:`probe_scheduler`) is refused before a client is made."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("a dask address needs the 'distributed' package (pip install distributed)") from None
    address = check_dask_address(address)
    import logging

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    probe_scheduler(address, timeout)
    try:
        return Client(address, timeout=f"{float(timeout)}s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - one line whatever the client raises
        _quiet_client_del()
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
