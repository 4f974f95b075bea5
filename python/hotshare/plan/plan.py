"""The whole plan of one hotspot, as plain data: what the service applies,
what the journal records and what ``--dry-run`` prints.

:func:`make_plan` is a pure function of the validated configuration and a
snapshot of the system (:class:`Facts`): no I/O, so every decision is
unit-tested without touching a kernel.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..config import ConfigError, HotspotConfig
from .model import Snapshot
from .network import (
    ACCT_SYSCTL,
    bridge_name,
    check_bridgeable,
    choose_gateway,
    current_uplinks,
    dhcp_range,
    forwarding_sysctls,
    table_name,
)
from .paths import Paths


@dataclass(frozen=True)
class Facts:
    """What was read from the system before planning."""

    snapshot: Snapshot
    wireless: bool                              # the downstream has a cfg80211 phy
    servers_file: tuple[ipaddress.IPv4Address, ...] = ()  # server= lines of DNS_SERVERS_FILE
    wifi_uplinks: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (iftype, 4addr)
    rundir: str = "/run/hotshare"
    statedir: str = "/var/lib/hotshare"


@dataclass(frozen=True)
class Plan:
    cfg: HotspotConfig
    paths: Paths
    wireless: bool
    gateway: ipaddress.IPv4Interface
    dhcp_range: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    uplinks: tuple[str, ...]            # interfaces NAT may leave through
    best_uplink: str | None             # the one the kernel routes through now
    upstream_dns: tuple[ipaddress.IPv4Address, ...]
    table: str                          # our nftables table (family inet)
    sysctls: dict[str, str] = field(default_factory=dict)
    bridge: str = ""                    # SHARE_METHOD=bridge: the bridge joining AP and uplink

    @property
    def runs_dnsmasq(self) -> bool:     # bridged clients get DHCP from the uplink's network
        return not self.cfg.no_dnsmasq and not self.bridge

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return self.gateway.network


def make_plan(cfg: HotspotConfig, facts: Facts) -> Plan:
    snap = facts.snapshot
    if snap.link(cfg.wifi_iface) is None:
        raise ConfigError("WIFI_IFACE", f"there is no interface {cfg.wifi_iface}",
                          "check `ip link`; for a USB dongle, plug it in first")
    for up in cfg.uplinks:
        if snap.link(up) is None and not up.startswith("ppp"):
            # A ppp link exists only while the modem is connected; others must exist.
            raise ConfigError("INTERNET_IFACE", f"there is no interface {up}", "check `ip link`")
    bridge = ""
    if cfg.share_method == "bridge":
        bridge = bridge_name(cfg.wifi_iface)
        check_bridgeable(cfg.uplinks[0], facts.wifi_uplinks)
    gw = choose_gateway(cfg, snap)
    uplinks, best = current_uplinks(cfg, snap) if cfg.share_method == "nat" else ((), None)
    upstream = cfg.upstream_dns or facts.servers_file
    present = tuple(u for u in uplinks if snap.link(u) is not None)
    return Plan(
        cfg=cfg, paths=Paths(facts.rundir, facts.statedir, cfg.wifi_iface), wireless=facts.wireless,
        gateway=gw, dhcp_range=dhcp_range(gw), uplinks=uplinks, best_uplink=best,
        upstream_dns=upstream, table=table_name(cfg.wifi_iface),
        sysctls=({**forwarding_sysctls(cfg.wifi_iface, present), ACCT_SYSCTL: "1"}
                 if cfg.share_method == "nat" else {}),
        bridge=bridge,
    )
