"""``hotshare doctor``: find what stops a hotspot from working, and say how to fix it.

Two layers. :func:`.gather.gather` reads the system once into a
:class:`Context` (the rtnetlink snapshot, ``nft -j list ruleset``, an
``nft -c`` probe, ``iw``, rfkill, sockets and processes from /proc, sysctls,
the instance's status, and one DNS query to each upstream server). The checks
are pure functions of that context, each named for the problem it looks for
and returning :class:`Finding` s: what is wrong, the evidence, and the fix. So
every check is unit-tested on made-up facts, and the gathering is tested on
real problems.

    hotshare doctor [IFACE] [--config FILE] [--json]
    python -m hotshare doctor [IFACE] [--config FILE] [--json]

Exit status: 0 nothing wrong, 1 problems found, 2 bad usage or configuration.

Read it in this order:

    findings.py         what a check says: Finding, good/bad/info/skip
    facts.py            what the checks look at: Context, Proc, Sock, Rfkill, DnsResult
    parsers.py          pure parsers of iw, /proc/net, nmcli and resolv.conf text
    nft_probe.py        the nftables probe and what its errors mean
    checks_shared.py    helpers the checks share
    checks_radio.py     1-3: AP mode, rfkill, the channel
    checks_network.py   4-8, 11: netfilter, ports, uplink, upstream DNS, subnet, forwarding
    checks_firewall.py  9: other firewalls dropping forwarded traffic
    checks_instance.py  10, 12: other network managers, the instance's health
    dns_probe.py        one DNS query to each upstream server (I/O)
    gather.py           everything else read from the system (I/O)
    report.py           text, JSON, exit status

This module holds the checks in the order they run (:data:`CHECKS`) and
:func:`diagnose`, which runs them; the command itself is
:mod:`hotshare.cli.doctor`.
"""

from __future__ import annotations

from collections.abc import Callable

from .checks_firewall import check_forward_not_dropped
from .checks_instance import check_instance_healthy, check_no_other_manager
from .checks_network import (
    check_ip_forwarding,
    check_netfilter_features,
    check_ports_free,
    check_subnet_free,
    check_uplink_has_default_route,
    check_upstream_dns_answers,
)
from .checks_radio import check_channel_allowed, check_interface_can_be_an_ap, check_radio_not_blocked
from .checks_uplink import check_ipv6, check_uplink_path
from .dns_probe import dns_query, dns_rcode, probe_dns
from .facts import Context, DnsResult, Proc, Rfkill, Sock
from .findings import Finding, bad, good, info, skip
from .nft_probe import FLOW_PROBE, NAT_PROBE, explain_probe, probe_text
from .parsers import parse_channels, parse_modes, parse_nmcli, parse_proc_net, upstream_servers
from .report import exit_code, render_human, render_json

__all__ = [
    "CHECKS", "FLOW_PROBE", "NAT_PROBE", "Context", "DnsResult", "Finding", "Proc", "Rfkill", "Sock", "bad",
    "check_channel_allowed", "check_forward_not_dropped", "check_instance_healthy", "check_interface_can_be_an_ap",
    "check_ip_forwarding", "check_ipv6", "check_netfilter_features", "check_no_other_manager", "check_ports_free",
    "check_radio_not_blocked", "check_subnet_free", "check_uplink_has_default_route", "check_uplink_path",
    "check_upstream_dns_answers",
    "diagnose", "dns_query", "dns_rcode", "exit_code", "explain_probe", "good", "info", "parse_channels",
    "parse_modes", "parse_nmcli", "parse_proc_net", "probe_dns", "probe_text", "render_human", "render_json",
    "skip", "upstream_servers",
]

CHECKS: tuple[Callable[[Context], list[Finding]], ...] = (
    check_interface_can_be_an_ap,
    check_radio_not_blocked,
    check_channel_allowed,
    check_netfilter_features,
    check_ports_free,
    check_uplink_has_default_route,
    check_upstream_dns_answers,
    check_subnet_free,
    check_forward_not_dropped,
    check_no_other_manager,
    check_ip_forwarding,
    check_uplink_path,
    check_ipv6,
    check_instance_healthy,
)


def diagnose(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    for check in CHECKS:
        try:
            out.extend(check(ctx))
        except Exception as e:  # a doctor that crashes helps nobody: report the check itself
            out.append(skip(check.__name__.removeprefix("check_"), f"{check.__name__} failed: {e!r}"))
    return out
