"""Independent blocks of work on Python threads, around Numba kernels that release the GIL.

Used instead of ``parallel=True`` kernels wherever independent runs or curves are
spread over cores (grid sweeps, batched classification): no parallel-runtime
compile, and no OpenMP state, which a process pool forked later would inherit
and die on. Each block is computed by the same serial code, so results are
bit-identical at any thread count.
"""
from __future__ import annotations


def thread_count() -> int:
    """Threads to use: ``NUMBA_NUM_THREADS`` (read without starting Numba's threading layer)."""
    import numba

    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def spread(n: int, block: int, task, parallel: bool = True) -> None:
    """Call ``task(a, b)`` on consecutive blocks [a, b) of ``range(n)``, on threads when
    ``parallel`` and there is more than one block."""
    bounds = [(a, min(n, a + block)) for a in range(0, n, max(1, block))]
    workers = min(thread_count(), len(bounds))
    if not parallel or workers <= 1:
        for a, b in bounds:
            task(a, b)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(task, a, b) for a, b in bounds]:
            fut.result()
