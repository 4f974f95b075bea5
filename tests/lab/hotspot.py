"""The hotspot under test, driven only through hotshare's command line.

Contract (written against, see tests/qemu/README.md):

    hotshare up --daemon [options] WIFI UPLINK SSID PASSPHRASE   exit 0 once ready
    hotshare down WIFI                                           exit 0; 3 if not running
    hotshare status WIFI --json
    hotshare clients WIFI --json      [{"mac", "ip", "hostname", "signal", "connected_time"}...]
    env HOTSHARE_RUNDIR, HOTSHARE_STATEDIR
    nftables table inet hotshare_<WIFI>; default subnet 192.168.12.0/24, gateway .1

:class:`HotspotManager` keeps at most one hotspot up on the AP radio:
starting one with new options first takes the previous one down.  Every
``down`` is followed by :func:`leftovers`; whatever is left is reported and
cleaned by force, so one failing test does not poison the next.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lab.netns import ROOT
from lab.proc import processes, run, wait_until

DEFAULT_GATEWAY = "192.168.12.1"
DEFAULT_PREFIXLEN = 24
EXIT_NOT_RUNNING = 3


class HotshareError(AssertionError):
    """hotshare's CLI failed; the message carries the command, exit status and stderr."""


@dataclass
class HotspotConfig:
    ssid: str = "hotshare-lab"
    passphrase: str = "lab-passphrase-1"
    wpa_version: str | None = None  # "2", "3" or "2+3"; None: hotshare's default (WPA2)
    hidden: bool = False
    isolate_clients: bool = False
    mac_deny: list[str] | None = None
    mac_accept: list[str] | None = None  # --mac-filter --mac-filter-accept FILE
    gateway: str | None = None
    dns_servers: list[str] = field(default_factory=list)
    channel: int | None = None
    country: str | None = None
    freq_band: str | None = None
    extra: list[str] = field(default_factory=list)

    def options(self, files_dir: Path) -> list[str]:
        """The command-line options (files for MAC lists written into ``files_dir``)."""
        opts: list[str] = []
        if self.wpa_version:
            opts += ["--wpa-version", self.wpa_version]
        if self.hidden:
            opts.append("--hidden")
        if self.isolate_clients:
            opts.append("--isolate-clients")
        if self.mac_deny is not None:
            opts += ["--mac-deny", str(_mac_file(files_dir, "deny", self.mac_deny))]
        if self.mac_accept is not None:
            opts += ["--mac-filter", "--mac-filter-accept", str(_mac_file(files_dir, "accept", self.mac_accept))]
        if self.gateway:
            opts += ["-g", self.gateway]
        for server in self.dns_servers:
            opts += ["--dns-server", server]
        if self.channel is not None:
            opts += ["-c", str(self.channel)]
        if self.country:
            opts += ["--country", self.country]
        if self.freq_band:
            opts += ["--freq-band", self.freq_band]
        return opts + list(self.extra)


def _mac_file(files_dir: Path, kind: str, macs: Sequence[str]) -> Path:
    files_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"mac-{kind}-", suffix=".list", dir=files_dir)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{m}\n" for m in macs))
    return Path(name)


class HotshareCLI:
    """Runs ``hotshare`` commands; every call is appended to ``logfile``."""

    def __init__(self, argv_prefix: Sequence[str], env: Mapping[str, str], logfile: Path, files_dir: Path) -> None:
        self.argv_prefix = list(argv_prefix)
        self.env = dict(env)
        self.logfile = logfile
        self.files_dir = files_dir

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``hotshare ARGS``.  Output goes to files, not pipes: a daemon that
        forgets to close an inherited stdout would otherwise block us until
        the timeout.  Raises :class:`HotshareError` on timeout."""
        argv = [*self.argv_prefix, *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            start = time.monotonic()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self.env, text=True)
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = None
            elapsed = time.monotonic() - start
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        with open(self.logfile, "a") as log:
            log.write(f"$ {shlex.join(argv)}\n# exit {rc} after {elapsed:.1f}s\n")
            if stdout:
                log.write(f"# stdout:\n{stdout}\n")
            if stderr:
                log.write(f"# stderr:\n{stderr}\n")
        if rc is None:
            raise HotshareError(
                f"`{shlex.join(args)}` did not return within {timeout:.0f}s; stderr: {stderr.strip()!r}"
            )
        return subprocess.CompletedProcess(argv, rc, stdout, stderr)

    def up(self, iface: str, uplink: str, config: HotspotConfig, timeout: float = 240.0) -> Hotspot:
        args = ["up", "--daemon", *config.options(self.files_dir), iface, uplink, config.ssid, config.passphrase]
        proc = self.run(*args, timeout=timeout)
        if proc.returncode != 0:
            raise HotshareError(f"`hotshare {shlex.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}")
        return Hotspot(self, iface, uplink, config)

    def down(self, iface: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return self.run("down", iface, timeout=timeout)

    def json(self, *args: str, timeout: float = 30.0) -> Any:
        proc = self.run(*args, timeout=timeout)
        if proc.returncode != 0:
            raise HotshareError(f"`hotshare {shlex.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}")
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise HotshareError(
                f"`hotshare {shlex.join(args)}` printed no JSON ({exc}): {proc.stdout[:500]!r}"
            ) from None

    def clients(self, iface: str) -> list[dict[str, Any]]:
        result = self.json("clients", iface, "--json")
        if not isinstance(result, list):
            raise HotshareError(f"`hotshare clients {iface} --json` is not a JSON list: {result!r}")
        return result

    def status(self, iface: str) -> dict[str, Any]:
        result = self.json("status", iface, "--json")
        if not isinstance(result, dict):
            raise HotshareError(f"`hotshare status {iface} --json` is not a JSON object: {result!r}")
        return result


@dataclass
class Hotspot:
    """A hotspot that `hotshare up` reported ready."""

    cli: HotshareCLI
    iface: str
    uplink: str
    config: HotspotConfig

    @property
    def ssid(self) -> str:
        return self.config.ssid

    @property
    def passphrase(self) -> str:
        return self.config.passphrase

    @property
    def gateway(self) -> str:
        return self.config.gateway or DEFAULT_GATEWAY

    def clients(self) -> list[dict[str, Any]]:
        return self.cli.clients(self.iface)

    def client(self, mac: str, timeout: float = 15.0, *, with_ip: bool = True) -> dict[str, Any]:
        """The `clients --json` entry for ``mac`` (polled until it shows up)."""

        def find() -> dict[str, Any] | None:
            for entry in self.clients():
                if str(entry.get("mac", "")).lower() == mac.lower() and (entry.get("ip") or not with_ip):
                    return entry
            return None

        return wait_until(find, timeout, interval=0.5, what=f"{mac} in `hotshare clients {self.iface} --json`")

    def client_macs(self) -> set[str]:
        """MACs (lower case) in `hotshare clients --json` right now."""
        return {str(c.get("mac", "")).lower() for c in self.clients()}

    def status(self) -> dict[str, Any]:
        return self.cli.status(self.iface)


# -- what must be gone after `down` ---------------------------------------------

HOTSHARE_DAEMONS = ("hostapd", "dnsmasq")


def sysctl_names(iface: str, uplink: str) -> list[str]:
    return [
        "net.ipv4.ip_forward",
        f"net.ipv4.conf.{iface}.forwarding",
        f"net.ipv4.conf.{uplink}.forwarding",
    ]


def read_sysctls(names: Sequence[str]) -> dict[str, str | None]:
    result: dict[str, str | None] = {}
    for name in names:
        try:
            result[name] = Path("/proc/sys", *name.split(".")).read_text().strip()
        except OSError:
            result[name] = None
    return result


def _is_hotshare_argv(argv: list[str], cli_prefix: Sequence[str]) -> bool:
    names = [os.path.basename(a) for a in argv[:3]]
    if "hotshare" in names[:2]:
        return True
    if len(argv) >= 3 and argv[1] == "-m" and argv[2].split(".")[0] == "hotshare":
        return True
    prefix = list(cli_prefix)
    return len(argv) >= len(prefix) and argv[: len(prefix)] == prefix


def hotshare_processes(cli_prefix: Sequence[str] = ()) -> list[tuple[int, list[str]]]:
    """hostapd/dnsmasq processes (the lab runs none of its own) and hotshare
    daemons, anywhere in the guest."""
    me = os.getpid()
    found = []
    for pid, argv in processes():
        if pid == me:
            continue
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        if comm in HOTSHARE_DAEMONS or _is_hotshare_argv(argv, cli_prefix):
            found.append((pid, argv))
    return found


def hotshare_nft_tables() -> list[tuple[str, str]]:
    """(family, name) of every nftables table whose name starts with ``hotshare``."""
    out = run(["nft", "-j", "list", "tables"]).stdout
    tables = []
    for item in json.loads(out).get("nftables", []):
        table = item.get("table")
        if table and str(table.get("name", "")).startswith("hotshare"):
            tables.append((table["family"], table["name"]))
    return tables


def leftovers(
    iface: str,
    uplink: str,
    sysctl_baseline: Mapping[str, str | None],
    cli_prefix: Sequence[str] = (),
) -> list[str]:
    """Human-readable list of what hotshare left behind ([] when clean)."""
    problems = []
    for pid, argv in hotshare_processes(cli_prefix):
        problems.append(f"process {pid} still running: {shlex.join(argv)}")
    for family, name in hotshare_nft_tables():
        problems.append(f"nftables table {family} {name} still exists")
    for addr in ROOT.ipv4_addresses(iface):
        problems.append(f"{iface} still has IPv4 address {addr}")
    now = read_sysctls(list(sysctl_baseline))
    for name, before in sysctl_baseline.items():
        if now.get(name) != before:
            problems.append(f"sysctl {name} is {now.get(name)}, was {before} before the hotspot")
    return problems


def force_cleanup(iface: str, sysctl_baseline: Mapping[str, str | None], cli_prefix: Sequence[str] = ()) -> None:
    """Undo by force whatever :func:`leftovers` reports, so the next test starts clean."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        victims = hotshare_processes(cli_prefix)
        for pid, _argv in victims:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if victims:
            try:
                wait_until(
                    lambda: not hotshare_processes(cli_prefix), 3.0, interval=0.1, what="hotshare processes to die"
                )
                break
            except TimeoutError:
                continue
    for family, name in hotshare_nft_tables():
        run(["nft", "delete", "table", family, name], check=False)
    ROOT.flush_addresses(iface)
    if ROOT.link_exists(iface):
        # A killed hostapd leaves the interface in AP mode.
        ROOT.ip("link", "set", iface, "down")
        run(["iw", "dev", iface, "set", "type", "managed"], check=False)
    for name, value in sysctl_baseline.items():
        if value is not None:
            run(["sysctl", "-q", "-w", f"{name}={value}"], check=False)


class HotspotManager:
    """At most one hotspot on the AP radio; checks that ``down`` undoes everything."""

    def __init__(self, cli: HotshareCLI, iface: str, uplink: str, defaults: HotspotConfig) -> None:
        self.cli = cli
        self.iface = iface
        self.uplink = uplink
        self.defaults = defaults
        self.current: Hotspot | None = None
        self.baseline = read_sysctls(sysctl_names(iface, uplink))

    def up(self, **overrides: Any) -> Hotspot:
        """Bring a hotspot up with the defaults plus ``overrides`` (HotspotConfig
        fields); a hotspot still up is taken down first."""
        if self.current is not None:
            self.down()
        self.baseline = read_sysctls(sysctl_names(self.iface, self.uplink))
        config = replace(self.defaults, **overrides)
        try:
            self.current = self.cli.up(self.iface, self.uplink, config)
        except HotshareError:
            # A failed `up` must not leave anything either; clean for the next test.
            self.cli.down(self.iface)
            force_cleanup(self.iface, self.baseline, self.cli.argv_prefix)
            raise
        return self.current

    def down(self) -> list[str]:
        """`hotshare down`; raises HotshareError when it fails or leaves something behind."""
        if self.current is None:
            return []
        self.current = None
        start = time.monotonic()
        proc = self.cli.down(self.iface)
        problems = []
        if proc.returncode != 0:
            problems.append(f"`hotshare down {self.iface}` exited {proc.returncode}: {proc.stderr.strip()}")
            # Let a slow daemon finish its own undo before judging (and say how long it took).
            try:
                wait_until(lambda: not hotshare_processes(self.cli.argv_prefix), 120.0, interval=0.5, what="hotshare")
                problems.append(f"(its processes were gone {time.monotonic() - start:.0f}s after `down` started)")
            except TimeoutError:
                pass
        problems += leftovers(self.iface, self.uplink, self.baseline, self.cli.argv_prefix)
        if problems:
            force_cleanup(self.iface, self.baseline, self.cli.argv_prefix)
            raise HotshareError("hotshare down left a mess: " + "; ".join(problems))
        return problems
