"""One instance per interface, and the cleanup after one that died."""

from __future__ import annotations

import fcntl
import glob
import logging
import os

from ..errors import AlreadyRunning
from ..plan.paths import Paths
from ..system import files as fsutil
from ..system.host import read_pid
from .journal import Journal
from .undo import undo

log = logging.getLogger("hotshare")


class Lock:
    """One instance per interface: an flock held for the service's life."""

    def __init__(self, paths: Paths) -> None:
        fsutil.ensure_dir(paths.rundir, 0o755)
        self.path = paths.lock
        self.fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            pid = read_pid(paths.pidfile)
            raise AlreadyRunning(f"hotshare is already running on {paths.iface}"
                                 + (f" (pid {pid})" if pid else "")
                                 + f"; stop it first with `hotshare down {paths.iface}`") from None

    def release(self) -> None:
        """Remove the lock file, then let go: nothing is left in the run
        directory (one who opened it meanwhile finds it locked until then)."""
        fsutil.remove(self.path)
        os.close(self.fd)


def clean_leftovers(paths: Paths) -> bool:
    """Undo what a dead instance left (its journal), before we start."""
    for stray in glob.glob(f"{paths.state}.tmp.*") + glob.glob(f"{paths.pidfile}.tmp.*"):
        fsutil.remove(stray)  # an atomic write cut short: the real file is whole
    old = Journal.load(paths.state)
    if old is None:             # none, or one that cannot be trusted (Journal.load said why)
        fsutil.remove(paths.state)
        return False
    log.warning("cleaning up after an instance that did not stop cleanly (pid %d)", old.pid)
    for problem in undo(old, paths.child_marker):
        log.warning("leftover cleanup: %s", problem)
    fsutil.remove(paths.state)
    fsutil.remove(paths.pidfile)
    return True
