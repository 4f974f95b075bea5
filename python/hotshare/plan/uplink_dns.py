"""Upstream DNS servers that follow the uplink (pure).

A server an uplink gave (pppd's usepeerdns, a DHCP client's resolv.conf) or
one configured as ``IP@IFACE`` is reachable only through that uplink: when
the uplink dies, dnsmasq would wait seconds per lookup on it. So dnsmasq
reads its servers from a resolv-file that lists the servers of the uplink
in use now and the servers tied to no uplink; hotshare rewrites it and
sends dnsmasq SIGHUP (which re-reads it) when the uplink in use changes.

Servers of either family: a 4G uplink's IPv6 servers come from its router
advertisements (RDNSS) or DHCPv6, often link-local (fe80::1 on ppp0). A
link-local server is meaningless without its interface: it is always tied
to one, and written with it (``nameserver fe80::1%ppp0``, which dnsmasq
reads as the server's scope); its interface name is checked like any
other, never taken from the text as it stands.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..config.values import IFNAME_RE, IPAddress


@dataclass(frozen=True)
class Server:
    ip: IPAddress
    uplink: str = ""            # "": reached through whichever uplink routes it (never for a link-local one)

    @property
    def address(self) -> str:
        """As dnsmasq and the socket API take it: a link-local one with its interface."""
        return f"{self.ip}%{self.uplink}" if needs_interface(self.ip) else str(self.ip)

    def line(self) -> str:
        if needs_interface(self.ip):
            return self.address
        return f"{self.ip}@{self.uplink}" if self.uplink else str(self.ip)


def needs_interface(ip: IPAddress) -> bool:
    return ip.version == 6 and ip.is_link_local


def server_ip(text: str) -> IPAddress | None:
    """An IPv4 or IPv6 address a DNS server can have, or None. Without its
    ``%scope``: the caller checks that (ipaddress would take any text after %)."""
    if "%" in text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.is_unspecified or ip.is_multicast:
        return None
    return ip


def parse_resolv(text: str, tie: str = "") -> tuple[Server, ...]:
    """The ``nameserver`` lines of a resolv.conf, IPv4 and IPv6. ``tie``: the
    uplink the whole file belongs to; else a trailing ``# IFACE`` (Buildroot's
    udhcpc script writes ``nameserver IP # usb0``) ties a line to IFACE. A
    link-local server's ``%IFACE`` (dhcpcd writes ``nameserver fe80::1%ppp0``)
    ties it to IFACE; one without (and in no tied file) is skipped: no one can
    tell where it is."""
    out = []
    for line in text.splitlines():
        body, _hash, comment = line.partition("#")
        words = body.split()
        if len(words) < 2 or words[0] != "nameserver":
            continue
        address, percent, scope = words[1].partition("%")
        ip = server_ip(address)
        if ip is None or (percent and not IFNAME_RE.match(scope)):
            continue
        iface = tie or (comment.strip() if IFNAME_RE.match(comment.strip()) else "")
        if needs_interface(ip):
            iface = scope if percent else iface
            if not iface:
                continue
        elif percent:
            continue        # a scope on a global address: not something a client writes
        out.append(Server(ip, iface))
    return tuple(out)


def servers_for(best: str | None, servers: tuple[Server, ...]) -> tuple[Server, ...]:
    """What dnsmasq should forward to while ``best`` is the uplink: the
    servers tied to it, then those tied to none; a server some uplink gave is
    never also used untied (it would hang once that uplink is gone)."""
    tied = {s.ip for s in servers if s.uplink}
    mine = [s for s in servers if s.uplink and s.uplink == best]
    free = [s for s in servers if not s.uplink and s.ip not in tied]
    return tuple(dict.fromkeys(mine + free))


def resolv_file_text(best: str | None, servers: tuple[Server, ...]) -> str:
    chosen = servers_for(best, servers)
    head = f"# written by hotshare: the upstream DNS servers while the uplink is {best or 'none'}\n"
    return head + "".join(f"nameserver {s.address}" + (f" # {s.uplink}" if s.uplink else "") + "\n" for s in chosen)
