"""Per-client accounting: the C helper and the pure-Python path against an
independent reference, against each other, and against a real kernel dump."""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
from ipaddress import ip_address
from types import ModuleType
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotshare.netlink import ctnetlink as conntrack
from lab.ctdump import (
    MALFORMED,
    RECORDED_DUMP,
    RECORDED_META,
    RECORDED_TEXT,
    ROOT,
    SynthEntry,
    as_tuples,
    chunks_of,
    ct_msg,
    encode_done,
    encode_dump,
    encode_entry,
    expected_counts,
    load_accounting,
    mutate,
    nest,
    nla,
    random_entries,
)
from lab.ctlab import counts_from_rows, parse_conntrack_text

SUBNET = "10.42.0.0/23"
ROUTER = "10.42.0.1"
PREFIX6 = "fd42::/64"   # the clients' IPv6 prefix in random_entries; the router is fd42::1
ROUTER6 = "fd42::1"
BACKENDS = ("c", "python")


@pytest.fixture(scope="session")
def acct() -> ModuleType:
    """hotshare.accounting, with the C helper built in place if missing."""
    return load_accounting()


def both(acct: ModuleType, buf: bytes, subnet: str = SUBNET, **kw: Any) -> dict[str, tuple[int, ...]]:
    """Count with both backends; they must agree; return the common answer."""
    c = as_tuples(acct.count_by_client(buf, subnet, backend="c", **kw))
    py = as_tuples(acct.count_by_client(buf, subnet, backend="python", **kw))
    assert c == py
    return c


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except ValueError as exc:
        return "error", str(exc)


def count_outcome(acct: ModuleType, backend: str, buf: bytes, subnet: str = SUBNET, **kw: Any) -> tuple[str, Any]:
    """("ok", counts) or ("error", message): anything else propagates."""
    return outcome(lambda: as_tuples(acct.count_by_client(buf, subnet, backend=backend, **kw)))


# --------------------------------------------------------------------------
# Synthetic tables


@pytest.mark.parametrize("n,seed", [(0, 0), (1, 1), (10, 2), (500, 3), (5000, 4)])
def test_backends_match_reference(acct: ModuleType, n: int, seed: int) -> None:
    entries = random_entries(random.Random(seed), n)
    buf = encode_dump(entries, noise=random.Random(seed))
    assert both(acct, buf, exclude=[ROUTER]) == expected_counts(entries, SUBNET, exclude=(ROUTER,))
    assert both(acct, buf) == expected_counts(entries, SUBNET)
    # with the clients' IPv6 prefix, their IPv6 entries too
    assert both(acct, buf, exclude=[ROUTER, ROUTER6], prefixes6=[PREFIX6]) == expected_counts(
        entries, SUBNET, exclude=(ROUTER, ROUTER6), prefixes6=(PREFIX6,))
    assert both(acct, buf, prefixes6=[PREFIX6, "2001:db8::/48"]) == expected_counts(
        entries, SUBNET, prefixes6=(PREFIX6, "2001:db8::/48"))


def test_ipv6_entries_by_hand(acct: ModuleType) -> None:
    def v6(src: str, dst: str, ob: int, rb: int) -> SynthEntry:
        return SynthEntry(family=socket.AF_INET6, proto=6, orig_src=src, orig_dst=dst, sport=40000, dport=443,
                          reply_src=dst, reply_dst=src, reply_sport=443, reply_dport=40000,
                          orig_packets=1, orig_bytes=ob, reply_packets=2, reply_bytes=rb)
    phone, server = "2001:db8:64:1:aa::5", "2001:db8:ffff::80"
    buf = encode_dump([v6(phone, server, 100, 5000),       # the phone downloads
                       v6(server, phone, 70, 30),          # into the phone (reply source is the phone)
                       v6("2001:db8:64:1::2", server, 9, 9),  # the board's own address in the prefix
                       v6("fe80::1", "ff02::1", 1, 1)])       # not in the prefix
    kw: dict[str, Any] = {"prefixes6": ["2001:db8:64:1::/64"], "exclude": [ROUTER, "2001:db8:64:1::2"]}
    assert both(acct, buf, **kw) == {phone: (100 + 30, 3, 5000 + 70, 3, 2)}
    assert both(acct, buf) == {}    # no prefixes: no IPv6 client
    # prefixes of any length: a /128, a /48
    other = "2001:db8:64:1:bb::6"
    buf2 = buf + encode_dump([v6(other, server, 1, 2)])
    assert both(acct, buf2, prefixes6=[f"{phone}/128"]) == {phone: (100 + 30, 3, 5000 + 70, 3, 2)}
    assert set(both(acct, buf2, prefixes6=["2001:db8:64::/48"], exclude=["2001:db8:64:1::2"])) == {phone, other}


def test_50k_entries(acct: ModuleType) -> None:
    entries = random_entries(random.Random(50_000), 50_000, stations=250)
    buf = encode_dump(entries)
    expected = expected_counts(entries, SUBNET, exclude=(ROUTER,))
    assert len(expected) > 150
    assert sum(v[4] for v in expected.values()) > 35_000  # most of the 50k: all but the router's own and v6
    assert both(acct, buf, exclude=[ROUTER]) == expected
    # Fed one 32 KiB receive buffer at a time, as count_live() does.
    parts = chunks_of(buf)
    assert len(parts) > 100
    for backend in BACKENDS:
        assert as_tuples(acct.count_chunks(parts, SUBNET, exclude=[ROUTER], backend=backend)) == expected


def test_table_grows_past_its_first_size(acct: ModuleType) -> None:
    """5000 stations in a /16: the C table starts at 1024 slots and must
    grow mid-buffer without losing or double-counting an entry."""
    entries = random_entries(random.Random(9), 20_000, subnet="10.9.0.0/16", router="10.9.0.1", stations=5000)
    buf = encode_dump(entries)
    expected = expected_counts(entries, "10.9.0.0/16", exclude=("10.9.0.1",))
    assert len(expected) > 3000
    assert both(acct, buf, "10.9.0.0/16", exclude=["10.9.0.1"]) == expected
    # the IPv6 table starts at 16 slots: it grows too
    with6 = expected_counts(entries, "10.9.0.0/16", exclude=("10.9.0.1",), prefixes6=(PREFIX6,))
    assert len(with6) - len(expected) > 100
    assert both(acct, buf, "10.9.0.0/16", exclude=["10.9.0.1"], prefixes6=[PREFIX6]) == with6


def test_counters_wrap_like_u64(acct: ModuleType) -> None:
    e = SynthEntry(
        family=2, proto=17, orig_src="10.42.0.7", orig_dst="9.9.9.9", sport=5, dport=53,
        reply_src="9.9.9.9", reply_dst="203.0.113.7", reply_sport=53, reply_dport=5,
        orig_packets=(1 << 64) - 1, orig_bytes=(1 << 64) - 10, reply_packets=1, reply_bytes=2,
    )  # fmt: skip
    buf = encode_dump([e, e, e])
    got = both(acct, buf)
    assert got == expected_counts([e, e, e], SUBNET)
    assert got["10.42.0.7"][0] == (3 * ((1 << 64) - 10)) & ((1 << 64) - 1)


def test_subnet_edges(acct: ModuleType) -> None:
    """A /32 'subnet', a /0 one and the exclude list."""
    entries = random_entries(random.Random(11), 400)
    buf = encode_dump(entries)
    one = entries[0].orig_src if entries[0].family == 2 else "10.42.0.9"
    assert both(acct, buf, f"{one}/32") == expected_counts(entries, f"{one}/32")
    assert both(acct, buf, "0.0.0.0/0") == expected_counts(entries, "0.0.0.0/0")
    everyone = list(expected_counts(entries, SUBNET))
    assert both(acct, buf, exclude=everyone) == {}


def test_results_in_address_order_and_streamable(acct: ModuleType) -> None:
    entries = random_entries(random.Random(12), 3000)
    parts = chunks_of(encode_dump(entries))
    for backend in BACKENDS:
        accounting = acct.ClientAccounting(SUBNET, exclude=[ROUTER], backend=backend)
        accounting.feed(parts[0])
        first = accounting.result()  # mid-stream: must not disturb the table
        for part in parts[1:]:
            accounting.feed(part)
        final = as_tuples(accounting.result())
        assert final == expected_counts(entries, SUBNET, exclude=(ROUTER,))
        assert list(final) == sorted(final, key=lambda a: int(ip_address(a)))
        assert all(final[k][4] >= first[k].connections for k in first)


def test_entries_without_counters_still_count_as_connections(acct: ModuleType) -> None:
    es = [
        SynthEntry(family=2, proto=6, orig_src="10.42.0.5", orig_dst="1.1.1.1", sport=1000 + i, dport=443,
                   reply_src="1.1.1.1", reply_dst="203.0.113.7", reply_sport=443, reply_dport=1000 + i,
                   orig_bytes=999, orig_packets=9, counters="none")
        for i in range(3)
    ]  # fmt: skip
    assert both(acct, encode_dump(es)) == {"10.42.0.5": (0, 0, 0, 0, 3)}


def test_iter_entries_decodes_synthetic_entries() -> None:
    entries = random_entries(random.Random(13), 1500)
    decoded = list(conntrack.iter_entries(encode_dump(entries, noise=random.Random(1))))
    assert len(decoded) == len(entries)
    for s, d in zip(entries, decoded):
        assert (d.family, d.proto, d.orig_src, d.orig_dst, d.reply_src, d.reply_dst) == (
            s.family, s.proto, s.orig_src, s.orig_dst, s.reply_src, s.reply_dst,
        )  # fmt: skip
        if s.proto in (6, 17, 132):
            assert (d.orig_sport, d.orig_dport, d.reply_sport, d.reply_dport) == (
                s.sport, s.dport, s.reply_sport, s.reply_dport,
            )  # fmt: skip
        if s.proto in (1, 58):
            assert (d.orig_sport, d.icmp_type, d.icmp_code) == (s.sport, s.icmp_type, s.icmp_code)
        mask = 0xFFFFFFFF if s.counters == "32" else (1 << 64) - 1
        if s.counters != "none":
            assert (d.orig_packets, d.orig_bytes, d.reply_packets, d.reply_bytes) == (
                s.orig_packets & mask, s.orig_bytes & mask, s.reply_packets & mask, s.reply_bytes & mask,
            )  # fmt: skip
        assert (d.id, d.mark, d.status, d.zone, d.timeout) == (s.ct_id, s.mark, s.status, s.zone, s.timeout)
        # The raw tuple is what delete() sends back: it must be the encoder's.
        assert nest(1, [d.orig_tuple], s.nested_flag)[4:] == d.orig_tuple


# --------------------------------------------------------------------------
# Malformed input, case by case: both backends, same error, same offset
# (the cases: lab.ctdump.MALFORMED, shared with the sanitizer tests)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input(acct: ModuleType, name: str) -> None:
    buf, offset, code = MALFORMED[name]
    messages = set()
    for backend in BACKENDS:
        with pytest.raises(conntrack.ConntrackParseError) as info:
            acct.count_by_client(buf, SUBNET, backend=backend)
        assert (info.value.offset, info.value.code) == (offset, code), backend
        messages.add(str(info.value))
    assert len(messages) == 1
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError):
        list(conntrack.iter_entries(buf))


def test_things_that_are_not_errors(acct: ModuleType) -> None:
    assert both(acct, b"") == {}
    assert both(acct, encode_done()) == {}
    # Last message without its alignment padding (the walk just ends).
    unpadded = ct_msg(nest(1, [nest(1, [nla(1, socket.inet_aton("10.42.0.8"))])]) + b"\x05\x00\x63\x00\x01")
    assert both(acct, unpadded) == {"10.42.0.8": (0, 0, 0, 0, 1)}
    # Unknown attributes, CTA_COUNTERS_PAD, flags bits, an IPv6 message: skipped.
    odd = ct_msg(nla(0x3FFF, b"abc") + nest(9, [nla(5, b""), nla(1 | 0x4000, b"\0" * 7 + b"\2")]) + nest(
        1, [nest(1, [nla(1, socket.inet_aton("10.42.0.9"))])]
    ))  # fmt: skip
    assert both(acct, odd) == {"10.42.0.9": (0, 2, 0, 0, 1)}
    assert both(acct, ct_msg(nest(1, [nest(1, [nla(1, socket.inet_aton("10.42.0.9"))])]), family=10)) == {}


def test_c_status_texts_match_python(acct: ModuleType) -> None:
    lib, ffi = acct._cext.lib, acct._cext.ffi
    for code, reason in conntrack.REASONS.items():
        assert ffi.string(lib.ctacct_strerror(code)).decode() == reason
    assert lib.CTACCT_E_NOSPC == conntrack.E_NOSPC
    # Bad arguments.
    table = ffi.new("struct ctacct_client[]", 8)
    n = ffi.new("size_t *")
    assert lib.ctacct_count(ffi.NULL, 4, 0, 0, ffi.NULL, 0, table, 8, n, ffi.NULL) == conntrack.E_INVAL
    empty = ffi.from_buffer("uint8_t[]", b"\0")
    assert lib.ctacct_count(empty, 0, 0, 0, ffi.NULL, 0, table, 6, n, ffi.NULL) == conntrack.E_INVAL
    assert lib.ctacct_count(empty, 0, 0, 0, ffi.NULL, 1, table, 8, n, ffi.NULL) == conntrack.E_INVAL
    assert lib.ctacct_count(empty, 0, 0, 0, ffi.NULL, 0, table, 8, n, ffi.NULL) == 0
    # A full table says so and points at the message it could not take.
    entries = [
        SynthEntry(family=2, proto=17, orig_src=f"10.42.0.{i}", orig_dst="9.9.9.9", sport=1, dport=53,
                   reply_src="9.9.9.9", reply_dst="203.0.113.7", reply_sport=53, reply_dport=1)
        for i in range(10, 20)
    ]  # fmt: skip
    buf = ffi.from_buffer("uint8_t[]", encode_dump(entries))
    err = ffi.new("size_t *")
    net, mask = socket.htonl(0x0A2A0000), socket.htonl(0xFFFFFE00)
    assert lib.ctacct_count(buf, len(buf), net, mask, ffi.NULL, 0, table, 8, n, err) == conntrack.E_NOSPC
    assert n[0] == 6  # 3/4 of 8
    assert err[0] == sum(len(encode_entry(e)) for e in entries[:6])
    bigger = ffi.new("struct ctacct_client[]", 32)
    assert lib.ctacct_rehash(table, 8, bigger, 32, n) == 0 and n[0] == 6
    rest = len(buf) - err[0]
    assert lib.ctacct_count(buf + err[0], rest, net, mask, ffi.NULL, 0, bigger, 32, n, err) == 0
    assert n[0] == 10 == lib.ctacct_compact(bigger, 32)
    assert sorted(socket.ntohl(bigger[i].addr_be) & 0xFF for i in range(10)) == list(range(10, 20))


# --------------------------------------------------------------------------
# Random corruption: reject the same way, or agree


def _seed_dump(seed: int) -> bytes:
    rng = random.Random(seed)
    return encode_dump(random_entries(rng, rng.randrange(1, 6)), noise=rng)


mutation = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 4000)),
    st.tuples(st.just("byte"), st.integers(0, 4000), st.integers(0, 255)),
    st.tuples(st.just("u16"), st.integers(0, 4000), st.sampled_from([0, 1, 3, 4, 5, 7, 8, 12, 16, 20, 0xFFFF])),
    st.tuples(st.just("u16"), st.integers(0, 4000), st.integers(0, 0xFFFF)),
    st.tuples(st.just("insert"), st.integers(0, 4000), st.binary(min_size=1, max_size=9)),
    st.tuples(st.just("delete"), st.integers(0, 4000), st.integers(1, 9)),
)


def reframe_last(buf: bytes) -> bytes:
    """Rewrite the nlmsg_len of the message that straddles the end so that it
    ends exactly there: valid framing, truncated attributes inside."""
    b = bytearray(buf)
    off = 0
    while len(b) - off >= 16:
        (mlen,) = struct.unpack_from("=I", b, off)
        if mlen < 16 or mlen >= len(b) - off:
            struct.pack_into("=I", b, off, len(b) - off)
            break
        off += (mlen + 3) & ~3
    return bytes(b)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), ops=st.lists(mutation, min_size=1, max_size=4), reframe=st.booleans())
def test_corrupted_dumps(acct: ModuleType, seed: int, ops: list[tuple[Any, ...]], reframe: bool) -> None:
    buf = mutate(_seed_dump(seed), ops)
    if reframe:
        buf = reframe_last(buf)
    for exclude in ([], [ROUTER]):
        assert count_outcome(acct, "c", buf, exclude=exclude) == count_outcome(acct, "python", buf, exclude=exclude)
    kw: dict[str, Any] = {"exclude": [ROUTER, ROUTER6], "prefixes6": [PREFIX6]}
    assert count_outcome(acct, "c", buf, **kw) == count_outcome(acct, "python", buf, **kw)
    try:
        list(conntrack.iter_entries(buf))
    except ValueError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_random_bytes(acct: ModuleType, data: bytes) -> None:
    assert count_outcome(acct, "c", data, "0.0.0.0/0") == count_outcome(acct, "python", data, "0.0.0.0/0")
    assert count_outcome(acct, "c", data, "0.0.0.0/0", prefixes6=["::/0"]) == count_outcome(
        acct, "python", data, "0.0.0.0/0", prefixes6=["::/0"])


@pytest.mark.parametrize("seed", range(4))
def test_every_truncation(acct: ModuleType, seed: int) -> None:
    """Every prefix of a dump: agree, and a cut on a message boundary is a
    shorter but valid dump."""
    buf = _seed_dump(seed)
    boundaries = set()
    off = 0
    while off < len(buf):
        boundaries.add(off)
        off += (struct.unpack_from("=I", buf, off)[0] + 3) & ~3
    for cut in range(len(buf) + 1):
        c = count_outcome(acct, "c", buf[:cut])
        assert c == count_outcome(acct, "python", buf[:cut]), cut
        if cut in boundaries or cut == len(buf):
            assert c[0] == "ok", (cut, c)
        framed = reframe_last(buf[:cut])
        assert count_outcome(acct, "c", framed) == count_outcome(acct, "python", framed), ("reframed", cut)


# --------------------------------------------------------------------------
# The recorded kernel dump (tests/data/record_conntrack_dump.py)


def _recorded() -> tuple[bytes, list[dict[str, Any]], dict[str, Any]]:
    rows = parse_conntrack_text(RECORDED_TEXT.read_text())
    return RECORDED_DUMP.read_bytes(), rows, json.loads(RECORDED_META.read_text())


def test_recorded_dump_entries_match_conntrack_tool() -> None:
    raw, rows, meta = _recorded()
    entries = {e.id: e for e in conntrack.iter_entries(raw)}
    assert len(entries) == len(rows) == meta["entries"]
    assert {e.family for e in entries.values()} == {socket.AF_INET, socket.AF_INET6}
    for row in rows:
        e = entries[row["id"]]
        assert (e.proto, e.orig_src, e.orig_dst, e.reply_src, e.reply_dst) == (
            row["proto"], row["orig_src"], row["orig_dst"], row["reply_src"], row["reply_dst"],
        )  # fmt: skip
        assert (e.orig_packets, e.orig_bytes, e.reply_packets, e.reply_bytes) == (
            row["orig_packets"], row["orig_bytes"], row["reply_packets"], row["reply_bytes"],
        )  # fmt: skip
        if e.proto in (6, 17):
            assert (e.orig_sport, e.orig_dport) == (row["orig_sport"], row["orig_dport"])


def test_recorded_dump_counts(acct: ModuleType) -> None:
    raw, rows, meta = _recorded()
    subnet, router = meta["subnet"], meta["router"]
    for exclude in ((), (router,)):
        reference = {k: tuple(v.values()) for k, v in counts_from_rows(rows, subnet, exclude=exclude).items()}
        got = both(acct, raw, subnet, exclude=list(exclude))
        assert got == reference
        assert (router in got) == (not exclude), "the router's IGMP report"
    got = both(acct, raw, subnet, exclude=[router])
    # What the traffic generator sent, per station (payload only: a floor).
    sent: dict[str, int] = {}
    for flow in meta["flows"]:
        if flow.get("from") in got:
            sent[flow["from"]] = (
                sent.get(flow["from"], 0) + flow.get("sent", 0) + flow.get("size", 0) * flow.get("count", 0)
            )
    assert sent and all(got[who][0] >= n for who, n in sent.items())
    # The port forward into the second station (tcp/8080, 30 kB).
    fwd = [f for f in meta["flows"] if "into" in f]
    assert fwd and got[fwd[0]["into"]][2] >= fwd[0]["sent"]


def test_recorded_dump_fed_in_pieces(acct: ModuleType) -> None:
    raw, _rows, meta = _recorded()
    whole = both(acct, raw, meta["subnet"])
    parts = chunks_of(raw, limit=600)
    assert len(parts) > 2
    for backend in BACKENDS:
        assert as_tuples(acct.count_chunks(parts, meta["subnet"], backend=backend)) == whole


# --------------------------------------------------------------------------
# Backend selection


def _import_in_subprocess(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "python"), **env),
    )


LOG_AND_IMPORT = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
BLOCK = {block}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if BLOCK and name == "hotshare._ctacct":
            raise ImportError("blocked for the test")
        return None
sys.meta_path.insert(0, Blocker())
from hotshare.netlink import ctacct as accounting
print(accounting.backend())
"""


def test_fallback_when_not_built(acct: ModuleType) -> None:
    proc = _import_in_subprocess(LOG_AND_IMPORT.format(block=True), {})
    assert proc.stdout.strip() == "python"
    assert proc.stderr.splitlines() == ["INFO hotshare: C accounting helper not built, using the pure-Python path"]


def test_c_backend_is_the_default_when_built(acct: ModuleType) -> None:
    proc = _import_in_subprocess(LOG_AND_IMPORT.format(block=False), {"HOTSHARE_NO_CEXT": ""})
    assert proc.stdout.strip() == "c"
    assert proc.stderr == ""


def test_no_cext_environment_forces_python(acct: ModuleType) -> None:
    proc = _import_in_subprocess(LOG_AND_IMPORT.format(block=False), {"HOTSHARE_NO_CEXT": "1"})
    assert proc.stdout.strip() == "python"
    assert "not built" not in proc.stderr


def test_asking_for_a_missing_backend(acct: ModuleType) -> None:
    with pytest.raises(ValueError):
        acct.count_by_client(b"", SUBNET, backend="rust")
    with pytest.raises(ValueError):
        acct.count_by_client(b"", "fd00::/64")
    assert load_accounting().backend() == "c"
