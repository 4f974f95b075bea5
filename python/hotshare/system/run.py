"""The one way hotshare runs a program.

Every call has a timeout (the resident loop must never hang on a stuck
``nft``, ``iw`` or ``firewall-cmd`` waiting for D-Bus), runs with
``LC_ALL=C`` so that the output parsed here is the output the parser
expects, and looks its binary up once.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import OperationError

DEFAULT_TIMEOUT = 10.0
# Programs whose first run may load a dozen kernel modules (nf_tables, NAT,
# conntrack, the iptables compatibility layer): seconds on a small board,
# tens of seconds under emulation. Still bounded.
TIMEOUTS = {"nft": 60.0, "iptables-nft": 60.0, "iptables": 60.0, "iptables-nft-save": 60.0,
            "iptables-save": 60.0, "firewall-cmd": 30.0}
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
C_LOCALE = {"LC_ALL": "C", "LANG": "C"}


class ProgramError(OperationError):
    """A program could not be run, timed out, or (with ``check``) failed."""


class ProgramTimeout(ProgramError):
    """A program did not finish in time (it was killed)."""


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def first_error_line(self, default: str = "unknown error") -> str:
        return (self.stderr.strip().splitlines() or self.stdout.strip().splitlines() or [default])[0]


@functools.cache
def find_binary(name: str) -> str | None:
    """The path of ``name``: PATH first, then the sbin directories a
    non-login root shell (BusyBox init, cron) may not have on PATH."""
    return shutil.which(name) or next(
        (p for p in (os.path.join(d, name) for d in SBIN) if os.access(p, os.X_OK)), None)


def child_env() -> dict[str, str]:
    """The environment of every program hotshare runs: the C locale."""
    return {**os.environ, **C_LOCALE}


def run(name: str, *args: str, input: str | None = None, timeout: float | None = None,
        check: bool = False) -> Result:
    """Run ``name args...`` and collect its output. A missing program, a
    timeout, or (with ``check``) a non-zero exit raise ProgramError."""
    timeout = timeout if timeout is not None else TIMEOUTS.get(name, DEFAULT_TIMEOUT)
    path = find_binary(name)
    if path is None:
        raise ProgramError(f"{name} is not installed")
    argv = (path, *args)
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                              env=child_env(), check=False)
    except subprocess.TimeoutExpired:
        raise ProgramTimeout(f"{name} {' '.join(args[:3])} did not finish within {timeout:.0f} s") from None
    except OSError as e:
        raise ProgramError(f"cannot run {name}: {e.strerror}") from None
    result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and not result.ok:
        raise ProgramError(f"{name} {' '.join(args[:3])} failed: {result.first_error_line()}")
    return result
