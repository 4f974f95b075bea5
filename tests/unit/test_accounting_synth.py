"""The conntrack dump encoder of lab.ctdump, against two independent
references: the real kernel dump recorded in tests/data (re-encoded byte
for byte) and pyroute2's nfct_msg decoder; and its reference count, on
entries worked out by hand.
"""

from __future__ import annotations

import random
import socket
from dataclasses import replace

import pytest

from lab.ctdump import (
    CT_NEW,
    NLMSG_DONE,
    PORT_PROTOS,
    RECORDED_DUMP,
    SynthEntry,
    chunks_of,
    encode_done,
    encode_dump,
    encode_entry,
    expected_counts,
    messages,
    random_entries,
    synth_from_kernel_message,
)

# --------------------------------------------------------------------------
# Self-tests of the encoder


def test_encoder_reproduces_the_kernel_byte_for_byte() -> None:
    """Re-encoding every entry of the recorded kernel dump gives its bytes."""
    raw = RECORDED_DUMP.read_bytes()
    seen = 0
    for mtype, flags, seq, pid, _family, msg in messages(raw):
        if mtype != CT_NEW:
            assert mtype == NLMSG_DONE
            assert msg == encode_done(seq, pid)
            continue
        entry = synth_from_kernel_message(msg)
        assert encode_entry(entry, seq, pid, flags) == msg, entry
        seen += 1
    assert seen >= 8
    assert raw.endswith(encode_done(seq, pid))


def test_encoder_against_pyroute2() -> None:
    """pyroute2's nfct_msg decodes what the encoder writes to the same values."""
    marshal_mod = pytest.importorskip("pyroute2.netlink.marshal")
    nfct = pytest.importorskip("pyroute2.netlink.nfnetlink.nfctsocket")
    rng = random.Random(7)
    entries = random_entries(rng, 300)
    marshal = marshal_mod.Marshal()
    marshal.msg_map = {CT_NEW: nfct.nfct_msg}
    msgs = [m for m in marshal.parse(encode_dump(entries)) if m["header"]["type"] == CT_NEW]
    assert len(msgs) == len(entries)
    for e, m in zip(entries, msgs):
        assert m["nfgen_family"] == e.family
        v4 = e.family == socket.AF_INET
        for tname, src, dst in (
            ("CTA_TUPLE_ORIG", e.orig_src, e.orig_dst),
            ("CTA_TUPLE_REPLY", e.reply_src, e.reply_dst),
        ):
            ip = m.get_attr(tname).get_attr("CTA_TUPLE_IP")
            assert ip.get_attr("CTA_IP_V4_SRC" if v4 else "CTA_IP_V6_SRC") == src
            assert ip.get_attr("CTA_IP_V4_DST" if v4 else "CTA_IP_V6_DST") == dst
        l4 = m.get_attr("CTA_TUPLE_ORIG").get_attr("CTA_TUPLE_PROTO")
        assert l4.get_attr("CTA_PROTO_NUM") == e.proto
        if e.proto in PORT_PROTOS:
            assert (l4.get_attr("CTA_PROTO_SRC_PORT"), l4.get_attr("CTA_PROTO_DST_PORT")) == (e.sport, e.dport)
        assert m.get_attr("CTA_ID") == e.ct_id
        assert m.get_attr("CTA_MARK") == e.mark
        assert m.get_attr("CTA_STATUS") == e.status
        if e.counters in ("64", "pad"):
            co = m.get_attr("CTA_COUNTERS_ORIG")
            cr = m.get_attr("CTA_COUNTERS_REPLY")
            assert (co.get_attr("CTA_COUNTERS_PACKETS"), co.get_attr("CTA_COUNTERS_BYTES")) == (
                e.orig_packets,
                e.orig_bytes,
            )
            assert (cr.get_attr("CTA_COUNTERS_PACKETS"), cr.get_attr("CTA_COUNTERS_BYTES")) == (
                e.reply_packets,
                e.reply_bytes,
            )
        elif e.counters == "32":
            co = m.get_attr("CTA_COUNTERS_ORIG")
            assert co.get_attr("CTA_COUNTERS32_BYTES") == e.orig_bytes & 0xFFFFFFFF
        else:
            assert m.get_attr("CTA_COUNTERS_ORIG") is None


def test_chunks_are_whole_messages() -> None:
    entries = random_entries(random.Random(3), 2000)
    raw = encode_dump(entries)
    parts = chunks_of(raw)
    assert len(parts) > 1 and b"".join(parts) == raw
    for part in parts:
        assert sum((len(m[5]) + 3) & ~3 for m in messages(part)) == len(part)


def test_random_entries_cover_every_kind() -> None:
    entries = random_entries(random.Random(1), 3000)
    kinds = {(e.family, e.proto, e.counters, e.nested_flag) for e in entries}
    assert {e.counters for e in entries} == {"64", "pad", "32", "none"}
    assert {e.proto for e in entries} >= {1, 2, 6, 17, 58, 132}
    assert len(kinds) > 20
    exp = expected_counts(entries, "10.42.0.0/23", exclude=("10.42.0.1",))
    assert "10.42.0.1" not in exp and len(exp) > 10
    with_router = expected_counts(entries, "10.42.0.0/23")
    assert "10.42.0.1" in with_router, "IGMP and router-to-station entries count for the router unless excluded"


def test_expected_counts_small_by_hand() -> None:
    """The reference rule itself, on three entries worked out by hand."""
    base = SynthEntry(
        family=2, proto=17, orig_src="", orig_dst="", sport=1, dport=2, reply_src="", reply_dst="",
        reply_sport=2, reply_dport=1,
    )  # fmt: skip
    out = replace(base, orig_src="10.0.0.5", orig_dst="8.8.8.8", reply_src="8.8.8.8", reply_dst="192.0.2.1",
                  orig_bytes=100, orig_packets=2, reply_bytes=300, reply_packets=3)  # fmt: skip
    fwd = replace(base, orig_src="1.1.1.1", orig_dst="192.0.2.1", reply_src="10.0.0.5", reply_dst="1.1.1.1",
                  orig_bytes=7, orig_packets=1, reply_bytes=11, reply_packets=1)  # fmt: skip
    mine = replace(base, orig_src="192.0.2.1", orig_dst="8.8.8.8", reply_src="8.8.8.8", reply_dst="192.0.2.1",
                   orig_bytes=5, orig_packets=5)  # fmt: skip
    assert expected_counts([out, fwd, mine], "10.0.0.0/24") == {"10.0.0.5": (111, 3, 307, 4, 2)}
