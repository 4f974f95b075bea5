"""hotshare doctor: every check on made-up facts (no system access), plus the
parsers (iw, /proc/net, nmcli, nft errors) and the DNS wire format."""

from __future__ import annotations

import argparse
import json
import socket
import struct
import threading
from typing import Any

import pytest

from hotshare import doctor
from hotshare.cli.doctor import load_config, run_doctor
from hotshare.config import from_mapping
from hotshare.doctor import Context, DnsResult, Finding, Proc, Rfkill, Sock, nft_probe
from lab.snapshots import SEED_000, snap


def cfg(**kw: str) -> Any:
    raw = {"WIFI_IFACE": "wlan0"}
    raw.update(kw)
    return from_mapping(raw)


PHY_INFO = """Wiphy phy0
\tmax # scan SSIDs: 255
\tBand 1:
\t\tFrequencies:
\t\t\t* 2412.0 MHz [1] (20.0 dBm)
\t\t\t* 2437.0 MHz [6] (20.0 dBm)
\t\t\t* 2462.0 MHz [11] (20.0 dBm)
\t\t\t* 2467.0 MHz [12] (20.0 dBm) (no IR)
\t\t\t* 2472.0 MHz [13] (20.0 dBm) (no IR)
\t\t\t* 2484.0 MHz [14] (disabled)
\tBand 2:
\t\tFrequencies:
\t\t\t* 5180.0 MHz [36] (20.0 dBm)
\t\t\t* 5260.0 MHz [52] (20.0 dBm) (radar detection)
\t\t\t* 5280.0 MHz [56] (20.0 dBm) (no IR, radar detection)
\tSupported interface modes:
\t\t * IBSS
\t\t * managed
\t\t * AP
\t\t * AP/VLAN
\t\t * monitor
\tBand 3:
\tsoftware interface modes (can always be added):
\t\t * AP/VLAN
"""
STATION_ONLY = PHY_INFO.replace("\t\t * AP\n\t\t * AP/VLAN\n", "")
REG_WORLD = "global\ncountry 00: DFS-UNSET\n\t(2402 - 2472 @ 40), (6, 20), (N/A)\n"


def wifi_ctx(**kw: Any) -> Context:
    base: dict[str, Any] = dict(iface="wlan0", cfg=cfg(), snap=SEED_000, wireless_ifaces=("wlan0",), phy="phy0",
                                phy_info=PHY_INFO, reg=REG_WORLD)
    base.update(kw)
    return Context(**base)


def only(findings: list[Finding], fid: str | None = None) -> Finding:
    fs = [f for f in findings if fid is None or f.id == fid]
    assert len(fs) == 1, fs
    return fs[0]


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.ok]


# -- 1. interface / AP mode ---------------------------------------------------------------

def test_missing_interface_is_a_problem_listing_what_exists() -> None:
    f = only(doctor.check_interface_can_be_an_ap(Context(iface="wlan1", snap=SEED_000, wireless_ifaces=("wlan0",))))
    assert not f.ok and f.title == "there is no interface wlan1"
    assert "wlan0 (Wi-Fi)" in f.evidence and "ppp0" in f.evidence and "lo" not in f.evidence.split(": ", 1)[1]
    assert "ip link" in f.fix


def test_radio_without_ap_mode_is_a_problem() -> None:
    f = only(doctor.check_interface_can_be_an_ap(wifi_ctx(phy_info=STATION_ONLY)))
    assert not f.ok and "cannot be an access point" in f.title
    assert "IBSS, managed, monitor" in f.evidence


def test_radio_with_ap_mode_passes_and_wired_is_informational() -> None:
    assert only(doctor.check_interface_can_be_an_ap(wifi_ctx())).ok
    f = only(doctor.check_interface_can_be_an_ap(wifi_ctx(iface="eth0", wireless_ifaces=())))
    assert f.ok and f.level == "info" and "wired" in f.title


def test_parse_modes_stops_at_the_block_end() -> None:
    assert doctor.parse_modes(PHY_INFO) == ["IBSS", "managed", "AP", "AP/VLAN", "monitor"]


def test_no_interface_named_skips_interface_checks() -> None:
    for check in (doctor.check_interface_can_be_an_ap, doctor.check_radio_not_blocked, doctor.check_subnet_free,
                  doctor.check_instance_healthy, doctor.check_no_other_manager):
        f = only(check(Context(snap=SEED_000)))
        assert f.ok and f.level == "skip"


# -- 2. rfkill -----------------------------------------------------------------------------

def test_soft_and_hard_blocks_are_reported_for_our_phy_only() -> None:
    kills = (Rfkill("rfkill0", "phy0", "wlan", True, False), Rfkill("rfkill1", "phy1", "wlan", True, True),
             Rfkill("rfkill2", "hci0", "bluetooth", True, False))
    f = only(doctor.check_radio_not_blocked(wifi_ctx(rfkill=kills)))
    assert not f.ok and "soft-blocked" in f.title and "rfkill0" in f.evidence
    assert "rfkill unblock wifi" in f.fix and "/sys/class/rfkill/rfkill0/soft" in f.fix
    hard = (Rfkill("rfkill5", "ideapad_wlan", "wlan", False, True),)
    f = only(doctor.check_radio_not_blocked(wifi_ctx(rfkill=hard)))
    assert not f.ok and "hard-blocked" in f.title and "switch" in f.fix


def test_unblocked_radio_passes() -> None:
    f = only(doctor.check_radio_not_blocked(wifi_ctx(rfkill=(Rfkill("rfkill0", "phy0", "wlan", False, False),))))
    assert f.ok and f.level == ""


# -- 3. regulatory domain --------------------------------------------------------------------

def test_parse_channels_reads_flags() -> None:
    ch = doctor.parse_channels(PHY_INFO)
    assert ch[2484].disabled and ch[2472].no_ir and not ch[2412].no_ir
    assert ch[5260].radar and ch[5260].usable and not ch[5280].usable


@pytest.mark.parametrize(("kw", "words"), [
    ({"CHANNEL": "14"}, "disabled by the regulatory domain"),
    ({"CHANNEL": "13"}, "no IR"),
    ({"CHANNEL": "56", "FREQ_BAND": "5"}, "no IR"),
    ({"CHANNEL": "149", "FREQ_BAND": "5"}, "has no channel 149"),
])
def test_blocked_channels_are_problems_with_allowed_alternatives(kw: dict[str, str], words: str) -> None:
    f = only(doctor.check_channel_allowed(wifi_ctx(cfg=cfg(**kw))))
    assert not f.ok and words in f.title
    assert "country 00" in f.evidence
    band_ok = "1, 6, 11" if kw.get("FREQ_BAND", "2.4") == "2.4" else "36, 52"
    assert band_ok in f.fix


def test_dfs_channel_is_informational_and_default_channel_passes() -> None:
    f = only(doctor.check_channel_allowed(wifi_ctx(cfg=cfg(CHANNEL="52", FREQ_BAND="5"))))
    assert f.ok and f.level == "info" and "radar" in f.title
    assert only(doctor.check_channel_allowed(wifi_ctx())).ok


def test_country_switch_is_mentioned() -> None:
    f = only(doctor.check_channel_allowed(wifi_ctx(cfg=cfg(CHANNEL="13", COUNTRY="JP"))))
    assert "COUNTRY=JP" in f.evidence


def test_running_hotspot_channel_comes_from_hostapd() -> None:
    st = {"running": True, "ap": {"channel": "14", "freq": "2484", "state": "ENABLED"}}
    f = only(doctor.check_channel_allowed(wifi_ctx(status=st)))
    assert not f.ok and "channel 14" in f.title


# -- 4. kernel netfilter features --------------------------------------------------------------

# Real `nft -c -f -` output on a kernel without CONFIG_NF_FLOW_TABLE (this project's CI host).
FLOWTABLE_STDERR = ('/dev/stdin:2:12-13: Error: Could not process rule: No such file or directory\n\tflowtable ft {\n'
                    '\t          ^^\n/dev/stdin:7:20-31: Error: Could not process rule: No such file or directory\n'
                    '\t\tmeta l4proto tcp flow add @ft\n\t\t                 ^^^^^^^^^^^^\n')
# Real output when the kernel cannot load nft_chain_nat nor nft_masq (lab guest, Linux 6.1, nft 1.0.6,
# module autoloading disabled): the nat chain fails, and the chain's type line with a "did you mean".
NAT_STDERR = ('/dev/stdin:9:8-10: Error: No such file or directory; did you mean chain ‘postrouting’ in table inet '
              '‘hotshare_doctor_probe’?\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\t     ^^^\n'
              '/dev/stdin:8:8-18: Error: Could not process rule: No such file or directory\n\tchain postrouting {\n'
              '\t      ^^^^^^^^^^^\n')
# Real output when the kernel cannot load nft_masq alone (same lab guest).
MASQ_STDERR = ('/dev/stdin:10:42-51: Error: Could not process rule: No such file or directory\n'
               '\t\toifname @uplinks ip saddr 192.0.2.0/24 masquerade\n'
               '\t\t                                       ^^^^^^^^^^\n')
# A too-old nft (userspace) failing to parse: a syntax error, not a kernel one.
SYNTAX_STDERR = ('/dev/stdin:10:53-53: Error: syntax error, unexpected newline\n'
                 '\t\toifname @uplinks ip saddr 192.0.2.0/24 masqueradex\n\t\t        ^\n')


def test_probe_errors_map_to_features() -> None:
    why = doctor.explain_probe(FLOWTABLE_STDERR, doctor.FLOW_PROBE)
    assert why.missing == (nft_probe._F_FLOW,) and not why.userspace
    why = doctor.explain_probe(MASQ_STDERR, doctor.NAT_PROBE)
    assert why.missing == (nft_probe._F_MASQ,)
    why = doctor.explain_probe(NAT_STDERR, doctor.NAT_PROBE)
    assert why.missing == (nft_probe._F_NAT,) and not why.userspace and not why.other
    why = doctor.explain_probe(SYNTAX_STDERR, doctor.NAT_PROBE)
    assert not why.missing and "syntax error" in why.userspace[0]


def test_probe_lines_carry_their_features() -> None:
    text = doctor.probe_text(doctor.NAT_PROBE).splitlines()
    assert "masquerade" in text[9] and doctor.NAT_PROBE[9][1] == nft_probe._F_MASQ
    assert "type nat" in text[8] and doctor.NAT_PROBE[8][1] == nft_probe._F_NAT
    assert "ct state" in text[5] and doctor.NAT_PROBE[5][1] == nft_probe._F_CT


def test_missing_masquerade_names_the_kernel_option() -> None:
    fs = doctor.check_netfilter_features(wifi_ctx(probe_error=MASQ_STDERR, flowtable_error=FLOWTABLE_STDERR))
    f = only(fs, "netfilter")
    assert not f.ok and "masquerading" in f.title and "CONFIG_NFT_MASQ" in f.fix
    flow = only(fs, "flowtable")
    assert flow.ok and flow.level == "info" and "CONFIG_NF_FLOW_TABLE" in flow.fix
    f = only(doctor.check_netfilter_features(wifi_ctx(probe_error=NAT_STDERR, flowtable_error="")), "netfilter")
    assert not f.ok and "NAT chains" in f.title and "CONFIG_NFT_NAT" in f.fix


def test_missing_nftables_entirely() -> None:
    err = "netlink: Error: cache initialization failed: Protocol not supported\n"
    f = only(doctor.check_netfilter_features(wifi_ctx(probe_error=err, flowtable_error="")), "netfilter")
    assert not f.ok and "CONFIG_NF_TABLES" in f.fix
    f = only(doctor.check_netfilter_features(wifi_ctx(nft_missing="nft not found: install nftables")))
    assert not f.ok and "BR2_PACKAGE_NFTABLES" in f.fix


def test_netfilter_ok_and_flowtable_available() -> None:
    fs = doctor.check_netfilter_features(wifi_ctx(probe_error="", flowtable_error=""))
    assert all(f.ok for f in fs) and len(fs) == 2


# -- 5. ports 53 and 67 -------------------------------------------------------------------------

PROC_UDP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0 0
  101: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4243 2 0 0
  102: 0100007F:D431 0200007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 4244 2 0 0
"""  # noqa: E501
PROC_TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 01 00000000:00000000 00:00000000 00000000     0        0 5556 1 0 100 0 0 10 0
"""  # noqa: E501


def test_parse_proc_net() -> None:
    udp = doctor.parse_proc_net(PROC_UDP, "udp", False)
    assert [(s.addr, s.port, s.inode) for s in udp] == [("0.0.0.0", 67, 4242), ("127.0.0.1", 53, 4243)]
    tcp = doctor.parse_proc_net(PROC_TCP6, "tcp", True)
    assert [(s.addr, s.port) for s in tcp] == [("::", 53)]


def test_parse_proc_net_ipv6_loopback_byte_order() -> None:
    # ::1 as the kernel prints it on a little-endian machine
    line = "   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 0 0 0 0 0 77 1"
    assert doctor.parse_proc_net("header\n" + line, "tcp", True)[0].addr == "::1"


def test_port_held_by_another_process_is_named() -> None:
    socks = (Sock("udp", "0.0.0.0", 67, 1), Sock("udp", "0.0.0.0", 53, 2), Sock("tcp", "0.0.0.0", 53, 3),
             Sock("udp", "127.0.0.53", 53, 4))
    owners = {1: (700, "python3"), 2: (800, "dnsmasq"), 3: (800, "dnsmasq"), 4: (900, "systemd-resolve")}
    fs = doctor.check_ports_free(wifi_ctx(sockets=socks, owners=owners))
    assert len(fs) == 2 and not any(f.ok for f in fs)
    dns, dhcp = fs
    assert dns.title == "port 53 (DNS) is taken by dnsmasq"
    assert "udp 0.0.0.0:53, tcp 0.0.0.0:53 held by dnsmasq (pid 800)" in dns.evidence
    assert "systemd-resolve" not in dns.evidence       # 127.0.0.53 is not in dnsmasq's way
    assert "except-interface=wlan0" in dns.fix
    assert dhcp.title == "port 67 (DHCP) is taken by python3" and "pid 700" in dhcp.evidence


def test_hotshares_own_dnsmasq_is_not_a_conflict() -> None:
    socks = (Sock("udp", "0.0.0.0", 67, 1), Sock("udp", "192.168.12.1", 53, 2))
    owners = {1: (800, "dnsmasq"), 2: (800, "dnsmasq")}
    st = {"running": True, "pid": 10, "children": {"dnsmasq": 800}, "gateway": "192.168.12.1",
          "subnet": "192.168.12.0/24"}
    assert only(doctor.check_ports_free(wifi_ctx(sockets=socks, owners=owners, status=st))).ok
    # the same sockets while hotshare is stopped belong to someone else
    assert problems(doctor.check_ports_free(wifi_ctx(sockets=socks, owners=owners)))


def test_a_resolver_on_the_loopback_is_not_in_the_way() -> None:
    """The board's own dnsmasq on 127.0.0.1 and ::1 (S80dnsmasq): hotshare's
    dnsmasq never binds the loopback (except-interface=lo)."""
    socks = (Sock("udp", "127.0.0.1", 53, 1), Sock("tcp", "127.0.0.1", 53, 2), Sock("udp", "::1", 53, 3))
    owners = {1: (500, "dnsmasq"), 2: (500, "dnsmasq"), 3: (500, "dnsmasq")}
    assert only(doctor.check_ports_free(wifi_ctx(sockets=socks, owners=owners))).ok


def test_ports_not_needed_without_dnsmasq() -> None:
    socks = (Sock("udp", "0.0.0.0", 67, 1),)
    assert only(doctor.check_ports_free(wifi_ctx(cfg=cfg(NO_DNSMASQ="1"), sockets=socks))).level == "skip"
    f = only(doctor.check_ports_free(wifi_ctx(cfg=cfg(NO_DNS="1"), sockets=(Sock("udp", "0.0.0.0", 53, 1),))))
    assert f.ok


# -- 6. uplink -------------------------------------------------------------------------------------

def test_no_default_route_is_a_problem() -> None:
    f = only(doctor.check_uplink_has_default_route(wifi_ctx(snap=snap({"eth0": ["10.1.0.2/24"]}))))
    assert not f.ok and "default routes: none" in f.evidence


def test_internet_iface_without_its_default_route() -> None:
    f = only(doctor.check_uplink_has_default_route(wifi_ctx(cfg=cfg(INTERNET_IFACE="eth0"))))
    assert not f.ok
    assert "INTERNET_IFACE=eth0" in f.evidence and "dev ppp0 metric 250" in f.evidence
    assert "via ppp0, usb0: add it to INTERNET_IFACE" in f.fix


def test_best_uplink_passes() -> None:
    f = only(doctor.check_uplink_has_default_route(wifi_ctx()))
    assert f.ok and "ppp0" in f.title and "usb0" in f.title


def test_default_route_on_a_down_link_does_not_count() -> None:
    s = snap({"ppp0": ["10.0.0.2/32"]}, [("0.0.0.0/0", "ppp0", 250)], down=("ppp0",))
    f = only(doctor.check_uplink_has_default_route(wifi_ctx(snap=s)))
    assert not f.ok and "(link down)" in f.evidence


# -- 7. DNS -------------------------------------------------------------------------------------------

def test_upstream_servers_order() -> None:
    assert doctor.upstream_servers(cfg(UPSTREAM_DNS="9.9.9.9"), "server=1.1.1.1", "nameserver 8.8.8.8") == (
        ("9.9.9.9",), "UPSTREAM_DNS")
    servers, source = doctor.upstream_servers(cfg(), "server=223.5.5.5\nserver=223.6.6.6\nno-resolv\n",
                                              "nameserver 8.8.8.8")
    assert servers == ("223.5.5.5", "223.6.6.6") and "/etc/dnsmasq.conf" in source
    assert doctor.upstream_servers(cfg(), None, "# x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\n") == (
        ("10.0.0.1", "fe80::1"), "/etc/resolv.conf")


def test_dns_wire_format() -> None:
    q = doctor.dns_query(0x1234)
    assert q == bytes.fromhex("123401000001000000000000") + b"\0" + struct.pack("!HH", 2, 1)
    assert len(doctor.dns_query(1, "example.com", 1)) == 12 + 13 + 4
    reply = struct.pack("!HHHHHH", 0x1234, 0x8183, 1, 0, 0, 0)
    assert doctor.dns_rcode(reply, 0x1234) == 3
    assert doctor.dns_rcode(reply, 0x1235) is None
    assert doctor.dns_rcode(q, 0x1234) is None       # a query, not a reply


def test_no_dns_answer_is_a_problem() -> None:
    results = (DnsResult("10.9.0.1", False, "no answer within 2 s"),
               DnsResult("10.9.0.2", False, "answered REFUSED: it will not resolve for us"))
    ctx = wifi_ctx(dns_servers=("10.9.0.1", "10.9.0.2"), dns_source="UPSTREAM_DNS", dns_results=results)
    f = only(doctor.check_upstream_dns_answers(ctx))
    assert not f.ok and "10.9.0.1 no answer within 2 s" in f.evidence and "UPSTREAM_DNS" in f.fix


def test_one_answering_server_is_enough() -> None:
    results = (DnsResult("10.9.0.1", False, "no answer within 2 s"), DnsResult("10.9.0.2", True, "answered"))
    f = only(doctor.check_upstream_dns_answers(wifi_ctx(dns_servers=("10.9.0.1", "10.9.0.2"), dns_results=results)))
    assert f.ok and "1 of 2" in f.title and "not 10.9.0.1" in f.title


def test_no_dns_server_configured() -> None:
    f = only(doctor.check_upstream_dns_answers(wifi_ctx()))
    assert not f.ok and "UPSTREAM_DNS=" in f.fix


def test_probe_dns_against_local_servers() -> None:
    """Real sockets on loopback: one server answers, one stays silent."""
    good = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    good.bind(("127.0.0.1", 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.2", good.getsockname()[1]))

    def answer() -> None:
        data, peer = good.recvfrom(512)
        good.sendto(data[:2] + struct.pack("!H", 0x8180) + data[4:], peer)

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    port = good.getsockname()[1]
    res = doctor.probe_dns(["127.0.0.1", "127.0.0.2", "bogus"], timeout=0.5, port=port)
    t.join(1)
    good.close()
    silent.close()
    assert [r.ok for r in res] == [True, False, False]
    assert "NOERROR" in res[0].detail and "no answer within 0.5 s" in res[1].detail


# -- 8. subnet overlap -------------------------------------------------------------------------------

def test_configured_gateway_overlapping_an_uplink() -> None:
    s = snap({"usb0": ["192.168.12.7/24"]}, [("192.168.12.0/24", "usb0", 0)])
    f = only(doctor.check_subnet_free(wifi_ctx(snap=s, cfg=cfg(GATEWAY="192.168.12.1"))))
    assert not f.ok and f.title == "the hotspot subnet 192.168.12.0/24 overlaps the address 192.168.12.7/24 on usb0"
    assert "route 192.168.12.0/24 dev usb0" in f.evidence and "GATEWAY=192.168.13.1" in f.fix


def test_running_subnet_that_became_overlapping() -> None:
    s = snap({"usb0": ["192.168.12.0/23"], "wlan0": ["192.168.12.1/24"]})
    st = {"running": True, "subnet": "192.168.12.0/24", "gateway": "192.168.12.1"}
    f = only(doctor.check_subnet_free(wifi_ctx(snap=s, status=st)))
    assert not f.ok and "hotshare down wlan0" in f.fix


def test_unset_gateway_and_free_subnet_pass() -> None:
    f = only(doctor.check_subnet_free(wifi_ctx(snap=snap({"usb0": ["192.168.12.7/24"]}))))
    assert f.ok and "192.168.13.0/24" in f.title
    assert only(doctor.check_subnet_free(wifi_ctx(cfg=cfg(GATEWAY="10.0.0.1")))).ok


# -- 9. another firewall's forward chain --------------------------------------------------------------

def ruleset(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"metainfo": {"version": "1.0.6"}}, *items]


DOCKER = ruleset(   # seed 001: Docker's FORWARD chain, policy drop, through iptables-nft
    {"table": {"family": "ip", "name": "filter", "handle": 1}},
    {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1, "type": "filter",
               "hook": "forward", "prio": 0, "policy": "drop"}},
    {"chain": {"family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 2}},
    {"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 5,
              "expr": [{"counter": {"packets": 178, "bytes": 20547}}, {"jump": {"target": "DOCKER-USER"}}]}},
    {"chain": {"family": "inet", "table": "hotshare_wlan0", "name": "forward", "handle": 3, "type": "filter",
               "hook": "forward", "prio": -10, "policy": "accept"}},
)
NATIVE_DROP = ruleset({"chain": {"family": "inet", "table": "filter", "name": "forward", "type": "filter",
                                 "hook": "forward", "prio": 0, "policy": "drop"}})
IPTABLES = frozenset({"iptables"})


def test_docker_forward_drop_is_fixed_by_hotshare_at_start() -> None:
    f = only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=DOCKER, firewall_tools=IPTABLES)))
    assert f.ok and f.level == "info"
    assert f.title == "table ip filter chain FORWARD drops forwarded traffic: hotshare makes its traffic pass at start"
    assert "DOCKER-USER" in f.fix and "policy drop" in f.evidence


def test_docker_forward_drop_with_firewall_ignore_is_a_problem() -> None:
    f = only(doctor.check_forward_not_dropped(wifi_ctx(cfg=cfg(FIREWALL="ignore"), ruleset=DOCKER,
                                                       firewall_tools=IPTABLES)))
    assert not f.ok and f.title == ("another firewall drops forwarded traffic: table ip filter chain FORWARD "
                                    "(policy drop)")
    assert "`iptables -t filter -I DOCKER-USER -i wlan0 -o ppp0 -j ACCEPT`" in f.fix and "FIREWALL=auto" in f.fix
    assert "comment" not in f.fix


def test_docker_without_iptables_makes_hotshare_refuse() -> None:
    f = only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=DOCKER, firewall_tools=frozenset())))
    assert not f.ok and f.title.endswith("hotshare will refuse to start") and "iptables-nft" in f.fix


def test_native_drop_chain_refuses_unless_insert() -> None:
    f = only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=NATIVE_DROP)))
    assert not f.ok and "table inet filter chain forward" in f.title and "refuse to start" in f.title
    assert 'add `iifname "wlan0" oifname { "ppp0", "usb0" } accept`' in f.fix
    assert "FIREWALL=insert" in f.fix
    f = only(doctor.check_forward_not_dropped(wifi_ctx(cfg=cfg(FIREWALL="insert"), ruleset=NATIVE_DROP)))
    assert f.ok and f.level == "info"


def test_running_hotspot_whose_rules_handle_the_blocker() -> None:
    st = {"running": True, "pid": 1, "subnet": "192.168.12.0/24", "gateway": "192.168.12.1"}
    applied = [{"kind": "nft", "ap": "wlan0", "family": "inet", "table": "filter", "chain": "forward",
                "rules": ['iifname "wlan0" accept comment "hotshare:wlan0"']}]
    f = only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=NATIVE_DROP, status=st, journal_firewall=applied)))
    assert f.ok and f.level == "info" and "nft filter forward" in f.evidence
    # a drop that appeared after the start (Docker started later) is a problem now
    f = only(doctor.check_forward_not_dropped(wifi_ctx(cfg=cfg(FIREWALL="insert"), ruleset=NATIVE_DROP, status=st)))
    assert not f.ok and "restart the hotspot" in f.fix
    assert 'by hand: `nft insert rule inet filter forward iifname "wlan0" oifname { "ppp0", "usb0" } accept`' in f.fix


def test_drop_chain_that_accepts_the_hotspot_both_ways_is_fine() -> None:
    def rule(key: str) -> dict[str, Any]:
        return {"rule": {"family": "inet", "table": "filter", "chain": "forward", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": key}}, "right": "wlan0"}}, {"accept": None}]}}
    rs = [*NATIVE_DROP, rule("iifname"), rule("oifname")]
    f = only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=rs)))
    assert f.ok and f.level == ""


def test_our_own_table_and_ip6_are_not_blockers() -> None:
    rs = ruleset({"chain": {"family": "ip6", "table": "filter", "name": "FORWARD", "hook": "forward",
                            "policy": "drop"}},
                 {"chain": {"family": "inet", "table": "hotshare_wlan0", "name": "forward", "hook": "forward",
                            "policy": "drop"}})
    assert only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=rs))).ok
    assert only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=None))).level == "skip"


def test_policy_drop_fallback_when_the_analysis_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from hotshare.doctor import checks_firewall

    def broken(*args: Any, **kw: Any) -> Any:
        raise KeyError("family")
    monkeypatch.setattr(checks_firewall.firewall, "analyse", broken)
    f = only(doctor.check_forward_not_dropped(wifi_ctx(ruleset=NATIVE_DROP)))
    assert not f.ok and "rules not analysed" in f.evidence
    assert 'nft insert rule inet filter forward iifname "wlan0" accept' in f.fix


# -- 10. dhcpcd / NetworkManager / connman ---------------------------------------------------------------

SEED_000_WLAN = snap({**{"wlan0": ["192.168.12.1/24", "169.254.253.182/16"]}, "ppp0": ["10.112.142.89/32"]},
                     [("0.0.0.0/0", "ppp0", 250), ("169.254.0.0/16", "wlan0", 200)])
DHCPCD = (Proc(1150, "dhcpcd", ("dhcpcd: [manager] [ip4] [ip6]",)),
          Proc(1151, "dhcpcd", ("dhcpcd: [BPF ARP] wlan0 169.254.253.182",)))


def test_seed_000_dhcpcd_ipv4ll_on_the_ap() -> None:
    f = only(doctor.check_no_other_manager(wifi_ctx(snap=SEED_000_WLAN, procs=DHCPCD)))
    assert not f.ok and "IPv4LL" in f.title
    assert "address 169.254.253.182/16" in f.evidence and "route 169.254.0.0/16" in f.evidence
    assert "1151" in f.evidence
    assert "denyinterfaces wlan0" in f.fix and "ip addr del" in f.fix


def test_dhcpcd_in_another_netns_does_not_count() -> None:
    procs = tuple(Proc(p.pid, p.comm, p.args, same_netns=False) for p in DHCPCD)
    f = only(doctor.check_no_other_manager(wifi_ctx(procs=procs)))
    assert f.ok


def test_dhcpcd_that_may_take_the_interface_is_informational_unless_denied() -> None:
    procs = (DHCPCD[0],)
    fs = doctor.check_no_other_manager(wifi_ctx(procs=procs))
    assert [f.level for f in fs] == ["", "info"] and all(f.ok for f in fs)
    fs = doctor.check_no_other_manager(wifi_ctx(procs=procs, dhcpcd_conf="denyinterfaces wlan0 usb*\n"))
    assert [f.level for f in fs] == [""]


def test_hotshares_own_dhcpcd_for_a_delegated_prefix_is_no_manager() -> None:
    own = (Proc(2200, "dhcpcd", ("dhcpcd: ppp0 [ip6]",)),
           Proc(2201, "dhcpcd", ("dhcpcd: [privileged proxy] ppp0 [ip6]",)),
           Proc(2203, "dhcpcd", ("dhcpcd: [network proxy] fe80::1",)))
    running = {"running": True, "children": {"dnsmasq": 2100, "dhcpcd": 2200}}
    assert [f.level for f in doctor.check_no_other_manager(wifi_ctx(procs=own, status=running))] == [""]
    # the same processes without a hotspot that runs them: someone else's dhcpcd
    assert [f.level for f in doctor.check_no_other_manager(wifi_ctx(procs=own))] == ["", "info"]


def test_networkmanager_managing_the_interface() -> None:
    nm = (Proc(500, "NetworkManager", ("/usr/sbin/NetworkManager",)),)
    devices = doctor.parse_nmcli("wlan0:disconnected\neth0:connected\nlo:unmanaged\n")
    f = only(doctor.check_no_other_manager(wifi_ctx(procs=nm, nm_devices=devices)))
    assert not f.ok and "wlan0:disconnected" in f.evidence and "managed no" in f.fix
    assert only(doctor.check_no_other_manager(wifi_ctx(procs=nm, nm_devices={"wlan0": "unmanaged"}))).ok
    fs = doctor.check_no_other_manager(wifi_ctx(procs=nm, nm_devices=None))
    assert all(f.ok for f in fs) and fs[-1].level == "info"


def test_connman_without_blacklist() -> None:
    cm = (Proc(600, "connmand", ("connmand", "-n")),)
    assert problems(doctor.check_no_other_manager(wifi_ctx(procs=cm)))
    conf = "[General]\nNetworkInterfaceBlacklist = vmnet,wlan0\n"
    assert not problems(doctor.check_no_other_manager(wifi_ctx(procs=cm, connman_conf=conf)))


# -- 11. IP forwarding -------------------------------------------------------------------------------------

def fwd(**values: str) -> dict[str, str | None]:
    return {f"net/ipv4/conf/{k}/forwarding": v for k, v in values.items()}


def test_forwarding_off_while_running_is_a_problem() -> None:
    st = {"running": True, "pid": 1}
    f = only(doctor.check_ip_forwarding(wifi_ctx(status=st, sysctls=fwd(wlan0="0", ppp0="1", usb0="1"))))
    assert not f.ok and f.title.startswith("IPv4 forwarding is off for wlan0 while")
    assert "net.ipv4.conf.wlan0.forwarding = 0" in f.evidence
    assert "sysctl -w net.ipv4.conf.wlan0.forwarding=1" in f.fix


def test_forwarding_off_while_stopped_is_informational() -> None:
    f = only(doctor.check_ip_forwarding(wifi_ctx(sysctls=fwd(wlan0="0", ppp0="0", usb0="0"))))
    assert f.ok and f.level == "info" and "wlan0, ppp0, usb0" in f.title
    assert only(doctor.check_ip_forwarding(wifi_ctx(status={"running": True},
                                                    sysctls=fwd(wlan0="1", ppp0="1", usb0="1")))).ok


# -- 12. the instance itself -----------------------------------------------------------------------------

def test_stale_journal_is_a_problem() -> None:
    f = only(doctor.check_instance_healthy(wifi_ctx(status={"iface": "wlan0", "running": False, "stale": True},
                                                    journal_path="/run/hotshare/wlan0.state")))
    assert not f.ok and "hotshare down wlan0" in f.fix and "/run/hotshare/wlan0.state" in f.evidence


def test_dead_child_is_a_problem() -> None:
    st = {"running": True, "pid": 10, "children": {"hostapd": 12}}
    fs = doctor.check_instance_healthy(wifi_ctx(status=st, journal_children={"hostapd": 12, "dnsmasq": 11}))
    f = only(fs)
    assert not f.ok and f.title == "dnsmasq is not running under hotshare on wlan0"
    assert "was pid 11" in f.evidence


def test_ap_not_enabled_is_a_problem() -> None:
    st = {"running": True, "pid": 10, "children": {"hostapd": 12}, "ap": {"state": "DFS", "channel": "52"}}
    f = only(doctor.check_instance_healthy(wifi_ctx(status=st, journal_children={"hostapd": 12})))
    assert not f.ok and "DFS" in f.title


def test_healthy_and_stopped_instances_pass() -> None:
    st = {"running": True, "pid": 10, "children": {"hostapd": 12, "dnsmasq": 11}}
    f = only(doctor.check_instance_healthy(wifi_ctx(status=st, journal_children={"hostapd": 12, "dnsmasq": 11})))
    assert f.ok and "hostapd pid 12" in f.title
    assert only(doctor.check_instance_healthy(wifi_ctx(status={"running": False}))).ok


# -- the whole: diagnose, output, exit codes, config handling -----------------------------------------------

def test_diagnose_survives_a_crashing_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: Context) -> list[Finding]:
        raise RuntimeError("x")
    monkeypatch.setattr(doctor, "CHECKS", (boom, doctor.check_instance_healthy))
    fs = doctor.diagnose(wifi_ctx())
    assert fs[0].level == "skip" and "boom failed" in fs[0].title and fs[1].ok


def test_every_check_on_a_clean_board_passes() -> None:
    ctx = wifi_ctx(probe_error="", flowtable_error="", ruleset=ruleset(), dns_servers=("10.0.0.1",),
                   dns_results=(DnsResult("10.0.0.1", True, "answered NOERROR in 3 ms"),),
                   sysctls=fwd(wlan0="1", ppp0="1", usb0="1"))
    fs = doctor.diagnose(ctx)
    assert not problems(fs), problems(fs)
    assert {f.id for f in fs} >= {"interface", "rfkill", "channel", "netfilter", "ports", "uplink", "dns",
                                  "subnet", "firewall", "managers", "forwarding", "instance"}
    assert doctor.exit_code(fs) == 0


def test_human_and_json_output() -> None:
    fs = [doctor.good("a", "fine"), doctor.bad("b", "broken thing", "line 1\nline 2", "do this"),
          doctor.info("c", "note", "ev", "hint"), doctor.skip("d", "not checked")]
    text = doctor.render_human(fs, "hotshare doctor: wlan0")
    assert text.splitlines() == ["hotshare doctor: wlan0", "✓ fine", "✗ broken thing", "  evidence: line 1",
                                 "            line 2", "  fix: do this", "i note", "  evidence: ev", "  hint: hint",
                                 "- not checked", "1 problem found."]
    data = json.loads(doctor.render_json(fs))
    assert data[1] == {"id": "b", "ok": False, "title": "broken thing", "evidence": "line 1\nline 2",
                       "fix": "do this", "level": ""}
    assert doctor.exit_code(fs) == 1 and doctor.exit_code(fs[:1]) == 0


def test_bad_config_exits_2(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("WIFI_IFACE=wlan0\nGATEWAY=8.8.8.8\n")
    ns = argparse.Namespace(iface=None, config=str(conf), json=False)
    assert run_doctor(ns) == 2
    assert "GATEWAY" in capsys.readouterr().err
    ns = argparse.Namespace(iface=None, config=str(tmp_path / "missing.conf"), json=False)
    assert run_doctor(ns) == 2
    ns = argparse.Namespace(iface="bad name!", config=None, json=True)
    assert run_doctor(ns) == 2


def test_load_config_iface_overrides_the_file(tmp_path: Any) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text("WIFI_IFACE=wlan0\nGATEWAY=10.0.0.1\nINTERNET_IFACE=ppp0\n")
    iface, c = load_config("wlan1", str(conf))
    assert iface == "wlan1" and c is not None and c.wifi_iface == "wlan1" and c.uplinks == ("ppp0",)
    iface, c = load_config(None, str(conf))
    assert iface == "wlan0" and c is not None and str(c.gateway) == "10.0.0.1"


def test_an_nft_without_json_is_named_with_the_buildroot_option() -> None:
    """Buildroot builds nftables --without-json unless BR2_PACKAGE_NFTABLES_JSON=y."""
    f = only(doctor.check_netfilter_features(wifi_ctx(ruleset=None, ruleset_error="Error: JSON support not "
                                                      "compiled-in")), "netfilter")
    assert not f.ok and "without JSON" in f.title and "BR2_PACKAGE_NFTABLES_JSON=y" in f.fix
