"""Small pure parsers: of ``iw phy PHY info`` and ``iw reg get``, /proc/net's
socket tables, ``nmcli -t`` and resolv.conf. Text in, values out: no I/O."""

from __future__ import annotations

import ipaddress
import re
import struct

from ..config import HotspotConfig
from ..plan.network import parse_servers_file

# re-exported: the doctor's checks read the radio as the planner does
from ..plan.regulatory import Channel as Channel
from ..plan.regulatory import band_of as band_of
from ..plan.regulatory import channel_freq as channel_freq
from ..plan.regulatory import parse_channels as parse_channels
from .facts import Sock

# -- iw ------------------------------------------------------------------------------------

def parse_modes(phy_info: str) -> list[str]:
    """The "Supported interface modes" of ``iw phy PHY info``."""
    modes: list[str] = []
    inside = False
    for line in phy_info.splitlines():
        if re.match(r"^\s*Supported interface modes:", line):
            inside = True
            continue
        if inside:
            m = re.match(r"^\s+\* (.+?)\s*$", line)
            if not m:
                break
            modes.append(m.group(1))
    return modes


def reg_country(reg: str) -> str:
    """The global country of ``iw reg get`` ("00" is the world domain)."""
    m = re.search(r"^country (\S+?):", reg, re.M)
    return m.group(1) if m else "?"


# -- /proc/net, nmcli, resolv.conf -------------------------------------------------------------

def _ntop(raw: bytes) -> str:
    """An address as inet_ntop(3) prints it, IPv4 tails of IPv6 addresses in dotted quads."""
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    addr = ipaddress.IPv6Address(raw)
    if addr.ipv4_mapped is not None:
        return f"::ffff:{addr.ipv4_mapped}"
    if raw[:12] == bytes(12) and raw[12:14] != bytes(2):   # IPv4-compatible ::a.b.c.d
        return f"::{ipaddress.IPv4Address(raw[12:])}"
    return str(addr)


def parse_proc_net(text: str, proto: str, v6: bool) -> list[Sock]:
    """Listening TCP and unconnected UDP sockets of a /proc/net/{tcp,udp}[6] table."""
    out = []
    want = "0A" if proto == "tcp" else "07"     # TCP_LISTEN; UDP bound but not connected (TCP_CLOSE)
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != want:
            continue
        hexaddr, hexport = parts[1].split(":")
        # the kernel prints each 32-bit word of the address as a host-order integer
        raw = b"".join(struct.pack("=I", int(hexaddr[i:i + 8], 16)) for i in range(0, len(hexaddr), 8))
        addr = _ntop(raw)
        out.append(Sock(proto, addr, int(hexport, 16), int(parts[9])))
    return out


def parse_nmcli(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        dev, sep, state = line.rpartition(":")
        if sep:
            out[dev.replace("\\:", ":")] = state
    return out


def upstream_servers(cfg: HotspotConfig, servers_file: str | None, resolv: str | None) -> tuple[tuple[str, ...], str]:
    """The servers hotshare's dnsmasq forwards to, and where that list comes from."""
    if cfg.upstream_dns:
        return tuple(str(a) for a in cfg.upstream_dns), "UPSTREAM_DNS"
    if servers_file:
        found = parse_servers_file(servers_file)
        if found:
            return tuple(str(a) for a in found), f"the server= lines of {cfg.dns_servers_file}"
    names = []
    for line in (resolv or "").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                names.append(str(ipaddress.ip_address(parts[1].split("%")[0])))
            except ValueError:
                continue
    return tuple(names[:4]), "/etc/resolv.conf"
