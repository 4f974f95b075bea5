"""What was read from the system before planning: the only input of
``make_plan`` besides the configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import Snapshot
from .regulatory import Radio
from .uplink_dns import IPAddress, Server


@dataclass(frozen=True)
class Facts:
    """What was read from the system before planning."""

    snapshot: Snapshot
    wireless: bool                              # the downstream has a cfg80211 phy
    servers_file: tuple[IPAddress, ...] = ()  # server= lines of DNS_SERVERS_FILE
    link_dns: tuple[Server, ...] = ()           # servers the uplinks' own clients wrote (LINK_DNS_FILES)
    wifi_uplinks: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (iftype, 4addr)
    rundir: str = "/run/hotshare"
    statedir: str = "/var/lib/hotshare"
    mac: str = ""                               # the AP interface's MAC address now
    ruleset: dict[str, Any] | None = None       # `nft -j list ruleset`; None: not read
    firewall_tools: frozenset[str] = frozenset()  # remedies' tools present (system.firewalls)
    binaries: dict[str, str] | None = None      # name -> path of hostapd, dnsmasq; None: not looked up
    radio: Radio | None = None                  # the AP's radio; None: not read (wired, unit tests)
    card: RadioFacts | None = None              # the AP's radio, when a station uplink shares it


@dataclass(frozen=True)
class RadioFacts:
    """The AP's radio when a station uplink uses it too (plan.samecard)."""

    phy: str                    # phy0
    phy_mac: str                # the radio's permanent address
    info: str                   # `iw phy PHY info`: its interface combinations
    station: str                # the station (managed) interface carrying the uplink
    station_freq: int = 0       # MHz; 0: not connected
