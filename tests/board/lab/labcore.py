"""What the board lab's checks share: output lines, commands, processes, memory.

Every result goes to the console as one line the host's run-board-lab reads:

    BOARD-LAB PASS|FAIL <name>: <detail> (<seconds>s)
    BOARD-LAB INFO <key>: <value>
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

CONF = "/etc/hotshare/hotshare.conf"
INIT = "/etc/init.d/S95hotshare"
PASSFILE = Path("/etc/hotshare/passphrase")
SAVED = Path("/root/lab-passphrase-boot1")  # on the same disk: what boot 1 saw
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
LABDIR = Path("/run/lab")
UPLINK_IP = "10.64.0.2"
WEB = "http://www.example.test/cgi-bin/whoami"
# Not a TEST-NET address: dnsmasq's stop-dns-rebind (hotshare's) drops those from answers.
WEB_ADDR = "198.18.0.10"
DNS_LOG = Path("/var/log/lab-inet-dns.log")
SSID = "hotshare"

results: list[tuple[bool, str, str]] = []


def say(line: str) -> None:
    print(f"BOARD-LAB {line}", flush=True)


def info(key: str, value: object) -> None:
    say(f"INFO {key}: {value}")


def check(name: str) -> Callable[[Callable[[], str]], Callable[[], bool]]:
    """Run the decorated function as check ``name``: it returns a detail
    string or raises (AssertionError and anything else: FAIL)."""

    def wrap(fn: Callable[[], str]) -> Callable[[], bool]:
        def run() -> bool:
            start = time.monotonic()
            try:
                detail, ok = fn(), True
            except Exception as exc:  # a failed check, whatever raised
                detail, ok = f"{type(exc).__name__}: {exc}", False
                traceback.print_exc(file=sys.stdout)
            detail = " ".join(detail.split())[:600]
            results.append((ok, name, detail))
            say(f"{'PASS' if ok else 'FAIL'} {name}: {detail} ({time.monotonic() - start:.1f}s)")
            return ok

        return run

    return wrap


def dump(path: Path, tail: int = 400) -> None:
    """A file's last lines on the console, between markers the host saves them by."""
    try:
        lines = path.read_text(errors="replace").splitlines()[-tail:]
    except OSError as exc:
        lines = [f"({exc})"]
    print(f"BOARD-LAB-FILE BEGIN {path.name}", flush=True)
    for line in lines:
        print(f"|F {line}")
    print(f"BOARD-LAB-FILE END {path.name}", flush=True)


def sh(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def status_json() -> dict[str, object]:
    proc = sh("hotshare", "status", "--config", CONF, "--json")
    data = json.loads(proc.stdout or "{}")
    assert isinstance(data, dict), proc.stdout
    return data


def hotshare_tables() -> list[str]:
    real = "/run/lab/nft.real"  # the lab's own look, whatever nft the board has (lab.nft=nojson)
    out = sh(real if os.path.exists(real) else "nft", "-j", "list", "tables").stdout
    names = [t.get("table", {}).get("name", "") for t in json.loads(out or "{}").get("nftables", [])]
    return [n for n in names if n.startswith("hotshare")]


def pids_of(name: str, parent: int | None = None, board_only: bool = False) -> list[int]:
    """Processes called ``name`` (children of ``parent`` only, when given;
    in the board's own network namespace only, with ``board_only``: not the
    lab's "internet" or phones)."""
    found = []
    own = os.readlink("/proc/1/ns/net")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
            except OSError:
                continue
            if comm != name or (parent is not None and ppid(int(entry)) != parent):
                continue
            try:
                if board_only and os.readlink(f"/proc/{entry}/ns/net") != own:
                    continue
            except OSError:
                continue
            found.append(int(entry))
    return found


def ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def rss_kb(pid: int) -> int:
    m = re.search(r"^VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages divided among their users."""
    try:
        m = re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
    except OSError:
        return 0
    return int(m.group(1)) if m else 0


def meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in Path(path).read_text().splitlines())}


def daemon_pid() -> int:
    return int(Path("/run/hotshare/wlan0.pid").read_text().split()[0])
