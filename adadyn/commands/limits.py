"""Size limits of the ``adadyn`` commands (``docs/cli.md``), checked before any work starts.

A command estimates what it will hold in memory and write (8 bytes per recorded
float) and refuses above :data:`REFUSE_BYTES` with the estimate and a
``--record-every`` that fits; above :data:`WARN_BYTES` it says so on stderr and goes on.
"""
from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from adadyn.commands.errors import CLIError, warn

MiB = 2 ** 20
#: refuse a command whose recorded arrays exceed this (256 MiB)
REFUSE_BYTES = 256 * MiB
#: warn on stderr above this (16 MiB)
WARN_BYTES = 16 * MiB
#: largest --steps any command accepts
MAX_STEPS = 10 ** 12
#: largest sweep grid (points)
MAX_POINTS = 1_000_000
#: largest --workers (and --threads) on any machine; the bound in force is :func:`max_parallel`
MAX_WORKERS = 256


def max_parallel() -> int:
    """Most worker processes or threads a command accepts: 4 per core (at least 4, at most
    :data:`MAX_WORKERS`). More only contend for the same cores, and each costs memory."""
    return max(4, min(MAX_WORKERS, 4 * (os.cpu_count() or 1)))


def available_memory() -> int | None:
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else psutil), or None."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh.read(1 << 16).splitlines():
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - no estimate: no refusal
        return None


def human(nbytes: float) -> str:
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", MiB), ("KiB", 2 ** 10)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{int(nbytes)} B"


def records(steps: int, record_every: int) -> int:
    """Number of records of a run: step 0 and every ``record_every``-th step."""
    return steps // record_every + 1


def fitting_record_every(steps: int, bytes_per_record: float, budget: float = WARN_BYTES) -> int:
    """The smallest stride whose records fit in ``budget`` bytes."""
    n = max(2, int(budget // bytes_per_record))
    return max(1, math.ceil(steps / (n - 1)))


def refuse_bytes() -> int:
    """The refusal limit: ``ADADYN_MAX_RECORD_BYTES`` when set (as for the library), else
    :data:`REFUSE_BYTES`."""
    if os.environ.get("ADADYN_MAX_RECORD_BYTES", "").strip():
        from adadyn.validation import record_limit

        return record_limit()
    return REFUSE_BYTES


def check_record_size(prog: str, what: str, steps: int, record_every: int, bytes_per_record: float,
                      *, stride_option: str | None = "--record-every") -> float:
    """Refuse (:class:`CLIError`) or warn when ``records(steps, record_every) * bytes_per_record``
    is large; returns the estimate in bytes."""
    est = records(steps, record_every) * float(bytes_per_record)
    limit = refuse_bytes()
    if est > limit:
        fix = ""
        if stride_option:
            fix = f"; {stride_option} {fitting_record_every(steps, bytes_per_record)} fits"
        raise CLIError(f"{what} would need {human(est)} (limit {human(limit)}){fix}")
    if est > WARN_BYTES:
        warn(prog, f"{what} will need {human(est)}")
    return est


def check_disk(path: Path, nbytes: float, option: str = "--out") -> None:
    """Refuse when the file system of ``path`` (or of its nearest existing parent: an output
    directory is made at its first write) has less than ``nbytes`` free."""
    where = Path(path).absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return
    if nbytes > free:
        raise CLIError(f"{option} {path}: {human(nbytes)} to write, {human(free)} free")
