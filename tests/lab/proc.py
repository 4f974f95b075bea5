"""Running commands, background daemons and bounded waits."""

from __future__ import annotations

import os
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0


class CommandError(RuntimeError):
    """A command exited non-zero (or timed out); carries its output."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        what = "timed out" if returncode is None else f"exited {returncode}"
        tail = (stderr.strip() or stdout.strip())[-2000:]
        super().__init__(f"{shlex.join(self.argv)} {what}" + (f": {tail}" if tail else ""))


def netns_argv(netns: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` prefixed with ``ip netns exec NS`` when ``netns`` is set."""
    if netns is None:
        return list(argv)
    return ["ip", "netns", "exec", netns, *argv]


def run(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    check: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (in ``netns``), capture text output, bounded by ``timeout``."""
    full = netns_argv(netns, argv)
    try:
        proc = subprocess.run(
            full,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise CommandError(full, None, out, err) from None
    if check and proc.returncode != 0:
        raise CommandError(full, proc.returncode, proc.stdout, proc.stderr)
    return proc


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` every ``interval`` s until it returns a truthy value.

    Returns that value; raises :class:`TimeoutError` naming ``what`` after
    ``timeout`` s.  The predicate is always evaluated once more at the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def read_line(stream: IO[bytes], timeout: float) -> str:
    """Read one line from a pipe within ``timeout`` s ('' on EOF)."""
    fd = stream.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete line within {timeout:.1f}s (got {buf!r})")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


class Daemon:
    """A long-running process the lab started itself (servers, udhcpc...).

    Output goes to ``log`` (a file); :meth:`stop` terminates it and reaps it.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        netns: str | None = None,
        log: Path,
        env: Mapping[str, str] | None = None,
        ready_line: str | None = None,
        ready_timeout: float = 20.0,
    ) -> None:
        self.name = name
        self.argv = netns_argv(netns, argv)
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._logf = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self._logf.write(f"# {shlex.join(self.argv)}\n".encode())
        self._logf.flush()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if ready_line else self._logf,
            stderr=self._logf,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        if ready_line:
            assert self.proc.stdout is not None
            try:
                line = read_line(self.proc.stdout, ready_timeout)
            except TimeoutError as exc:
                self.stop()
                raise RuntimeError(f"{name} did not get ready: {exc}; see {log}") from None
            if line.strip() != ready_line:
                self.stop()
                raise RuntimeError(f"{name} failed to start ({line.strip()!r}); see {log}")
            # The server writes nothing else to stdout; close our end.
            self.proc.stdout.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        if not self._logf.closed:
            self._logf.close()


def kill_pidfile(pidfile: Path, timeout: float = 5.0) -> None:
    """SIGTERM the process named by ``pidfile`` and wait until it is gone."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return
    try:
        wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout, interval=0.05, what=f"pid {pid} to exit")
    except TimeoutError:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pidfile.unlink(missing_ok=True)


def processes() -> list[tuple[int, list[str]]]:
    """All processes as (pid, argv); kernel threads (empty argv) left out."""
    result = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        if argv:
            result.append((int(entry), argv))
    return result
