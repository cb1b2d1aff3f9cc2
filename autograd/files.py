"""Files written so that nothing is lost: the one place ``nn.save``, ``viz.render`` and the command
write through.

A write goes to a temporary file in the target's directory, is flushed and fsynced, then
``os.replace`` puts it in place: a failure at any point (Ctrl-C included) leaves the old file as it
was and no temporary file behind. Through a symlink, the link's target is written; rewriting a file
keeps its permission bits. Anything that is not a regular file (a FIFO, a device, a socket, or a
symlink to one) is refused before anything is opened: replacing it would put a regular file where
the special one was (as root, a ``model.json -> /dev/null`` would replace ``/dev/null``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


def special_kind(path: str | os.PathLike, mode: int | None = None) -> str | None:
    """What ``path`` (or an ``st_mode``) is when it exists and is neither a regular file nor a
    directory: "a FIFO (named pipe)", "a character device", ...; else None."""
    if mode is None:
        try:
            mode = os.stat(path).st_mode  # through symlinks: what would be replaced or read
        except OSError:
            return None
    kinds = [
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), None)


def check_writable(path: str | os.PathLike, action: str = "write") -> Path:
    """The file a write to ``path`` will replace or create (a symlink's target), once it is known
    that it can: its directory exists and is writable, and it is not a directory or a special file.
    Else an OSError, ``"cannot {action} to 'path': why"``. Cheap: call it before long work."""
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    parent = target.parent
    if not parent.exists():
        raise _error(FileNotFoundError, action, path, f"the directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise _error(NotADirectoryError, action, path, f"{str(parent)!r} is not a directory")
    if target.is_dir():
        raise _error(IsADirectoryError, action, path, "it is a directory")
    kind = special_kind(target)
    if kind is not None:
        raise _error(OSError, action, path, f"it is {kind}, not a regular file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _error(PermissionError, action, path, f"the directory {str(parent)!r} is not writable")
    return target


def write_atomic(path: str | os.PathLike, data: bytes | str, action: str = "write") -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically, as the module says. Returns ``path``;
    a failure raises an OSError naming ``path`` and leaves everything as it was."""
    path = Path(path)
    target = check_writable(path, action)
    # a short temporary name: the file's own name may already be near the file system's limit
    tmp = target.with_name(f".{target.name[:40]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _write_new(tmp, data.encode("utf-8") if isinstance(data, str) else data, _mode_of(target))
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):  # the clean-up must never hide the error itself
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _error(type(e), action, path, e.strerror or str(e), e.errno) from None
        raise
    _fsync_dir(target.parent)
    return path


def _error(kind: type[OSError], action: str, path: Path, why: str, errno: int | None = None) -> OSError:
    e = kind(f"cannot {action} to {str(path)!r}: {why}")
    e.errno = errno  # kept for callers that test it; the message stays this one line
    return e


def _mode_of(target: Path) -> int | None:
    """The permission bits of the file being replaced (None for a new file: 0o666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return None


def _write_new(tmp: Path, data: bytes, mode: int | None) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 less the umask
    with os.fdopen(fd, "wb") as f:
        if mode is not None:
            os.fchmod(f.fileno(), mode)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); skipped where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
