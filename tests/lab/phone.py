"""A phone: a station in its own network namespace on its own radio.

phone = Phone("phone1", radio, workdir=..., logdir=...)
phone.setup()                                  # netns + the radio's phy moved in
phone.connect("hotshare-lab", "passphrase")    # wpa_supplicant, waits for COMPLETED
lease = phone.dhcp()                           # busybox udhcpc
phone.resolve("www.example.test")              # DNS query to the DHCP-given server
phone.http_get("http://www.example.test/")     # curl, through the phone's resolv.conf
phone.disconnect()
phone.teardown()
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab import dnsquery
from lab.netns import Netns
from lab.proc import CommandError, kill_pidfile, wait_until
from lab.radios import Radio
from lab.wpactrl import WpaCtrl, parse_status

UDHCPC_SCRIPT = Path(__file__).with_name("udhcpc.script")

# How the phone authenticates: WPA2-PSK, WPA3-SAE (PMF required), or both
# offered (the supplicant picks what the AP announces).
SECURITY_KEY_MGMT = {
    "wpa2": ("WPA-PSK", None),
    "sae": ("SAE", 2),
    "wpa2+sae": ("WPA-PSK SAE", 1),
}

FAILURE_EVENTS = [
    "CTRL-EVENT-SSID-TEMP-DISABLED",
    "CTRL-EVENT-AUTH-REJECT",
    "CTRL-EVENT-ASSOC-REJECT",
    "CTRL-EVENT-NETWORK-NOT-FOUND",
]


@dataclass
class Lease:
    ip: str
    prefixlen: int
    routers: list[str]
    dns: list[str]
    lease_time: int | None = None
    server_id: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def interface(self) -> ipaddress.IPv4Interface:
        return ipaddress.IPv4Interface(f"{self.ip}/{self.prefixlen}")


class Phone:
    def __init__(self, name: str, radio: Radio, *, workdir: Path, logdir: Path) -> None:
        self.name = name
        self.radio = radio
        self.ns = Netns(name)
        self.dir = workdir / name
        self.logdir = logdir
        self._ctrl: WpaCtrl | None = None
        self.events: list[str] = []  # every control-socket event seen since the last start
        self.lease: Lease | None = None

    def __repr__(self) -> str:
        return f"Phone({self.name!r}, {self.iface}, {self.mac})"

    @property
    def iface(self) -> str:
        return self.radio.iface

    @property
    def mac(self) -> str:
        return self.radio.mac

    @property
    def pidfile(self) -> Path:
        return self.dir / "wpa_supplicant.pid"

    @property
    def ctrl_dir(self) -> Path:
        return self.dir / "wpa"

    @property
    def resolv_conf(self) -> Path:
        # `ip netns exec NAME` bind-mounts /etc/netns/NAME/* over /etc/*.
        return Path("/etc/netns", self.name, "resolv.conf")

    # -- life cycle -------------------------------------------------------------

    def setup(self) -> Phone:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ns.create()
        self.radio.move_to(self.ns)
        self.ns.ip("link", "set", self.iface, "up")
        return self

    def teardown(self) -> None:
        self.disconnect()
        self.radio.move_home()
        self.ns.delete()
        shutil.rmtree(self.resolv_conf.parent, ignore_errors=True)

    # -- Wi-Fi ------------------------------------------------------------------

    def config_text(self, ssid: str, passphrase: str, security: str = "wpa2", hidden: bool = False) -> str:
        key_mgmt, pmf = SECURITY_KEY_MGMT[security]
        lines = [
            f"ctrl_interface={self.ctrl_dir}",
            "update_config=0",
            "network={",
            f"\tssid={ssid.encode().hex()}",
            f"\tkey_mgmt={key_mgmt}",
        ]
        if "WPA-PSK" in key_mgmt:
            # The PSK proper (PBKDF2 of passphrase and SSID), so no quoting issue.
            psk = hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32).hex()
            lines.append(f"\tpsk={psk}")
        if "SAE" in key_mgmt:
            lines.append(f'\tsae_password="{passphrase}"')
        if pmf is not None:
            lines.append(f"\tieee80211w={pmf}")
        if hidden:
            lines.append("\tscan_ssid=1")
        # Enabled only once our monitor is attached, so no event is missed.
        lines += ["\tdisabled=1", "}"]
        return "\n".join(lines) + "\n"

    def connect(
        self,
        ssid: str,
        passphrase: str,
        *,
        security: str = "wpa2",
        hidden: bool = False,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> dict[str, str]:
        """(Re)start wpa_supplicant for this network; by default wait until
        COMPLETED and return the status."""
        self.disconnect()
        conf = self.dir / "wpa_supplicant.conf"
        conf.write_text(self.config_text(ssid, passphrase, security, hidden))
        self.ctrl_dir.mkdir(parents=True, exist_ok=True)
        self.ns.run(
            [
                "wpa_supplicant",
                "-B",
                "-P",
                str(self.pidfile),
                "-D",
                "nl80211",
                "-i",
                self.iface,
                "-c",
                str(conf),
                "-t",
                "-f",
                str(self.logdir / f"{self.name}-wpa_supplicant.log"),
            ],
            timeout=20,
        )
        sock = self.ctrl_dir / self.iface
        wait_until(sock.exists, 10.0, interval=0.05, what=f"{self.name}'s wpa_supplicant control socket")
        self._ctrl = WpaCtrl(sock, self.dir)
        self._ctrl.attach()
        self.events = []
        self.request("ENABLE_NETWORK all")
        if wait:
            return self.wait_connected(timeout)
        return self.status()

    def request(self, cmd: str) -> str:
        if self._ctrl is None:
            raise RuntimeError(f"{self.name}: wpa_supplicant is not running")
        return self._ctrl.request(cmd)

    def status(self) -> dict[str, str]:
        if self._ctrl is None:
            return {"wpa_state": "NOT_RUNNING"}
        return parse_status(self.request("STATUS"))

    def wait_event(self, prefixes: list[str], timeout: float) -> str | None:
        """Next event starting with one of ``prefixes`` (None on timeout); all
        events seen on the way are kept in :attr:`events`."""
        if self._ctrl is None:
            raise RuntimeError(f"{self.name}: wpa_supplicant is not running")
        deadline = time.monotonic() + timeout
        while True:
            event = self._ctrl.wait_event([""], max(0.0, deadline - time.monotonic()))
            if event is None:
                return None
            self.events.append(event)
            if any(event.startswith(p) for p in prefixes):
                return event

    def wait_connected(self, timeout: float = 30.0) -> dict[str, str]:
        """Wait for wpa_state=COMPLETED (event-driven, status re-checked)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status.get("wpa_state") == "COMPLETED":
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{self.name} not connected after {timeout:.0f}s: state {status.get('wpa_state')}, "
                    f"events {self.events[-8:]}"
                )
            self.wait_event(["CTRL-EVENT-CONNECTED"], min(left, 1.0))

    def wait_failure(self, timeout: float = 30.0) -> str | None:
        """Wait for a connection failure event; returns it, or None if none
        came within ``timeout``.  Raises if the phone connects instead."""
        event = self.wait_event([*FAILURE_EVENTS, "CTRL-EVENT-CONNECTED"], timeout)
        if event is not None and event.startswith("CTRL-EVENT-CONNECTED"):
            raise AssertionError(f"{self.name} connected although it should not: {event}")
        return event

    def disconnect(self) -> None:
        """Stop wpa_supplicant and drop the lease (address, route, resolv.conf)."""
        if self._ctrl is not None:
            try:
                self._ctrl.request("TERMINATE", timeout=2.0)
            except (OSError, TimeoutError):
                pass
            self._ctrl.close()
            self._ctrl = None
        kill_pidfile(self.pidfile)
        self.release()

    # -- IP ---------------------------------------------------------------------

    def dhcp(self, timeout: float = 30.0, hostname: str | None = None) -> Lease:
        """Get a lease with ``busybox udhcpc`` and apply it; writes the phone's resolv.conf."""
        lease_file = self.dir / "lease"
        lease_file.unlink(missing_ok=True)
        busybox = shutil.which("busybox") or "busybox"
        tries = max(2, int(timeout // 2))
        self.ns.run(
            [
                busybox,
                "udhcpc",
                "-i",
                self.iface,
                "-n",
                "-q",
                "-f",
                "-t",
                str(tries),
                "-T",
                "2",
                "-s",
                str(UDHCPC_SCRIPT),
                "-x",
                f"hostname:{hostname or self.name}",
            ],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LAB_LEASE_FILE": str(lease_file)},
            timeout=tries * 2 + 10,
        )
        raw = dict(line.split("=", 1) for line in lease_file.read_text().splitlines() if "=" in line)
        lease = Lease(
            ip=raw["ip"],
            prefixlen=int(raw.get("mask") or 24),
            routers=raw.get("router", "").split(),
            dns=raw.get("dns", "").split(),
            lease_time=int(raw["lease"]) if raw.get("lease", "").isdigit() else None,
            server_id=raw.get("serverid") or None,
            raw=raw,
        )
        self.resolv_conf.parent.mkdir(parents=True, exist_ok=True)
        self.resolv_conf.write_text("".join(f"nameserver {d}\n" for d in lease.dns) + "options timeout:2 attempts:2\n")
        self.lease = lease
        return lease

    def release(self) -> None:
        """Forget the lease: no address, no default route, no resolv.conf."""
        self.lease = None
        self.resolv_conf.unlink(missing_ok=True)
        if self.ns.exists() and self.ns.link_exists(self.iface):
            self.ns.ip("-4", "addr", "flush", "dev", self.iface)
            self.ns.ip("-4", "route", "flush", "dev", self.iface, check=False)

    def ipv4(self) -> list[str]:
        return self.ns.ipv4_addresses(self.iface)

    def resolve(self, name: str, server: str | None = None, timeout: float = 5.0) -> list[str]:
        """A records for ``name`` from ``server`` (default: the DHCP-given DNS)."""
        if server is None:
            if self.lease is None or not self.lease.dns:
                raise RuntimeError(f"{self.name} has no DHCP-provided DNS server")
            server = self.lease.dns[0]
        reply = dnsquery.query(server, name, timeout=timeout, netns=self.ns)
        if reply.rcode != 0:
            raise LookupError(f"{name}: rcode {reply.rcode} from {server}")
        return reply.addresses()

    def http_get(self, url: str, timeout: float = 5.0) -> str:
        """Body of ``url`` fetched with curl from the phone (its resolv.conf)."""
        proc = self.ns.run(
            ["curl", "-sS", "--noproxy", "*", "--max-time", str(timeout), url],
            check=False,
            timeout=timeout + 10,
        )
        if proc.returncode != 0:
            raise CommandError(["curl", url], proc.returncode, proc.stdout, proc.stderr)
        return proc.stdout

    def ping(self, address: str, timeout: float = 10.0) -> bool:
        """True once an echo reply comes back within ``timeout`` s (BusyBox
        ping, as on a board: one request a second until the deadline, so ARP
        and a slow guest get time)."""
        busybox = shutil.which("busybox") or "busybox"
        proc = self.ns.run(
            [busybox, "ping", "-q", "-c", "1", "-w", str(max(1, round(timeout))), address],
            check=False,
            timeout=timeout + 15,
        )
        if proc.returncode not in (0, 1):
            raise CommandError(["ping", address], proc.returncode, proc.stdout, proc.stderr)
        return proc.returncode == 0

    # -- scanning (without wpa_supplicant) ---------------------------------------

    def scan(self, attempts: int = 5) -> str:
        """``iw dev IFACE scan flush`` output (the BSS cache flushed first, so
        nothing learnt in an earlier test leaks into it)."""
        self.ns.ip("link", "set", self.iface, "up")
        last: CommandError | None = None
        for _ in range(attempts):
            try:
                return self.ns.run(["iw", "dev", self.iface, "scan", "flush"], timeout=30).stdout
            except CommandError as exc:  # -EBUSY while a previous scan is still running
                last = exc
                time.sleep(0.5)
        assert last is not None
        raise last


def scan_results(output: str) -> dict[str, str]:
    """``{bssid: ssid}`` from ``iw scan`` output ('' for a hidden SSID)."""
    result: dict[str, str] = {}
    bssid = None
    for line in output.splitlines():
        m = re.match(r"^BSS ([0-9a-f:]{17})", line)
        if m:
            bssid = m.group(1)
            result[bssid] = ""
            continue
        m = re.match(r"^\s+SSID: ?(.*)$", line)
        if m and bssid is not None and not result[bssid]:
            result[bssid] = m.group(1)
    return result
