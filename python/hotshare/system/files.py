"""Files that survive a power cut: written to a temporary name, synced, renamed."""

from __future__ import annotations

import os
import tempfile

from ..errors import OperationError


def ensure_dir(path: str, mode: int) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)
    os.chmod(path, mode)


def atomic_write(path: str, data: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` whole or not at all; readers see the old or the new file.

    The temporary file has an unpredictable name, created exclusively
    (mkstemp: no one can plant a link there), and a directory others may
    write into is refused: they could swap the file under us."""
    directory = os.path.dirname(path) or "."
    if os.stat(directory).st_mode & 0o022:
        raise OperationError(f"refusing to write {path}: its directory is writable by group or others; "
                             "choose a directory only root can write to")
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=directory)
    try:
        os.fchmod(fd, mode)  # the umask must not widen a secret's mode
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, path)
    except OSError:
        os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass




def create_private(path: str) -> None:
    """Make ``path`` exist as a root-only (0600) file, keeping its contents."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
