"""IPv6 for the hotspot's clients: which mode applies and why (pure).

``IPV6=auto`` takes a delegated prefix where the uplink's carrier (or the
tethering phone) delegates one by DHCPv6-PD: dhcpcd (a child of the service,
asking only for that, service/pd6.py) puts a /64 of it on the AP, which
dnsmasq advertises. Until then, or where nothing is delegated, it relays the
uplink's /64 as OpenWrt's odhcpd does in relay mode: the AP advertises that
prefix, the clients take addresses from it by SLAAC, the board forwards and
answers neighbour solicitations on the uplink for them (NDP proxy). With no
IPv6 on the uplink, or only a /128 (nothing to hand out), the clients get no
router advertisement at all, so they do not wait on a path that does not exist. ``IPV6=off``: never.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..config import HotspotConfig
from .model import Snapshot

# The AP's own address in a relayed prefix: dnsmasq builds its advertisement
# ("constructor") from an address of the AP in that prefix. A fixed,
# unusual interface identifier: not ::1 (a LAN router upstream often is),
# not an EUI-64 of any device.
AP_IID = 0x6873_6861_7265     # "hshare"


@dataclass(frozen=True)
class Ipv6Mode:
    mode: str                      # "pd", "relay", "none" (no IPv6 for clients now), "off", "nat66"
    reason: str
    uplink: str = ""
    prefix: ipaddress.IPv6Network | None = None
    address: ipaddress.IPv6Interface | None = None      # pd: the one dhcpcd put on the AP

    @property
    def ap_address(self) -> ipaddress.IPv6Interface | None:
        """The AP's address in the advertised prefix (None: nothing advertised)."""
        if self.prefix is None or self.address is not None:
            return self.address
        return ipaddress.IPv6Interface(f"{self.prefix.network_address + AP_IID}/{self.prefix.prefixlen}")

    def text(self) -> str:
        return f"{self.mode}: {self.reason}"


def ula_prefix(ap: str) -> ipaddress.IPv6Network:
    """NAT66's prefix: a ULA /64 (RFC 4193), its 40-bit global ID derived from
    the AP's name, so it stays the same across restarts (clients keep it)."""
    # FNV-1a (64 bits), not hashlib: that would load OpenSSL's libcrypto into the
    # resident service (RSS on a 128 MB board) for 40 bits that need no secrecy
    h = 0xCBF29CE484222325
    for byte in f"hotshare {ap}".encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return ipaddress.IPv6Network(((0xFD << 120) | ((h & 0xFF_FFFF_FFFF) << 80), 64))


def delegated_prefix(snap: Snapshot, ap: str) -> ipaddress.IPv6Interface | None:
    """The address dhcpcd put on the AP in a /64 of the delegated prefix, if any:
    a global /64 there that is not one of ours (a relayed prefix's AP_IID, the ULA)."""
    for a in snap.global6_of(ap):
        iid = int(a.ip) & 0xFFFF_FFFF_FFFF_FFFF
        if a.network.prefixlen == 64 and iid != AP_IID and a.ip not in ipaddress.IPv6Network("fc00::/7"):
            return a
    return None


def dhcpcd_conf(uplink: str, ap: str) -> str:
    """dhcpcd asking ``uplink``'s DHCPv6 server for a prefix, and nothing else:
    no IPv4, no router solicitation (the kernel takes the uplink's router
    advertisements, accept_ra=2), no hook scripts (resolv.conf, NTP, the
    hostname stay the system's); the first /64 of the prefix on ``ap``, its
    address ::1. ``release``: stopped (SIGTERM), it gives the prefix back and
    removes the address and routes it added. The names are checked interface
    names (config.values), as everything that reaches a generated file."""
    return (f"# hotshare: DHCPv6 prefix delegation on {uplink} for {ap}, nothing else\n"
            "ipv6only\nnoipv6rs\nnoipv4ll\nscript \"\"\nrelease\n"
            f"allowinterfaces {uplink} {ap}\n"
            f"interface {uplink}\n  ia_pd 1 {ap}/0/64\n")


def relay_prefix(snap: Snapshot, uplink: str) -> tuple[ipaddress.IPv6Network | None, str]:
    """The /64 to relay from ``uplink``, or None and why there is none."""
    addrs = snap.global6_of(uplink)
    nets = [a.network for a in addrs if a.network.prefixlen == 64]
    if nets:
        return nets[0], f"{uplink} has {nets[0]} (by router advertisement): relayed to the clients"
    if addrs:
        return None, (f"{uplink} has only {addrs[0]}: no /64 to hand out, so no router advertisement "
                      "for the clients (IPV6=nat66 gives them NAT66)")
    return None, f"{uplink} has no global IPv6 address: no router advertisement for the clients"


def ipv6_mode(cfg: HotspotConfig, snap: Snapshot, best_uplink: str | None,
              pd_uplink: str | None = None) -> Ipv6Mode:
    """``pd_uplink``: the uplink whose DHCPv6 server dhcpcd asks for a prefix now."""
    if cfg.ipv6 == "off":
        return Ipv6Mode("off", "IPV6=off: the clients get no IPv6")
    if cfg.share_method != "nat":
        return Ipv6Mode("off", f"SHARE_METHOD={cfg.share_method}: hotshare routes no IPv6"
                        + (" (the bridge carries the uplink's own)" if cfg.share_method == "bridge" else ""))
    if best_uplink is None:
        return Ipv6Mode("none", "no uplink in use: no router advertisement for the clients")
    if cfg.ipv6 == "nat66":
        addrs = snap.global6_of(best_uplink)
        if not addrs:
            return Ipv6Mode("none", f"IPV6=nat66 but {best_uplink} has no global IPv6 address: "
                            "no router advertisement for the clients")
        ula = ula_prefix(cfg.wifi_iface)
        return Ipv6Mode("nat66", f"the clients get {ula} (ULA), masqueraded to {best_uplink}'s {addrs[0].ip}",
                        best_uplink, ula)
    delegated = delegated_prefix(snap, cfg.wifi_iface) if pd_uplink == best_uplink else None
    if delegated is not None:
        return Ipv6Mode("pd", f"{best_uplink} delegated a prefix (DHCPv6-PD): {delegated.network} of it "
                        f"on {cfg.wifi_iface}", best_uplink, delegated.network, delegated)
    prefix, why = relay_prefix(snap, best_uplink)
    return Ipv6Mode("relay" if prefix else "none", why, best_uplink, prefix)


def ipv6_sysctls(ap: str, uplinks: tuple[str, ...]) -> dict[str, str]:
    """What IPv6 forwarding needs, in the order to set it.

    The kernel forwards IPv6 only while conf/all/forwarding is 1 (before
    Linux 6.17 there is no per-interface switch), and writing it sets every
    interface's forwarding, which makes an interface with accept_ra=1 ignore
    router advertisements: the uplink would lose its prefix and default
    route. So accept_ra goes from 1 to 2 (accept even when forwarding) on the
    uplinks and on "default" (for a ppp0 that appears later) first; the
    service changes an accept_ra only where it is 1. The AP takes none: its
    accept_ra goes to 0 (a client's advertisement must not give the board a
    route)."""
    out = {f"net/ipv6/conf/{name}/accept_ra": "2" for name in ("default", *uplinks)}
    out[f"net/ipv6/conf/{ap}/accept_ra"] = "0"
    out["net/ipv6/conf/all/forwarding"] = "1"
    return out
