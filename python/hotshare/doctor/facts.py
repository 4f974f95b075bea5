"""The facts the checks look at: a :class:`Context`, filled once by
:func:`hotshare.doctor.gather.gather` and made up by hand in the unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import HotspotConfig
from ..plan.model import Snapshot


@dataclass(frozen=True)
class Proc:
    pid: int
    comm: str
    args: tuple[str, ...] = ()
    same_netns: bool = True       # in the network namespace the doctor runs in


@dataclass(frozen=True)
class Sock:
    proto: str                    # "udp" or "tcp"
    addr: str                     # local address, e.g. "0.0.0.0", "::"
    port: int
    inode: int


@dataclass(frozen=True)
class Rfkill:
    dev: str                      # rfkill0
    name: str                     # phy0, or a platform switch's name
    type: str                     # wlan, all, bluetooth...
    soft: bool
    hard: bool


@dataclass(frozen=True)
class DnsResult:
    server: str
    ok: bool                      # a usable answer (NOERROR or NXDOMAIN)
    detail: str                   # "answered in 3 ms", "no answer within 2 s", ...


@dataclass
class Context:
    """Everything the checks look at, read once by :func:`gather`."""

    iface: str | None = None
    cfg: HotspotConfig | None = None
    config_path: str | None = None
    snap: Snapshot = field(default_factory=lambda: Snapshot((), (), ()))
    wireless_ifaces: tuple[str, ...] = ()
    # the radio
    phy: str | None = None
    phy_info: str | None = None   # `iw phy PHY info`
    reg: str | None = None        # `iw reg get`
    iw_error: str = ""
    rfkill: tuple[Rfkill, ...] = ()
    # netfilter
    nft_missing: str = ""
    ruleset: list[dict[str, Any]] | None = None   # the "nftables" list of `nft -j list ruleset`
    ruleset_error: str = ""
    firewall_tools: frozenset[str] = frozenset()  # firewalls.available_tools(): iptables(-nft), firewall-cmd
    probe_error: str | None = None       # stderr of the failed NAT probe; "" passed; None not run
    flowtable_error: str | None = None   # likewise for the flowtable probe
    probe_skipped: str = ""
    # processes, sockets, settings
    procs: tuple[Proc, ...] = ()
    sockets: tuple[Sock, ...] = ()
    owners: dict[int, tuple[int, str]] = field(default_factory=dict)   # socket inode -> (pid, comm)
    owners_known: bool = True
    nm_devices: dict[str, str] | None = None     # nmcli DEVICE -> STATE
    dhcpcd_conf: str | None = None
    dhcpcd_binary: str | None = None     # for DHCPv6-PD: its path; "" not installed; None not looked up
    dhcpcd_manager: str = ""             # the control socket of a dhcpcd manager that runs
    connman_conf: str | None = None
    sysctls: dict[str, str | None] = field(default_factory=dict)
    # DNS
    dns_servers: tuple[str, ...] = ()
    dns_source: str = ""
    dns_results: tuple[DnsResult, ...] = ()
    # the hotshare instance on iface
    status: dict[str, Any] = field(default_factory=dict)
    journal_children: dict[str, int] = field(default_factory=dict)
    journal_firewall: list[dict[str, Any]] = field(default_factory=list)   # rules hotshare put elsewhere
    journal_path: str = ""

    @property
    def config(self) -> HotspotConfig:
        """The configuration, or the defaults for the interface."""
        return self.cfg or HotspotConfig(wifi_iface=self.iface or "")

    @property
    def running(self) -> bool:
        return bool(self.status.get("running"))

    @property
    def wireless(self) -> bool:
        return self.iface is not None and self.iface in self.wireless_ifaces

    @property
    def sharing(self) -> bool:
        return self.config.share_method == "nat"

