"""Files that survive a power cut: written to a temporary name, synced, renamed."""

from __future__ import annotations

import os
import stat
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




def unsafe_place(path: str, devices: tuple[str, ...] = ()) -> str:
    """Why root should not write ``path`` (empty: it may): its directory must
    exist and be writable by root alone (no one can swap the file under us),
    and the path itself, if it exists, must be a regular file, not a link
    (or one of ``devices``, e.g. /dev/null)."""
    if path in devices:
        return ""
    directory = os.path.dirname(path) or "."
    try:
        st = os.stat(directory)
    except OSError as e:
        return f"its directory {directory} cannot be used ({e.strerror})"
    if not stat.S_ISDIR(st.st_mode):
        return f"{directory} is not a directory"
    if st.st_mode & 0o022 or st.st_uid != 0:
        return f"its directory {directory} is writable by others than root"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ""
    except OSError as e:
        return f"it cannot be used ({e.strerror})"
    return "" if stat.S_ISREG(st.st_mode) else "it exists and is not a regular file (a link, a directory...)"


def open_append(path: str, mode: int = 0o600) -> int:
    """An fd appending to ``path`` (created with ``mode``), never through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY, mode)
    if not stat.S_ISREG(os.fstat(fd).st_mode) and path != os.devnull:
        os.close(fd)
        raise OperationError(f"refusing to write {path}: not a regular file")
    return fd


def remove_if_holds(path: str, text: str) -> None:
    """Remove a file of ours, unless someone since wrote something else into it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return
    try:
        ours = stat.S_ISREG(os.fstat(fd).st_mode) and os.read(fd, 64).decode("ascii", "replace") == text
    finally:
        os.close(fd)
    if ours:
        remove(path)


def create_private(path: str) -> None:
    """Make ``path`` exist as a root-only (0600) file, keeping its contents."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
