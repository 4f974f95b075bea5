"""``hotshare doctor``: find what stops a hotspot from working, and say how to fix it.

Two layers. :func:`gather` reads the system once into a :class:`Context`
(the rtnetlink snapshot, ``nft -j list ruleset``, an ``nft -c`` probe, ``iw``,
rfkill, sockets and processes from /proc, sysctls, the instance's status, and
one DNS query to each upstream server). The checks are pure functions of that
context, each named for the problem it looks for and returning
:class:`Finding` s: what is wrong, the evidence, and the fix. So every check is
unit-tested on made-up facts, and the gathering is tested on real problems.

    hotshare doctor [IFACE] [--config FILE] [--json]
    python -m hotshare.doctor [IFACE] [--config FILE] [--json]

Exit status: 0 nothing wrong, 1 problems found, 2 bad usage or configuration.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import select
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..coexist import analysis as firewall
from ..config import ConfigError, HotspotConfig
from ..netlink import rtnl
from ..plan.model import Snapshot
from ..plan.network import choose_gateway, collisions, current_uplinks, parse_servers_file, table_name
from ..service.instances import paths_for, status_of
from ..service.journal import Journal
from ..system import firewalls, sysctl
from ..system.run import find_binary
from ..system.wifi import is_wireless

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DNS_TIMEOUT = 2.0
NFT_TIMEOUT = 60.0
TIMED_OUT = 124
IPV4LL = ipaddress.IPv4Network("169.254.0.0/16")


# -- what a check says ----------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    """One verdict. ``level`` is "" for a check's verdict, "info" for something
    worth knowing that is not a problem, "skip" when the check could not run."""

    id: str
    ok: bool
    title: str
    evidence: str = ""
    fix: str = ""
    level: str = ""


def good(fid: str, title: str, evidence: str = "") -> Finding:
    return Finding(fid, True, title, evidence)


def bad(fid: str, title: str, evidence: str, fix: str) -> Finding:
    return Finding(fid, False, title, evidence, fix)


def info(fid: str, title: str, evidence: str = "", fix: str = "") -> Finding:
    return Finding(fid, True, title, evidence, fix, "info")


def skip(fid: str, title: str) -> Finding:
    return Finding(fid, True, title, level="skip")


# -- the facts ---------------------------------------------------------------------

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


# -- small parsers (pure) -------------------------------------------------------------

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


@dataclass(frozen=True)
class Channel:
    freq: int
    number: int
    flags: str        # what iw prints after the power: "(no IR, radar detection)", "(disabled)"

    @property
    def disabled(self) -> bool:
        return "disabled" in self.flags

    @property
    def no_ir(self) -> bool:
        return "no IR" in self.flags or "passive scan" in self.flags or "no IBSS" in self.flags

    @property
    def radar(self) -> bool:
        return "radar detection" in self.flags

    @property
    def usable(self) -> bool:
        return not (self.disabled or self.no_ir)


def parse_channels(phy_info: str) -> dict[int, Channel]:
    """Frequency -> channel, from the "Frequencies:" lists of ``iw phy PHY info``."""
    out: dict[int, Channel] = {}
    for m in re.finditer(r"^\s*\* (\d+)(?:\.\d+)? MHz \[(\d+)\](.*)$", phy_info, re.M):
        freq = int(m.group(1))
        out[freq] = Channel(freq, int(m.group(2)), m.group(3).strip())
    return out


def channel_freq(channel: int, band: str) -> int:
    if band == "5":
        return 5000 + 5 * channel
    return 2484 if channel == 14 else 2407 + 5 * channel


def band_of(freq: int) -> str:
    return "5" if 4900 <= freq < 5950 else "6" if freq >= 5950 else "2.4"


def reg_country(reg: str) -> str:
    """The global country of ``iw reg get`` ("00" is the world domain)."""
    m = re.search(r"^country (\S+?):", reg, re.M)
    return m.group(1) if m else "?"


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
        addr = socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, raw)
        out.append(Sock(proto, addr, int(hexport, 16), int(parts[9])))
    return out


def parse_nmcli(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        dev, sep, state = line.rpartition(":")
        if sep:
            out[dev.replace("\\:", ":")] = state
    return out


# -- the netfilter probe ----------------------------------------------------------------

PROBE_TABLE = "hotshare_doctor_probe"
# The nftables features hotshare's table uses, one per line, so a failed
# line of ``nft -c`` names the feature (and the kernel options it needs).
_F_INET = ("the inet family", "CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET")
_F_SET = ("named sets", "CONFIG_NF_TABLES_SET (built into nf_tables since Linux 5.?)")
_F_FWD = ("filter chains at the forward hook", "CONFIG_NF_TABLES_INET")
_F_META = ("interface and address matches", "CONFIG_NF_TABLES")
_F_CT = ("connection tracking (ct state)", "CONFIG_NF_CONNTRACK, CONFIG_NFT_CT")
_F_NAT = ("NAT chains in the inet family (Linux 5.2 or later)", "CONFIG_NF_NAT, CONFIG_NFT_NAT")
_F_MASQ = ("masquerading", "CONFIG_NFT_MASQ (CONFIG_NF_NAT_MASQUERADE)")
_F_FLOW = ("flowtables (forwarding offload)",
           "CONFIG_NF_FLOW_TABLE, CONFIG_NF_FLOW_TABLE_INET, CONFIG_NFT_FLOW_OFFLOAD")

NAT_PROBE: tuple[tuple[str, tuple[str, str] | None], ...] = (
    (f"table inet {PROBE_TABLE} {{", _F_INET),
    ("\tset uplinks { type ifname; }", _F_SET),
    ("\tchain forward {", _F_FWD),
    ("\t\ttype filter hook forward priority filter - 10; policy accept;", _F_FWD),
    ('\t\tiifname @uplinks ip saddr 192.0.2.0/24 oifname "lo" accept', _F_META),
    ("\t\tct state established,related accept", _F_CT),
    ("\t}", None),
    ("\tchain postrouting {", _F_NAT),
    ("\t\ttype nat hook postrouting priority srcnat; policy accept;", _F_NAT),
    ("\t\toifname @uplinks ip saddr 192.0.2.0/24 masquerade", _F_MASQ),
    ("\t}", None),
    ("}", None),
)
FLOW_PROBE: tuple[tuple[str, tuple[str, str] | None], ...] = (
    (f"table inet {PROBE_TABLE} {{", _F_INET),
    ("\tflowtable ft {", _F_FLOW),
    ("\t\thook ingress priority 0; devices = { lo };", _F_FLOW),
    ("\t}", None),
    ("\tchain forward {", _F_FWD),
    ("\t\ttype filter hook forward priority filter; policy accept;", _F_FWD),
    ("\t\tmeta l4proto tcp flow add @ft", _F_FLOW),
    ("\t}", None),
    ("}", None),
)


def probe_text(probe: Sequence[tuple[str, object]]) -> str:
    return "".join(line + "\n" for line, _ in probe)


_ERRNO_TEXT = re.compile(r"(No such file or directory|Operation not supported|Protocol not supported|"
                         r"Invalid argument|Not supported)\b")


@dataclass(frozen=True)
class ProbeFailure:
    missing: tuple[tuple[str, str], ...]    # (feature, kernel options) the kernel rejected
    userspace: tuple[str, ...]              # errors of nft itself (too old to parse the line)
    other: tuple[str, ...]                  # errors not tied to a line


def explain_probe(stderr: str, probe: Sequence[tuple[str, tuple[str, str] | None]]) -> ProbeFailure:
    """Map ``nft -c -f`` errors ("FILE:LINE:COL: Error: ...") to the features of the probe."""
    missing: list[tuple[str, str]] = []
    userspace: list[str] = []
    other: list[str] = []
    for line in stderr.splitlines():
        m = re.search(r":(\d+):\d+(?:-\d+)?: Error: (.*)$", line)
        if not m:
            if "Error" in line:
                other.append(line.strip())
            continue
        lineno, msg = int(m.group(1)), m.group(2)
        feature = probe[lineno - 1][1] if 0 < lineno <= len(probe) else None
        # the kernel's refusals carry an errno text; nft's own parser says "syntax error" and the like
        kernel = msg.startswith("Could not process rule") or bool(_ERRNO_TEXT.match(msg))
        if kernel and feature is not None:
            if feature not in missing:
                missing.append(feature)
        elif kernel:
            other.append(msg)
        else:
            text = probe[lineno - 1][0].strip() if 0 < lineno <= len(probe) else ""
            userspace.append(f"line {lineno}: {msg}: {text}")
    if not missing and not userspace and not other and stderr.strip():
        other.append(stderr.strip().splitlines()[0])
    return ProbeFailure(tuple(missing), tuple(userspace), tuple(other))


# -- DNS, by hand: one query, one answer ----------------------------------------------

def dns_query(qid: int, name: str = "", qtype: int = 2) -> bytes:
    """A recursive query for ``name`` (default: the root's NS records, which
    every resolver answers and which names nothing of ours)."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".") if p)
    return header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def dns_rcode(reply: bytes, qid: int) -> int | None:
    """The response code of a reply to query ``qid``; None if it is not one."""
    if len(reply) < 12:
        return None
    rid, flags = struct.unpack_from("!HH", reply)
    if rid != qid or not flags & 0x8000:
        return None
    return flags & 0xF


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def probe_dns(servers: Sequence[str], timeout: float = DNS_TIMEOUT, port: int = 53) -> list[DnsResult]:
    """Ask every server at once; wait at most ``timeout`` in all."""
    results: dict[str, DnsResult] = {}
    pending: dict[socket.socket, tuple[str, int, float]] = {}
    for n, server in enumerate(servers):
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(server).version == 6 else socket.AF_INET
        except ValueError:
            results[server] = DnsResult(server, False, "not an IP address")
            continue
        s = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        qid = (os.getpid() + n * 7919) & 0xFFFF
        try:
            s.connect((server, port))
            s.send(dns_query(qid))
        except OSError as e:
            results[server] = DnsResult(server, False, f"cannot send a query: {e.strerror or e}")
            s.close()
            continue
        s.setblocking(False)
        pending[s] = (server, qid, time.monotonic())
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(list(pending), [], [], left)
        for s in ready:
            server, qid, sent = pending[s]
            try:
                reply = s.recv(4096)
            except OSError as e:   # ICMP port unreachable: nothing listens there
                results[server] = DnsResult(server, False,
                                            f"refused ({e.strerror or e}): no DNS server at that address")
                del pending[s]
                s.close()
                continue
            rcode = dns_rcode(reply, qid)
            if rcode is None:
                continue
            ms = (time.monotonic() - sent) * 1000
            name = RCODES.get(rcode, f"rcode {rcode}")
            usable = rcode in (0, 3)
            results[server] = DnsResult(server, usable, f"answered {name} in {ms:.0f} ms" if usable
                                        else f"answered {name}: it will not resolve for us")
            del pending[s]
            s.close()
    for s, (server, _qid, _sent) in pending.items():
        results[server] = DnsResult(server, False, f"no answer within {timeout:g} s")
        s.close()
    return [results[s] for s in servers if s in results]


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


# -- helpers the checks share ---------------------------------------------------------

def _need_iface(ctx: Context, fid: str, what: str) -> Finding | None:
    if ctx.iface is None:
        return skip(fid, f"{what}: skipped (name the hotspot interface, e.g. `hotshare doctor wlan0`)")
    return None


def hotspot_subnet(ctx: Context) -> tuple[ipaddress.IPv4Network | None, str]:
    """The subnet the hotspot uses or will use, and where that comes from."""
    if ctx.running and ctx.status.get("subnet"):
        return ipaddress.IPv4Network(str(ctx.status["subnet"])), "the running hotspot's subnet"
    if ctx.cfg is not None and ctx.cfg.gateway is not None:
        return ipaddress.IPv4Interface(f"{ctx.cfg.gateway}/24").network, f"GATEWAY={ctx.cfg.gateway}"
    return None, ""


def hotspot_gateway(ctx: Context) -> ipaddress.IPv4Address | None:
    if ctx.running and ctx.status.get("gateway"):
        return ipaddress.IPv4Address(str(ctx.status["gateway"]))
    if ctx.cfg is not None and ctx.cfg.gateway is not None:
        return ctx.cfg.gateway
    if ctx.iface is None:
        return None
    try:
        return choose_gateway(ctx.config, ctx.snap).ip
    except ConfigError:
        return None


def _route_text(r: rtnl.Route, snap: Snapshot) -> str:
    link = snap.link(r.ifname)
    state = "" if link is None or link.up else " (link down)"
    via = f" via {r.gateway}" if r.gateway else ""
    return f"default{via} dev {r.ifname} metric {r.metric}{state}"


def _proc_text(pid: int, comm: str) -> str:
    return f"{comm} (pid {pid})"


# -- the checks -------------------------------------------------------------------------

def check_interface_can_be_an_ap(ctx: Context) -> list[Finding]:
    """1. The interface exists; if it is Wi-Fi, its radio supports AP mode."""
    fid = "interface"
    if (s := _need_iface(ctx, fid, "interface")) is not None:
        return [s]
    iface = ctx.iface
    if ctx.snap.link(iface or "") is None:
        names = [lk.name + (" (Wi-Fi)" if lk.name in ctx.wireless_ifaces else "") for lk in ctx.snap.links
                 if lk.name != "lo"]
        return [bad(fid, f"there is no interface {iface}",
                    "interfaces here: " + (", ".join(names) or "none but lo"),
                    "name an existing interface (see `ip link`); for a Wi-Fi dongle plug it in and check that "
                    "its driver and firmware loaded (`dmesg | grep -i -e wlan -e firmware`)")]
    if not ctx.wireless:
        return [info(fid, f"{iface} is not a Wi-Fi interface: hotshare serves it as a wired network "
                          "(DHCP and DNS, no hostapd)")]
    if ctx.phy_info is None:
        return [skip(fid, f"{iface} is Wi-Fi ({ctx.phy or 'phy ?'}); its AP support was not checked "
                          f"({ctx.iw_error or 'iw gave nothing'})")]
    modes = parse_modes(ctx.phy_info)
    if "AP" not in modes:
        return [bad(fid, f"the radio of {iface} ({ctx.phy}) cannot be an access point",
                    f"`iw phy {ctx.phy} info`, Supported interface modes: {', '.join(modes) or 'none listed'}",
                    "use a radio whose driver lists '* AP' in `iw list`; some drivers need an AP firmware or "
                    "a module option to offer it, see the vendor's documentation")]
    return [good(fid, f"{iface} is Wi-Fi and its radio {ctx.phy} supports AP mode")]


def check_radio_not_blocked(ctx: Context) -> list[Finding]:
    """2. rfkill: neither a soft nor a hard block on the radio."""
    fid = "rfkill"
    if (s := _need_iface(ctx, fid, "rfkill")) is not None:
        return [s]
    if not ctx.wireless:
        return [skip(fid, "rfkill: not a Wi-Fi interface")]
    mine = [r for r in ctx.rfkill
            if r.name == ctx.phy or (r.type in ("wlan", "all") and not re.fullmatch(r"phy\d+", r.name))]
    found = []
    for r in mine:
        if r.hard:
            found.append(bad(fid, f"the radio of {ctx.iface} is hard-blocked (rfkill)",
                             f"/sys/class/rfkill/{r.dev} ({r.name}, type {r.type}): hard=1",
                             "a hardware switch, a BIOS/firmware setting or the board's Wi-Fi enable GPIO "
                             "blocks it: flip the switch, or fix the power/enable line in the device tree"))
        if r.soft:
            found.append(bad(fid, f"the radio of {ctx.iface} is soft-blocked (rfkill)",
                             f"/sys/class/rfkill/{r.dev} ({r.name}, type {r.type}): soft=1",
                             f"`rfkill unblock wifi`, or `echo 0 > /sys/class/rfkill/{r.dev}/soft`; if it comes "
                             "back at boot, something restores it (systemd-rfkill's saved state, a script)"))
    if found:
        return found
    if not mine:
        return [good(fid, f"no rfkill switch blocks {ctx.phy}")]
    return [good(fid, f"the radio {ctx.phy} is not blocked (rfkill: " + ", ".join(r.dev for r in mine) + ")")]


def _allowed(channels: dict[int, Channel], band: str) -> str:
    ok = [c.number for c in sorted(channels.values(), key=lambda c: c.freq) if band_of(c.freq) == band and c.usable]
    return ", ".join(map(str, ok)) or "none"


def check_channel_allowed(ctx: Context) -> list[Finding]:
    """3. The regulatory domain lets an AP start on the configured channel."""
    fid = "channel"
    if (s := _need_iface(ctx, fid, "channel")) is not None:
        return [s]
    if not ctx.wireless:
        return [skip(fid, "channel: not a Wi-Fi interface")]
    if ctx.phy_info is None:
        return [skip(fid, f"channel: not checked ({ctx.iw_error or 'no iw output'})")]
    cfg = ctx.config
    channel, band = cfg.band_channel, cfg.freq_band
    ap = ctx.status.get("ap") or {}
    if ctx.running and str(ap.get("channel") or "").isdigit() and str(ap.get("freq") or "").isdigit():
        channel, band = int(ap["channel"]), band_of(int(ap["freq"]))
    freq = channel_freq(channel, band)
    channels = parse_channels(ctx.phy_info)
    country = reg_country(ctx.reg or "")
    where = f"regulatory domain: country {country}" + (" (the world domain)" if country == "00" else "")
    if cfg.country and cfg.country != country:
        where += f"; COUNTRY={cfg.country} in the config: hostapd switches to it at start"
    allowed = _allowed(channels, band)
    fix = (f"use a channel allowed here ({band} GHz: {allowed}), e.g. CHANNEL={allowed.split(',')[0]}"
           if allowed != "none" else f"use the other band (FREQ_BAND={'5' if band == '2.4' else '2.4'})")
    fix += "; if you are in a country that allows this channel, set COUNTRY=<its code> (the kernel needs " \
           "wireless-regdb's regulatory.db to apply a country)"
    ch = channels.get(freq)
    if ch is None:
        return [bad(fid, f"{ctx.phy} has no channel {channel} in the {band} GHz band",
                    f"`iw phy {ctx.phy} info` lists no {freq} MHz; {where}", fix)]
    line = f"`iw phy {ctx.phy} info`: * {freq} MHz [{channel}] {ch.flags}".rstrip()
    if ch.disabled:
        return [bad(fid, f"channel {channel} ({freq} MHz) is disabled by the regulatory domain",
                    f"{line}; {where}", fix)]
    if ch.no_ir:
        return [bad(fid, f"channel {channel} ({freq} MHz) may not be used to start a network (no IR)",
                    f"{line}; {where}", fix)]
    if ch.radar:
        return [info(fid, f"channel {channel} ({freq} MHz) needs radar detection (DFS): the AP starts only "
                          "after a 60 s channel check, and not at all if the driver lacks DFS",
                     f"{line}; {where}", f"for a quick start use a channel without DFS ({allowed})")]
    return [good(fid, f"channel {channel} ({freq} MHz) is allowed ({where})")]


def check_netfilter_features(ctx: Context) -> list[Finding]:
    """4. The kernel has the nftables features hotshare's NAT table needs."""
    fid = "netfilter"
    if not ctx.sharing:
        return [skip(fid, "netfilter: SHARE_METHOD is not nat")]
    if ctx.nft_missing:
        return [bad(fid, "nft is not installed", ctx.nft_missing,
                    "install nftables (Debian: apt-get install nftables; Buildroot: BR2_PACKAGE_NFTABLES)")]
    if ctx.probe_error is None:
        return [skip(fid, f"netfilter: not probed ({ctx.probe_skipped or 'unknown reason'})")]
    out: list[Finding] = []
    if ctx.probe_error:
        why = explain_probe(ctx.probe_error, NAT_PROBE)
        evidence = "`nft -c` of a table like hotshare's: " + "; ".join(
            ln.strip() for ln in ctx.probe_error.splitlines() if "Error" in ln)
        if why.missing:
            names = ", ".join(f for f, _ in why.missing)
            options = ", ".join(dict.fromkeys(o for _, o in why.missing))
            out.append(bad(fid, f"the kernel lacks netfilter features hotshare needs: {names}", evidence,
                           f"enable {options} in the kernel configuration (=m or =y) and rebuild; "
                           "if they are modules, check that they load (`modprobe nft_chain_nat nft_masq nft_ct`; "
                           "before Linux 5.1 nft_chain_nat_ipv4)"))
        if why.userspace:
            out.append(bad(fid, "nft cannot parse the rules hotshare loads", "; ".join(why.userspace),
                           "install a newer nftables (0.9.4 or later)"))
        if why.other and not out:
            hint = ("CONFIG_NF_TABLES" if re.search(r"Protocol not supported|cache initialization", ctx.probe_error)
                    else "CONFIG_NF_TABLES and CONFIG_NF_TABLES_INET")
            out.append(bad(fid, "nftables does not work here", "; ".join(why.other),
                           f"enable {hint} in the kernel (and run as root)"))
    else:
        out.append(good(fid, "the kernel supports hotshare's nftables table (inet family, NAT, masquerade, "
                             "conntrack)"))
    if ctx.flowtable_error:
        flow = explain_probe(ctx.flowtable_error, FLOW_PROBE)
        first = next((ln.strip() for ln in ctx.flowtable_error.splitlines() if "Error" in ln), "")
        if flow.missing or flow.other:
            out.append(info("flowtable", "no nftables flowtable support: hotshare forwards without its "
                                         "fast path (optional)", f"`nft -c` of a flowtable: {first}",
                            f"for faster forwarding enable {_F_FLOW[1]}"))
    elif ctx.flowtable_error == "":
        out.append(info("flowtable", "the kernel supports nftables flowtables (forwarding offload)"))
    return out


PORT_NAMES = {53: "DNS", 67: "DHCP"}


def check_ports_free(ctx: Context) -> list[Finding]:
    """5. No other process holds the DNS or DHCP port dnsmasq needs."""
    fid = "ports"
    cfg = ctx.config
    if cfg.no_dnsmasq:
        return [skip(fid, "ports: NO_DNSMASQ=1")]
    ports = [67] if cfg.no_dns else [53, 67]
    own: set[int] = set()
    if ctx.running:
        own = {int(pid) for name, pid in (ctx.status.get("children") or {}).items() if name == "dnsmasq"}
    ours: set[str] = {"0.0.0.0", "::", "127.0.0.1", "::1"}
    gw = hotspot_gateway(ctx)
    if gw is not None:
        ours.add(str(gw))
    if ctx.iface:
        ours.update(str(a.ip) for a in ctx.snap.addresses_of(ctx.iface))
    out = []
    for port in ports:
        holders: dict[tuple[int, str], list[str]] = {}
        for s in ctx.sockets:
            if s.port != port or (port == 53 and s.addr not in ours):
                continue
            pid, comm = ctx.owners.get(s.inode, (0, "an unknown process"))
            if pid in own:
                continue
            addr = f"[{s.addr}]" if ":" in s.addr else s.addr
            holders.setdefault((pid, comm), []).append(f"{s.proto} {addr}:{port}")
        if not holders:
            continue
        who = "; ".join(f"{', '.join(socks)} held by " + (_proc_text(pid, comm) if pid else comm)
                        for (pid, comm), socks in holders.items())
        if not ctx.owners_known:
            who += " (run as root to see which process)"
        names = {comm for _pid, comm in holders}
        if "dnsmasq" in names:
            fix = ("another dnsmasq serves every interface: stop it (`/etc/init.d/S80dnsmasq stop`, "
                   "`systemctl disable --now dnsmasq`) or give it `bind-interfaces` and "
                   f"`except-interface={ctx.iface or 'wlan0'}`")
        elif port == 53:
            fix = ("stop that DNS server, or make it listen only on addresses other than the hotspot's "
                   "(not 0.0.0.0 or 127.0.0.1); or run hotshare with NO_DNS=1 and DHCP_DNS=<a DNS server>")
        else:
            fix = f"stop that DHCP server, or restrict it to interfaces other than {ctx.iface or 'the hotspot'}"
        out.append(bad(fid, f"port {port} ({PORT_NAMES[port]}) is taken by " + ", ".join(sorted(names)), who, fix))
    if not out:
        out.append(good(fid, "port" + ("s 53 and 67 are" if len(ports) == 2 else " 67 is") + " free for dnsmasq"))
    return out


def check_uplink_has_default_route(ctx: Context) -> list[Finding]:
    """6. An uplink carries a default route (else clients have no internet)."""
    fid = "uplink"
    if not ctx.sharing:
        return [skip(fid, "uplink: SHARE_METHOD is not nat")]
    cfg = ctx.config
    names, best = current_uplinks(cfg, ctx.snap)
    defaults = ctx.snap.default_routes()
    evidence = "default routes: " + ("; ".join(_route_text(r, ctx.snap) for r in defaults) or "none")
    if cfg.uplinks:
        evidence += f"; INTERNET_IFACE={','.join(cfg.uplinks)}"
    if best is not None:
        route = next(r for r in defaults if r.ifname == best)
        others = [n for n in names if n != best]
        return [good(fid, f"the uplink {best} has a default route (metric {route.metric})"
                          + (f"; also ready: {', '.join(others)}" if others else ""))]
    up_elsewhere = [r.ifname for r in defaults if r.ifname != ctx.iface and (lk := ctx.snap.link(r.ifname))
                    and lk.up]
    if cfg.uplinks and up_elsewhere:
        fix = (f"the default route is via {', '.join(dict.fromkeys(up_elsewhere))}: add it to INTERNET_IFACE, "
               "or leave INTERNET_IFACE unset to follow the default route")
    elif cfg.uplinks:
        fix = (f"bring {' or '.join(cfg.uplinks)} up with a default route (is the modem dialled? `ip link`, "
               "`ip route`); hotshare follows it when it appears")
    else:
        fix = ("connect an uplink: no interface has a default route (check the modem/ppp, the Ethernet "
               "cable or the DHCP client; `ip route add default via GATEWAY dev IFACE` by hand)")
    return [bad(fid, "no uplink has a default route: clients will have no internet", evidence, fix)]


def check_upstream_dns_answers(ctx: Context) -> list[Finding]:
    """7. The upstream DNS servers dnsmasq forwards to answer."""
    fid = "dns"
    cfg = ctx.config
    if cfg.no_dnsmasq or cfg.no_dns:
        return [skip(fid, "upstream DNS: hotshare runs no DNS server (NO_DNS/NO_DNSMASQ)")]
    if not ctx.dns_servers:
        return [bad(fid, "no upstream DNS server is configured",
                    f"UPSTREAM_DNS is unset, {cfg.dns_servers_file} has no server= line and "
                    "/etc/resolv.conf has no nameserver",
                    "set UPSTREAM_DNS=<server>[,<server>] (e.g. your operator's resolvers)")]
    answered = [r for r in ctx.dns_results if r.ok]
    evidence = f"servers from {ctx.dns_source}: " + "; ".join(f"{r.server} {r.detail}" for r in ctx.dns_results)
    if answered:
        failed = [r.server for r in ctx.dns_results if not r.ok]
        return [good(fid, f"upstream DNS answers ({len(answered)} of {len(ctx.dns_results)} servers"
                          + (f"; not {', '.join(failed)}" if failed else "") + ")", evidence)]
    fix = {"UPSTREAM_DNS": "check the UPSTREAM_DNS servers (try `nslookup . SERVER`) or use others"}.get(
        ctx.dns_source,
        f"fix or replace the servers in {ctx.dns_source}, or set UPSTREAM_DNS=<server> for the hotspot")
    _names, best = current_uplinks(cfg, ctx.snap)
    if best is None and ctx.sharing:
        fix = "first give the system an uplink with a default route (see above); then " + fix
    return [bad(fid, "no upstream DNS server answers: clients will not resolve names", evidence, fix)]


def check_subnet_free(ctx: Context) -> list[Finding]:
    """8. The hotspot's subnet overlaps no other interface's address or route (seed 004)."""
    fid = "subnet"
    if (s := _need_iface(ctx, fid, "subnet")) is not None:
        return [s]
    iface = ctx.iface or ""
    net, source = hotspot_subnet(ctx)
    if net is None:
        try:
            gw = choose_gateway(ctx.config, ctx.snap)
        except ConfigError as e:
            return [bad(fid, "no free subnet is left for the hotspot", str(e), "set GATEWAY to a free address")]
        return [good(fid, f"GATEWAY is unset: hotshare picks a free subnet ({gw.network} now)")]
    hits = collisions(net, ctx.snap, iface)
    if not hits:
        return [good(fid, f"the hotspot subnet {net} ({source}) overlaps nothing else")]
    try:
        free = choose_gateway(dataclasses.replace(ctx.config, gateway=None), ctx.snap)
        suggestion = f"GATEWAY={free.ip} (free now)"
    except ConfigError:
        suggestion = "a GATEWAY in a free subnet"
    fix = (f"choose {suggestion}, or leave GATEWAY unset and hotshare picks a free one"
           + (f"; then restart the hotspot (`hotshare down {iface}` and up again)" if ctx.running else ""))
    return [bad(fid, f"the hotspot subnet {net} overlaps the {hits[0]}",
                f"{source}; overlapping: " + "; ".join(hits), fix)]


def _forward_drop_chains(ruleset: list[dict[str, Any]], own_table: str) -> list[dict[str, Any]]:
    out = []
    for item in ruleset:
        ch = item.get("chain")
        if (ch and ch.get("hook") == "forward" and ch.get("policy") == "drop" and ch.get("family") in ("ip", "inet")
                and ch.get("table") != own_table):
            out.append(ch)
    return out


def _policy_drop_only(ctx: Context, why_not: str) -> list[Finding]:
    """The fallback when firewall.analyse cannot run: base chains at the
    forward hook whose policy is drop."""
    iface = ctx.iface or "wlan0"
    out = []
    for ch in _forward_drop_chains(ctx.ruleset or [], table_name(iface)):
        fam, table, name = ch.get("family"), ch.get("table"), ch.get("name")
        out.append(bad("firewall", f"another firewall drops forwarded traffic: table {fam} {table} chain {name} "
                                   "(policy drop)",
                       f"type {ch.get('type')} hook forward priority {ch.get('prio')}; policy drop "
                       f"(rules not analysed: {why_not})",
                       f"let the hotspot through: `nft insert rule {fam} {table} {name} iifname \"{iface}\" accept` "
                       f"and `nft insert rule {fam} {table} {name} oifname \"{iface}\" ct state established,related "
                       "accept`"))
    return out or [good("firewall", "no other firewall drops forwarded traffic (no forward chain with policy drop)")]


def _by_hand(action: Any) -> str:
    """The commands that do what a firewall.Action does."""
    untag = re.compile(r' -m comment --comment \S+| comment "[^"]*"')   # hotshare's own marker
    if action.kind == "iptables":
        return " and ".join(f"`iptables -t {action.table} -I {action.chain} {untag.sub('', r)}`"
                            for r in action.rules)
    if action.kind == "nft":
        return " and ".join(f"`nft insert rule {action.family} {action.table} {action.chain} {untag.sub('', r)}`"
                            for r in action.rules)
    return f"`firewall-cmd --zone={action.zone} --add-interface={action.ap}`"


def check_forward_not_dropped(ctx: Context) -> list[Finding]:
    """9. No other firewall drops the hotspot's traffic (seed 001: Docker's FORWARD policy drop).

    An ``accept`` in hotshare's own table does not stop another base chain at
    the same hook from dropping the packet. hotshare.firewall walks the other
    tables' rules with model packets of hotspot traffic; hotshare itself makes
    the traffic pass where that is safe (FIREWALL=auto) and refuses to start
    otherwise, so the doctor says which case each blocker is."""
    fid = "firewall"
    if not ctx.sharing:
        return [skip(fid, "other firewalls: SHARE_METHOD is not nat")]
    if ctx.ruleset is None:
        return [skip(fid, f"other firewalls: nftables ruleset not read ({ctx.ruleset_error or 'unknown'})")]
    iface = ctx.iface or "wlan0"
    uplinks, _best = current_uplinks(ctx.config, ctx.snap)
    net, _source = hotspot_subnet(ctx)
    if net is None:
        gw = hotspot_gateway(ctx)
        net = ipaddress.IPv4Interface(f"{gw or '192.168.12.1'}/24").network
    mode = getattr(ctx.config, "firewall", "auto")
    try:
        analysis = firewall.analyse({"nftables": ctx.ruleset}, iface, uplinks, net, table_name(iface),
                                    tools=ctx.firewall_tools)
    except Exception as e:  # another module's analysis failing must not hide the simple case
        return _policy_drop_only(ctx, f"hotshare.firewall: {e!r}")
    out = []
    for b in analysis.blockers:
        title = f"another firewall drops {b.traffic}: {b.where} ({b.why})"
        evidence = f"{b.where}, hook {b.hook}: {b.why} ({b.owner}; from `nft list ruleset`)"
        fixable = b.remedy is not None and mode != "ignore" and (b.safe or mode == "insert")
        handled = [a for a in ctx.journal_firewall if a.get("family", b.family) == b.family and (
            a.get("table") == b.table or (a.get("kind") == "firewalld" and b.owner == "firewalld"))]
        if ctx.running and handled:
            where = ", ".join(f"{a.get('kind')} {a.get('table') or a.get('zone')} {a.get('chain') or ''}".rstrip()
                              for a in handled)
            out.append(info(fid, f"{b.where} drops {b.traffic} by itself; hotshare's rules let the hotspot through",
                            f"{evidence}; applied by hotshare: {where}"))
        elif not ctx.running and fixable:
            out.append(info(fid, f"{b.where} drops {b.traffic}: hotshare makes its traffic pass at start",
                            evidence, b.hint))
        elif ctx.running:
            manual = _by_hand(b.remedy) if b.remedy is not None else ""
            fix = (f"restart the hotspot (`hotshare down {iface}`, then up): at start {b.hint}" if fixable
                   else b.hint)
            out.append(bad(fid, title, evidence, fix + (f"; by hand: {manual}" if manual else "")))
        elif mode == "ignore":
            manual = _by_hand(b.remedy) if b.remedy is not None else "accept rules for the hotspot"
            out.append(bad(fid, title, evidence + "; FIREWALL=ignore",
                           f"set FIREWALL=auto so hotshare makes its traffic pass, or add by hand: {manual}"))
        else:
            out.append(bad(fid, title + ": hotshare will refuse to start", evidence, b.hint))
    if not out:
        out.append(good(fid, "no other firewall drops the hotspot's traffic"))
    return out


def _is_ipv4ll(ctx: Context, iface: str) -> list[str]:
    found = [f"address {a}" for a in ctx.snap.addresses_of(iface) if a.ip in IPV4LL]
    found += [f"route {r.dst}" for r in ctx.snap.routes if r.ifname == iface and not r.is_default
              and r.dst.subnet_of(IPV4LL)]
    return found


def check_no_other_manager(ctx: Context) -> list[Finding]:
    """10. dhcpcd, NetworkManager or connman do not manage the AP interface (seed 000)."""
    fid = "managers"
    if (s := _need_iface(ctx, fid, "network managers")) is not None:
        return [s]
    iface = ctx.iface or ""
    local = [p for p in ctx.procs if p.same_netns]
    out = []
    ll = _is_ipv4ll(ctx, iface)
    dhcpcd = [p for p in local if p.comm == "dhcpcd"]
    on_iface = [p for p in dhcpcd if iface in p.args or any(a == iface for a in " ".join(p.args).split())]
    deny = bool(ctx.dhcpcd_conf and re.search(rf"^\s*denyinterfaces\b.*\b{re.escape(iface)}\b", ctx.dhcpcd_conf,
                                              re.M))
    dhcpcd_fix = (f"keep dhcpcd off {iface}: add `denyinterfaces {iface}` to /etc/dhcpcd.conf and release it now "
                  f"with `dhcpcd -k {iface}` (or `dhcpcd -x {iface}`)")
    if ll or on_iface:
        who = ("dhcpcd " + ", ".join(f"pid {p.pid}" for p in (on_iface or dhcpcd))) if dhcpcd else \
            "no dhcpcd runs now (something else, e.g. avahi-autoipd, or a dhcpcd that has exited)"
        evidence = "; ".join(filter(None, [
            f"IPv4 link-local on {iface}: {', '.join(ll)}" if ll else "",
            f"dhcpcd processes on {iface}: " + "; ".join(f"{p.pid} {' '.join(p.args)}" for p in on_iface)
            if on_iface else "", f"who: {who}"]))
        fix = dhcpcd_fix if dhcpcd else f"find what configures {iface} and stop it"
        if ll:
            fix += f"; then remove the 169.254 address (`ip addr del ADDR/16 dev {iface}`)"
        out.append(bad(fid, f"a DHCP client manages {iface} (IPv4LL 169.254.x.x, as in seed 000)"
                       if ll else f"dhcpcd runs a DHCP client on {iface}", evidence, fix))
    elif dhcpcd and not deny:
        out.append(info(fid, f"dhcpcd runs and may take {iface} when its link comes up",
                        "dhcpcd pids " + ", ".join(str(p.pid) for p in dhcpcd) + f"; no `denyinterfaces {iface}` "
                        "in /etc/dhcpcd.conf", dhcpcd_fix))
    nm = [p for p in local if p.comm == "NetworkManager"]
    if nm:
        state = (ctx.nm_devices or {}).get(iface)
        nm_fix = (f"`nmcli device set {iface} managed no`, and permanently: /etc/NetworkManager/conf.d/hotshare.conf "
                  f"with `[keyfile]` `unmanaged-devices=interface-name:{iface}`")
        if ctx.nm_devices is None:
            out.append(info(fid, f"NetworkManager runs (pid {nm[0].pid}); whether it manages {iface} is unknown "
                                 "(no nmcli)", "", nm_fix))
        elif state is not None and state != "unmanaged":
            out.append(bad(fid, f"NetworkManager manages {iface}", f"`nmcli -t -f DEVICE,STATE device`: "
                           f"{iface}:{state} (NetworkManager pid {nm[0].pid})", nm_fix))
    connman = [p for p in local if p.comm == "connmand"]
    if connman:
        m = re.search(r"^\s*NetworkInterfaceBlacklist\s*=\s*(.*)$", ctx.connman_conf or "", re.M)
        prefixes = [x.strip() for x in m.group(1).split(",")] if m else ["vmnet", "vboxnet", "virbr", "ifb"]
        if not any(p and iface.startswith(p) for p in prefixes):
            out.append(bad(fid, f"connman may manage {iface}",
                           f"connmand pid {connman[0].pid}; NetworkInterfaceBlacklist: {', '.join(prefixes)}",
                           f"add {iface} to NetworkInterfaceBlacklist in /etc/connman/main.conf and restart connman"))
    if not any(not f.ok for f in out):
        names = ", ".join(sorted({p.comm for p in dhcpcd + nm + connman})) or "none runs"
        out.insert(0, good(fid, f"no network manager manages {iface} (dhcpcd, NetworkManager, connman: {names})"))
    return out


def check_ip_forwarding(ctx: Context) -> list[Finding]:
    """11. IPv4 forwarding is on for the hotspot and its uplinks (per input interface)."""
    fid = "forwarding"
    if (s := _need_iface(ctx, fid, "forwarding")) is not None:
        return [s]
    if not ctx.sharing:
        return [skip(fid, "forwarding: SHARE_METHOD is not nat")]
    iface = ctx.iface or ""
    names, _best = current_uplinks(ctx.config, ctx.snap)
    wanted = [n for n in (iface, *names) if ctx.snap.link(n) is not None]
    off = [n for n in wanted if ctx.sysctls.get(f"net/ipv4/conf/{n}/forwarding") == "0"]
    evidence = "; ".join(f"net.ipv4.conf.{n}.forwarding = {ctx.sysctls.get(f'net/ipv4/conf/{n}/forwarding')}"
                         for n in wanted)
    if not off:
        return [good(fid, f"IPv4 forwarding is on for {', '.join(wanted)}") if ctx.running and wanted else
                good(fid, "IPv4 forwarding: hotshare turns it on for the hotspot and its uplinks at start")]
    if not ctx.running:
        return [info(fid, f"IPv4 forwarding is off for {', '.join(off)}: hotshare turns it on at start", evidence)]
    return [bad(fid, f"IPv4 forwarding is off for {', '.join(off)} while the hotspot runs", evidence,
                " ; ".join(f"`sysctl -w net.ipv4.conf.{n}.forwarding=1`" for n in off)
                + "; then find what turned it off (a `sysctl --system` or network script run after hotshare "
                  "started); restarting the hotspot sets it again")]


def check_instance_healthy(ctx: Context) -> list[Finding]:
    """12. A running hotspot has its hostapd and dnsmasq; a dead one left no leftovers."""
    fid = "instance"
    if (s := _need_iface(ctx, fid, "hotshare instance")) is not None:
        return [s]
    iface = ctx.iface
    st = ctx.status
    if st.get("stale"):
        return [bad(fid, f"hotshare on {iface} stopped without cleaning up (crashed or killed)",
                    f"its journal {ctx.journal_path or 'exists'} lists its changes, but no hotshare process "
                    f"runs for {iface}",
                    f"`hotshare down {iface}` undoes what it left (address, nftables table, sysctls, daemons)")]
    if not st.get("running"):
        return [good(fid, f"hotshare is not running on {iface} and left nothing behind")]
    alive = st.get("children") or {}
    dead = [n for n in ctx.journal_children if n not in alive]
    out = []
    for name in dead:
        out.append(bad(fid, f"{name} is not running under hotshare on {iface}",
                       f"hotshare pid {st.get('pid')}; {name} was pid {ctx.journal_children[name]}, now gone",
                       f"hotshare restarts it by itself; if it stays down, read why in hotshare's log "
                       f"(syslog: `logread | grep -e hotshare -e {name}`), then `hotshare down {iface}` and "
                       "start it again"))
    ap = st.get("ap") or {}
    if "hostapd" in alive and ap.get("state") and ap.get("state") != "ENABLED":
        out.append(bad(fid, f"hostapd runs but the access point is {ap.get('state')}",
                       f"hostapd STATUS: state={ap.get('state')} channel={ap.get('channel')}",
                       "see hostapd's lines in the log; a DFS channel waits 60 s, a disabled one never starts"))
    if not out:
        kids = ", ".join(f"{n} pid {p}" for n, p in alive.items()) or "no daemons"
        out.append(good(fid, f"hotshare runs on {iface} (pid {st.get('pid')}): {kids}"))
    return out


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


# -- gathering the facts (the only I/O) ---------------------------------------------------

def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _run(argv: list[str], stdin: str | None = None, timeout: float = 10.0) -> tuple[int, str, str]:
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return TIMED_OUT, "", f"`{' '.join(argv)}` did not finish within {timeout:g} s"
    except OSError as e:
        return 127, "", f"{argv[0]}: {e.strerror}"
    return p.returncode, p.stdout, p.stderr


def read_rfkill(root: str = "/sys/class/rfkill") -> tuple[Rfkill, ...]:
    out = []
    try:
        devs = sorted(os.listdir(root))
    except OSError:
        return ()
    for dev in devs:
        base = os.path.join(root, dev)
        name, kind = _read(f"{base}/name"), _read(f"{base}/type")
        soft, hard = _read(f"{base}/soft"), _read(f"{base}/hard")
        if name is None or kind is None:
            continue
        out.append(Rfkill(dev, name.strip(), kind.strip(), (soft or "0").strip() == "1",
                          (hard or "0").strip() == "1"))
    return tuple(out)


def read_procs() -> tuple[Proc, ...]:
    try:
        mine = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        mine = 0
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        comm = _read(f"/proc/{entry}/comm")
        if comm is None:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = tuple(a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a)
        except OSError:
            args = ()
        try:
            same = os.stat(f"/proc/{entry}/ns/net").st_ino == mine
        except OSError:
            same = True
        out.append(Proc(int(entry), comm.strip(), args, same))
    return tuple(out)


def read_sockets(ports: Iterable[int] = (53, 67)) -> tuple[Sock, ...]:
    out: list[Sock] = []
    for proto in ("udp", "tcp"):
        for v6 in (False, True):
            text = _read(f"/proc/net/{proto}{'6' if v6 else ''}")
            if text:
                out += [s for s in parse_proc_net(text, proto, v6) if s.port in ports]
    return tuple(out)


def socket_owners(inodes: set[int]) -> tuple[dict[int, tuple[int, str]], bool]:
    """Which process holds each socket inode (needs root to look into others' fds)."""
    owners: dict[int, tuple[int, str]] = {}
    complete = True
    if not inodes:
        return owners, complete
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except PermissionError:
            complete = False
            continue
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                comm = (_read(f"/proc/{entry}/comm") or "?").strip()
                owners.setdefault(int(target[8:-1]), (int(entry), comm))
        if len(owners) == len(inodes):
            break
    return owners, complete


def _iw(*args: str) -> tuple[str | None, str]:
    iw = find_binary("iw")
    if iw is None:
        return None, "iw is not installed"
    rc, out, err = _run([iw, *args])
    if rc != 0:
        return None, f"`iw {' '.join(args)}`: {err.strip() or f'exit {rc}'}"
    return out, ""


def gather(iface: str | None, cfg: HotspotConfig | None, config_path: str | None = None,
           dns_timeout: float = DNS_TIMEOUT) -> Context:
    ctx = Context(iface=iface, cfg=cfg, config_path=config_path)
    ctx.snap = rtnl.snapshot()
    ctx.wireless_ifaces = tuple(lk.name for lk in ctx.snap.links if is_wireless(lk.name))
    config = ctx.config

    if iface and ctx.wireless:
        ctx.phy = (_read(f"/sys/class/net/{iface}/phy80211/name") or "").strip() or None
        if ctx.phy:
            ctx.phy_info, ctx.iw_error = _iw("phy", ctx.phy, "info")
            ctx.reg, _ = _iw("reg", "get")
        ctx.rfkill = read_rfkill()

    nft_bin = find_binary("nft") or ""
    if not nft_bin:
        ctx.nft_missing = ctx.ruleset_error = "nft not found: install nftables"
    if nft_bin:
        rc, out, err = _run([nft_bin, "-j", "list", "ruleset"], timeout=NFT_TIMEOUT)
        if rc == 0:
            try:
                ctx.ruleset = json.loads(out or '{"nftables": []}').get("nftables", [])
            except ValueError as e:
                ctx.ruleset_error = f"unreadable JSON from nft: {e}"
        else:
            ctx.ruleset_error = (err.strip().splitlines() or [f"nft exit {rc}"])[0]
        if os.geteuid() != 0:
            ctx.probe_skipped = "checking a ruleset against the kernel needs root"
        else:
            # the first use may load a dozen modules: slow on a small board (or under emulation)
            rc, _out, err = _run([nft_bin, "-c", "-f", "-"], stdin=probe_text(NAT_PROBE), timeout=NFT_TIMEOUT)
            if rc == TIMED_OUT:
                ctx.probe_skipped = err
            else:
                ctx.probe_error = "" if rc == 0 else (err or f"nft exit {rc}")
                rc, _out, err = _run([nft_bin, "-c", "-f", "-"], stdin=probe_text(FLOW_PROBE), timeout=NFT_TIMEOUT)
                ctx.flowtable_error = None if rc == TIMED_OUT else "" if rc == 0 else (err or f"nft exit {rc}")

    try:
        ctx.firewall_tools = firewalls.available_tools()
    except (ImportError, OSError):
        pass
    ctx.procs = read_procs()
    ctx.sockets = read_sockets()
    ctx.owners, ctx.owners_known = socket_owners({s.inode for s in ctx.sockets})
    if any(p.comm == "NetworkManager" and p.same_netns for p in ctx.procs):
        nmcli = find_binary("nmcli")
        if nmcli:
            rc, out, _err = _run([nmcli, "-t", "-f", "DEVICE,STATE", "device"])
            ctx.nm_devices = parse_nmcli(out) if rc == 0 else None
    ctx.dhcpcd_conf = _read("/etc/dhcpcd.conf")
    ctx.connman_conf = _read("/etc/connman/main.conf")

    if iface:
        names, _best = current_uplinks(config, ctx.snap)
        for n in dict.fromkeys((iface, *names, "all")):
            key = f"net/ipv4/conf/{n}/forwarding"
            ctx.sysctls[key] = sysctl.read(key)
        ctx.status = dict(status_of(iface))
        path = paths_for(iface).state
        j = Journal.load(path)
        if j is not None:
            ctx.journal_children = dict(j.children)
            ctx.journal_firewall = [dict(a) for a in getattr(j, "firewall", [])]
            ctx.journal_path = path

    if not (config.no_dnsmasq or config.no_dns):
        running_conf = paths_for(iface).dnsmasq_conf if iface and ctx.running else ""
        if running_conf and (text := _read(running_conf)) and parse_servers_file(text):
            # what the running dnsmasq really forwards to
            ctx.dns_servers = tuple(str(a) for a in parse_servers_file(text))
            ctx.dns_source = f"the running dnsmasq's {running_conf}"
        else:
            servers_file = _read(config.dns_servers_file) if config.dns_servers_file else None
            ctx.dns_servers, ctx.dns_source = upstream_servers(config, servers_file, _read("/etc/resolv.conf"))
        if ctx.dns_servers:
            ctx.dns_results = tuple(probe_dns(list(ctx.dns_servers), dns_timeout))
    return ctx


# -- output ----------------------------------------------------------------------------

def _block(label: str, text: str) -> str:
    lines = text.splitlines() or [""]
    pad = " " * (len(label) + 4)
    return f"  {label}: " + f"\n{pad}".join(lines)


def render_human(findings: Sequence[Finding], header: str = "") -> str:
    out = [header] if header else []
    for f in findings:
        if not f.ok:
            out.append(f"✗ {f.title}")
            out.append(_block("evidence", f.evidence))
            out.append(_block("fix", f.fix))
        elif f.level == "skip":
            out.append(f"- {f.title}")
        elif f.level == "info":
            out.append(f"i {f.title}")
            if f.evidence:
                out.append(_block("evidence", f.evidence))
            if f.fix:
                out.append(_block("hint", f.fix))
        else:
            out.append(f"✓ {f.title}")
    problems = sum(1 for f in findings if not f.ok)
    out.append(f"{problems} problem{'s' if problems != 1 else ''} found." if problems else "No problems found.")
    return "\n".join(out) + "\n"


def render_json(findings: Sequence[Finding]) -> str:
    return json.dumps([dataclasses.asdict(f) for f in findings], indent=1, ensure_ascii=False) + "\n"


def exit_code(findings: Sequence[Finding]) -> int:
    return EXIT_PROBLEMS if any(not f.ok for f in findings) else EXIT_OK
