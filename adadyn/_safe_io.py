"""Writing output files without touching anything the package did not write (``docs/security.md``).

Every command (and any library function) that writes results goes through
:class:`OutputDir`:

* **A manifest names the package's files.** ``.adadyn-outputs.json`` in the
  directory lists the names the package wrote there. Only those may be replaced;
  an existing file of any other name is refused, in one line naming it.
* **A non-empty directory without a manifest is refused** before anything is
  computed or written: the package never adopts a directory it did not create
  (or an empty one).
* **No symlink is ever opened for writing.** Files are written under a fresh
  name that carries an unguessable token (``O_CREAT | O_EXCL | O_NOFOLLOW``) and
  moved into place with ``os.replace``, which replaces a directory entry and never
  follows one; a name that is a symlink (or a FIFO, device or socket) is refused.
* **Checked up front.** Constructing an :class:`OutputDir` checks the directory (an
  existing one gets its manifest at once, which proves it writable; a new one is checked
  creatable and made at the first write), so a bad ``--out`` fails before any work and a
  refused command leaves nothing behind.

Typical use::

    out = OutputDir("results")              # refuses a foreign, non-empty directory
    out.write_text("summary.txt", text)
    out.savefig(fig, "loss.png", dpi=110)
    out.save_with("phase.npz", pd.to_npz)   # any writer that takes a path
    with out.open_new("log.csv", "w") as fh:
        fh.write("...")

:func:`output_file` does the same for a single file given by path (e.g.
``adadyn flow --out gaps.png``): the file's directory may hold other files, but an
existing file of that name is replaced only if the manifest there names it.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path

__all__ = ["OutputDir", "OutputError", "output_file", "MANIFEST", "check_regular"]

MANIFEST = ".adadyn-outputs.json"
_FORMAT = "adadyn-outputs/1"
_MAX_MANIFEST = 1 << 20
_TMP_PREFIX = ".adadyn-tmp-"


class OutputError(ValueError):
    """An output location that would overwrite, or write through, something the package did not write."""


def check_regular(path, what: str = "") -> os.stat_result | None:
    """``lstat`` of ``path`` (None if absent), or :class:`OutputError` if it is anything but a
    regular file: a symlink, FIFO, socket or device is never opened (opening a FIFO blocks)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode)
                else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device or special file")
        raise OutputError(f"{what}{path} is {kind}, not a regular file; the package does not open it")
    return st


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or "\0" in name or name in (".", "..") \
            or name == MANIFEST or name.startswith(_TMP_PREFIX) or (os.sep != "/" and os.sep in name):
        raise ValueError(f"output name must be a plain file name, got {name!r}")
    return name


class OutputDir:
    """A directory the package writes results into (see the module's rules).

    Parameters
    ----------
    path : path-like
        The directory; created (with parents) if missing.
    option : str
        How the user named it (``"--out"``), for messages.
    shared : bool
        The directory may hold files the package did not write (the directory of a
        single output file): it is not refused for being non-empty, and only the
        names the package writes are checked.
    strict : bool
        Every entry in the directory must be named by the manifest (for writers
        outside this module, e.g. ``adadyn demo`` and ``adadyn reproduce``, which
        record what they wrote with :meth:`adopt_new` afterwards).

    Raises
    ------
    OutputError
        If the path is not a directory, the directory is not empty and has no
        manifest (unless ``shared``), holds a foreign entry (``strict``), has a
        damaged manifest, or cannot be written.
    """

    def __init__(self, path, *, option: str = "--out", shared: bool = False, strict: bool = False):
        if not isinstance(path, (str, os.PathLike)) or not str(path).strip() or "\0" in str(path):
            raise OutputError(f"{option} must be a path, got {path!r}")
        self.path = Path(path)
        self.option = option
        self._strict = strict
        where = f"{option} {self.path}"
        if os.path.lexists(self.path) and not self.path.is_dir():
            raise OutputError(f"{where} exists and is not a directory")
        self._pending = not self.path.exists()
        if self._pending:  # created on the first write, so that a refused command leaves nothing
            self._check_creatable(where)
            self._names = set()
            return
        self._names = self._read_manifest()
        if self._names is None:
            others = sorted(n for n in os.listdir(self.path) if not n.startswith(_TMP_PREFIX))
            if others and not shared:
                raise OutputError(f"{where} is not empty and was not written by adadyn (found "
                                  f"{', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); "
                                  "use a new or empty directory")
            self._names = set()
        if strict:
            self._check_strict()
        try:
            self._save_manifest()  # also proves the directory is writable, before any work
        except OSError as exc:
            raise OutputError(f"{where}: cannot write there ({exc.strerror or exc})") from None

    def _check_creatable(self, where: str) -> None:
        """Create the directory (and missing parents) to prove it can be made, then remove
        exactly what was created (empty directories made a moment ago by this call)."""
        made = []
        p = self.path.absolute()
        missing = []
        while not os.path.lexists(p) and p != p.parent:
            missing.append(p)
            p = p.parent
        try:
            for d in reversed(missing):
                os.mkdir(d)
                made.append(d)
        except OSError as exc:
            raise OutputError(f"{where}: cannot write there ({exc.strerror or exc})") from None
        finally:
            for d in reversed(made):
                try:
                    os.rmdir(d)
                except OSError:
                    break

    def _ensure(self) -> None:
        if self._pending:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                if os.listdir(self.path):  # appeared meanwhile: check it as an existing directory
                    raise OutputError(f"{self.option} {self.path} appeared while the command ran; "
                                      "use a new directory")
                self._save_manifest()
            except OSError as exc:
                raise OutputError(f"{self.option} {self.path}: cannot write there ({exc.strerror or exc})") from None
            self._pending = False

    # ------------------------------------------------------------------ the manifest
    def _read_manifest(self):
        mpath = self.path / MANIFEST
        try:
            st = check_regular(mpath, f"{self.option} ")
        except OutputError as exc:
            raise OutputError(f"{exc}; remove it") from None
        if st is None:
            return None
        try:
            fd = os.open(mpath, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as fh:
                raw = fh.read(_MAX_MANIFEST + 1)
            man = json.loads(raw.decode("utf-8"))
            ok = (isinstance(man, dict) and man.get("format") == _FORMAT and isinstance(man.get("files"), list)
                  and all(isinstance(n, str) for n in man["files"]) and len(raw) <= _MAX_MANIFEST)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            ok = False
        if not ok:
            raise OutputError(f"{self.option} {self.path}: {MANIFEST} is damaged or foreign; "
                              "use a new directory")
        return set(man["files"])

    def _save_manifest(self) -> None:
        body = json.dumps({"format": _FORMAT, "files": sorted(self._names)}, indent=1).encode()
        self._replace_with(MANIFEST, lambda tmp: _write_new(tmp, body))

    def _check_strict(self) -> None:
        for n in sorted(os.listdir(self.path)):
            if n == MANIFEST or n.startswith(_TMP_PREFIX):
                continue
            st = os.lstat(self.path / n)
            if n not in self._names:
                raise OutputError(f"{self.option} {self.path} holds {n}, which adadyn did not write; "
                                  "move it away or use a new directory")
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise OutputError(f"{self.option} {self.path / n} is no longer a regular file or directory; "
                                  "remove it")

    # ------------------------------------------------------------------ names
    def __truediv__(self, name) -> Path:
        return self.path / name

    def prepare(self) -> Path:
        """Create the directory now (for writers outside this module) and return its path."""
        self._ensure()
        return self.path

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __repr__(self) -> str:
        return f"OutputDir({str(self.path)!r}, {len(self._names)} files)"

    @property
    def names(self) -> frozenset:
        """The names the manifest records as written by the package."""
        return frozenset(self._names)

    def claim(self, name: str, *, directory: bool = False) -> Path:
        """Reserve ``name`` for the package (recorded in the manifest) and return its path.

        An existing entry of that name is refused unless the manifest names it, and
        unless it is a regular file (or, with ``directory``, a real directory).
        ``directory=True`` also creates the directory.
        """
        _check_name(name)
        self._ensure()
        p = self.path / name
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            st = None
        if st is not None:
            if name not in self._names:
                raise OutputError(f"{self.option}: {p} exists and was not written by adadyn; "
                                  "move it away or choose another output")
            good = stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)
            if not good:
                raise OutputError(f"{self.option}: {p} is not a {'directory' if directory else 'regular file'} "
                                  "(a symbolic link or special file?); the package does not write through it")
        if name not in self._names:
            self._names.add(name)
            self._save_manifest()
        if directory and st is None:
            p.mkdir()
        return p

    # ------------------------------------------------------------------ writing
    def _replace_with(self, name: str, write) -> None:
        tmp = self.path / f"{_TMP_PREFIX}{secrets.token_hex(16)}-{name}"
        try:
            write(tmp)
            os.replace(tmp, self.path / name)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)  # our own unguessable name

    def save_with(self, name: str, writer) -> Path:
        """Write ``name`` by calling ``writer(path)`` on a fresh temporary path that keeps
        the name's suffix (so ``np.savez`` or ``savefig`` pick the right format), then move
        it into place. The writer must create the file (not open an existing one)."""
        p = self.claim(name)

        def write(tmp):
            writer(tmp)
            st = os.lstat(tmp)
            if not stat.S_ISREG(st.st_mode):
                raise OutputError(f"writing {p} produced no regular file")

        self._replace_with(name, write)
        return p

    @contextlib.contextmanager
    def open_new(self, name: str, mode: str = "wb", **kw):
        """A file object for ``name``, written under a temporary name (created with
        ``O_EXCL | O_NOFOLLOW``) and moved into place when the block ends without error."""
        if not mode.startswith("w"):
            raise ValueError(f"open_new writes new files; mode must start with 'w', got {mode!r}")
        p = self.claim(name)
        tmp = self.path / f"{_TMP_PREFIX}{secrets.token_hex(16)}-{name}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        try:
            with os.fdopen(fd, mode, **kw) as fh:
                yield fh
            os.replace(tmp, p)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` to ``name`` (see :meth:`open_new`)."""
        with self.open_new(name, "wb") as fh:
            fh.write(data)
        return self.path / name

    def write_text(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        """Write ``text`` to ``name`` (see :meth:`open_new`)."""
        return self.write_bytes(name, text.encode(encoding))

    def savefig(self, fig, name: str, **kw) -> Path:
        """``fig.savefig`` into ``name`` (format from its suffix), never through a symlink."""
        return self.save_with(name, lambda tmp: fig.savefig(tmp, **kw))

    def adopt_new(self) -> list[str]:
        """Record every regular file and directory that appeared since the last check
        (after a writer outside this module, in a ``strict`` directory); returns their names."""
        if self._pending:
            if not self.path.is_dir():
                return []
            self._pending = False
        new = []
        for n in sorted(os.listdir(self.path)):
            if n == MANIFEST or n.startswith(_TMP_PREFIX) or n in self._names:
                continue
            st = os.lstat(self.path / n)
            if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                new.append(n)
        if new:
            self._names.update(new)
            self._save_manifest()
        return new


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def output_file(path, *, option: str = "--out") -> tuple[OutputDir, str]:
    """``(OutputDir of its directory, file name)`` for a single output file given by path.

    The directory may hold other files; ``path`` itself may be replaced only if the
    directory's manifest names it (the package wrote it before). Checked at once::

        d, name = output_file("figs/gaps.png")
        d.savefig(fig, name)
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip() or "\0" in str(path):
        raise OutputError(f"{option} must be a path, got {path!r}")
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{option} {p} is a directory; give a file name such as {p / 'out.png'}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{option} {p}: the directory {parent} does not exist")
    d = OutputDir(parent, option=option, shared=True)
    d.claim(p.name)
    return d, p.name
