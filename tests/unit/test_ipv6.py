"""IPv6 for the clients: the mode decided from the uplink, the key, the firewall rules."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

from hotshare.config import ConfigError
from hotshare.plan.ipv6 import dhcpcd_conf, ipv6_mode, ula_prefix
from hotshare.plan.model import Address6, Snapshot
from hotshare.plan.ruleset import nft_ruleset
from lab.snapshots import SEED_000, cfg, plan_on


def with6(s: Snapshot, ifname: str, *cidrs: str, usable: bool = True) -> Snapshot:
    link = s.link(ifname)
    assert link is not None
    extra = tuple(Address6(link.index, ifname, ipaddress.IPv6Interface(c), usable) for c in cidrs)
    return dataclasses.replace(s, addresses6=s.addresses6 + extra)


LTE = with6(SEED_000, "ppp0", "fe80::1/64", "2001:db8:7:1::5/64")


def test_a_slash_64_on_the_uplink_is_relayed() -> None:
    m = plan_on(LTE).ipv6
    assert (m.mode, str(m.prefix), m.uplink) == ("relay", "2001:db8:7:1::/64", "ppp0")
    assert str(m.ap_address) == "2001:db8:7:1:0:6873:6861:7265/64"


@pytest.mark.parametrize(("s", "why"), [
    (SEED_000, "ppp0 has no global IPv6 address"),
    (with6(SEED_000, "ppp0", "fe80::1/64"), "ppp0 has no global IPv6 address"),
    (with6(SEED_000, "ppp0", "2001:db8::5/128"), "ppp0 has only 2001:db8::5/128: no /64 to hand out"),
    (with6(SEED_000, "ppp0", "2001:db8:7:1::5/64", usable=False), "ppp0 has no global IPv6 address"),
])
def test_no_ipv6_or_a_slash_128_gives_the_clients_none(s: Snapshot, why: str) -> None:
    m = plan_on(s).ipv6
    assert m.mode == "none" and m.reason.startswith(why) and m.ap_address is None


def test_ipv6_off_and_the_key_checked() -> None:
    assert plan_on(LTE, IPV6="off").ipv6.mode == "off"
    assert not any(k.startswith("net/ipv6/") for k in plan_on(LTE, IPV6="off").sysctls)
    with pytest.raises(ConfigError, match=r"^IPV6: 'yes' is not supported.*use one of auto, off, nat66"):
        cfg(IPV6="yes")


def test_the_ruleset_forwards_ipv6_out_and_only_replies_and_rfc4890_errors_in() -> None:
    text = nft_ruleset(plan_on(LTE))
    assert 'iifname "wlan0" oifname @uplinks ip6 saddr != { fe80::/10, ::/128 } accept' in text
    assert 'icmpv6 type packet-too-big iifname @uplinks oifname "wlan0" accept' in text
    assert "iifname @uplinks meta nfproto ipv6 drop" in text          # the board: nothing open
    off = nft_ruleset(plan_on(LTE, IPV6="off"))
    assert "ip6 saddr !=" not in off and "packet-too-big iifname @uplinks" not in off
    assert "iifname @uplinks meta nfproto ipv6 drop" in off           # the board stays closed either way


def test_dnsmasq_advertises_only_what_the_ap_has_an_address_in() -> None:
    from hotshare.plan.dnsmasq import dnsmasq_conf
    lines = dnsmasq_conf(plan_on(LTE)).splitlines()
    assert "enable-ra" in lines and "dhcp-range=::,constructor:wlan0,ra-only,off-link,64,1h" in lines
    assert "dhcp-range=::,constructor:wlan0,ra-only,64,1h" in dnsmasq_conf(plan_on(LTE, IPV6="nat66")).splitlines()
    off = dnsmasq_conf(plan_on(LTE, IPV6="off")).splitlines()
    assert "enable-ra" not in off and not [ln for ln in off if ln.startswith(("dhcp-range=::", "ra-param"))]


def test_nat66_takes_a_stable_ula_prefix_and_masquerades_it() -> None:
    from hotshare.plan.ipv6 import ula_prefix
    m = plan_on(LTE, IPV6="nat66").ipv6
    assert m.mode == "nat66" and m.prefix == ula_prefix("wlan0")
    assert m.prefix is not None and m.prefix.subnet_of(ipaddress.IPv6Network("fd00::/8"))
    assert ula_prefix("wlan0") == ula_prefix("wlan0") != ula_prefix("wlan1")
    assert m.reason.endswith("masqueraded to ppp0's 2001:db8:7:1::5")
    assert f"oifname @uplinks ip6 saddr {m.prefix} masquerade" in nft_ruleset(plan_on(LTE, IPV6="nat66"))
    assert "ip6 saddr fd" not in nft_ruleset(plan_on(LTE))
    assert plan_on(SEED_000, IPV6="nat66").ipv6.mode == "none"        # nothing to masquerade to


def test_doctor_says_which_ipv6_mode_applies_and_why() -> None:
    from hotshare.doctor import Context, check_ipv6
    [f] = check_ipv6(Context(iface="wlan0", cfg=cfg(), snap=LTE, dhcpcd_binary="/usr/sbin/dhcpcd"))
    assert f.title == "IPv6 for the clients: relay: ppp0 has 2001:db8:7:1::/64 (by router advertisement): " \
                      "relayed to the clients; a delegated prefix (DHCPv6-PD), if ppp0 offers one, comes first: " \
                      "dhcpcd asks for it at start"
    [f] = check_ipv6(Context(iface="wlan0", cfg=cfg(), snap=LTE, dhcpcd_binary=""))
    assert f.title.endswith("; no delegated prefix: dhcpcd is not installed (Debian: dhcpcd-base; "
                            "Buildroot: BR2_PACKAGE_DHCPCD)")
    [f] = check_ipv6(Context(iface="wlan0", cfg=cfg(), snap=LTE, status={"running": True,
                     "ipv6": "pd: ppp0 delegated a prefix (DHCPv6-PD): 2001:db8:56::/64 of it on wlan0"}))
    assert f.title == "IPv6 for the clients: pd: ppp0 delegated a prefix (DHCPv6-PD): 2001:db8:56::/64 of it on wlan0"
    [f] = check_ipv6(Context(iface="wlan0", cfg=cfg(IPV6="off"), snap=LTE))
    assert f.title == "IPv6 for the clients: off: IPV6=off: the clients get no IPv6"


def test_client_isolation_holds_for_ipv6() -> None:
    rule = 'iifname "wlan0" oifname "wlan0" meta nfproto ipv6 accept'
    assert rule in nft_ruleset(plan_on(LTE))                          # off-link prefix: via the board
    isolated = nft_ruleset(plan_on(LTE, ISOLATE_CLIENTS="1"))
    assert rule not in isolated and 'iifname "wlan0" drop' in isolated


# -- a delegated prefix (DHCPv6-PD): dhcpcd's /64 on the AP ------------------------------------------

def test_dhcpcds_address_on_the_ap_makes_the_mode_pd_and_only_for_its_uplink() -> None:
    s = with6(LTE, "wlan0", "2001:db8:56:0::1/64")
    c = cfg()
    m = ipv6_mode(c, s, "ppp0", pd_uplink="ppp0")
    assert (m.mode, str(m.prefix), str(m.ap_address)) == ("pd", "2001:db8:56::/64", "2001:db8:56::1/64")
    assert m.text() == "pd: ppp0 delegated a prefix (DHCPv6-PD): 2001:db8:56::/64 of it on wlan0"
    assert ipv6_mode(c, s, "ppp0", pd_uplink=None).mode == "relay"          # not asked: not ours to use
    assert ipv6_mode(c, s, "ppp0", pd_uplink="usb0").mode == "relay"        # the old uplink's, going away
    # our own addresses on the AP are no delegation: the relayed prefix's, NAT66's ULA
    relayed = with6(LTE, "wlan0", "2001:db8:7:1:0:6873:6861:7265/64", f"{ula_prefix('wlan0')[1]}/64")
    assert ipv6_mode(c, relayed, "ppp0", pd_uplink="ppp0").mode == "relay"
    assert ipv6_mode(cfg(IPV6="nat66"), s, "ppp0", pd_uplink="ppp0").mode == "nat66"


def test_dhcpcd_asks_for_a_prefix_and_nothing_else() -> None:
    conf = dhcpcd_conf("ppp0", "wlan0").splitlines()
    # no IPv4, no router solicitations, no hook scripts (resolv.conf), the prefix released on stop
    for line in ("ipv6only", "noipv6rs", 'script ""', "release", "allowinterfaces ppp0 wlan0", "interface ppp0",
                 "  ia_pd 1 wlan0/0/64"):
        assert line in conf
