"""Crash-safe, locked storage of sweeps: one ``.npz`` per finished chunk plus a manifest.

A sweep directory holds ``manifest.json`` (format tag, the sweep's identity
hash, a readable description, the chunk layout), ``chunk_NNNNN.npz`` files and,
while a sweep writes to it, ``sweep.lock``. Rules (``docs/sweeps.md``):

* Atomic files: each file is written under a name unique to its writer
  (``<name>.<pid>.<random>.tmp``) and moved into place with ``os.replace``, so a
  file with a final name is always complete; a sweep killed at any moment loses
  only the chunks still running.
* One writer: ``sweep.lock`` is created with ``O_CREAT | O_EXCL`` and holds the
  writer's pid, host and process start time. A second sweep into the directory
  is refused with :class:`SweepError` naming that writer; a lock left by a
  writer that no longer runs (same host, pid gone or reused) is taken over.
* Nothing foreign is touched: a directory that is neither empty nor a sweep is
  refused before anything is written or deleted in it. The only files ever
  deleted are this package's own temporary names, in a directory that has a
  valid manifest, while holding the lock.
* A damaged or foreign chunk file is reported with a :class:`SweepWarning` and
  recomputed; a damaged manifest is a :class:`SweepError` (the layout is unknown).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import time
import warnings
import weakref
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["SweepError", "SweepWarning", "SweepStore", "sweep_key"]

FORMAT = "adadyn-sweep/1"
MANIFEST = "manifest.json"
LOCK = "sweep.lock"
#: Largest manifest read (bytes): a hand-edited or hostile file cannot exhaust memory.
MAX_MANIFEST = 1 << 20
_CHUNK = re.compile(r"^chunk_(\d{5,})\.npz$")
_OWN_TEMP = re.compile(r"^(manifest\.json|chunk_\d{5,}\.npz|sweep\.lock)\.\d+(\.[0-9a-f]+)?\.(tmp|stale)$")
_KEY = re.compile(r"^[0-9a-f]{64}$")


class SweepError(RuntimeError):
    """A sweep directory that cannot be used (foreign, not a sweep, locked, or a damaged manifest)."""


class SweepWarning(UserWarning):
    """A damaged or foreign chunk file, recomputed."""


def sweep_key(parts: dict) -> str:
    """SHA-256 of a sweep's defining inputs (arrays by dtype, shape and bytes)."""
    h = hashlib.sha256()
    for name in sorted(parts):
        val = parts[name]
        h.update(name.encode() + b"\0")
        if isinstance(val, np.ndarray):
            arr = np.ascontiguousarray(val)
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
        else:
            h.update(repr(val).encode())
        h.update(b"\1")
    return h.hexdigest()


def _temp_name(path: Path, token: str) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.{token}.tmp")


def _write_atomic(path: Path, write, token: str) -> None:
    tmp = _temp_name(path, token)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------- the lock
def _start_time(pid: int):
    """Start time of process ``pid`` (clock ticks since boot, Linux) or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return None if fields[0] == b"Z" else int(fields[19])
    except (IndexError, ValueError):
        return None


def _alive(pid: int, start) -> bool:
    """Is ``pid`` (started at ``start``, if known) running on this host?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    if os.path.isdir("/proc/self"):
        now = _start_time(pid)
        if now is None:  # a zombie, or gone
            return False
        if start is not None and now != start:  # the pid was reused
            return False
    return True


class _Lock:
    """``sweep.lock``: created with O_CREAT|O_EXCL, holding pid, host, start time and a token."""

    def __init__(self, path: Path, token: str):
        self.path = path
        self.token = token
        self.held = False

    def _read(self):
        try:
            with open(self.path, "rb") as fh:
                text = fh.read(4096)
            info = json.loads(text)
            if isinstance(info, dict) and isinstance(info.get("pid"), int) and isinstance(info.get("host"), str):
                return info
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            pass
        return {}

    def acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "start": _start_time(os.getpid()),
              "token": self.token, "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self._read()
                if other is None:  # released meanwhile
                    continue
                if not other:  # being written, or left empty by a writer killed at that instant
                    try:
                        age = time.time() - self.path.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    if age < 5.0:
                        time.sleep(0.05)
                        continue
                    self._break(other)
                    continue
                if other.get("host") == me["host"] and not _alive(other["pid"], other.get("start")):
                    self._break(other)
                    continue
                raise SweepError(
                    f"{self.path.parent} is in use by another sweep (pid {other['pid']} on "
                    f"{other['host']}, since {other.get('since', '?')}); wait for it to finish or use "
                    f"another directory. If no sweep is running there, delete {self.path}.")
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(me))
                fh.flush()
                os.fsync(fh.fileno())
            self.held = True
            return
        raise SweepError(f"could not lock {self.path.parent}: other sweeps keep taking it")

    def _break(self, stale: dict) -> None:
        """Move a stale lock aside; put it back if it turned out to be a fresh one."""
        aside = self.path.with_name(f"{LOCK}.{os.getpid()}.{self.token}.stale")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        moved = _Lock(aside, "")._read()
        if moved and stale and moved.get("token") != stale.get("token"):
            try:  # someone else locked it in between: give it back
                os.link(aside, self.path)
            except OSError:
                pass
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            info = self._read()
            if info and info.get("token") == self.token:
                self.path.unlink(missing_ok=True)
            self.held = False


def _release(lock: _Lock) -> None:
    lock.release()


# ---------------------------------------------------------------- the store
def _parse_manifest(mpath: Path) -> dict:
    """The manifest as a dict, validated, or SweepError (bounded time and memory)."""
    try:
        with open(mpath, "rb") as fh:
            raw = fh.read(MAX_MANIFEST + 1)
    except OSError as exc:
        raise SweepError(f"{mpath} cannot be read ({exc})") from None
    if len(raw) > MAX_MANIFEST:
        raise SweepError(f"{mpath} is corrupt (larger than {MAX_MANIFEST} bytes)")
    try:
        man = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise SweepError(f"{mpath} is corrupt ({type(exc).__name__}: {str(exc)[:200]}); "
                         "delete the directory to start over") from None
    if not isinstance(man, dict):
        raise SweepError(f"{mpath} is corrupt (not a JSON object); delete the directory to start over")
    if man.get("format") != FORMAT:
        fmt = man.get("format")
        raise SweepError(f"{mpath.parent} is not an adadyn sweep directory (manifest format "
                         f"{str(fmt)[:40]!r}, expected {FORMAT!r})")
    key = man.get("key")
    n, c = man.get("n_points"), man.get("chunk_size")
    ok = (isinstance(key, str) and _KEY.match(key)
          and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 2**40 for v in (n, c)))
    if not ok:
        raise SweepError(f"{mpath} is corrupt (key, n_points or chunk_size missing or invalid); "
                         "delete the directory to start over")
    return man


class SweepStore:
    """The output directory of one sweep, locked for this writer while open.

    Parameters
    ----------
    path : path-like
        Directory; created if missing. An existing empty directory is adopted.
    key : str
        Identity hash of the sweep (:func:`sweep_key`).
    description : dict
        JSON-serialisable summary written to the manifest (for humans).
    n_points : int
        Grid points in the sweep.
    chunk_size : int
        Points per chunk for a new directory; an existing sweep keeps its own
        layout (see :attr:`chunk_size`), so resuming with another executor or
        chunk size still reuses every finished chunk.

    Raises
    ------
    SweepError
        If the directory belongs to another sweep, holds files that are not
        part of a sweep, has a damaged manifest, or another live sweep writes to it.

    Notes
    -----
    Close the store (:meth:`close`, or use it as a context manager) to release
    the lock; a lock left by a killed process is recovered by the next writer.
    """

    def __init__(self, path, key: str, description: dict, n_points: int, chunk_size: int):
        self.path = Path(path)
        self.key = str(key)
        self._token = secrets.token_hex(6)
        if self.path.exists() and not self.path.is_dir():
            raise SweepError(f"{self.path} exists and is not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot create the sweep directory {self.path}: {exc.strerror or exc}") from None
        mpath = self.path / MANIFEST
        if mpath.exists():
            _parse_manifest(mpath)  # a foreign manifest: refuse before writing anything
        else:
            self._check_empty()
        self._lock = _Lock(self.path / LOCK, self._token)
        self._lock.acquire()
        self._finalizer = weakref.finalize(self, _release, self._lock)
        try:
            self._open(key, description, n_points, chunk_size)
        except BaseException:
            self.close()
            raise

    def _check_empty(self):
        others = sorted(p.name for p in self.path.iterdir() if p.name != LOCK and not _OWN_TEMP.match(p.name))
        if others:
            raise SweepError(f"{self.path} is not empty and has no {MANIFEST}: not an adadyn sweep "
                             f"directory (found {others[:5]}). Use an empty or new directory.")

    def _open(self, key, description, n_points, chunk_size):
        mpath = self.path / MANIFEST
        if mpath.exists():
            man = _parse_manifest(mpath)
            if man["key"] != key:
                desc = str(man.get("description", {}))[:300]
                raise SweepError(
                    f"{self.path} holds a different sweep (key {man['key'][:12]}..., {desc}); this sweep "
                    f"has key {key[:12]}... ({description}). Use another output directory or delete this one.")
            if man["n_points"] != n_points:
                raise SweepError(f"{mpath} is corrupt: {man['n_points']} points recorded, the sweep has {n_points}")
            self.n_points, self.chunk_size = man["n_points"], man["chunk_size"]
        else:
            self._check_empty()
            self.n_points, self.chunk_size = int(n_points), max(1, int(chunk_size))
            man = {"format": FORMAT, "key": key, "description": description,
                   "n_points": self.n_points, "chunk_size": self.chunk_size}
            _write_atomic(mpath, lambda fh: fh.write(json.dumps(man, indent=1, default=str).encode()), self._token)
        # under the lock and in a verified sweep directory: our own leftovers are stale
        for p in self.path.iterdir():
            if _OWN_TEMP.match(p.name):
                p.unlink(missing_ok=True)
        stray = [p.name for p in self.path.iterdir() if p.name not in (MANIFEST, LOCK) and not _CHUNK.match(p.name)]
        if stray:
            raise SweepError(f"{self.path} holds files that are not part of a sweep: {sorted(stray)[:5]}")

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the directory's lock (idempotent)."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ chunks
    @property
    def n_chunks(self) -> int:
        return -(-self.n_points // self.chunk_size)

    def chunk_points(self, i: int) -> np.ndarray:
        """Flat grid indices of chunk i."""
        return np.arange(i * self.chunk_size, min((i + 1) * self.chunk_size, self.n_points))

    def _file(self, i: int) -> Path:
        return self.path / f"chunk_{i:05d}.npz"

    def finished(self) -> list[int]:
        """Indices of the chunks already on disk."""
        out = []
        for p in self.path.iterdir():
            mt = _CHUNK.match(p.name)
            if mt:
                i = int(mt.group(1))
                if i >= self.n_chunks:
                    raise SweepError(f"{p} is not part of this sweep ({self.n_chunks} chunks)")
                out.append(i)
        return sorted(out)

    def save(self, i: int, arrays: dict) -> None:
        """Write chunk i atomically (writer-unique temporary name, then ``os.replace``)."""
        if not self._lock.held:
            raise SweepError(f"the store {self.path} is closed")
        payload = dict(arrays, sweep_key=np.array(self.key), chunk=np.array(i), points=self.chunk_points(i))
        _write_atomic(self._file(i), lambda fh: np.savez(fh, **payload), self._token)

    def load(self, i: int, keys) -> dict | None:
        """Read chunk i, checking that it is complete and belongs to this sweep.

        Returns None, with a :class:`SweepWarning`, for a damaged or foreign
        file (the caller recomputes the chunk and overwrites it).
        """
        p = self._file(i)
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            return None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
            return self._bad(p, f"{type(exc).__name__}: {str(exc)[:200]}")
        missing = [k for k in ("sweep_key", "chunk", "points", *keys) if k not in data]
        if missing:
            return self._bad(p, f"missing {missing}")
        try:
            same = str(data["sweep_key"]) == self.key and int(data["chunk"]) == i
        except (TypeError, ValueError):
            same = False
        if not same:
            return self._bad(p, "it belongs to another sweep or chunk")
        pts = self.chunk_points(i)
        if not np.array_equal(data["points"], pts) or any(data[k].shape[:1] != pts.shape for k in keys):
            return self._bad(p, f"its arrays do not match chunk {i} ({pts.size} points)")
        return {k: data[k] for k in keys}

    @staticmethod
    def _bad(p, why):
        warnings.warn(f"{p} is corrupt ({why}); recomputing that chunk", SweepWarning, stacklevel=3)
        return None

    def __repr__(self) -> str:
        return (f"SweepStore({str(self.path)!r}, key={self.key[:12]}..., "
                f"{len(self.finished())}/{self.n_chunks} chunks done)")
