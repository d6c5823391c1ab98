"""Compiling the common kernels ahead of their first use (``adadyn warm``).

A fresh install has an empty Numba cache: the first :func:`adadyn.run` compiles the
driver loop, the first :func:`adadyn.analysis.phase_diagram` the grid kernel and the
regime classifier, seconds each, once per install and machine. Three ways to take this
off the user's first call:

* **At install.** ``pip install .`` builds a wheel on the installing machine; its build
  step (``build_hooks.py`` in the source tree) runs :func:`warm` there, so the installed
  package carries the Numba caches of these kernels and the marker below. Numba stamps a
  cache with the source's content, the CPU and its version, so they load wherever those
  match, and are recompiled (as without them) where they do not.

* **Automatically, in the background.** ``import adadyn`` calls :func:`autostart`:
  unless the warm-up is done (or disabled) it starts ``adadyn._warm`` as detached,
  low-priority processes (one per core beyond the first: one on two cores, at most
  two). They compile the groups of :data:`GROUPS`, each in its own order, skipping
  (until the end) any kernel another process is compiling at that moment, and leave a
  marker when done, so it runs once per install, Python, Numba and CPU. Kernels are
  compiled under an inter-process lock (:func:`adadyn._jit.compile_lock`): a process
  that needs a kernel the warm-up is compiling waits for it (at most
  :data:`adadyn._jit.LOCK_WAIT` seconds, then compiles it itself) and loads it from
  the cache instead of compiling it twice. Set ``ADADYN_WARMUP=0`` to turn this off.
* **On request**: ``adadyn warm`` (or ``python -m adadyn warm``) compiles every group
  now, one process per group on up to ``--jobs`` cores, and prints the time of each
  and how many of its kernels were compiled and how many loaded from the cache (all of
  them after an install that shipped its caches). Useful once after ``pip install``
  and in container images.

Nothing here changes what is compiled or how: the kernels and their cache entries
are exactly those the first call would have made.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

#: groups of kernels, in the order the background warm-up compiles them (what a first
#: phase_diagram needs last comes first, so that the two processes work in parallel)
GROUPS = ("classify", "grid", "run")
#: the orders of the background processes: the first starts with the slowest kernel (the
#: classifier, needed last by a first phase_diagram), the second (on machines with cores
#: to spare) with the grid kernel; neither starts with the run driver, which a script
#: usually needs first and compiles itself; a kernel another process is compiling is
#: skipped until the end, when it is a cache load
_ORDERS = (("classify", "grid", "run"), ("grid", "run", "classify"))
#: started as ``python -c _BOOT --background SLOT``: lower the priority before the imports
_BOOT = ("import os\ntry:\n    os.nice(10)\nexcept (AttributeError, OSError):\n    pass\n"
         "import runpy\nrunpy.run_module('adadyn._warm', run_name='__main__', alter_sys=True)\n")

#: environment variable marking a warm-up process (it never starts another)
_CHILD_ENV = "ADADYN_WARMING"
_started = False


def _kernels(group: str) -> list:
    """The :class:`adadyn._jit.Lazy` kernels of a group."""
    if group == "classify":
        from adadyn.analysis import regime_features

        return [regime_features.features_block]
    if group == "grid":
        from adadyn.discrete import kernels_soa
        from adadyn.objectives import library

        return [kernels_soa.chunk_kernel, library._quad_vg_batch]
    if group == "run":
        from adadyn.discrete import kernels
        from adadyn.objectives import library

        return [kernels.run_kernel, library._quad_vg]
    raise ValueError(f"group must be one of {GROUPS}, got {group!r}")


def enabled() -> bool:
    """False when ``ADADYN_WARMUP`` is 0/false/no/off, in a warm-up process itself, or
    when the on-disk cache is off (``ADADYN_NO_CACHE``)."""
    from adadyn._jit import _cache_ok

    flag = os.environ.get("ADADYN_WARMUP", "").strip().lower()
    return flag not in ("0", "false", "no", "off") and not os.environ.get(_CHILD_ENV) and _cache_ok()


#: the source files of the kernels of GROUPS (Numba keys each cache entry by its file's content)
_SOURCES = ("analysis/regime_features.py", "discrete/kernels_soa.py", "discrete/kernels.py",
            "objectives/library.py")


def _anchor():
    """A function of this module: its Numba cache location is where the marker goes."""


def marker_path() -> Path | None:
    """The file that says the warm-up has run for this install, Python, Numba and CPU
    (in the Numba cache of this package; None when nothing can be cached). Cheap: it
    imports no kernel module."""
    import numba

    from adadyn import __version__
    from adadyn._jit import cache_path

    where = cache_path(_anchor)
    if where is None:
        return None
    h = hashlib.sha256()
    try:
        from llvmlite import binding as ll

        cpu = ll.get_host_cpu_name() + ll.get_host_cpu_features().flatten()
    except Exception:
        cpu = ""
    for part in (__version__, numba.__version__, sys.version, cpu):
        h.update(part.encode())
    root = Path(__file__).resolve().parent
    for rel in _SOURCES:  # by content, as Numba stamps its cache: an installed copy matches
        try:
            h.update(rel.encode() + hashlib.sha256((root / rel).read_bytes()).digest())
        except OSError:
            pass
    return Path(where) / f"adadyn-warm-{h.hexdigest()[:16]}.done"


def autostart() -> None:
    """Start the background warm-up once per process, unless it is done or disabled:
    one low-priority process per core beyond the first (at least one, at most two),
    each working through :data:`GROUPS` in its own order (:data:`_ORDERS`)."""
    global _started
    if _started:
        return
    _started = True
    try:
        if not enabled() or not sys.executable:
            return
        marker = marker_path()
        if marker is None or marker.exists():
            return
        env = dict(os.environ, **{_CHILD_ENV: "1"})
        for slot in range(min(len(_ORDERS), max(1, (os.cpu_count() or 1) - 1))):
            subprocess.Popen([sys.executable, "-c", _BOOT, "--background", str(slot)], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, close_fds=True)
    except Exception:  # never let the warm-up break the user's call
        return


def cache_counts(group: str) -> tuple[int, int]:
    """``(loaded, compiled)``: how many kernels of ``group`` this process loaded from the
    on-disk cache and how many it compiled (Numba's dispatcher statistics)."""
    loaded = compiled = 0
    for k in _kernels(group):
        st = k.compiled.stats
        if sum(st.cache_misses.values()) or not sum(st.cache_hits.values()):
            compiled += 1
        else:
            loaded += 1
    return loaded, compiled


def _what(loaded: int, compiled: int) -> str:
    if not compiled:
        return f"{loaded} loaded from the cache"
    if not loaded:
        return f"{compiled} compiled"
    return f"{compiled} compiled, {loaded} loaded from the cache"


def warm_group(group: str, blocking: bool = True) -> tuple[float, list]:
    """Compile (or load) the kernels of ``group``; ``(seconds, kernels skipped because
    another process held their compile lock)`` (none skipped when ``blocking``)."""
    t = time.perf_counter()
    skipped = [k for k in _kernels(group) if not k.warm(blocking=blocking)]
    return time.perf_counter() - t, skipped


def _background(slot: int) -> int:
    import fcntl

    marker = marker_path()
    if marker is None:
        return 0
    fd = os.open(marker.with_suffix(f".lock{slot}"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # this slot's warm-up is running in another process
    later = []
    for group in _ORDERS[slot]:
        later += warm_group(group, blocking=False)[1]
    for k in later:  # compiled meanwhile by the process that held them: a cache load
        k.warm()
    marker.touch()
    return 0


def warm(jobs: int = 2, out=None) -> float:
    """Compile every group now, one process per group on up to ``jobs`` at a time;
    print each group's time and how many of its kernels were compiled or loaded from the
    cache to ``out`` (default: standard output); return the wall time. Marks the warm-up
    done."""
    from adadyn.validation import check_int

    out = sys.stdout if out is None else out

    jobs = check_int("jobs", jobs, 1, 64)
    t0 = time.perf_counter()
    env = dict(os.environ, **{_CHILD_ENV: "1"})
    pending = list(GROUPS)
    running = []
    failed = []
    counts = [0, 0]  # kernels loaded from the cache, compiled
    while pending or running:
        while pending and len(running) < jobs:
            g = pending.pop(0)
            p = subprocess.Popen([sys.executable, "-m", "adadyn._warm", "--group", g], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            running.append((g, p))
        g, p = running.pop(0)
        so, se = p.communicate()
        if p.returncode != 0:
            failed.append(g)
            print(f"  {g:<9} failed: {se.strip().splitlines()[-1] if se.strip() else p.returncode}", file=out)
        else:
            dt, loaded, compiled = so.split()[-3:]
            counts[0] += int(loaded)
            counts[1] += int(compiled)
            print(f"  {g:<9} {float(dt):6.2f} s  ({_what(int(loaded), int(compiled))})", file=out)
    wall = time.perf_counter() - t0
    marker = marker_path()
    if marker is not None and not failed:
        marker.touch()
    ready = f"{len(GROUPS) - len(failed)} of {len(GROUPS)} groups ready in {wall:.2f} s ({jobs} at a time)"
    if counts[1]:
        print(f"{ready}: {_what(*counts)} kernels; later processes load them from the cache", file=out)
    else:
        print(f"{ready}: nothing to compile, all {counts[0]} kernels loaded from the cache", file=out)
    if failed:
        raise RuntimeError(f"warm-up failed for {', '.join(failed)}")
    return wall


def _main(argv) -> int:
    if argv[:1] == ["--background"] and len(argv) == 2 and argv[1] in ("0", "1"):
        try:
            return _background(int(argv[1]))
        except Exception:
            return 1
    if argv[:1] == ["--group"] and len(argv) == 2:
        dt, _ = warm_group(argv[1])
        print(f"{dt:.3f} {' '.join(map(str, cache_counts(argv[1])))}")
        return 0
    print("usage: python -m adadyn._warm (--background | --group NAME); see `adadyn warm`", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
