"""The 4G uplink as it behaves in the field (pure parts): MSS clamping, the
uplink's MTU to clients, DNS that follows the uplink, wwan0, CGNAT."""

from __future__ import annotations

import dataclasses
import ipaddress
import struct

import pytest

from hotshare.config import ConfigError, from_mapping
from hotshare.netlink import rtnl
from hotshare.netlink.uapi import IFINFOMSG, IFLA_IFNAME, IFLA_MTU
from hotshare.plan.dnsmasq import dnsmasq_conf
from hotshare.plan.facts import Facts
from hotshare.plan.make import make_plan
from hotshare.plan.model import Link, Snapshot
from hotshare.plan.network import choose_gateway, collisions, current_uplinks
from hotshare.plan.ruleset import nft_ruleset
from hotshare.plan.uplink_dns import Server, parse_resolv, resolv_file_text, servers_for
from lab.snapshots import SEED_000, UP, cfg, plan_on, snap

IP = ipaddress.IPv4Address
IP6 = ipaddress.IPv6Address


def with_mtu(s: Snapshot, name: str, mtu: int) -> Snapshot:
    return dataclasses.replace(s, links=tuple(dataclasses.replace(lk, mtu=mtu) if lk.name == name else lk
                                              for lk in s.links))


def test_rtnl_reads_the_link_mtu() -> None:
    def attr(kind: int, data: bytes) -> bytes:
        n = 4 + len(data)
        return struct.pack("=HH", n, kind) + data + b"\0" * (-n % 4)
    body = IFINFOMSG.pack(0, 0, 7, UP, 0) + attr(IFLA_IFNAME, b"ppp0\0") + attr(IFLA_MTU, struct.pack("=I", 1400))
    link = rtnl.parse_link(body, 0, len(body))
    assert (link.index, link.name, link.mtu) == (7, "ppp0", 1400)


def test_the_table_clamps_the_mss_to_the_route_mtu_both_ways() -> None:
    rs = nft_ruleset(plan_on(SEED_000))
    chain = rs.split("chain mtu_fix {", 1)[1].split("}", 1)[0]
    assert "type filter hook forward priority mangle; policy accept;" in chain
    assert 'iifname "wlan0" oifname @uplinks tcp flags syn tcp option maxseg size set rt mtu' in chain
    assert 'iifname @uplinks oifname "wlan0" tcp flags syn tcp option maxseg size set rt mtu' in chain
    # the table reloaded for other uplinks keeps it: it names the set, not the links
    assert "chain mtu_fix {" in nft_ruleset(plan_on(SEED_000), uplinks=("wwan0",))


def test_dhcp_offers_the_uplink_mtu_only_below_1500() -> None:
    assert "dhcp-option=option:mtu,1400" in dnsmasq_conf(plan_on(with_mtu(SEED_000, "ppp0", 1400))).splitlines()
    assert not any("option:mtu" in ln for ln in dnsmasq_conf(plan_on(with_mtu(SEED_000, "ppp0", 1500))).splitlines())
    # the uplink in use decides: usb0's MTU does not matter while ppp0 routes
    assert not any("option:mtu" in ln for ln in dnsmasq_conf(plan_on(with_mtu(SEED_000, "usb0", 1280))).splitlines())


def test_resolv_files_tie_servers_to_uplinks() -> None:
    text = ("# Generated\nnameserver 192.168.43.1 # usb0\nnameserver 8.8.8.8\nnameserver fe80::1%usb0\n"
            "search lan # usb0\nnameserver 0.0.0.0\n")
    assert parse_resolv(text) == (Server(IP("192.168.43.1"), "usb0"), Server(IP("8.8.8.8")),
                                  Server(IP6("fe80::1"), "usb0"))
    assert parse_resolv("nameserver 10.64.0.1\nnameserver 10.64.0.9\n", "ppp0") == (
        Server(IP("10.64.0.1"), "ppp0"), Server(IP("10.64.0.9"), "ppp0"))


def test_ipv6_servers_in_resolv_files_a_link_local_one_only_with_its_interface() -> None:
    text = ("nameserver 2001:4860:4860::8888\n"        # global: reached through any uplink
            "nameserver fe80::1%ppp0\n"                # dhcpcd's way: the scope ties it
            "nameserver fe80::2\n"                     # link-local, no interface: nowhere to send it
            "nameserver fe80::3%bad/name\n"            # a scope that is no interface name
            "nameserver fe80::4%ppp0;reboot\n"
            "nameserver 2001:db8::1%ppp0\n"            # a scope on a global address
            "nameserver ff02::1\nnameserver ::\n")
    assert parse_resolv(text) == (Server(IP6("2001:4860:4860::8888")), Server(IP6("fe80::1"), "ppp0"))
    # in a file tied to an uplink a bare link-local server is on that uplink
    assert parse_resolv("nameserver fe80::2\n", "ppp0") == (Server(IP6("fe80::2"), "ppp0"),)
    servers = (Server(IP6("fe80::1"), "ppp0"), Server(IP6("2001:4860:4860::8888")), Server(IP6("fe80::9"), "usb0"))
    text = resolv_file_text("ppp0", servers)
    # dnsmasq takes the scope (%ppp0) as the server's interface
    assert [ln for ln in text.splitlines() if not ln.startswith("#")] == ["nameserver fe80::1%ppp0 # ppp0",
                                                                          "nameserver 2001:4860:4860::8888"]
    assert parse_resolv(text) == servers_for("ppp0", servers)
    assert [s.line() for s in servers] == ["fe80::1%ppp0", "2001:4860:4860::8888", "fe80::9%usb0"]


def test_upstream_dns_takes_ipv6_servers_a_link_local_one_with_its_uplink() -> None:
    c = cfg(UPSTREAM_DNS="2001:4860:4860::8888,fe80::1@ppp0,fe80::2%usb0")
    assert c.upstream_dns == (IP6("2001:4860:4860::8888"),)
    assert c.uplink_dns == ((IP6("fe80::1"), "ppp0"), (IP6("fe80::2"), "usb0"))
    servers = next(f.text for f in make_plan(c, Facts(snapshot=SEED_000, wireless=True)).files
                   if f.path.endswith("wlan0.resolv"))
    assert "nameserver fe80::1%ppp0 # ppp0\nnameserver 2001:4860:4860::8888\n" in servers
    # a global one alone: the static way, a server= line
    p = make_plan(cfg(UPSTREAM_DNS="2001:4860:4860::8888"), Facts(snapshot=SEED_000, wireless=True))
    assert "server=2001:4860:4860::8888" in dnsmasq_conf(p).splitlines()
    for bad, what in (("fe80::1", "link-local"), ("fe80::1%bad name", "interface"), ("fe80::1@x;y", "interface"),
                      ("::", "DNS server"), ("ff02::1", "DNS server"), ("2001:db8::1%ppp0%x", "interface"),
                      ("fe80::1@ppp0@usb0", "interface"), ("10.0.0.1%ppp0", "DNS server")):
        with pytest.raises(ConfigError, match="UPSTREAM_DNS") as e:
            cfg(UPSTREAM_DNS=bad)
        assert what in str(e.value), (bad, str(e.value))


def test_the_servers_of_the_uplink_in_use_and_the_free_ones() -> None:
    servers = (Server(IP("10.64.0.1"), "ppp0"), Server(IP("192.168.43.1"), "usb0"), Server(IP("9.9.9.9")),
               Server(IP("10.64.0.1")))   # also in /etc/resolv.conf untied: tied wins
    assert servers_for("ppp0", servers) == (Server(IP("10.64.0.1"), "ppp0"), Server(IP("9.9.9.9")))
    assert servers_for("usb0", servers) == (Server(IP("192.168.43.1"), "usb0"), Server(IP("9.9.9.9")))
    assert servers_for(None, servers) == (Server(IP("9.9.9.9")),)
    text = resolv_file_text("usb0", servers)
    assert [ln for ln in text.splitlines() if not ln.startswith("#")] == ["nameserver 192.168.43.1 # usb0",
                                                                          "nameserver 9.9.9.9"]
    assert parse_resolv(text) == servers_for("usb0", servers)      # what it writes reads back


def test_upstream_dns_with_interfaces_makes_dnsmasq_follow() -> None:
    c = cfg(UPSTREAM_DNS="10.64.0.1@ppp0,192.168.43.1@usb0,9.9.9.9")
    assert c.upstream_dns == (IP("9.9.9.9"),)
    assert c.uplink_dns == ((IP("10.64.0.1"), "ppp0"), (IP("192.168.43.1"), "usb0"))
    p = make_plan(c, Facts(snapshot=SEED_000, wireless=True))
    lines = dnsmasq_conf(p).splitlines()
    assert "resolv-file=/run/hotshare/wlan0.resolv" in lines and "no-resolv" not in lines
    assert not any(ln.startswith("server=") for ln in lines)
    servers = next(f.text for f in p.files if f.path.endswith("wlan0.resolv"))
    assert "nameserver 10.64.0.1 # ppp0\nnameserver 9.9.9.9\n" in servers and "usb0" not in servers
    with pytest.raises(ConfigError, match="UPSTREAM_DNS"):
        cfg(UPSTREAM_DNS="10.64.0.1@ppp0", INTERNET_IFACE="usb0")
    with pytest.raises(ConfigError, match="UPSTREAM_DNS"):
        cfg(UPSTREAM_DNS="10.64.0.1@bad/name")


def test_with_nothing_configured_the_links_servers_are_used() -> None:
    link_dns = (Server(IP("10.64.0.1"), "ppp0"), Server(IP("192.168.43.1"), "usb0"))
    p = make_plan(cfg(), Facts(snapshot=SEED_000, wireless=True, link_dns=link_dns))
    assert p.dns_follows and p.dns_from_links
    servers = next(f.text for f in p.files if f.path.endswith("wlan0.resolv"))
    assert "nameserver 10.64.0.1 # ppp0" in servers and "192.168.43.1" not in servers
    # configured plain servers keep the old static way
    p = make_plan(cfg(UPSTREAM_DNS="223.5.5.5"), Facts(snapshot=SEED_000, wireless=True, link_dns=link_dns))
    assert not p.dns_follows and "server=223.5.5.5" in dnsmasq_conf(p).splitlines()
    assert cfg(LINK_DNS_FILES="/run/ppp/resolv.conf@ppp1,/etc/resolv.conf").link_dns_files == (
        ("/run/ppp/resolv.conf", "ppp1"), ("/etc/resolv.conf", ""))
    with pytest.raises(ConfigError, match="LINK_DNS_FILES"):
        cfg(LINK_DNS_FILES="resolv.conf")


def test_wwan0_is_an_uplink_and_may_be_missing_at_start() -> None:
    s = snap({"wwan0": ["100.71.3.9/30"]}, [("0.0.0.0/0", "wwan0", 100)])
    assert current_uplinks(cfg(), s) == (("wwan0",), "wwan0")          # auto
    no_wwan = dataclasses.replace(SEED_000, links=tuple(lk for lk in SEED_000.links if lk.name != "wwan0"))
    p = plan_on(no_wwan, INTERNET_IFACE="ppp0,wwan0,usb0")            # the board's default
    assert p.uplinks == ("ppp0", "wwan0", "usb0") and p.best_uplink == "ppp0"
    with pytest.raises(ConfigError, match="there is no interface eth9"):
        plan_on(SEED_000, INTERNET_IFACE="ppp0,eth9")


def test_a_cgnat_uplink_address_is_no_collision() -> None:
    s = snap({"ppp0": ["100.64.0.2/10"], "wwan0": ["100.127.1.2/30"]},
             [("0.0.0.0/0", "ppp0", 250), ("100.64.0.0/10", "ppp0", 0)])
    for net in [ipaddress.IPv4Network(f"192.168.{x}.0/24") for x in range(256)] + [
            ipaddress.IPv4Network(f"10.{x}.0.0/24") for x in range(256)]:
        assert not collisions(net, s, "wlan0")
    assert str(choose_gateway(cfg(), s)) == "192.168.12.1/24"
    assert plan_on(s).best_uplink == "ppp0"


def test_the_board_default_lists_wwan0() -> None:
    from pathlib import Path
    conf = Path(__file__).resolve().parents[2] / "board/t113/rootfs_overlay/etc/hotshare/hotshare.conf"
    line = next(ln for ln in conf.read_text().splitlines() if ln.startswith("INTERNET_IFACE="))
    assert "wwan0" in line.split("=", 1)[1].split(",")
    assert from_mapping({"WIFI_IFACE": "wlan0", "INTERNET_IFACE": line.split("=", 1)[1]}).uplinks[0] == "ppp0"


def test_link_default_mtu_is_unknown() -> None:
    assert Link(1, "x", UP, 6).mtu == 0 and Snapshot((), (), ()).mtu_of("ppp0") == 0


# -- doctor ------------------------------------------------------------------------

def doctor_ctx(s: Snapshot, running: bool, ruleset: list | None = None):  # type: ignore[no-untyped-def,type-arg]
    from hotshare.doctor import Context
    return Context(iface="wlan0", cfg=cfg(), snap=s, status={"running": running}, ruleset=ruleset)


CLAMP_RULE = {"rule": {"family": "inet", "table": "hotshare_wlan0", "chain": "mtu_fix",
                       "expr": [{"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}},
                                            "value": {"rt": {"key": "mtu"}}}}]}}


def test_doctor_names_a_pmtu_black_hole_when_the_clamp_is_missing() -> None:
    from hotshare.doctor import check_uplink_path
    low = with_mtu(SEED_000, "ppp0", 1400)
    [f] = check_uplink_path(doctor_ctx(low, running=True, ruleset=[]))
    assert not f.ok and "not clamped" in f.title and "1400" in f.title
    [f] = check_uplink_path(doctor_ctx(low, running=True, ruleset=[CLAMP_RULE]))
    assert f.ok and "clamped" in f.title
    [f] = check_uplink_path(doctor_ctx(low, running=False))
    assert f.ok and "hotshare clamps" in f.title
    [f] = check_uplink_path(doctor_ctx(with_mtu(SEED_000, "ppp0", 1500), running=True, ruleset=[]))
    assert f.ok and "no carrier-grade NAT" in f.title


def test_doctor_mentions_cgnat() -> None:
    from hotshare.doctor import check_uplink_path
    s = with_mtu(snap({"ppp0": ["100.70.1.2/32"]}, [("0.0.0.0/0", "ppp0", 250)]), "ppp0", 1500)
    [f] = check_uplink_path(doctor_ctx(s, running=True, ruleset=[]))
    assert f.ok and "carrier-grade NAT" in f.title and "cannot reach" in f.title
