"""A board in a network namespace, for the tests that need no radio.

    phone (ns) eth0 ── lan0  board (ns)  ppp0 ── isp0  inet (ns)   DNS 10.64.0.1, HTTP 198.18.0.10
                                         usb0 ── tether0  inet2 (ns)  DNS 192.168.43.1, HTTP 198.18.0.10

An uplink with ``path_mtu`` is a simulated cellular link: a "modem"
namespace sits between the board and the internet (lab/cellular.py), the
board's link to it has that MTU and the modem drops ICMP "fragmentation
needed" (a PMTU black hole, as many LTE networks are); ``redial`` gives the
board's ppp0 a new address as a modem's hang-up and redial does.

The downstream is wired (``lan0``): hotshare runs dnsmasq and NAT but no
hostapd, as it does when sharing the 4G uplink to an Ethernet port. The same
DHCP, DNS, NAT, failover and cleanup code paths are exercised as with a
radio; the radio itself is tested in the QEMU lab (tests/qemu).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lab import ipv6, topology
from lab.cellular import Modem
from lab.netns import Netns, add_veth
from lab.proc import Daemon, wait_until
from lab.topology import WEB6_ADDR, WEB6_NAME, WEB_NAME, Internet, Uplink
from lab.topology import WEB_ADDR as WEB

__all__ = ["PPP0", "PPP0_6", "USB0", "USB0_6", "WEB", "WEB6_ADDR", "WEB6_NAME", "WEB_NAME", "Board", "Uplink",
           "running"]

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
UDHCPC_SCRIPT = TESTS / "lab" / "udhcpc.script"

# The lab's uplinks (lab.topology), their internets under names of this
# host's tests: hs-* like every namespace here, so that a QEMU guest's or a
# developer's own "inet" is left alone.
PPP0 = topology.PPP0.in_netns("hs-inet")
USB0 = topology.USB0.in_netns("hs-inet2")
# The same with IPv6 as LTE carriers give it: a /64 on the link by router advertisement
PPP0_6 = replace(PPP0, prefix6="2001:db8:64:1::/64")
USB0_6 = replace(USB0, prefix6="2001:db8:43:1::/64")
IPV6_SYSCTLS = [*(f"net.ipv6.conf.{n}.{k}" for n in ("all", "default", "lan0", "ppp0", "usb0")
                  for k in ("forwarding", "accept_ra", "proxy_ndp")),
                *(f"net.ipv6.neigh.{n}.proxy_delay" for n in ("ppp0", "usb0"))]


class Board:
    def __init__(self, workdir: Path, uplinks: tuple[Uplink, ...] = (PPP0,)) -> None:
        self.workdir = workdir
        self.board = Netns("hs-board")
        self.phone = Netns("hs-phone")
        self.uplinks = uplinks
        self.internets = {u.board_if: Netns(u.ns) for u in uplinks}
        self.nets: list[Internet] = []  # their links, routes and servers (lab.topology)
        self.daemons: list[Daemon] = []  # the internets' servers, and what a test starts on top
        # dnsmasq reads its resolv-file from here after dropping root: a
        # directory it can reach (pytest's own temporary tree is 0700)
        self.rundir = Path(tempfile.mkdtemp(prefix="hotshare-run-"))
        self.rundir.chmod(0o755)
        self.statedir = workdir / "state"

    # -- topology -------------------------------------------------------------

    def start(self) -> Board:
        """Namespaces, links, routes and the internet side's servers, created
        in the order of ``uplinks`` (the first gets the lower ifindex). If any
        step fails, what was already made is removed before the error goes on."""
        try:
            self._start()
        except BaseException:
            try:
                self.stop()
            except Exception:
                pass  # the error that stopped start() is the one to report
            raise
        return self

    def _start(self) -> None:
        self.board.create()
        self.phone.create()
        # Wired, where the QEMU guest has a radio: the phone's end is a veth.
        add_veth("lan0", self.board, "eth0", self.phone)
        for u in self.uplinks:
            net = Internet(u, self.workdir, board=self.board, processes=True)
            self.nets.append(net)
            net.start(veth=add_veth)
            self.daemons.extend(net.daemons)

    @property
    def modems(self) -> dict[str, Modem]:
        """The simulated cellular modems, by the board's uplink (Uplink.path_mtu)."""
        return {n.uplink: n.modem for n in self.nets if n.modem}

    def stop(self) -> None:
        """Undo everything, whatever state a failed test (or start) left: each
        step runs even if an earlier one raised, and the namespaces are always
        deleted (which also kills whatever still runs in them). The first
        error, if any, is raised at the end; a `hotshare down` that times out
        is not an error here."""
        errors: list[BaseException] = []

        def attempt(step: Callable[[], object]) -> None:
            try:
                step()
            except Exception as e:
                errors.append(e)

        try:
            for d in self.daemons:
                attempt(d.stop)
            for net in self.nets:
                attempt(net.stop_servers)  # those of a start that failed half way
            # Stop hotshare first, whatever state a failed test left it in.
            if self.board.exists():
                attempt(self._down_quietly)
        finally:
            for ns in (self.phone, *(n.modem.ns for n in self.nets if n.modem), *self.internets.values(), self.board):
                attempt(ns.delete)
            shutil.rmtree(self.rundir, ignore_errors=True)
        if errors:
            raise errors[0]

    def _down_quietly(self) -> None:
        try:
            self.hotshare("down", "lan0", check=False)
        except subprocess.TimeoutExpired:
            pass  # deleting the namespace kills what it left running

    # -- the modem hangs up and redials ------------------------------------------

    def redial(self, new_addr: str, uplink: Uplink = PPP0, recreate: bool = False) -> None:
        """The modem's new session: the board's ``uplink`` loses its address
        and gets ``new_addr`` (same /24, same gateway); with ``recreate`` the
        link itself goes and comes back, as pppd's ppp0 does."""
        dev = uplink.board_if
        if recreate:
            net = next(n for n in self.nets if n.uplink == dev)
            self.board.ip("link", "del", dev)
            add_veth(dev, self.board, uplink.peer_if, net.gateway_ns, addr=new_addr, peer_addr=f"{uplink.gateway}/24")
            if net.modem:
                net.modem.attach(self.board, dev, uplink.peer_if)
        else:
            self.board.ip("addr", "del", uplink.board_addr, "dev", dev)
            self.board.ip("addr", "add", new_addr, "dev", dev)
        self.board.ip("route", "replace", "default", "via", uplink.gateway, "dev", dev, "metric", str(uplink.metric))

    def log(self, ns: str, what: str) -> Path:
        return self.workdir / f"{ns}-{what}.log"

    # -- hotshare in the board namespace ---------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(REPO / "python"),
                "HOTSHARE_RUNDIR": str(self.rundir), "HOTSHARE_STATEDIR": str(self.statedir)}

    def hotshare(self, *args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        argv = ["ip", "netns", "exec", self.board.name or "", sys.executable, "-m", "hotshare", *args]
        proc = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"hotshare {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def up(self, *options: str, uplink: str = "ppp0") -> None:
        self.hotshare("up", "--daemon", "--dns-server", PPP0.gateway, *options, "lan0", uplink)

    def status(self) -> dict[str, object]:
        return json.loads(self.hotshare("status", "lan0", "--json", check=False).stdout)

    def pid(self) -> int:
        return int((self.rundir / "lan0.pid").read_text())

    def children(self) -> dict[str, int]:
        return dict(self.status().get("children") or {})  # type: ignore[call-overload]

    # -- what a user looks at on the board --------------------------------------

    def sysctls(self) -> dict[str, str]:
        names = ["net.ipv4.ip_forward", "net.ipv4.conf.lan0.forwarding",
                 *(f"net.ipv4.conf.{u.board_if}.forwarding" for u in self.uplinks)]
        out = self.board.run(["sysctl", "-n", *names]).stdout.split()
        return dict(zip(names, out))

    def ipv6_state(self) -> dict[str, list[str]]:
        """What IPv6 looks like on the board to a user (lab/ipv6.py)."""
        return ipv6.ipv6_state(self.board, IPV6_SYSCTLS)

    def global6(self, ifname: str, ns: Netns | None = None) -> list[str]:
        """The usable global IPv6 addresses of ``ifname`` (board's, or ``ns``'s)."""
        return ipv6.global6(ns or self.board, ifname)

    def wait_global6(self, ifname: str, ns: Netns | None = None, timeout: float = 15.0) -> str:
        return ipv6.wait_global6(ns or self.board, ifname, timeout)

    def nft_tables(self) -> list[str]:
        return [ln for ln in self.board.run(["nft", "list", "tables"]).stdout.splitlines() if ln.strip()]

    def processes(self) -> list[str]:
        """Command lines of the board namespace's processes that hotshare runs."""
        out = []
        for pid in self.board.pids():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            line = " ".join(a.decode() for a in argv if a)
            if "hotshare" in line or "dnsmasq" in line or "hostapd" in line:
                out.append(line)
        return out

    # -- the phone ---------------------------------------------------------------

    def dhcp(self, timeout: float = 20.0) -> dict[str, str]:
        lease_file = self.workdir / "phone.lease"
        lease_file.unlink(missing_ok=True)
        self.phone.run(["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "10", "-T", "1",
                        "-s", str(UDHCPC_SCRIPT)], env={**os.environ, "LAB_LEASE_FILE": str(lease_file)},
                       timeout=timeout)
        return dict(line.split("=", 1) for line in lease_file.read_text().splitlines() if "=" in line)

    def resolve(self, name: str, server: str, timeout: float = 5.0, qtype: str = "A") -> list[str]:
        proc = self.phone.run([sys.executable, "-m", "lab.dnsquery", "--server", server, "--timeout", str(timeout),
                               "--type", qtype, name], env={**os.environ, "PYTHONPATH": str(TESTS)}, check=False,
                              timeout=timeout + 5)
        if proc.returncode != 0:
            return []
        return list(json.loads(proc.stdout).get("addresses", []))

    def fetch(self, url: str = f"http://{WEB}/", ns: Netns | None = None, timeout: float = 3.0) -> str | None:
        proc = (ns or self.phone).run(["curl", "-s", "--max-time", str(timeout), url], check=False,
                                      timeout=timeout + 5)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def download(self, size: int = 1 << 20, timeout: float = 10.0, ns: Netns | None = None) -> float | None:
        """Fetch ``size`` bytes from the web server; the seconds it took, or None if it did not complete."""
        proc = (ns or self.phone).run(["curl", "-s", "-o", "/dev/null", "--max-time", str(timeout),
                                       "-w", "%{size_download} %{time_total}", f"http://{WEB}/bytes/{size}"],
                                      check=False, timeout=timeout + 5)
        got, _, took = proc.stdout.partition(" ")
        return float(took) if proc.returncode == 0 and got == str(size) else None

    def wait_fetch(self, expect: str, timeout: float = 10.0) -> float:
        """Fetch until the server reports ``expect`` as the client; return the seconds it took."""
        t0 = time.monotonic()
        wait_until(lambda: self.fetch(timeout=1.0) == expect, timeout, interval=0.05,
                   what=f"the web server to see {expect}")
        return time.monotonic() - t0


def running(pid: int) -> bool:
    """True while ``pid`` runs; a zombie waiting for its reaper does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
