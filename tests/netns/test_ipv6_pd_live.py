"""IPv6 by a delegated prefix (DHCPv6-PD), with the real kernel, nftables,
dnsmasq, dhcpcd (the board's client) and kea-dhcp6-server (the carrier's,
delegating a /56 from a pool) on the "internet" side, whose router also
advertises a /64 on the uplink's link (relayed until a prefix comes)."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import PPP0_6, TESTS, USB0_6, WEB6_ADDR, WEB6_NAME, Board, Uplink
from conftest import _skip_reason
from lab.dhcp6pd import KEA, kea_config, route_pool, start_kea
from lab.proc import Daemon, wait_until
from test_ipv6_live import aaaa, board6x2, fetch6, ipv6_status, ras  # noqa: F401 - board6x2: a fixture

POOL_A = "2001:db8:5600::/48"
POOL_B = "2001:db8:7700::/48"


class CarrierPD:
    """The carrier's DHCPv6 server on hs-inet's end of the board's ppp0."""

    def __init__(self, board: Board, workdir: Path, uplink: Uplink = PPP0_6) -> None:
        self.board, self.workdir, self.uplink = board, workdir, uplink
        self.inet = board.internets[uplink.board_if]
        self.kea: Daemon | None = None

    def route(self, *pools: str) -> None:
        """The pools' prefixes reach the board, through its end of this link."""
        links = self.board.board.ip_json("-6", "addr", "show", "dev", self.uplink.board_if)
        [link_local] = [a["local"] for link in links for a in link.get("addr_info", []) if a.get("scope") == "link"]
        for pool in pools:
            route_pool(self.inet, pool, link_local, self.uplink.peer_if)

    def start(self, pool: str, renew: int = 3600) -> None:
        self.stop()
        self.kea = start_kea(self.inet, self.workdir, "kea", kea_config(self.uplink.peer_if, self.uplink.prefix6, pool,
                                                                          renew=renew))
        self.board.daemons.append(self.kea)

    def released(self) -> list[str]:
        """The prefixes the board gave back (its RELEASE), as the carrier logged them."""
        log = self.workdir / "kea.log"
        return [ln.split(": prefix ", 1)[1].split()[0] for ln in (log.read_text().splitlines() if log.exists() else [])
                if "DHCP6_RELEASE_PD" in ln and "released properly" in ln]

    def stop(self) -> None:
        if self.kea:
            self.kea.stop()
            self.board.daemons.remove(self.kea)
            self.kea = None


def _missing() -> str:
    if not Path(KEA).exists():
        return "kea-dhcp6-server is not installed (support/setup installs it)"
    if shutil.which("dhcpcd") is None and not Path("/usr/sbin/dhcpcd").exists():
        return "dhcpcd is not installed (Debian: dhcpcd-base)"
    if Path("/run/dhcpcd/sock").exists():
        return "a dhcpcd manager runs on this machine: hotshare's own dhcpcd would hand it its command line"
    return ""


@pytest.fixture
def carrier(tmp_path: Path) -> Iterator[tuple[Board, CarrierPD]]:
    reason = _skip_reason() or _missing()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(PPP0_6,)).start()
    try:
        b.wait_global6("ppp0")
        pd = CarrierPD(b, tmp_path / "kea")
        pd.route(POOL_A, POOL_B)
        yield b, pd
    finally:
        b.stop()


def in_pool(addresses: list[str], pool: str) -> list[str]:
    return [a for a in addresses if ipaddress.IPv6Address(a) in ipaddress.IPv6Network(pool)]


def wait_phone_in(board: Board, pool: str, timeout: float = 20.0) -> str:
    return wait_until(lambda: in_pool(board.global6("eth0", board.phone), pool), timeout, interval=0.2,
                      what=f"the phone's address in {pool}")[0]


def uplink_ipv4(board: Board) -> tuple[str, str]:
    """The uplink's IPv4 addresses and routes (a DHCPv4 client would change them)."""
    return board.board.ip("-4", "addr", "show", "dev", "ppp0"), board.board.ip("-4", "route", "show", "table", "all",
                                                                             "dev", "ppp0")


def listen_ras(seconds: float) -> subprocess.Popen[str]:
    """The phone listening for the AP's unsolicited router advertisements, in the background."""
    return subprocess.Popen(["ip", "netns", "exec", "hs-phone", sys.executable, "-m", "lab.ra", "--iface", "eth0",
                             "--timeout", str(seconds), "--no-solicit"],
                            env={**os.environ, "PYTHONPATH": str(TESTS)}, stdout=subprocess.PIPE, text=True)


def prefixes_seen(listener: subprocess.Popen[str]) -> list[tuple[str, int, int]]:
    """(prefix, valid, preferred lifetime) of every prefix in what the listener caught."""
    out, _err = listener.communicate(timeout=30)
    return [(p["prefix"], p["valid"], p["preferred"]) for ra in json.loads(out) for p in ra["prefixes"]]


def dhcpcd_running(board: Board) -> list[int]:
    out = []
    for pid in board.board.pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "dhcpcd":
                out.append(pid)
        except OSError:
            continue
    return out


def test_a_delegated_prefix_reaches_the_phone_and_down_restores_everything(carrier: tuple[Board, CarrierPD]) -> None:
    b, pd = carrier
    pd.start(POOL_A)
    before = b.ipv6_state()
    ipv4_before = uplink_ipv4(b)
    resolv_before = Path("/etc/resolv.conf").read_bytes()
    b.up()
    wait_until(lambda: ipv6_status(b).startswith("pd: ppp0 delegated a prefix (DHCPv6-PD): 2001:db8:56"), 20,
               interval=0.2, what="the delegated prefix in status")
    phone = wait_phone_in(b, POOL_A)
    # the answer to a solicitation (an unsolicited one may come in the same seconds)
    ra = next(ra for ra in ras(b) if in_pool([p["prefix"].split("/")[0] for p in ra["prefixes"]], POOL_A))
    # the uplink's /64, relayed until the prefix came, is deprecated: no new connection uses it
    [prefix] = [p for p in ra["prefixes"] if p["preferred"] > 0]
    assert prefix["prefix"].endswith("::/64") and prefix["autonomous"]
    assert ipaddress.IPv6Address(phone) in ipaddress.IPv6Network(prefix["prefix"])
    assert ra["router_lifetime"] > 0 and ra["rdnss"] == [ra["source"]]     # DNS: the AP itself
    assert aaaa(b, WEB6_NAME, f"{ra['rdnss'][0]}%eth0") == [WEB6_ADDR]
    assert wait_until(lambda: fetch6(b), 15, interval=0.5, what="the IPv6 page") == phone     # no NAT, no proxy
    assert b.ipv6_state()["proxies"] == []
    assert dhcpcd_running(b) and "dhcpcd" in b.children()
    # dhcpcd asked for a prefix and did nothing else: IPv4 and the resolver are as they were
    assert uplink_ipv4(b) == ipv4_before
    assert Path("/etc/resolv.conf").read_bytes() == resolv_before
    b.hotshare("down", "lan0")
    assert dhcpcd_running(b) == []
    assert not Path("/run/dhcpcd/ppp0-6.sock").exists()          # none of its files left either
    assert pd.released() == [prefix["prefix"].replace("::/64", "::/56")]       # given back to the carrier
    assert b.ipv6_state() == before


def test_an_uplink_change_deprecates_the_old_prefix_and_delegates_from_the_new(board6x2: Board,  # noqa: F811
                                                                              tmp_path: Path) -> None:
    if _missing():
        pytest.skip(_missing())
    b = board6x2
    pd_ppp0, pd_usb0 = CarrierPD(b, tmp_path / "kea-ppp0"), CarrierPD(b, tmp_path / "kea-usb0", USB0_6)
    pd_ppp0.route(POOL_A)
    pd_usb0.route(POOL_B)
    pd_ppp0.start(POOL_A)
    pd_usb0.start(POOL_B)
    b.up("--ipv6", "auto", uplink="ppp0,usb0")
    old = wait_phone_in(b, POOL_A)
    old_prefix = str(ipaddress.IPv6Network(f"{old}/64", strict=False))
    listener = listen_ras(8)
    time.sleep(1)
    b.board.ip("link", "set", "ppp0", "down")
    seen = prefixes_seen(listener)
    assert any(p == old_prefix and pref == 0 for p, _, pref in seen), seen
    new = wait_phone_in(b, POOL_B)
    assert ipv6_status(b).startswith("pd: usb0 delegated a prefix (DHCPv6-PD): 2001:db8:77")
    assert wait_until(lambda: fetch6(b), 15, interval=0.5, what="the IPv6 page") == new
    assert not in_pool(b.global6("eth0", b.phone), POOL_A)
    assert not in_pool([a.split("/")[0] for a in b.ipv6_state()["addresses"]], POOL_A)   # off the AP


def test_a_crashed_hotspots_dhcpcd_is_stopped_and_its_prefix_released_by_down(
        carrier: tuple[Board, CarrierPD]) -> None:
    b, pd = carrier
    pd.start(POOL_A)
    before = b.ipv6_state()
    b.up()
    phone = wait_phone_in(b, POOL_A)
    assert wait_until(lambda: fetch6(b), 15, interval=0.5, what="the IPv6 page") == phone
    os.kill(b.pid(), signal.SIGKILL)
    assert dhcpcd_running(b)                # orphaned, its command line rewritten (no marker in it)
    b.hotshare("down", "lan0", check=False)
    assert dhcpcd_running(b) == []
    assert len(pd.released()) == 1
    assert b.ipv6_state() == before


def test_a_renewal_with_another_prefix_deprecates_the_old_one(carrier: tuple[Board, CarrierPD]) -> None:
    b, pd = carrier
    pd.start(POOL_A, renew=4)
    b.up()
    old = wait_phone_in(b, POOL_A)
    old_prefix = str(ipaddress.IPv6Network(f"{old}/64", strict=False))
    # the carrier renumbers: its new server knows nothing of the old lease; at the next
    # renewal (T1 4 s) it hands out another prefix. The phone listens meanwhile.
    listener = listen_ras(14)
    pd.start(POOL_B, renew=4)
    seen = prefixes_seen(listener)
    assert any(p == old_prefix and pref == 0 for p, _, pref in seen), seen           # deprecated
    assert any(in_pool([p.split("/")[0]], POOL_B) and v > 0 for p, v, _ in seen), seen  # the new one
    new = wait_phone_in(b, POOL_B)
    assert not in_pool(b.global6("eth0", b.phone), POOL_A)                         # the old one unused
    assert ipv6_status(b).startswith("pd: ppp0 delegated a prefix (DHCPv6-PD): 2001:db8:77")
    assert wait_until(lambda: fetch6(b), 15, interval=0.5, what="the IPv6 page") == new
