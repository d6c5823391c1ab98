"""Crash-safe storage of sweeps: one ``.npz`` per finished chunk plus a manifest.

A sweep directory holds ``manifest.json`` (format tag, the sweep's identity
hash and a readable description, the chunk layout) and ``chunk_NNNNN.npz``
files. Each chunk file is written to a temporary name and moved into place
with ``os.replace``, which is atomic on POSIX and Windows: a file with the
final name is always complete, so a sweep killed at any moment loses only the
chunks still running, and rerunning the same sweep recomputes only those.
A directory written by a different sweep, a directory that is not a sweep,
and a damaged file are reported with :class:`SweepError`.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["SweepError", "SweepStore", "sweep_key"]

FORMAT = "adadyn-sweep/1"
MANIFEST = "manifest.json"
_CHUNK = re.compile(r"^chunk_(\d{5,})\.npz$")


class SweepError(RuntimeError):
    """A sweep directory that cannot be resumed (foreign, not a sweep, or corrupt)."""


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


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class SweepStore:
    """The output directory of one sweep.

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
        part of a sweep, or has a damaged manifest.
    """

    def __init__(self, path, key: str, description: dict, n_points: int, chunk_size: int):
        self.path = Path(path)
        self.key = key
        if self.path.exists() and not self.path.is_dir():
            raise SweepError(f"{self.path} exists and is not a directory")
        self.path.mkdir(parents=True, exist_ok=True)
        for tmp in self.path.glob("*.tmp"):  # left by a killed writer: never complete
            tmp.unlink()
        mpath = self.path / MANIFEST
        if mpath.exists():
            try:
                man = json.loads(mpath.read_text())
                ok = man.get("format") == FORMAT and isinstance(man.get("key"), str)
                layout = (int(man["n_points"]), int(man["chunk_size"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise SweepError(f"{mpath} is corrupt ({exc}); delete the directory to start over") from None
            if not ok:
                raise SweepError(f"{self.path} is not an adadyn sweep directory "
                                 f"(manifest format {man.get('format')!r}, expected {FORMAT!r})")
            if man["key"] != key:
                raise SweepError(
                    f"{self.path} holds a different sweep (key {man['key'][:12]}..., "
                    f"{man.get('description', {})}); this sweep has key {key[:12]}... "
                    f"({description}). Use another output directory or delete this one.")
            if layout[0] != n_points:
                raise SweepError(f"{mpath} is corrupt: {layout[0]} points recorded, the sweep has {n_points}")
            self.n_points, self.chunk_size = layout
        else:
            others = sorted(p.name for p in self.path.iterdir())
            if others:
                raise SweepError(f"{self.path} is not empty and has no {MANIFEST}: not an adadyn sweep "
                                 f"directory (found {others[:5]}). Use an empty or new directory.")
            self.n_points, self.chunk_size = int(n_points), max(1, int(chunk_size))
            man = {"format": FORMAT, "key": key, "description": description,
                   "n_points": self.n_points, "chunk_size": self.chunk_size}
            _write_atomic(mpath, lambda fh: fh.write(json.dumps(man, indent=1, default=str).encode()))
        stray = [p.name for p in self.path.iterdir() if p.name != MANIFEST and not _CHUNK.match(p.name)]
        if stray:
            raise SweepError(f"{self.path} holds files that are not part of a sweep: {sorted(stray)[:5]}")

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
        """Write chunk i atomically (temporary name, then ``os.replace``)."""
        payload = dict(arrays, sweep_key=np.array(self.key), chunk=np.array(i),
                       points=self.chunk_points(i))
        _write_atomic(self._file(i), lambda fh: np.savez(fh, **payload))

    def load(self, i: int, keys) -> dict:
        """Read chunk i, checking that it is complete and belongs to this sweep."""
        p = self._file(i)
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise SweepError(f"{p} is corrupt ({type(exc).__name__}: {exc}); delete it to recompute "
                             "that chunk") from None
        missing = [k for k in ("sweep_key", "chunk", "points", *keys) if k not in data]
        if missing:
            raise SweepError(f"{p} is corrupt: missing {missing}; delete it to recompute that chunk")
        if str(data["sweep_key"]) != self.key or int(data["chunk"]) != i:
            raise SweepError(f"{p} belongs to another sweep or chunk; delete it to recompute that chunk")
        pts = self.chunk_points(i)
        if not np.array_equal(data["points"], pts) or any(data[k].shape[:1] != pts.shape for k in keys):
            raise SweepError(f"{p} is corrupt: its arrays do not match chunk {i} ({pts.size} points)")
        return {k: data[k] for k in keys}

    def __repr__(self) -> str:
        return (f"SweepStore({str(self.path)!r}, key={self.key[:12]}..., "
                f"{len(self.finished())}/{self.n_chunks} chunks done)")
