"""Where generated objective code lives, and why it is trusted (``docs/security.md``).

Formula objectives are printed to Python source and compiled by Numba with an
on-disk cache. The source files are imported, so whoever can write them can run
code as the user. The rules:

* Generated modules are written to and read from one private directory only:
  ``$ADADYN_CACHE_DIR/adadyn_generated``, else ``$NUMBA_CACHE_DIR/adadyn_generated``,
  else ``$XDG_CACHE_HOME/adadyn/generated`` (default ``~/.cache/adadyn/generated``).
  It is created with mode 0700. On *every* use it must be a real directory (not a
  symlink) owned by this user with no access for group or others (a directory of
  ours that is only readable by others is tightened to 0700; one writable by
  others is refused), and every directory above it must be owned by root or this
  user and not writable by others unless sticky (``/tmp``). Files are opened
  relative to the verified directory with ``O_NOFOLLOW``; a file must be a regular
  file owned by this user.
* A cached module is trusted only if its whole content verifies: its first line
  carries the SHA-256 of everything after it and the module's name, which is
  itself a hash of the formula, the variables and the generator's own source.
  A file whose bytes do not match is regenerated, never executed.
* The verified bytes are compiled and executed directly (no second read of the
  file, no ``.pyc``), so a file swapped after the check is not what runs.
* Where no private writable place exists, modules are compiled from memory without
  a file cache (one :class:`GeneratedCodeWarning` per process). There is no shared
  fallback (no directory in the system's temporary directory).
* Threads of one process building the same formula take a per-module lock; each
  writer uses its own unguessable temporary name and moves it into place with
  ``os.replace``, so concurrent processes never see a partial file.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import stat
import sys
import threading
import types
import warnings
from pathlib import Path

__all__ = ["GeneratedCodeWarning", "cache_dir", "untrusted_reason", "load_module"]

#: Largest generated module read back (bytes); a bigger file is regenerated.
MAX_MODULE = 64 << 20
_LOCKS: dict = {}
_LOCKS_GUARD = threading.Lock()
_WARNED = False


class GeneratedCodeWarning(UserWarning):
    """No private directory for generated code: formulas are compiled without a file cache."""


def cache_dir() -> Path:
    """The private directory for generated modules (not created or checked here)."""
    for base in (os.environ.get("ADADYN_CACHE_DIR"), os.environ.get("NUMBA_CACHE_DIR")):
        if base:
            return Path(base).absolute() / "adadyn_generated"
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root).absolute() / "adadyn" / "generated"


def _me():
    return os.geteuid() if hasattr(os, "geteuid") else None


def _dir_reason(st, what: str, *, private: bool) -> str | None:
    """Why a directory with stat ``st`` cannot be trusted (None: it can)."""
    me = _me()
    if stat.S_ISLNK(st.st_mode):
        return f"{what} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{what} is not a directory"
    if me is None:
        return None
    if private:
        if st.st_uid != me:
            return f"{what} is owned by uid {st.st_uid}, not by this user (uid {me})"
        if st.st_mode & 0o077:
            return f"{what} has mode {stat.S_IMODE(st.st_mode):04o}, not 0700"
        return None
    if st.st_uid not in (0, me):
        return f"{what} is owned by uid {st.st_uid}"
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        return f"{what} is writable by others (mode {stat.S_IMODE(st.st_mode):04o}, not sticky)"
    return None


def untrusted_reason(path: Path | None = None) -> str | None:
    """Why ``path`` (default :func:`cache_dir`) may not hold generated code, or None.

    Checks the directory itself (see the module's rules) and every directory above it.
    """
    p = Path(path) if path is not None else cache_dir()
    try:
        st = os.lstat(p)
    except OSError as exc:
        return f"{p} cannot be used ({exc.strerror or exc})"
    me = _me()
    if (me is not None and stat.S_ISDIR(st.st_mode) and st.st_uid == me and st.st_mode & 0o077
            and not st.st_mode & 0o022):
        try:  # ours and never writable by anyone else (e.g. made with umask 022 by 0.1): tighten
            os.chmod(p, 0o700, follow_symlinks=False)
            st = os.lstat(p)
        except (OSError, NotImplementedError):
            pass
    why = _dir_reason(st, str(p), private=True)
    if why:
        return why
    chain = [Path(os.path.realpath(p.parent))]
    chain += list(chain[0].parents)
    for anc in chain:
        try:
            why = _dir_reason(os.stat(anc), f"the directory {anc} above it", private=False)
        except OSError as exc:
            return f"{anc} cannot be checked ({exc.strerror or exc})"
        if why:
            return why
    return None


def _private_dir() -> tuple[Path | None, str | None]:
    """The verified private directory (created if missing), or (None, why not)."""
    p = cache_dir()
    if not os.path.lexists(p):
        try:
            os.makedirs(p.parent, exist_ok=True)
            os.mkdir(p, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            return None, f"cannot create {p} ({exc.strerror or exc})"
    why = untrusted_reason(p)
    return (None, why) if why else (p, None)


def _warn_once(why: str) -> None:
    global _WARNED
    if not _WARNED:
        _WARNED = True
        warnings.warn(f"generated code is compiled without a file cache (slower start): {why}. "
                      "Set ADADYN_CACHE_DIR to a directory of yours (see docs/security.md).",
                      GeneratedCodeWarning, stacklevel=4)


def _header(modname: str, body: bytes) -> bytes:
    return f"# adadyn generated module {modname} sha256={hashlib.sha256(body).hexdigest()}\n".encode()


def _read_verified(dfd: int, name: str, modname: str) -> bytes | None:
    """The body of ``name`` in the directory ``dfd`` if the whole file verifies, else None."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0),
                     dir_fd=dfd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        me = _me()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MODULE or (me is not None and st.st_uid != me):
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read(MAX_MODULE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    head, sep, body = raw.partition(b"\n")
    if not sep or head + b"\n" != _header(modname, body):
        return None
    return body


def _write(dfd: int, name: str, modname: str, body: bytes) -> None:
    tmp = f".{name}.{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                 0o600, dir_fd=dfd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_header(modname, body) + body)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise


def _exec(modname: str, body: bytes, filename: str):
    mod = types.ModuleType(modname)
    mod.__file__ = filename
    sys.modules[modname] = mod  # Numba records the module by name (and re-imports it from its cache)
    try:
        exec(compile(body, filename, "exec"), mod.__dict__)  # noqa: S102 - our own generated, verified code
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    mod.__adadyn_complete__ = True
    return mod


def _complete(modname: str):
    mod = sys.modules.get(modname)
    return mod if getattr(mod, "__adadyn_complete__", False) else None


def _load(modname: str, make_source):
    p, why = _private_dir()
    if p is None:
        _warn_once(why)
        return _exec(modname, make_source().encode("utf-8"), f"<adadyn generated {modname}>")
    name = f"{modname}.py"
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        dfd = os.open(p, flags)
    except OSError as exc:
        _warn_once(f"cannot open {p} ({exc.strerror or exc})")
        return _exec(modname, make_source().encode("utf-8"), f"<adadyn generated {modname}>")
    try:
        why = _dir_reason(os.fstat(dfd), str(p), private=True)  # the directory we actually opened
        if why:
            _warn_once(why)
            return _exec(modname, make_source().encode("utf-8"), f"<adadyn generated {modname}>")
        body = _read_verified(dfd, name, modname)
        if body is None:
            body = make_source().encode("utf-8")
            try:
                _write(dfd, name, modname, body)
            except OSError as exc:
                _warn_once(f"cannot write in {p} ({exc.strerror or exc})")
                return _exec(modname, body, f"<adadyn generated {modname}>")
        return _exec(modname, body, str(p / name))
    finally:
        os.close(dfd)


def load_module(modname: str, make_source):
    """The generated module ``modname``: from the private cache if a file there verifies,
    else generated by ``make_source()`` (a ``str``), written there and executed.

    Concurrent callers in one process wait for the first (one lock per module name)
    and use a module only once it has executed completely.
    """
    mod = _complete(modname)
    if mod is not None:
        return mod
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(modname, threading.Lock())
    with lock:
        mod = _complete(modname)
        if mod is None:
            mod = _load(modname, make_source)
        return mod
