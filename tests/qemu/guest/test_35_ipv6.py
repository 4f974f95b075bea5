"""IPv6 over Wi-Fi: the carrier advertises a /64 on the board's ppp0
(lab/ra.py's Advertiser in ``inet``), an IPv6-only web server behind it.
One isolated hotspot relays the prefix to two phones (wpa_supplicant on
hwsim radios, SLAAC in their kernels); then NAT66 on a second start.
Everything the internet side runs is a thread of this process (each
Python or dnsmasq start costs seconds under TCG)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from hotshare.plan.ipv6 import AP_IID
from lab import ra, scan6
from lab.dnsquery import query
from lab.dnswire import TYPE_AAAA
from lab.hotspot import Hotspot, HotspotManager
from lab.httpserver import WebServer
from lab.ipv6 import global6, ipv6_state, wait_global6
from lab.netns import ROOT
from lab.phone import Phone
from lab.proc import wait_until
from lab.radios import Hwsim, RadioBackend
from lab.topology import WEB6_ADDR, WEB6_NAME, Internet

PREFIX = "2001:db8:64:1::/64"
SSID, PASSPHRASE = "hotshare-v6", "ipv6 passphrase"
BOARD_PORT = 2222       # a service of the board on every IPv6 address (lab/scan6.py's Listener)


class Carrier6:
    """The uplink's IPv6 and what the test compares against."""

    def __init__(self, internet: Internet) -> None:
        self.internet = internet
        self.board_addr = ""
        self.before: dict[str, list[str]] = {}
        self.scan_before: dict[str, list[int]] = {}


def sysctl_names(ap: str, uplink: str) -> list[str]:
    return [*(f"net.ipv6.conf.{n}.{k}" for n in ("all", "default", ap, uplink)
              for k in ("forwarding", "accept_ra", "proxy_ndp")), f"net.ipv6.neigh.{uplink}.proxy_delay"]


@pytest.fixture(scope="module")
def carrier6(internet: Internet, hotspots: HotspotManager) -> Iterator[Carrier6]:
    hotspots.down()
    ns, isp = internet.ns, internet.spec.peer_if
    # a router, so its neighbour advertisements say so (lab/topology.py's _start_ipv6)
    ns.sysctl_write("net.ipv6.conf.all.forwarding", "1")
    ns.ip("-6", "addr", "add", f"{PREFIX.split('/')[0]}1/64", "dev", isp, "nodad")
    ns.ip("-6", "addr", "add", f"{WEB6_ADDR}/128", "dev", "lo")
    assert internet.dns is not None
    internet.dns.zone.records[WEB6_NAME] = WEB6_ADDR
    web6 = WebServer(WEB6_ADDR, internet.http_log, ns)
    advertiser = ra.Advertiser(ns, isp, PREFIX)
    listener = scan6.Listener(BOARD_PORT)
    carrier = Carrier6(internet)
    try:
        carrier.board_addr = wait_global6(ROOT, internet.uplink, timeout=30)
        with ns.entered():
            carrier.scan_before = scan6.scan(carrier.board_addr)
        carrier.before = ipv6_state(ROOT, sysctl_names(hotspots.iface, internet.uplink))
        yield carrier
    finally:
        listener.stop()
        advertiser.stop()
        web6.stop()
        del internet.dns.zone.records[WEB6_NAME]
        ns.ip("-6", "addr", "del", f"{WEB6_ADDR}/128", "dev", "lo", check=False)
        ns.ip("-6", "addr", "flush", "dev", isp, "scope", "global", check=False)
        ROOT.ip("-6", "addr", "flush", "dev", internet.uplink, "scope", "global", check=False)
        ROOT.ip("-6", "route", "flush", "dev", internet.uplink, "proto", "ra", check=False)
        ns.sysctl_write("net.ipv6.conf.all.forwarding", "0")


def forget_ipv6(phone: Phone) -> None:
    """The phone's SLAAC address and routes go with the test (the next hotspot has none)."""
    phone.disconnect()
    phone.ns.ip("-6", "addr", "flush", "dev", phone.iface, "scope", "global", check=False)
    phone.ns.ip("-6", "route", "flush", "dev", phone.iface, "proto", "ra", check=False)


@pytest.fixture(scope="module")
def relay(carrier6: Carrier6, hotspots: HotspotManager, phone1: Phone, phone2: Phone) -> Iterator[Hotspot]:
    hotspot = hotspots.up(ssid=SSID, passphrase=PASSPHRASE, isolate_clients=True)
    try:
        for phone in (phone1, phone2):
            phone.connect(SSID, PASSPHRASE, timeout=60)
        phone1.dhcp()           # its resolv.conf: the hotspot's dnsmasq
        yield hotspot
    finally:
        for phone in (phone1, phone2):
            forget_ipv6(phone)
        hotspots.down()


@pytest.fixture
def ipv6_data_path(radio_backend: RadioBackend) -> None:
    """Seen in the vwifi lab: the phone takes the prefix from the router
    advertisement and reaches the AP's link-local address, but no unicast to
    or from a global address gets through over vwifi's radios (the IPv6
    page, a ping of the AP's global address, NAT66's ULA): these tests need
    mac80211_hwsim until that is understood."""
    if not isinstance(radio_backend, Hwsim):
        pytest.skip(f"IPv6 beyond link-local does not pass over {radio_backend.name}'s radios (seen, not explained)")


def fetch6(phone: Phone, url: str = f"http://{WEB6_NAME}/") -> str | None:
    proc = phone.ns.run(["curl", "-6", "-sS", "-g", "--noproxy", "*", "--max-time", "5", url],
                        check=False, timeout=20)
    return proc.stdout.strip() if proc.returncode == 0 else None


def ping6(phone: Phone, address: str, timeout: int = 3) -> bool:
    proc = phone.ns.run(["busybox", "ping", "-6", "-q", "-c", "1", "-w", str(timeout), address],
                        check=False, timeout=timeout + 15)
    return proc.returncode == 0


def test_a_wifi_phone_gets_the_relayed_prefix_resolves_aaaa_and_fetches_over_ipv6(
    relay: Hotspot, carrier6: Carrier6, phone1: Phone, ipv6_data_path: None
) -> None:
    assert relay.status()["ipv6"].startswith(f"relay: ppp0 has {PREFIX}")
    address = wait_global6(phone1.ns, phone1.iface, timeout=30)
    assert address.startswith(PREFIX.split("::")[0] + ":")
    with phone1.ns.entered():
        adverts = ra.collect(phone1.iface, 3.0)     # the answer to its solicitation, maybe a periodic one
    assert adverts and all(a["rdnss"] == [a["source"]] for a in adverts)     # DNS: the AP itself
    advert = adverts[0]
    with phone1.ns.entered():
        reply = query(f"{advert['rdnss'][0]}%{phone1.iface}", WEB6_NAME, TYPE_AAAA, 5.0)
    assert reply.addresses() == [WEB6_ADDR]
    # by name, through the phone's resolv.conf (the hotspot's dnsmasq), over IPv6, no NAT:
    # the server sees the phone's own address
    assert wait_until(lambda: fetch6(phone1), 20, interval=0.5, what="the IPv6 page") == address
    assert f"{address} dev ppp0 proxy" in ipv6_state(ROOT, [])["proxies"]


def test_a_scan_over_ipv6_from_the_uplink_finds_nothing_open_on_the_board(
    relay: Hotspot, carrier6: Carrier6, phone1: Phone
) -> None:
    # before hotshare, the board's service answered over IPv6 (TCP and UDP): the scan can see it
    assert carrier6.scan_before == {"tcp": [BOARD_PORT], "udp": [BOARD_PORT]}
    with carrier6.internet.ns.entered():
        assert scan6.scan(carrier6.board_addr) == {"tcp": [], "udp": []}


def test_isolated_wifi_phones_cannot_reach_each_other_over_ipv6(
    relay: Hotspot, carrier6: Carrier6, phone1: Phone, phone2: Phone, ipv6_data_path: None
) -> None:
    one = wait_global6(phone1.ns, phone1.iface, timeout=30)
    two = wait_global6(phone2.ns, phone2.iface, timeout=30)
    # both are fine otherwise: each reaches the AP and the IPv6 internet
    ap = str(ipaddress.IPv6Network(PREFIX).network_address + AP_IID)
    assert ping6(phone1, ap) and ping6(phone2, ap)
    assert wait_until(lambda: fetch6(phone2, f"http://[{WEB6_ADDR}]/"), 20, interval=0.5,
                      what="phone2's IPv6 page") == two
    assert not ping6(phone1, two)
    assert not ping6(phone2, one)


def test_down_leaves_the_ipv6_state_as_before(relay: Hotspot, carrier6: Carrier6, hotspots: HotspotManager) -> None:
    hotspots.down()
    assert ipv6_state(ROOT, sysctl_names(hotspots.iface, carrier6.internet.uplink)) == carrier6.before


def test_nat66_the_server_sees_the_boards_address(carrier6: Carrier6, hotspots: HotspotManager,
                                                  phone1: Phone, ipv6_data_path: None
) -> None:
    forget_ipv6(phone1)     # its address in the relayed prefix
    hotspot = hotspots.up(ssid=SSID, passphrase=PASSPHRASE, extra=["--ipv6", "nat66"])
    try:
        assert hotspot.status()["ipv6"].startswith("nat66: the clients get fd")
        phone1.connect(SSID, PASSPHRASE, timeout=60)
        [address] = wait_until(lambda: global6(phone1.ns, phone1.iface), 30, interval=0.2, what="a ULA address")
        assert address.startswith("fd")
        assert wait_until(lambda: fetch6(phone1, f"http://[{WEB6_ADDR}]/"), 20, interval=0.5,
                          what="the IPv6 page") == carrier6.board_addr
        assert ipv6_state(ROOT, [])["proxies"] == []
    finally:
        forget_ipv6(phone1)
        hotspots.down()
    assert ipv6_state(ROOT, sysctl_names(hotspots.iface, carrier6.internet.uplink)) == carrier6.before
