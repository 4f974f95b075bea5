"""Where hotshare keeps its files, and what /proc says about processes."""

from __future__ import annotations

import fcntl
import os

DEFAULT_RUNDIR = "/run/hotshare"        # journals, locks, generated configs (tmpfs)
DEFAULT_STATEDIR = "/var/lib/hotshare"  # DHCP leases, kept across restarts


def rundir() -> str:
    return os.environ.get("HOTSHARE_RUNDIR", DEFAULT_RUNDIR)


def statedir() -> str:
    return os.environ.get("HOTSHARE_STATEDIR", DEFAULT_STATEDIR)


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie waiting for its reaper does not count."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline_has(pid: int, marker: str) -> bool:
    """Is ``marker`` in the command line of ``pid``? Tells our children from
    a process that was given a recycled pid."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


def start_time(pid: int) -> int:
    """When ``pid`` started (clock ticks since boot; 0: no such process): with
    the pid, it names one process, whatever it did to its command line (dhcpcd
    rewrites its own, setproctitle)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def process_running(comm: str) -> bool:
    """Does any process have this command name (``/proc/PID/comm``)?"""
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == comm:
                        return True
            except OSError:
                continue
    return False


def read_pid(path: str) -> int:
    """The pid in a pid file, or 0 when there is none."""
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def lock_held(path: str) -> bool:
    """Does a process hold the instance lock at ``path``? This, not a pid
    file (whose pid may have been given to another process since), is what
    says an instance runs."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
