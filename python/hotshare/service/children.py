"""hostapd and dnsmasq as supervised children.

Each child runs in the foreground with its output on a pipe that the service
reads line by line into its own log (stderr or syslog), so a child's last
words are at hand when it dies. Restarts back off exponentially; a child that
keeps crashing is reported and retried slowly, never in a tight loop.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field

from ..system.run import child_env

log = logging.getLogger("hotshare")

BACKOFF_FIRST = 0.2    # seconds before the first restart
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0    # a child up this long has its back-off reset
REPORT_AFTER = 5       # consecutive quick crashes before it is called a crash loop


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_marker: str = ""            # a line containing this means "ready"
    ready: bool = False
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0                 # consecutive quick exits
    restart_at: float | None = None   # monotonic time of the scheduled restart
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    _partial: bytes = b""

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, close_fds=True, env=child_env())
        os.set_blocking(self.proc.stdout.fileno(), False)  # type: ignore[union-attr]
        self.started_at = time.monotonic()
        self.restart_at = None
        self.ready = not self.ready_marker
        log.debug("%s started (pid %d)", self.name, self.proc.pid)

    def read_output(self) -> list[str] | None:
        """Read what the child wrote; return complete lines (also logged),
        or None at end of file (the child closed its output or exited)."""
        assert self.proc and self.proc.stdout
        if self.proc.stdout.closed:
            return None
        try:
            data = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return []
        if not data:
            return None
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        out = []
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.last_lines.append(line)
                if self.ready_marker and self.ready_marker in line:
                    self.ready = True
                log.info("%s: %s", self.name, line)
                out.append(line)
        return out

    def reaped(self, status: int) -> float:
        """Record an exit; return the delay before the next start."""
        assert self.proc
        self.proc.returncode = status
        if self.proc.stdout:
            self.read_output()
            self.proc.stdout.close()
        ran = time.monotonic() - self.started_at
        self.failures = 1 if ran >= STABLE_AFTER else self.failures + 1
        delay = min(BACKOFF_FIRST * (2 ** (self.failures - 1)), BACKOFF_MAX) if self.failures > 1 else 0.0
        how = exit_text(status)
        said = telling_line(self)
        why = f"{how} ({said})" if said else how
        if self.failures >= REPORT_AFTER:
            log.error("%s keeps failing (%d times in a row, last: %s); next try in %.1f s",
                      self.name, self.failures, why, delay)
        else:
            log.warning("%s %s; restarting in %.1f s", self.name, why, delay)
        self.restart_at = time.monotonic() + delay
        return delay

    def stop(self, timeout: float = 3.0) -> None:
        self.restart_at = None
        if not self.running:
            return
        assert self.proc
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


_TELLING = re.compile(r"(?i)could not|failed|invalid|not supported|unknown|error|refused|in use|no such|cannot")
# Lines that read like a problem and are not one: hostapd asks for a monitor
# interface first and, on a FullMAC radio (driver-side SME: brcmfmac, the
# Realtek vendor drivers, vwifi) that has none, goes on without it.
_ROUTINE = re.compile(r"Failed to create interface mon\.\S+: -95 ")


def _tells(line: str) -> bool:
    return bool(_TELLING.search(line)) and not _ROUTINE.search(line)


def exit_text(status: int) -> str:
    """``exited with status 2``, ``was killed by SIGKILL``: what the kernel says."""
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


def telling_line(child: Child) -> str:
    """The last line of the child's output that names a problem, if any
    (its last line as such is usually an ordinary one: a lease, a beacon)."""
    return next((ln for ln in reversed(child.last_lines) if _tells(ln)), "")


def why_it_died(child: Child) -> str:
    """The line of a child's last words that says most: hostapd ends with
    generic 'deinit' lines after the one naming the real problem."""
    lines = list(child.last_lines)
    telling = [ln for ln in lines if _tells(ln)]
    return (telling or lines or ["no output"])[-1]
