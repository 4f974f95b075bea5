"""IPv6 for the hotspot's clients, with the real kernel, nftables and dnsmasq:
the uplink's /64 comes by router advertisement from the "internet" side
(dnsmasq there, as an LTE carrier's), an IPv6-only web server behind it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import PPP0_6, TESTS, USB0_6, WEB, WEB6_ADDR, WEB6_NAME, WEB_NAME, Board
from conftest import _skip_reason
from lab.proc import Daemon, wait_until

# A service of the board (or a phone) on every IPv6 address, TCP and UDP (lab/scan6.py)
LISTENER6 = [sys.executable, "-m", "lab.scan6", "--listen"]


@pytest.fixture
def board6(tmp_path: Path) -> Iterator[Board]:
    """The board whose ppp0 gets a /64 by router advertisement (and takes its SLAAC address)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(PPP0_6,)).start()
    try:
        b.wait_global6("ppp0")
        yield b
    finally:
        b.stop()


def ras(board: Board, timeout: float = 3.0) -> list[dict[str, object]]:
    """The router advertisements the phone gets within ``timeout`` after soliciting."""
    out = board.phone.run([sys.executable, "-m", "lab.ra", "--iface", "eth0", "--timeout", str(timeout)],
                          env={**os.environ, "PYTHONPATH": str(TESTS)}, timeout=timeout + 10).stdout
    return list(json.loads(out))


def scan(board: Board, addr: str) -> dict[str, object]:
    inet = board.internets["ppp0"]
    return dict(json.loads(inet.run([sys.executable, "-m", "lab.scan6", addr],
                                    env={**os.environ, "PYTHONPATH": str(TESTS)}, timeout=30).stdout))


def ipv6_status(board: Board) -> str:
    return str(board.status().get("ipv6", ""))


# -- no IPv6 on the uplink: nothing advertised --------------------------------------------------

def test_an_uplink_without_ipv6_gives_the_clients_no_router_advertisement(board: Board) -> None:
    board.up()
    assert ipv6_status(board) == "none: ppp0 has no global IPv6 address: no router advertisement for the clients"
    assert ras(board) == []
    assert board.global6("eth0", board.phone) == []
    assert "default" not in board.phone.ip("-6", "route", "show")


# -- the board: nothing open from the uplink over IPv6 -------------------------------------------

def test_a_scan_over_ipv6_from_the_uplink_finds_nothing_open(board6: Board) -> None:
    board6.daemons.append(Daemon("board-listener6", [*LISTENER6, "2222"],
                                 netns=board6.board.name, log=board6.log("board", "listener6"), ready_line="READY",
                                 env={**os.environ, "PYTHONPATH": str(TESTS)}))
    uplink_addr = board6.global6("ppp0")[0]
    before = scan(board6, uplink_addr)
    assert before == {"tcp": [2222], "udp": [2222]}     # the board's service, open over IPv6 before hotshare
    board6.up()
    assert scan(board6, uplink_addr) == {"tcp": [], "udp": []}
    # the sound test: our table, nothing else, closes it
    board6.board.run(["nft", "flush", "chain", "inet", "hotshare_lan0", "input"])
    assert scan(board6, uplink_addr) == before


# -- sysctls: IPv6 forwarding on, the uplink keeps its router advertisements, all restored ---------

def test_ipv6_forwarding_is_set_and_everything_restored_on_down(board6: Board) -> None:
    before = board6.ipv6_state()
    assert "net.ipv6.conf.all.forwarding=0" in before["sysctls"]
    board6.up()
    during = board6.ipv6_state()["sysctls"]
    assert "net.ipv6.conf.all.forwarding=1" in during
    assert "net.ipv6.conf.ppp0.accept_ra=2" in during and "net.ipv6.conf.lan0.accept_ra=0" in during
    # the uplink still takes its router's advertisements with forwarding on: its default route stays
    board6.board.run(["ip", "-6", "route", "flush", "proto", "ra"])
    assert _wait_default6(board6)
    board6.hotshare("down", "lan0")
    assert board6.ipv6_state() == before


def _wait_default6(board: Board) -> list[str]:
    return wait_until(lambda: [r for r in board.board.ip("-6", "route", "show").splitlines()
                               if r.startswith("default")], 15, interval=0.2, what="an IPv6 default route")


def test_ipv6_off_changes_no_ipv6_sysctl(board6: Board) -> None:
    before = board6.ipv6_state()
    board6.up("--ipv6", "off")
    assert ipv6_status(board6) == "off: IPV6=off: the clients get no IPv6"
    assert board6.ipv6_state()["sysctls"] == before["sysctls"]
    assert ras(board6) == []


# -- relay: the uplink's /64 advertised to the clients, NDP proxy on the uplink ---------------------

def aaaa(board: Board, name: str, server: str) -> list[str]:
    return board.resolve(name, server, qtype="AAAA")


def fetch6(board: Board, timeout: float = 5.0) -> str | None:
    proc = board.phone.run(["curl", "-6", "-s", "-g", "--max-time", str(timeout), f"http://[{WEB6_ADDR}]/"],
                           check=False, timeout=timeout + 5)
    return proc.stdout.strip() if proc.returncode == 0 else None


def test_the_uplinks_prefix_is_relayed_and_a_phone_reaches_an_ipv6_only_server(board6: Board) -> None:
    before = board6.ipv6_state()
    board6.up()
    assert ipv6_status(board6).startswith("relay: ppp0 has 2001:db8:64:1::/64")
    ra = ras(board6)[0]
    # SLAAC, off-link: the rest of the uplink's /64 is beyond the board
    prefixes = [(p["prefix"], p["autonomous"], p["onlink"]) for p in ra["prefixes"]]
    assert prefixes == [("2001:db8:64:1::/64", True, False)]
    assert ra["router_lifetime"] > 0 and ra["rdnss"]
    phone = board6.wait_global6("eth0", board6.phone)
    assert phone.startswith("2001:db8:64:1:")
    assert ra["rdnss"] == [ra["source"]]                                # DNS: the AP itself
    assert aaaa(board6, WEB6_NAME, f"{ra['rdnss'][0]}%eth0") == [WEB6_ADDR]
    assert wait_until(lambda: fetch6(board6), 15, interval=0.5, what="the IPv6 page") == phone  # no NAT
    during = board6.ipv6_state()
    assert f"{phone} dev ppp0 proxy" in during["proxies"]
    # the router's first solicitation for the phone is answered at once, not after up to 0.8 s
    assert "net.ipv6.neigh.ppp0.proxy_delay=0" in during["sysctls"]
    board6.hotshare("down", "lan0")
    assert board6.ipv6_state() == before


def test_a_client_that_leaves_loses_its_proxy_entry_and_route(board6: Board) -> None:
    board6.up()
    phone = board6.wait_global6("eth0", board6.phone)
    assert wait_until(lambda: fetch6(board6), 15, interval=0.5, what="the IPv6 page") == phone
    assert f"{phone} dev ppp0 proxy" in board6.ipv6_state()["proxies"]
    assert any(r.startswith(f"{phone} dev lan0") for r in board6.ipv6_state()["routes"])
    board6.phone.ip("link", "set", "eth0", "down")          # unplugged: lan0 loses its carrier
    wait_until(lambda: board6.ipv6_state()["proxies"] == [], 10, interval=0.2, what="the proxy entry to go")
    assert not any(r.startswith(phone) for r in board6.ipv6_state()["routes"])


@pytest.fixture
def board6x2(tmp_path: Path) -> Iterator[Board]:
    """Two uplinks with IPv6: ppp0 (metric 250) and usb0 (metric 300), each its own /64."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(PPP0_6, USB0_6)).start()
    try:
        b.wait_global6("ppp0")
        b.wait_global6("usb0")
        yield b
    finally:
        b.stop()


def test_failover_deprecates_the_old_prefix_and_advertises_the_new(board6x2: Board) -> None:
    b = board6x2
    b.up("--ipv6", "auto", uplink="ppp0,usb0")
    assert ipv6_status(b).startswith("relay: ppp0 has 2001:db8:64:1::/64")
    assert b.wait_global6("eth0", b.phone).startswith("2001:db8:64:1:")
    # the phone listens for unsolicited advertisements while ppp0 goes down on the board
    listener = subprocess.Popen(["ip", "netns", "exec", "hs-phone", sys.executable, "-m", "lab.ra", "--iface", "eth0",
                                 "--timeout", "6", "--no-solicit"],
                                env={**os.environ, "PYTHONPATH": str(TESTS)}, stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    b.board.ip("link", "set", "ppp0", "down")
    out, _err = listener.communicate(timeout=20)
    seen = [(p["prefix"], p["valid"], p["preferred"]) for ra in json.loads(out) for p in ra["prefixes"]]
    # the old one deprecated: preferred lifetime 0 (a valid lifetime below 2 h would be
    # ignored by the clients anyway, RFC 4862 5.5.3 e), so no new connection uses it
    assert any(p == "2001:db8:64:1::/64" and pref == 0 for p, _, pref in seen)
    assert any(p == "2001:db8:43:1::/64" and v > 0 for p, v, _ in seen)  # the new one
    assert ipv6_status(b).startswith("relay: usb0 has 2001:db8:43:1::/64")
    assert b.wait_global6("eth0", b.phone, timeout=10)
    assert wait_until(lambda: [a for a in b.global6("eth0", b.phone) if a.startswith("2001:db8:43:1:")], 10,
                      interval=0.2, what="an address in the new prefix")
    assert not [a for a in b.global6("eth0", b.phone) if a.startswith("2001:db8:64:1:")]   # deprecated


# -- NAT66: a ULA prefix on the AP, masqueraded -------------------------------------------------------

def test_nat66_gives_a_ula_prefix_and_the_server_sees_the_board(board6: Board) -> None:
    before = board6.ipv6_state()
    uplink_addr = board6.global6("ppp0")[0]
    board6.up("--ipv6", "nat66")
    assert ipv6_status(board6).startswith("nat66: the clients get fd")
    assert ipv6_status(board6).endswith(f"(ULA), masqueraded to ppp0's {uplink_addr}")
    [prefix] = {p["prefix"] for ra in ras(board6) for p in ra["prefixes"]}
    assert prefix.startswith("fd") and prefix.endswith("::/64")
    phone = board6.wait_global6("eth0", board6.phone)
    assert phone.startswith(prefix.split("::")[0])
    assert wait_until(lambda: fetch6(board6), 15, interval=0.5, what="the IPv6 page") == uplink_addr
    assert board6.ipv6_state()["proxies"] == []          # nothing to answer for on the uplink
    board6.hotshare("down", "lan0")
    assert board6.ipv6_state() == before


# -- the internet cannot open a connection to a relayed client; a crash is undone -------------------

def test_the_internet_cannot_open_a_connection_to_a_relayed_client(board6: Board) -> None:
    board6.up()
    phone = board6.wait_global6("eth0", board6.phone)
    board6.daemons.append(Daemon("phone-listener6", [*LISTENER6, "8080"],
                                 netns=board6.phone.name, log=board6.log("phone", "listener6"), ready_line="READY",
                                 env={**os.environ, "PYTHONPATH": str(TESTS)}))
    assert wait_until(lambda: fetch6(board6), 15, interval=0.5, what="the IPv6 page") == phone  # proxied now
    assert scan(board6, phone)["tcp"] == []
    # the sound test: without our forward chain the client's port is reachable from the internet
    board6.board.run(["nft", "flush", "chain", "inet", "hotshare_lan0", "forward"])
    assert 8080 in scan(board6, phone)["tcp"]


def test_a_crashed_relay_is_undone_by_down(board6: Board) -> None:
    before = board6.ipv6_state()
    board6.up()
    phone = board6.wait_global6("eth0", board6.phone)
    assert wait_until(lambda: fetch6(board6), 15, interval=0.5, what="the IPv6 page") == phone
    os.kill(board6.pid(), signal.SIGKILL)
    board6.hotshare("down", "lan0", check=False)
    assert board6.ipv6_state() == before


@pytest.mark.parametrize("mode", ["auto", "nat66"])
def test_a_phones_ipv6_download_is_counted_for_its_mac(board6: Board, tmp_path: Path, mode: str) -> None:
    conf = tmp_path / "hotshare.conf"
    conf.write_text(f"IPV6={mode}\n")
    board6.up("--config", str(conf))
    mac = str(board6.phone.ip_json("link", "show", "eth0")[0]["address"])
    wait_until(lambda: fetch6(board6), 25, interval=0.5, what="the IPv6 page")
    size = 3 << 20
    proc = board6.phone.run(["curl", "-6", "-s", "-g", "-o", "/dev/null", "--max-time", "20", "-w", "%{size_download}",
                             f"http://[{WEB6_ADDR}]/bytes/{size}"], timeout=30)
    assert int(proc.stdout) == size
    # counted for the phone's MAC (not an unknown-address entry), the live connection or its end
    totals = json.loads(board6.hotshare("usage", "lan0", "--json").stdout)
    phone = totals["clients"].get(mac)
    assert phone is not None, totals["clients"]
    assert size <= phone["session"]["rx_bytes"] < size * 1.1, phone
    assert any(":" in a for a in phone["addresses"]), phone


# -- DNS: an upstream server reachable over IPv6 only ----------------------------------------------

DNS6_GLOBAL = "2001:2:0:ff::53"     # behind the carrier's router (on the internet's lo)
DNS6_LINK = "fe80::53"              # the carrier's router itself, on the link (as RDNSS often gives it)


@pytest.mark.parametrize("how", ["global", "link-local", "from-links"])
def test_an_upstream_dns_server_over_ipv6_only_answers_the_clients_a_and_aaaa(board6: Board, tmp_path: Path,
                                                                             how: str) -> None:
    inet = board6.internets["ppp0"]
    inet.ip("-6", "addr", "add", f"{DNS6_GLOBAL}/128", "dev", "lo")
    inet.ip("-6", "addr", "add", f"{DNS6_LINK}/64", "dev", PPP0_6.peer_if, "nodad")
    log = board6.log("inet", "dns6")
    board6.daemons.append(Daemon("inet-dns6", [
        sys.executable, "-m", "lab.dnsserver", "--listen", DNS6_GLOBAL, "--listen", f"{DNS6_LINK}%{PPP0_6.peer_if}",
        "--log", str(log), f"--record={WEB_NAME}={WEB}", f"--record={WEB6_NAME}={WEB6_ADDR}"],
        netns=inet.name, log=board6.log("inet", "dns6.stderr"), env={**os.environ, "PYTHONPATH": str(TESTS)},
        ready_line="READY"))
    if how == "global":         # a server= line
        options = ["--dns-server", DNS6_GLOBAL]
    elif how == "link-local":   # tied to its uplink: the resolv-file, with the scope
        options = ["--dns-server", f"{DNS6_LINK}@ppp0"]
    else:                       # nothing configured: what the uplink's client (dhcpcd) wrote
        (tmp_path / "resolv.conf").write_text(f"# dhcpcd\nnameserver {DNS6_LINK}%ppp0\n")
        conf = tmp_path / "hotshare.conf"
        conf.write_text(f"LINK_DNS_FILES={tmp_path}/resolv.conf\nDNS_SERVERS_FILE=\n")
        options = ["--config", str(conf)]
    board6.hotshare("up", "--daemon", *options, "lan0", "ppp0")
    board6.dhcp()
    assert board6.resolve(WEB_NAME, "192.168.12.1") == [WEB]
    assert board6.resolve(WEB6_NAME, "192.168.12.1", qtype="AAAA") == [WEB6_ADDR]
    # asked over IPv6, by the board (its uplink's address, or its link-local one)
    askers = {line.split()[0] for line in log.read_text().splitlines() if line.strip()}
    assert askers and all(a.startswith("2001:db8:64:1:" if how == "global" else "fe80::") for a in askers)
