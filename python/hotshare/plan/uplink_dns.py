"""Upstream DNS servers that follow the uplink (pure).

A server an uplink gave (pppd's usepeerdns, a DHCP client's resolv.conf) or
one configured as ``IP@IFACE`` is reachable only through that uplink: when
the uplink dies, dnsmasq would wait seconds per lookup on it. So dnsmasq
reads its servers from a resolv-file that lists the servers of the uplink
in use now and the servers tied to no uplink; hotshare rewrites it and
sends dnsmasq SIGHUP (which re-reads it) when the uplink in use changes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..config.values import IFNAME_RE


@dataclass(frozen=True)
class Server:
    ip: ipaddress.IPv4Address
    uplink: str = ""            # "": reached through whichever uplink routes it

    def line(self) -> str:
        return f"{self.ip}@{self.uplink}" if self.uplink else str(self.ip)


def parse_resolv(text: str, tie: str = "") -> tuple[Server, ...]:
    """The IPv4 ``nameserver`` lines of a resolv.conf. ``tie``: the uplink the
    whole file belongs to; else a trailing ``# IFACE`` (Buildroot's udhcpc
    script writes ``nameserver IP # usb0``) ties a line to IFACE."""
    out = []
    for line in text.splitlines():
        body, _hash, comment = line.partition("#")
        words = body.split()
        if len(words) < 2 or words[0] != "nameserver":
            continue
        try:
            ip = ipaddress.IPv4Address(words[1])
        except ValueError:
            continue        # IPv6 servers, scoped addresses: not forwarded by this hotspot
        if ip.is_unspecified:
            continue
        iface = tie or (comment.strip() if IFNAME_RE.match(comment.strip()) else "")
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
    return head + "".join(f"nameserver {s.ip}" + (f" # {s.uplink}" if s.uplink else "") + "\n" for s in chosen)
