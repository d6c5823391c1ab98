"""Crash-safe, locked storage of sweeps: one ``.npz`` per finished chunk plus a manifest.

A sweep directory holds ``manifest.json`` (format tag, the sweep's identity
hash, a readable description, the chunk layout), ``chunk_NNNNN.npz`` files and,
while a sweep writes to it, ``sweep.lock``. Rules (``docs/sweeps.md``):

* Atomic files: each file is written under a name unique to its writer
  (``<name>.<pid>.<token>.tmp``, the token 128 random bits) and moved into place
  with ``os.replace``, so a file with a final name is always complete; a sweep
  killed at any moment loses only the chunks still running.
* One writer: ``sweep.lock`` is created with ``O_CREAT | O_EXCL`` and holds the
  writer's pid, host and process start time. A second sweep into the directory
  is refused with :class:`SweepError` naming that writer; a lock left by a
  writer that no longer runs (same host, pid gone or reused) is taken over.
* Nothing foreign is touched: a directory that is neither empty nor a sweep is
  refused before anything is written or deleted in it. The only files ever
  deleted are temporaries carrying this writer's token or the token of a dead
  writer's lock it took over, in a directory that has a valid manifest, while
  holding the lock (no user file can carry a 128-bit random token by accident).
* Nothing blocks or follows a link: the manifest, the lock and the chunks are
  checked with ``lstat`` and opened with ``O_NOFOLLOW | O_NONBLOCK`` only when they
  are regular files; a FIFO, socket, device or symlink in their place is refused
  (manifest, lock) or treated as a damaged chunk.
* A chunk's zip members are checked against the layout before anything is
  inflated: the store writes uncompressed members, so a compressed member, a
  member larger than the file, or an array header whose shape does not match the
  member's size (or the chunk's point count) is damage, not a read.
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
import stat
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
_OWN_TEMP = re.compile(r"^(manifest\.json|chunk_\d{5,}\.npz|sweep\.lock)\.\d+\.([0-9a-f]{32})\.(tmp|stale)$")
#: Bytes of the random token in the store's temporary names (128 bits).
TOKEN_BYTES = 16
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


def _open_regular(path: Path, what: str):
    """``path`` opened for reading if it is a regular file (never follows a symlink, never
    blocks on a FIFO); FileNotFoundError if absent; SweepError naming what it is otherwise."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise
    if not stat.S_ISREG(st.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode)
                else "a device or special file")
        raise SweepError(f"{path} ({what}) is {kind}, not a regular file written by adadyn")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between lstat and open
        os.close(fd)
        raise SweepError(f"{path} ({what}) is not a regular file")
    return os.fdopen(fd, "rb")


def _temp_name(path: Path, token: str) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.{token}.tmp")


def _write_atomic(path: Path, write, token: str) -> None:
    """Write ``path`` under a new name of this writer (``O_CREAT | O_EXCL | O_NOFOLLOW``: never an
    existing file, never through a link) and move it into place; only that name is ever removed."""
    tmp = _temp_name(path, token)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
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
        #: tokens of dead writers whose locks this one took over (their temporaries may be removed)
        self.taken_over: set = set()

    def _read(self):
        try:
            with _open_regular(self.path, "the sweep's lock") as fh:
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
        elif moved and isinstance(moved.get("token"), str):
            self.taken_over.add(moved["token"])
        aside.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            info = self._read()
            if info and info.get("token") == self.token:
                self.path.unlink(missing_ok=True)
            self.held = False


def _release(lock: _Lock) -> None:
    lock.release()


# ---------------------------------------------------------------- chunk layout
def _layout_problem(fh, keys, n: int) -> str | None:
    """Why the chunk file ``fh`` does not have the store's layout (None: it does), read from
    the zip directory and the arrays' headers only, nothing inflated: the members are
    exactly ``keys`` (``.npy``), stored uncompressed, each no larger than the file, each
    array's header shape accounts for the member's size, and every array but the scalars
    has ``n`` rows."""
    size = os.fstat(fh.fileno()).st_size
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return f"not a zip file ({type(exc).__name__})"
    with zf:
        infos = zf.infolist()
        names = sorted(info.filename for info in infos)
        if names != sorted(f"{k}.npy" for k in set(keys)):
            extra = sorted(set(names) - {f"{k}.npy" for k in keys})[:3]
            return f"members {extra or names[:3]} do not match the layout"
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size \
                    or info.file_size > size:
                return (f"member {info.filename} claims {info.file_size} bytes "
                        f"({info.compress_size} stored); the store writes uncompressed members")
            try:
                with zf.open(info) as m:
                    version = np.lib.format.read_magic(m)
                    read = {(1, 0): np.lib.format.read_array_header_1_0,
                            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read is None:
                        return f"member {info.filename}: array format {version} is not one the store writes"
                    shape, _, dtype = read(m)
                    head = m.tell()
            except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile) as exc:
                return f"member {info.filename}: bad array header ({type(exc).__name__})"
            if dtype.hasobject:
                return f"member {info.filename} holds Python objects"
            count = 1
            for s_ in shape:
                count *= int(s_)
            if count * dtype.itemsize != info.file_size - head:
                return (f"member {info.filename}: header shape {shape} needs {count * dtype.itemsize} bytes, "
                        f"the member has {info.file_size - head}")
            key = info.filename[:-4]
            if key not in ("sweep_key", "chunk") and (not shape or int(shape[0]) != n):
                return f"member {info.filename} has shape {shape}, not {n} rows"
    return None


# ---------------------------------------------------------------- the store
def _parse_manifest(mpath: Path) -> dict:
    """The manifest as a dict, validated, or SweepError (bounded time and memory)."""
    try:
        with _open_regular(mpath, "the sweep's manifest") as fh:
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
        self._token = secrets.token_hex(TOKEN_BYTES)
        if self.path.exists() and not self.path.is_dir():
            raise SweepError(f"{self.path} exists and is not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot create the sweep directory {self.path}: {exc.strerror or exc}") from None
        mpath = self.path / MANIFEST
        if os.path.lexists(mpath):
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
        if os.path.lexists(mpath):
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
        # under the lock and in a verified sweep directory: remove the temporaries of this
        # writer and of dead writers whose lock was taken over (known tokens only)
        mine = {self._token} | self._lock.taken_over
        for p in self.path.iterdir():
            mt = _OWN_TEMP.match(p.name)
            if mt and mt.group(2) in mine:
                p.unlink(missing_ok=True)
        stray = [p.name for p in self.path.iterdir()
                 if p.name not in (MANIFEST, LOCK) and not _CHUNK.match(p.name) and not _OWN_TEMP.match(p.name)]
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
            fh = _open_regular(p, f"chunk {i}")
        except FileNotFoundError:
            return None
        except (SweepError, OSError) as exc:
            return self._bad(p, str(exc))
        try:
            with fh:
                why = _layout_problem(fh, ("sweep_key", "chunk", "points", *keys), self.chunk_points(i).size)
                if why:
                    return self._bad(p, why)
                fh.seek(0)
                with np.load(fh, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
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
