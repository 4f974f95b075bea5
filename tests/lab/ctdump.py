"""Synthetic ctnetlink conntrack dumps, and an independent reference count.

The accounting tests (tests/unit), the ARM cross-build test
(tests/buildroot) and bench/accounting.py all build their dumps here
(``from lab.ctdump import ...``).  It encodes conntrack entries the way the
kernel does -- nlmsghdr, nfgenmsg, nested CTA_TUPLE_ORIG / CTA_TUPLE_IP /
CTA_IP_V4_SRC ..., CTA_COUNTERS_ORIG with CTA_COUNTERS_PACKETS / _BYTES as
big-endian u64, in the attribute order of a 6.x kernel -- without any code
from hotshare, and computes what the per-client counts must be straight from
the entry list.  (Only :data:`MALFORMED`'s expected error codes, and
:func:`load_accounting`, name hotshare: they are what the code under test
must answer.)

tests/unit/test_accounting_synth.py checks the encoder against two
independent references: the real kernel dump recorded in tests/data
(re-encoded byte for byte) and pyroute2's nfct_msg decoder.
"""

from __future__ import annotations

import importlib
import os
import random
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_address, ip_network
from pathlib import Path
from types import ModuleType
from typing import Any

from hotshare.netlink import ctnetlink as conntrack

ROOT = Path(__file__).resolve().parents[2]  # the repository
DATA = ROOT / "tests" / "data"
RECORDED_DUMP = DATA / "conntrack-dump.bin"
RECORDED_TEXT = DATA / "conntrack-dump.txt"
RECORDED_META = DATA / "conntrack-dump.json"

# Kernel constants, spelled out here on purpose (not imported from hotshare).
NLM_F_MULTI = 0x2
NLMSG_NOOP = 0x1
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLA_F_NESTED = 0x8000
CT_NEW = (1 << 8) | 0  # NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW
CT_DELETE = (1 << 8) | 2  # ... | IPCTNL_MSG_CT_DELETE: a destroy event
EXP_NEW = (2 << 8) | 0  # NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_NEW
PORT_PROTOS = (6, 17, 33, 132, 136)  # tcp, udp, dccp, sctp, udplite
TCP_CONNTRACK_ESTABLISHED = 3
IPS_CONFIRMED_ASSURED_SEEN = 0x0E
IPS_SRC_NAT_DONE = 0x190  # SRC_NAT | SRC_NAT_DONE | DST_NAT_DONE
U64 = (1 << 64) - 1


@dataclass(frozen=True)
class SynthEntry:
    """One conntrack entry.  ``counters``: "64" (the kernel's), "pad" (64-bit
    with a CTA_COUNTERS_PAD before each value, as on architectures without
    efficient unaligned access), "32" (old CTA_COUNTERS32_*), "none"
    (nf_conntrack_acct off)."""

    family: int
    proto: int
    orig_src: str
    orig_dst: str
    sport: int
    dport: int
    reply_src: str
    reply_dst: str
    reply_sport: int
    reply_dport: int
    orig_packets: int = 0
    orig_bytes: int = 0
    reply_packets: int = 0
    reply_bytes: int = 0
    status: int = IPS_CONFIRMED_ASSURED_SEEN
    mark: int = 0
    ct_id: int = 1
    use: int = 1
    timeout: int = 30
    zone: int = 0
    icmp_type: int = 8
    icmp_code: int = 0
    reply_icmp_type: int = 0
    tcp_state: int = TCP_CONNTRACK_ESTABLISHED
    tcp_wscale: tuple[int, int] = (7, 7)
    tcp_flags: tuple[int, int] = (0x27, 0x23)
    counters: str = "64"
    nested_flag: bool = True


# --------------------------------------------------------------------------
# Encoding


def nla(atype: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, atype) + payload + b"\0" * (-length % 4)


def nest(atype: int, children: Sequence[bytes], flag: bool = True) -> bytes:
    return nla(atype | (NLA_F_NESTED if flag else 0), b"".join(children))


def _tuple(e: SynthEntry, reply: bool) -> list[bytes]:
    """The children of CTA_TUPLE_ORIG / CTA_TUPLE_REPLY."""
    src, dst = (e.reply_src, e.reply_dst) if reply else (e.orig_src, e.orig_dst)
    sport, dport = (e.reply_sport, e.reply_dport) if reply else (e.sport, e.dport)
    if e.family == socket.AF_INET:
        ip = [nla(1, socket.inet_aton(src)), nla(2, socket.inet_aton(dst))]
    else:
        ip = [nla(3, socket.inet_pton(socket.AF_INET6, src)), nla(4, socket.inet_pton(socket.AF_INET6, dst))]
    l4 = [nla(1, bytes([e.proto]))]
    if e.proto in PORT_PROTOS:
        l4 += [nla(2, struct.pack(">H", sport)), nla(3, struct.pack(">H", dport))]
    elif e.proto in (1, 58):  # ICMP / ICMPv6: id, type, code
        base = 4 if e.proto == 1 else 7
        itype = e.reply_icmp_type if reply else e.icmp_type
        l4 += [nla(base, struct.pack(">H", sport)), nla(base + 1, bytes([itype])), nla(base + 2, bytes([e.icmp_code]))]
    f = e.nested_flag
    return [nest(1, ip, f), nest(2, l4, f)]  # CTA_TUPLE_IP, CTA_TUPLE_PROTO


def _counters(e: SynthEntry, packets: int, octets: int) -> list[bytes]:
    if e.counters == "none":
        return []
    if e.counters == "32":
        return [nla(3, struct.pack(">I", packets)), nla(4, struct.pack(">I", octets))]
    pad = [nla(5, b"")] if e.counters == "pad" else []
    return [*pad, nla(1, struct.pack(">Q", packets)), *pad, nla(2, struct.pack(">Q", octets))]


def encode_entry(e: SynthEntry, seq: int = 0, portid: int = 0, flags: int = NLM_F_MULTI, mtype: int = CT_NEW) -> bytes:
    """One IPCTNL_MSG_CT_NEW message, laid out like ctnetlink_fill_info()
    (``mtype=CT_DELETE``: a destroy event, as ctnetlink_conntrack_event()
    sends it, which lays the same attributes out in the same order)."""
    f = e.nested_flag
    attrs = [nest(1, _tuple(e, False), f), nest(2, _tuple(e, True), f)]  # CTA_TUPLE_ORIG, CTA_TUPLE_REPLY
    if e.zone:
        attrs.append(nla(18, struct.pack(">H", e.zone)))  # CTA_ZONE
    attrs.append(nla(3, struct.pack(">I", e.status)))  # CTA_STATUS
    attrs.append(nla(8, struct.pack(">I", e.mark)))  # CTA_MARK
    attrs.append(nla(12, struct.pack(">I", e.ct_id)))  # CTA_ID
    attrs.append(nla(11, struct.pack(">I", e.use)))  # CTA_USE
    attrs.append(nla(7, struct.pack(">I", e.timeout)))  # CTA_TIMEOUT
    if e.proto == 6:  # CTA_PROTOINFO / CTA_PROTOINFO_TCP
        tcp = [
            nla(1, bytes([e.tcp_state])),
            nla(2, bytes([e.tcp_wscale[0]])),
            nla(3, bytes([e.tcp_wscale[1]])),
            nla(4, bytes([e.tcp_flags[0], 0])),
            nla(5, bytes([e.tcp_flags[1], 0])),
        ]
        attrs.append(nest(4, [nest(1, tcp, f)], f))
    if e.counters != "none":
        attrs.append(nest(9, _counters(e, e.orig_packets, e.orig_bytes), f))  # CTA_COUNTERS_ORIG
        attrs.append(nest(10, _counters(e, e.reply_packets, e.reply_bytes), f))  # CTA_COUNTERS_REPLY
    payload = struct.pack("=BBH", e.family, 0, 0) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(payload), mtype, flags, seq, portid) + payload


def encode_done(seq: int = 0, portid: int = 0, error: int = 0) -> bytes:
    return struct.pack("=IHHIIi", 20, NLMSG_DONE, NLM_F_MULTI, seq, portid, error)


def encode_noise(rng: random.Random) -> bytes:
    """Messages a parser must step over: a NOOP, an expectation message."""
    if rng.random() < 0.5:
        return struct.pack("=IHHII", 16, NLMSG_NOOP, 0, 0, 0)
    payload = struct.pack("=BBH", 2, 0, 0) + nest(1, [nest(1, [nla(1, socket.inet_aton("10.0.0.9"))])])
    return struct.pack("=IHHII", 16 + len(payload), EXP_NEW, NLM_F_MULTI, 0, 0) + payload


def encode_dump(entries: Sequence[SynthEntry], *, done: bool = True, noise: random.Random | None = None) -> bytes:
    parts = []
    for e in entries:
        parts.append(encode_entry(e))
        if noise is not None and noise.random() < 0.05:
            parts.append(encode_noise(noise))
    if done:
        parts.append(encode_done())
    return b"".join(parts)


def encode_events(entries: Sequence[SynthEntry], *, noise: random.Random | None = None) -> bytes:
    """A batch of destroy events, as DestroyEvents.batches() lays them out
    (one message after the other, no NLMSG_DONE)."""
    parts = []
    for e in entries:
        parts.append(encode_entry(e, flags=0, mtype=CT_DELETE))
        if noise is not None and noise.random() < 0.05:
            parts.append(encode_noise(noise))
    return b"".join(parts)


def chunks_of(buf: bytes, limit: int = 32768) -> list[bytes]:
    """Split a dump into receive buffers of whole messages, as the kernel does."""
    out, start, off = [], 0, 0
    while off < len(buf):
        (mlen,) = struct.unpack_from("=I", buf, off)
        step = (mlen + 3) & ~3
        if off + step - start > limit and off > start:
            out.append(buf[start:off])
            start = off
        off += step
    if start < len(buf):
        out.append(buf[start:])
    return out


# --------------------------------------------------------------------------
# Random tables


def _host(rng: random.Random, net: IPv4Network) -> str:
    return str(net.network_address + rng.randrange(1, net.num_addresses - 1))


def _internet(rng: random.Random) -> str:
    while True:
        a = ip_address(rng.getrandbits(32))
        if a.is_global:
            return str(a)


def random_entries(
    rng: random.Random,
    n: int,
    subnet: str = "10.42.0.0/23",
    router: str = "10.42.0.1",
    nat: Sequence[str] = ("203.0.113.7", "198.51.100.20"),
    stations: int = 40,
) -> list[SynthEntry]:
    """A plausible hotspot table: mostly stations' NATed connections, plus
    port forwards, routed inbound, router-to-station, the router's own,
    foreign, IGMP and IPv6 entries, in every counter flavour."""
    net = ip_network(subnet)
    assert isinstance(net, IPv4Network)
    hosts = sorted({_host(rng, net) for _ in range(stations)} - {router})
    out = []
    for _ in range(n):
        kind = rng.choices(
            ["out", "fwd", "routed", "router_in", "router_out", "foreign", "igmp", "v6"],
            [70, 5, 5, 3, 5, 5, 2, 5],
        )[0]
        proto = rng.choices([6, 17, 1, 132], [60, 30, 8, 2])[0]
        sta = rng.choice(hosts)
        remote = _internet(rng)
        sp, dp = rng.randrange(1024, 65536), rng.choice([53, 80, 443, 123, 5222, rng.randrange(1, 65536)])
        natp = rng.randrange(1024, 65536)
        pub = rng.choice(nat)
        if kind == "out":
            t = (sta, remote, sp, dp, remote, pub, dp, natp)
        elif kind == "fwd":
            t = (remote, pub, sp, 8080, sta, remote, 80, sp)
        elif kind == "routed":
            t = (remote, sta, sp, dp, sta, remote, dp, sp)
        elif kind == "router_in":
            t = (router, sta, sp, dp, sta, router, dp, sp)
        elif kind == "router_out":
            t = (pub, remote, sp, dp, remote, pub, dp, sp)
        elif kind == "foreign":
            a, b = _internet(rng), _internet(rng)
            t = (a, b, sp, dp, b, a, dp, sp)
        elif kind == "igmp":
            proto = 2
            t = (router, "224.0.0.22", 0, 0, "224.0.0.22", router, 0, 0)
        else:  # a client's (fd42::/64, the router fd42::1) out, routed in, the router's, foreign
            a6, b6 = f"fd42::{rng.randrange(1, 1 << 16):x}", f"2001:db8::{rng.randrange(1, 1 << 16):x}"
            t = rng.choice([(a6, b6, sp, dp, b6, a6, dp, sp), (b6, a6, sp, dp, a6, b6, dp, sp),
                            ("fd42::1", a6, sp, dp, a6, "fd42::1", dp, sp), (b6, "2001:db8:1::1", sp, dp,
                                                                           "2001:db8:1::1", b6, dp, sp)])
        if proto == 1 and kind != "v6":
            t = (t[0], t[1], sp, 0, t[4], t[5], sp, 0)
        elif proto == 1:
            proto = 58
        big = rng.random() < 0.05
        op = rng.randrange(0, 1 << 20 if big else 2000)
        rp = rng.randrange(0, 1 << 20 if big else 2000)
        out.append(
            SynthEntry(
                family=socket.AF_INET6 if kind == "v6" else socket.AF_INET,
                proto=proto,
                orig_src=t[0],
                orig_dst=t[1],
                sport=t[2],
                dport=t[3],
                reply_src=t[4],
                reply_dst=t[5],
                reply_sport=t[6],
                reply_dport=t[7],
                orig_packets=op,
                orig_bytes=op * rng.randrange(40, 1500),
                reply_packets=rp,
                reply_bytes=rp * rng.randrange(40, 1500),
                status=IPS_CONFIRMED_ASSURED_SEEN | (IPS_SRC_NAT_DONE if kind == "out" else 0),
                mark=rng.choice([0, 0, 0, 0x10]),
                ct_id=rng.getrandbits(32),
                timeout=rng.randrange(1, 432000),
                zone=rng.choice([0] * 30 + [7]),
                counters=rng.choices(["64", "pad", "32", "none"], [85, 5, 5, 5])[0],
                nested_flag=rng.random() < 0.9,
            )
        )
    return out


def expected_counts(
    entries: Sequence[SynthEntry], subnet: str, exclude: Sequence[str] = (), prefixes6: Sequence[str] = ()
) -> dict[str, tuple[int, int, int, int, int]]:
    """The documented rule, from the entry list alone:
    {station: (tx_bytes, tx_packets, rx_bytes, rx_packets, connections)},
    IPv4 stations first (in the subnet), then IPv6 ones (in ``prefixes6``)."""
    net = ip_network(subnet)
    nets6 = [ip_network(p) for p in prefixes6]

    def station(addr: str) -> bool:
        a = ip_address(addr)
        return (a in net if a.version == 4 else any(a in n for n in nets6)) and addr not in exclude

    sums: dict[str, list[int]] = {}
    for e in entries:
        if e.family != socket.AF_INET and not (e.family == socket.AF_INET6 and nets6):
            continue
        o = (e.orig_bytes, e.orig_packets) if e.counters != "none" else (0, 0)
        r = (e.reply_bytes, e.reply_packets) if e.counters != "none" else (0, 0)
        if e.counters == "32":
            o = (o[0] & 0xFFFFFFFF, o[1] & 0xFFFFFFFF)
            r = (r[0] & 0xFFFFFFFF, r[1] & 0xFFFFFFFF)
        if e.orig_src in exclude or e.reply_src in exclude:   # the router's own traffic
            continue
        if station(e.orig_src):
            who, tx, rx = e.orig_src, o, r
        elif station(e.reply_src):
            who, tx, rx = e.reply_src, r, o
        else:
            continue
        s = sums.setdefault(who, [0, 0, 0, 0, 0])
        s[0] += tx[0]
        s[1] += tx[1]
        s[2] += rx[0]
        s[3] += rx[1]
        s[4] += 1
    ordered = sorted(sums.items(), key=lambda kv: (ip_address(kv[0]).version, int(ip_address(kv[0]))))
    return {k: (v[0] & U64, v[1] & U64, v[2] & U64, v[3] & U64, v[4]) for k, v in ordered}


def as_tuples(counts: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in counts.items()}


# --------------------------------------------------------------------------
# The module under test, with its C helper built


def cext_path() -> Path | None:
    found = sorted((ROOT / "python" / "hotshare").glob("_ctacct*.so"))
    return found[0] if found else None


def ensure_cext() -> None:
    """Build hotshare._ctacct in place if it is missing or older than its sources."""
    so = cext_path()
    sources = [ROOT / "csrc" / "ctacct.c", ROOT / "csrc" / "ctacct.h", ROOT / "csrc" / "build_ffi.py"]
    if so is not None and so.stat().st_mtime >= max(s.stat().st_mtime for s in sources):
        return
    subprocess.run([sys.executable, str(ROOT / "csrc" / "build_ffi.py")], check=True, capture_output=True)


def load_accounting() -> ModuleType:
    """hotshare.netlink.ctacct with the C backend available (built if needed);
    the calling test is skipped without cffi."""
    import pytest  # only the tests call this; the bench imports the rest

    pytest.importorskip("cffi")
    ensure_cext()
    os.environ.pop("HOTSHARE_NO_CEXT", None)
    import hotshare.netlink.ctacct as accounting

    if accounting.backend() != "c":
        accounting = importlib.reload(accounting)
    assert accounting.backend() == "c", "the C helper was built but does not load"
    return accounting


# --------------------------------------------------------------------------
# A generic attribute tree (the encoder's self-tests read the kernel's dump with it)


def attr_tree(buf: bytes, start: int, end: int) -> list[tuple[int, Any]]:
    """[(nla_type with flags, payload bytes | children)]; recursion on NLA_F_NESTED."""
    out: list[tuple[int, Any]] = []
    pos = start
    while pos + 4 <= end:
        length, atype = struct.unpack_from("=HH", buf, pos)
        assert 4 <= length <= end - pos
        payload = buf[pos + 4 : pos + length]
        out.append((atype, attr_tree(buf, pos + 4, pos + length) if atype & NLA_F_NESTED else payload))
        pos += (length + 3) & ~3
    return out


def messages(buf: bytes) -> Iterator[tuple[int, int, int, int, int, bytes]]:
    """(type, flags, seq, pid, family, whole message bytes)."""
    off = 0
    while off + 16 <= len(buf):
        mlen, mtype, flags, seq, pid = struct.unpack_from("=IHHII", buf, off)
        family = buf[off + 16] if mlen > 16 else -1
        yield mtype, flags, seq, pid, family, buf[off : off + mlen]
        off += (mlen + 3) & ~3


def synth_from_kernel_message(msg: bytes) -> SynthEntry:
    """Read an entry's values out of a kernel message (generic tree walk)."""
    tree = dict((t & 0x3FFF, v) for t, v in attr_tree(msg, 20, len(msg)))
    family = msg[16]

    def tup(t: list[tuple[int, Any]]) -> dict[str, Any]:
        d = dict((k & 0x3FFF, v) for k, v in t)
        ip: dict[int, bytes] = dict((k & 0x3FFF, v) for k, v in d[1])
        l4: dict[int, bytes] = dict((k & 0x3FFF, v) for k, v in d[2])
        fam = socket.AF_INET if 1 in ip else socket.AF_INET6
        src = socket.inet_ntop(fam, ip[1 if fam == socket.AF_INET else 3])
        dst = socket.inet_ntop(fam, ip[2 if fam == socket.AF_INET else 4])
        proto = l4[1][0]
        sport = struct.unpack(">H", l4.get(2, l4.get(4, l4.get(7, b"\0\0"))))[0]
        dport = struct.unpack(">H", l4.get(3, b"\0\0"))[0]
        itype = l4.get(5, l4.get(8, b"\x08"))[0]
        icode = l4.get(6, l4.get(9, b"\0"))[0]
        return {"src": src, "dst": dst, "proto": proto, "sport": sport, "dport": dport, "itype": itype, "icode": icode}

    o, r = tup(tree[1]), tup(tree[2])

    def be(k: int, default: int = 0) -> int:
        v = tree.get(k)
        return int.from_bytes(v, "big") if v is not None else default

    def counters(k: int) -> tuple[int, int]:
        d = dict((t & 0x3FFF, v) for t, v in tree.get(k, []))
        return int.from_bytes(d.get(1, b""), "big"), int.from_bytes(d.get(2, b""), "big")

    op, ob = counters(9)
    rp, rb = counters(10)
    extra: dict[str, Any] = {}
    if 4 in tree:
        tcp = dict((t & 0x3FFF, v) for t, v in dict((t & 0x3FFF, v) for t, v in tree[4])[1])
        extra = {
            "tcp_state": tcp[1][0],
            "tcp_wscale": (tcp[2][0], tcp[3][0]),
            "tcp_flags": (tcp[4][0], tcp[5][0]),
        }
    return SynthEntry(
        family=family,
        proto=o["proto"],
        orig_src=o["src"],
        orig_dst=o["dst"],
        sport=o["sport"],
        dport=o["dport"],
        reply_src=r["src"],
        reply_dst=r["dst"],
        reply_sport=r["sport"],
        reply_dport=r["dport"],
        orig_packets=op,
        orig_bytes=ob,
        reply_packets=rp,
        reply_bytes=rb,
        status=be(3),
        mark=be(8),
        ct_id=be(12),
        use=be(11),
        timeout=be(7),
        zone=be(18),
        icmp_type=o["itype"],
        icmp_code=o["icode"],
        reply_icmp_type=r["itype"],
        counters="64" if 9 in tree else "none",
        **extra,
    )


# --------------------------------------------------------------------------
# Malformed dumps


def ct_msg(attrs: bytes, family: int = 2) -> bytes:
    """One IPCTNL_MSG_CT_NEW message around ``attrs`` (nothing checked)."""
    payload = struct.pack("=BBH", family, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(payload), 0x100, 2, 0, 0) + payload


GOOD = encode_entry(
    SynthEntry(family=2, proto=17, orig_src="10.42.0.5", orig_dst="9.9.9.9", sport=1, dport=53,
               reply_src="9.9.9.9", reply_dst="203.0.113.7", reply_sport=53, reply_dport=1,
               orig_bytes=100, orig_packets=1)
)  # fmt: skip

# Malformed input, case by case: (dump, offset, error code) that both
# backends must report (tests/unit/test_accounting.py, and the C driver under
# the sanitizers in tests/unit/test_ctacct_sanitizers.py).
MALFORMED = {
    "short header": (GOOD + b"\x10\x00\x00", len(GOOD), conntrack.E_NLMSG_TRUNC),
    "nlmsg_len below 16": (struct.pack("=IHHII", 8, 0x100, 0, 0, 0), 0, conntrack.E_NLMSG_LEN),
    "nlmsg_len past the end": (GOOD[:-4], 0, conntrack.E_NLMSG_LEN),
    "no room for nfgenmsg": (struct.pack("=IHHII", 18, 0x100, 0, 0, 0) + b"\2\0\0\0", 0, conntrack.E_NFGENMSG),
    "attribute header cut": (ct_msg(b"\x08\x00"), 20, conntrack.E_NLA_TRUNC),
    "nla_len below 4": (ct_msg(b"\x02\x00\x01\x00"), 20, conntrack.E_NLA_LEN),
    "nla_len past the message": (ct_msg(b"\x40\x00\x03\x00\0\0\0\0"), 20, conntrack.E_NLA_PAST_END),
    "nested past its container": (
        ct_msg(nest(1, [b"\x20\x00\x01\x80" + b"\0" * 8])),
        24,
        conntrack.E_NLA_PAST_END,
    ),
    "5-byte address": (ct_msg(nest(1, [nest(1, [nla(1, b"\n\0\0\1\0")])])), 28, conntrack.E_PAYLOAD),
    "4-byte 64-bit counter": (ct_msg(nest(9, [nla(2, b"\0\0\0\1")])), 24, conntrack.E_PAYLOAD),
    "8-byte 32-bit counter": (ct_msg(nest(10, [nla(4, b"\0" * 8)])), 24, conntrack.E_PAYLOAD),
    "error message": (
        GOOD + struct.pack("=IHHIIi", 36, 2, 0, 0, 0, -1) + b"\0" * 16,
        len(GOOD),
        conntrack.E_NLMSG_ERROR,
    ),
}


def mutate(buf: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    """Apply fuzzing ops (truncate, byte, u16, insert, delete at a position) to buf."""
    b = bytearray(buf)
    for op in ops:
        if not b:
            break
        pos = op[1] % len(b)
        if op[0] == "truncate":
            del b[pos:]
        elif op[0] == "byte":
            b[pos] = op[2]
        elif op[0] == "u16" and pos + 2 <= len(b):
            b[pos : pos + 2] = struct.pack("=H", op[2])
        elif op[0] == "insert":
            b[pos:pos] = op[2]
        elif op[0] == "delete":
            del b[pos : pos + op[2]]
    return bytes(b)
