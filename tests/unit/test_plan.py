"""Planning: subnet choice, uplink choice, sysctls (pure, on made-up snapshots)."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from hotshare.config import ConfigError
from hotshare.plan.facts import Facts
from hotshare.plan.make import make_plan
from hotshare.plan.model import Link, Snapshot
from hotshare.plan.network import current_uplinks, dhcp_range, parse_servers_file
from lab.snapshots import SEED_000, cfg, plan_on, snap


def test_default_subnet_is_create_aps() -> None:
    p = plan_on(SEED_000)
    assert str(p.gateway) == "192.168.12.1/24"
    assert p.dhcp_range == (ipaddress.IPv4Address("192.168.12.10"), ipaddress.IPv4Address("192.168.12.254"))


def test_overlapping_uplink_address_moves_the_subnet() -> None:
    s = snap({"usb0": ["192.168.12.7/24"], "eth0": ["192.168.13.1/24"]}, [("192.168.12.0/24", "usb0", 0)])
    p = plan_on(s)
    assert str(p.subnet) == "192.168.14.0/24"


def test_a_covering_route_also_counts_as_taken() -> None:
    s = snap({"usb0": ["10.1.0.2/24"]}, [("192.168.0.0/16", "usb0", 100)])
    p = plan_on(s)
    assert not p.subnet.overlaps(ipaddress.IPv4Network("192.168.0.0/16"))
    assert str(p.subnet).startswith("10.")


def test_leftovers_on_the_ap_interface_itself_do_not_count() -> None:
    # dhcpcd's IPv4LL address on wlan0 (seed 000) and our own old address.
    s = snap({"wlan0": ["169.254.253.182/16", "192.168.12.1/24"]}, [("169.254.0.0/16", "wlan0", 200)])
    assert str(plan_on(s).subnet) == "192.168.12.0/24"


def test_configured_gateway_that_collides_is_refused_naming_the_interface() -> None:
    s = snap({"usb0": ["192.168.12.7/24"]})
    with pytest.raises(ConfigError, match=r"^GATEWAY: 192.168.12.0/24 overlaps the address 192.168.12.7/24 on usb0"):
        plan_on(s, GATEWAY="192.168.12.1")
    s2 = snap({}, [("10.0.0.0/8", "eth0", 0)])
    with pytest.raises(ConfigError, match=r"overlaps the route 10.0.0.0/8 dev eth0"):
        plan_on(s2, GATEWAY="10.0.0.1")


def test_gateway_inside_the_pool_is_kept_out_of_it() -> None:
    lo, hi = dhcp_range(ipaddress.IPv4Interface("10.0.0.100/24"))
    assert not lo <= ipaddress.IPv4Address("10.0.0.100") <= hi
    lo, hi = dhcp_range(ipaddress.IPv4Interface("10.0.0.200/24"))
    assert (str(lo), str(hi)) == ("10.0.0.10", "10.0.0.199")


def test_auto_uplinks_follow_default_routes_best_first() -> None:
    p = plan_on(SEED_000)
    assert p.uplinks == ("ppp0", "usb0") and p.best_uplink == "ppp0"


def test_explicit_uplinks_pick_the_best_that_is_up() -> None:
    s = snap({"usb0": ["192.168.43.100/24"]}, [("0.0.0.0/0", "usb0", 300), ("0.0.0.0/0", "ppp0", 250)],
             down=("ppp0",))
    p = plan_on(s, INTERNET_IFACE="ppp0,usb0")
    assert p.uplinks == ("ppp0", "usb0") and p.best_uplink == "usb0"


def test_forwarding_is_enabled_per_interface_not_globally() -> None:
    p = plan_on(SEED_000, IPV6="off")
    assert p.sysctls == {"net/ipv4/conf/wlan0/forwarding": "1", "net/ipv4/conf/ppp0/forwarding": "1",
                         "net/ipv4/conf/usb0/forwarding": "1", "net/netfilter/nf_conntrack_acct": "1"}
    assert not any("ip_forward" in k for k in p.sysctls)


def test_ipv6_forwarding_keeps_the_uplinks_taking_router_advertisements() -> None:
    # IPv6 has no per-interface forwarding switch before Linux 6.17: all/forwarding,
    # and accept_ra=2 on the uplinks (and for links that appear later) set before it
    names = list(plan_on(SEED_000).sysctls)
    ipv6 = [n for n in names if n.startswith("net/ipv6/")]
    assert ipv6 == ["net/ipv6/conf/default/accept_ra", "net/ipv6/conf/ppp0/accept_ra",
                    "net/ipv6/conf/usb0/accept_ra", "net/ipv6/conf/wlan0/accept_ra", "net/ipv6/conf/all/forwarding"]
    assert plan_on(SEED_000).sysctls["net/ipv6/conf/wlan0/accept_ra"] == "0"


def test_missing_interfaces_are_reported() -> None:
    with pytest.raises(ConfigError, match="^WIFI_IFACE: there is no interface wlan9"):
        plan_on(SEED_000, WIFI_IFACE="wlan9")
    with pytest.raises(ConfigError, match="^INTERNET_IFACE: there is no interface eth7"):
        plan_on(SEED_000, INTERNET_IFACE="eth7")
    # a ppp link exists only while the modem is connected: planned anyway
    assert plan_on(SEED_000, INTERNET_IFACE="ppp1").uplinks == ("ppp1",)


def test_servers_file_takes_only_valid_server_lines() -> None:
    text = "server=223.5.5.5\nserver=223.6.6.6\nno-resolv\ninterface=ppp0\nserver=/corp/10.0.0.1\nserver=bad\n"
    assert [str(s) for s in parse_servers_file(text)] == ["223.5.5.5", "223.6.6.6"]


def test_bridge_mode_refuses_a_wifi_client_uplink_and_says_why() -> None:
    s = snap({"wlan1": ["192.168.1.20/24"]})
    facts = Facts(snapshot=s, wireless=True, wifi_uplinks={"wlan1": ("managed", False)})
    with pytest.raises(ConfigError, match=r"^SHARE_METHOD: bridge mode cannot include wlan1: the kernel refuses "
                                          r"to bridge a Wi-Fi client interface .*; use SHARE_METHOD=nat, or "
                                          r"`iw dev wlan1 set 4addr on`"):
        make_plan(cfg(SHARE_METHOD="bridge", INTERNET_IFACE="wlan1"), facts)
    four_addr = Facts(snapshot=s, wireless=True, wifi_uplinks={"wlan1": ("managed", True)})
    p = make_plan(cfg(SHARE_METHOD="bridge", INTERNET_IFACE="wlan1"), four_addr)
    assert p.bridge == "hs-wlan0" and not p.runs_dnsmasq and p.sysctls == {}


def _snapshot_with_order(order: tuple[str, ...], routes: list[tuple[str, int]]) -> Snapshot:
    """Links created in ``order`` (ifindex 1, 2...), default routes listed in the order given."""
    return snap(routes=[("0.0.0.0/0", dev, metric) for dev, metric in routes], links=order)


@pytest.mark.parametrize("internet_iface", ["auto", "usb0,ppp0", "ppp0,usb0"])
def test_the_uplink_is_chosen_by_metric_not_by_interface_index_or_listing_order(internet_iface: str) -> None:
    # usb0 was plugged in first (lower ifindex) and the kernel lists its route
    # first; ppp0 came later but has the better metric: ppp0 carries the traffic.
    s = _snapshot_with_order(("lo", "wlan0", "usb0", "eth0", "ppp0"), [("usb0", 300), ("ppp0", 250)])
    assert s.link("usb0").index < s.link("ppp0").index  # type: ignore[union-attr]
    assert [r.ifname for r in s.default_routes()] == ["ppp0", "usb0"]
    c = cfg(INTERNET_IFACE=internet_iface)
    uplinks, best = current_uplinks(c, s)
    assert best == "ppp0"
    if internet_iface == "auto":
        assert uplinks == ("ppp0", "usb0")  # best first
    else:
        assert uplinks == tuple(internet_iface.split(","))
    assert plan_on(s, INTERNET_IFACE=internet_iface).best_uplink == "ppp0"


def test_when_the_better_metric_uplink_goes_down_the_other_one_is_chosen() -> None:
    s = _snapshot_with_order(("lo", "wlan0", "usb0", "ppp0"), [("usb0", 300), ("ppp0", 250)])
    links = tuple(Link(lk.index, lk.name, 0 if lk.name == "ppp0" else lk.flags, lk.operstate) for lk in s.links)
    down = Snapshot(links, s.addresses, s.routes)
    assert current_uplinks(cfg(), down) == (("usb0",), "usb0")
    assert current_uplinks(cfg(INTERNET_IFACE="ppp0,usb0"), down) == (("ppp0", "usb0"), "usb0")


def test_a_list_of_uplinks_may_name_some_that_are_not_there_yet() -> None:
    """The board's default, INTERNET_IFACE=ppp0,usb0,wwan0, on a board without
    USB tethering or a QMI module: planned, and followed as they appear."""
    no_usb = dataclasses.replace(SEED_000, links=tuple(lk for lk in SEED_000.links if lk.name != "usb0"))
    p = plan_on(no_usb, INTERNET_IFACE="ppp0,usb0,wwan0")
    assert p.uplinks == ("ppp0", "usb0", "wwan0")
    plan_on(no_usb, INTERNET_IFACE="wwan0")   # alone, but a kind that comes and goes
