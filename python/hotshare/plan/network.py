"""The network decisions of a plan: which subnet, which uplinks, which
sysctls, whether an uplink can be bridged. Pure functions of a snapshot."""

from __future__ import annotations

import ipaddress

from ..config import ConfigError, HotspotConfig
from ..config.values import IFNAME_RE
from .model import Snapshot
from .uplink_dns import IPAddress, needs_interface, server_ip

DEFAULT_SUBNET = ipaddress.IPv4Network("192.168.12.0/24")
# Where to look when the default is taken: 192.168.X.0/24 upwards, then 10.X.
_CANDIDATES = ([ipaddress.IPv4Network(f"192.168.{x}.0/24") for x in range(12, 255)]
               + [ipaddress.IPv4Network(f"10.{x}.0.0/24") for x in range(42, 255)])


def table_name(iface: str) -> str:
    return "hotshare_" + iface.replace(".", "_").replace("-", "_")


def collisions(net: ipaddress.IPv4Network, snap: Snapshot, own_iface: str) -> list[str]:
    """Addresses and routes elsewhere on the system that overlap ``net``."""
    found = []
    for a in snap.addresses:
        if a.ifname != own_iface and a.interface.network.overlaps(net) and not a.interface.ip.is_loopback:
            found.append(f"address {a.interface} on {a.ifname}")
    for r in snap.routes:
        if r.ifname != own_iface and not r.is_default and r.dst.overlaps(net) and r.table == 254:
            found.append(f"route {r.dst} dev {r.ifname}")
    return found


def choose_gateway(cfg: HotspotConfig, snap: Snapshot) -> ipaddress.IPv4Interface:
    if cfg.gateway is not None:
        gw = ipaddress.IPv4Interface(f"{cfg.gateway}/24")
        hit = collisions(gw.network, snap, cfg.wifi_iface)
        if hit:
            raise ConfigError("GATEWAY", f"{gw.network} overlaps the {hit[0]}",
                              "choose a GATEWAY in a free subnet, or leave it unset to pick one")
        return gw
    for net in _CANDIDATES:
        if not collisions(net, snap, cfg.wifi_iface):
            return ipaddress.IPv4Interface(f"{net.network_address + 1}/{net.prefixlen}")
    raise ConfigError("GATEWAY", "no free /24 found in 192.168.0.0/16 or 10.0.0.0/8",
                      "set GATEWAY to a free address")


def dhcp_range(gw: ipaddress.IPv4Interface) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """create_ap's pool, .10 to .254, with the gateway kept out of it: the
    pool is the larger side of the gateway when the gateway falls inside."""
    base = int(gw.network.network_address)
    start, end, host = base + 10, int(gw.network.broadcast_address) - 1, int(gw.ip)
    if start <= host <= end:
        if host - start >= end - host:
            end = host - 1
        else:
            start = host + 1
    return ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)


def current_uplinks(cfg: HotspotConfig, snap: Snapshot,
                    dead: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], str | None]:
    """The NAT-able uplinks and, of those, the one the best default route uses.

    With INTERNET_IFACE unset, every interface carrying a default route is an
    uplink. With a list, only those; the kernel's route metrics pick among
    them, and hotshare follows as routes come and go. An uplink in ``dead``
    (its link is up but its data is not: HEALTH_CHECK) is passed over as if
    its route had gone, unless every uplink is dead (nothing better then)."""
    # A kernel name hotshare would not accept in its configuration never
    # reaches the ruleset either (the kernel allows any byte but / and space).
    defaults = [r for r in snap.default_routes()
                if r.ifname != cfg.wifi_iface and IFNAME_RE.match(r.ifname)
                and (lk := snap.link(r.ifname)) is not None and lk.up]
    if cfg.uplinks:
        defaults = [r for r in defaults if r.ifname in cfg.uplinks]
    names = tuple(dict.fromkeys(r.ifname for r in defaults))
    alive = [n for n in names if n not in dead] or names
    return (cfg.uplinks or names), (alive[0] if alive else None)


# Per-connection byte counters, for `hotshare clients` (per network namespace).
ACCT_SYSCTL = "net/netfilter/nf_conntrack_acct"


def forwarding_sysctls(ap: str, uplinks: tuple[str, ...]) -> dict[str, str]:
    """IPv4 forwarding is decided per input interface (IN_DEV_FORWARD), so
    enabling it on the hotspot and its uplinks is enough; the global
    ip_forward switch, which flips every interface, is left alone."""
    return {f"net/ipv4/conf/{name}/forwarding": "1" for name in (ap, *uplinks)}


def bridge_name(ap: str) -> str:
    return f"hs-{ap}"[:15]


def check_bridgeable(uplink: str, wifi_uplinks: dict[str, tuple[str, bool]]) -> None:
    """A Wi-Fi interface in station (managed) mode cannot join a
    bridge: with 3-address 802.11 frames the upstream AP accepts only the
    station's own MAC, so the kernel marks it IFF_DONT_BRIDGE and refuses
    with "Operation not supported". Say so before changing anything."""
    if uplink not in wifi_uplinks:
        return
    iftype, four_addr = wifi_uplinks[uplink]
    if iftype in ("managed", "IBSS") and not four_addr:
        raise ConfigError("SHARE_METHOD", f"bridge mode cannot include {uplink}: the kernel refuses to bridge "
                          f"a Wi-Fi client interface ({iftype} mode, 3-address frames)",
                          "use SHARE_METHOD=nat, or `iw dev " + uplink + " set 4addr on` if the upstream "
                          "AP supports 4-address (WDS) mode")


def parse_servers_file(text: str) -> tuple[IPAddress, ...]:
    """The ``server=IP`` lines of a dnsmasq.conf (IPv4 or global IPv6);
    anything else is ignored, and a server with a domain, port, interface or
    scope part is skipped rather than trusted."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("server="):
            ip = server_ip(line[len("server="):].strip())
            if ip is not None and not needs_interface(ip):
                out.append(ip)
    return tuple(out)
