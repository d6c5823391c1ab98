"""Numba compilation helpers shared by every hot kernel.

Objective functions reach the kernels as first-class function values with the
fixed signatures below. Unlike dispatcher arguments (each dispatcher is its own
type, so the caller is recompiled per objective and never cached), a kernel
typed against these signatures is compiled once and cached on disk, and any
``@njit`` function of the same signature can be passed to it.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager

import numba
from numba import types

f8 = types.float64
i8 = types.int64
b1 = types.boolean
vec = types.float64[::1]
mat = types.float64[:, ::1]

#: ``value_grad(x, t, data, g) -> f``: f(x) at step t, gradient written into g.
VALUE_GRAD_SIG = f8(vec, f8, vec, vec)
#: ``hessian(x, t, data, H) -> None``: Hessian written into H (d x d).
HESSIAN_SIG = types.none(vec, f8, vec, mat)
#: ``hvp(x, t, data, u, out) -> None``: Hessian-vector product H(x) u into out.
HVP_SIG = types.none(vec, f8, vec, vec, vec)

#: ``value_grad_batch(X, t, data, G, F) -> None``: many points at once, stored
#: coordinate-major (X[i, lane]) so that loops over lanes vectorise; must give
#: each lane exactly the bits ``value_grad`` gives (same operation order).
VALUE_GRAD_BATCH_SIG = types.none(mat, f8, vec, mat, vec)

VALUE_GRAD_T = types.FunctionType(VALUE_GRAD_SIG)
VALUE_GRAD_BATCH_T = types.FunctionType(VALUE_GRAD_BATCH_SIG)
HESSIAN_T = types.FunctionType(HESSIAN_SIG)
HVP_T = types.FunctionType(HVP_SIG)


def _cache_ok() -> bool:
    return os.environ.get("ADADYN_NO_CACHE", "") in ("", "0")


def jit(sig=None, *, parallel: bool = False, **kw):
    """``numba.njit`` with ``cache=True``, falling back to no cache when no
    cache location is writable (read-only install and unwritable home)."""

    if callable(sig) and not isinstance(sig, (types.Type, str)):
        return jit(None, parallel=parallel, **kw)(sig)

    def deco(fn):
        # error_model="numpy": x/0 gives inf/nan (a blow-up is a result, caught as
        # status="diverged") instead of raising, and drops the zero checks that block
        # vectorisation.
        cache = kw.pop("cache", True) and _cache_ok()
        opts = dict(cache=cache, parallel=parallel, error_model="numpy", **kw)
        try:
            return numba.njit(sig, **opts)(fn) if sig is not None else numba.njit(**opts)(fn)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            if "cannot cache" not in str(exc):
                raise
            opts["cache"] = False
            return numba.njit(sig, **opts)(fn) if sig is not None else numba.njit(**opts)(fn)

    return deco


def variant(fn, tag: str):
    """A copy of ``fn`` whose qualified name carries ``tag``.

    Numba names cache files after the function's qualname and keys entries by
    signature only, not by compile options: two dispatchers over one function
    (serial and ``parallel=True``, say) would load each other's machine code.
    A renamed copy gets a cache file of its own.
    """
    import types as _types

    clone = _types.FunctionType(fn.__code__, fn.__globals__, f"{fn.__name__}__{tag}", fn.__defaults__,
                                fn.__closure__)
    clone.__qualname__ = f"{fn.__qualname__}__{tag}"
    clone.__module__ = fn.__module__
    clone.__doc__ = fn.__doc__
    return clone


class Lazy:
    """A kernel compiled with an explicit signature on first use.

    Explicit signatures are compiled eagerly by Numba; deferring the decoration
    keeps ``import adadyn`` fast while still loading from the on-disk cache.
    ``tag`` compiles a renamed copy (see :func:`variant`), for a second
    dispatcher over a function that already has one.
    """

    def __init__(self, fn, sig, tag: str | None = None, **kw):
        fn = getattr(fn, "py_func", fn)
        if tag is not None:
            fn = variant(fn, tag)
        self._fn, self._sig, self._kw, self._compiled = fn, sig, kw, None
        self._guard = threading.Lock()
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    @property
    def compiled(self):
        if self._compiled is None:
            with self._guard:
                if self._compiled is None:
                    with compile_lock(self._fn, timeout=LOCK_WAIT) as _:
                        self._compiled = jit(self._sig, **self._kw)(self._fn)
        return self._compiled

    def warm(self, blocking: bool = True) -> bool:
        """Compile (or load from the cache) now. With ``blocking=False``, return False at
        once, compiling nothing, while another process holds this kernel's compile lock."""
        if self._compiled is not None:
            return True
        with self._guard:
            if self._compiled is None:
                with compile_lock(self._fn, blocking=blocking) as held:
                    if not held:
                        return False
                    self._compiled = jit(self._sig, **self._kw)(self._fn)
        return True

    def __call__(self, *args):
        return self.compiled(*args)


def lazy(sig, **kw):
    """Decorator form of :class:`Lazy`."""
    return lambda fn: Lazy(fn, sig, **kw)


def cache_path(fn) -> str | None:
    """The directory where Numba caches ``fn`` (None when it cannot cache it)."""
    if not _cache_ok():
        return None
    try:
        from numba.core.caching import FunctionCache

        return FunctionCache(getattr(fn, "py_func", fn))._cache_path
    except Exception:  # no writable locator, or a function Numba cannot cache
        return None


#: seconds a process waits for another one compiling the kernel it needs (a busy or
#: stopped holder must not hold it up for longer than compiling it itself would take)
LOCK_WAIT = 20.0


@contextmanager
def compile_lock(fn, blocking: bool = True, timeout: float | None = None):
    """An exclusive inter-process lock on compiling ``fn``; yields whether it is held
    (False: not blocking, or ``timeout`` seconds passed; the caller goes on without it).

    Processes that start cold together (a background warm-up and the user's process,
    dask workers) would each compile the same kernel; with the lock the first compiles
    and writes the on-disk cache, the others wait and load it. The lock is a file beside
    the cache (``<qualname>.adadyn-lock``, left in place) under ``flock``, released by the
    operating system if its holder dies. Without a cache location or ``fcntl`` (Windows)
    it holds nothing and yields True.
    """
    path = cache_path(fn)
    try:
        import fcntl
    except ImportError:
        fcntl = None
    fd = None
    if path is not None and fcntl is not None:
        try:
            os.makedirs(path, exist_ok=True)
            fd = os.open(os.path.join(path, f"{getattr(fn, '__qualname__', 'kernel')}.adadyn-lock"),
                         os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            fd = None
    if fd is None:
        yield True
        return
    try:
        if blocking and timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = True
        else:
            import time

            end = time.monotonic() + (timeout if blocking else 0.0)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = True
                    break
                except BlockingIOError:
                    if time.monotonic() >= end:
                        held = False
                        break
                    time.sleep(0.02)
        yield held
    finally:
        os.close(fd)  # closing releases the lock
