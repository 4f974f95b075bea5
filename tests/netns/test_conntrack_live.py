"""Live ctnetlink tests: a router namespace with masquerade, two stations, two
uplinks, real traffic (the lab: :mod:`lab.ctlab`, whose docstring draws it).

Everything hotshare does runs inside the router through
``ip netns exec r python -m hotshare.tools.conntrack ...``; the reference figures
come from the ``conntrack`` tool and from what the traffic generator sent.

Needs root, iproute2, nftables and conntrack-tools; skipped otherwise.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from typing import Any

import pytest

from lab.ctlab import (
    C1,
    C2,
    IPV4_UDP_OVERHEAD,
    LAN,
    PYTHON,
    R_LAN,
    R_LAN6,
    R_UP0,
    R_UP1,
    ROOT,
    S1,
    S2,
    UDP_ECHO_REPLY,
    CtLab,
    counts_from_rows,
    have_tools,
    parse_conntrack_text,
)

# --------------------------------------------------------------------------
# Tests

_skip = have_tools()
pytestmark = pytest.mark.skipif(_skip is not None, reason=_skip or "")


@pytest.fixture(scope="module", autouse=True)
def cext_built() -> None:
    """The C backend must be there: the CLI is run with --backend c."""
    try:
        from hotshare import _ctacct  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        subprocess.run([PYTHON, str(ROOT / "csrc" / "build_ffi.py")], check=True, capture_output=True)


@pytest.fixture
def lab() -> Iterator[CtLab]:
    with CtLab() as the_lab:
        yield the_lab


def _entry_for(entries: list[dict[str, Any]], flow: dict[str, Any]) -> dict[str, Any]:
    if flow["proto"] == 1:
        match = [
            e for e in entries if e["proto"] == 1 and e["orig_dst"] == flow["dst"] and e["orig_sport"] == flow["id"]
        ]
    else:
        match = [
            e
            for e in entries
            if e["proto"] == flow["proto"]
            and e["orig_dst"] == flow["dst"]
            and e["orig_dport"] == flow["dport"]
            and e["orig_sport"] == flow["sport"]
        ]
    assert len(match) == 1, f"no single entry for {flow}: {match}"
    return match[0]


def test_counters_match_what_was_sent(lab: CtLab) -> None:
    flows = lab.standard_traffic()
    entries = lab.entries()
    counts_c = lab.counts("c")
    counts_py = lab.counts("python")
    reference = counts_from_rows(parse_conntrack_text(lab.conntrack_text()), LAN, exclude=(R_LAN,))

    assert counts_c == counts_py
    assert counts_c == reference, "hotshare and conntrack(8) disagree"
    assert set(counts_c) == {C1, C2}, "only the two stations (not the router's own flow)"

    expected_tx = {C1: 0, C2: 0}
    expected_rx_min = {C1: 0, C2: 0}
    connections = {C1: 0, C2: 0}
    for flow in flows:
        if flow.get("from") not in (C1, C2) and "into" not in flow:
            continue  # the router's flow
        if flow["dst"] == R_LAN6:
            continue  # IPv6: not in an IPv4 dump
        e = _entry_for(entries, flow)
        if "into" in flow:  # port forward: the station is the reply source
            assert e["reply_src"] == flow["into"] and e["orig_dst"] == R_UP0
            assert e["orig_bytes"] >= flow["sent"]
            expected_rx_min[flow["into"]] += flow["sent"]
            connections[flow["into"]] += 1
            continue
        who = flow["from"]
        # a station talking to the router itself is the router's traffic, not through NAT
        counted = flow["dst"] != R_LAN
        connections[who] += counted
        if flow["proto"] == 17:
            # UDP: exact, IP and UDP headers included.
            assert e["orig_packets"] == flow["count"]
            assert e["orig_bytes"] == flow["count"] * (flow["size"] + IPV4_UDP_OVERHEAD)
            assert e["reply_packets"] == flow["answers"]
            assert e["reply_bytes"] == flow["answers"] * (UDP_ECHO_REPLY + IPV4_UDP_OVERHEAD)
            expected_tx[who] += e["orig_bytes"] * counted
        elif flow["proto"] == 6:
            assert flow["acked"] == flow["sent"]
            assert e["orig_bytes"] >= flow["sent"], "payload plus headers"
            assert e["orig_bytes"] <= flow["sent"] + 80 * e["orig_packets"], "at most 80 header bytes a packet"
            expected_tx[who] += flow["sent"] * counted
        else:  # ICMP echo: 84-byte packets
            assert e["orig_bytes"] == flow["count"] * 84
            expected_tx[who] += e["orig_bytes"] * counted
        # NATed out of an uplink unless it went to the router itself.
        if flow["dst"] == S1:
            assert e["reply_dst"] == R_UP0
        elif flow["dst"] == S2:
            assert e["reply_dst"] == R_UP1
        else:
            assert e["reply_dst"] == who

    for who in (C1, C2):
        assert counts_c[who]["connections"] == connections[who]
        assert counts_c[who]["tx_bytes"] >= expected_tx[who]
        assert counts_c[who]["rx_bytes"] >= expected_rx_min[who]
    # c2 received the 30 kB of the port forward on top of its own replies.
    assert counts_c[C2]["rx_bytes"] >= 30000


def test_flush_nat_via_removes_exactly_the_masqueraded_entries(lab: CtLab) -> None:
    lab.standard_traffic()
    before = parse_conntrack_text(lab.conntrack_text())
    net = ip_network(LAN)

    def key(row: dict[str, Any]) -> Any:
        return row["id"]

    doomed = {
        key(r) for r in before if r["family"] == "ipv4" and ip_address(r["orig_src"]) in net and r["reply_dst"] == R_UP0
    }
    # tcp + udp from c1, udp from c2, icmp from c1: all towards s1 through up0.
    assert len(doomed) == 4, before

    deleted = int(lab.hotshare("flush-nat-via", LAN, R_UP0))

    after = parse_conntrack_text(lab.conntrack_text())
    assert deleted == len(doomed)
    assert {key(r) for r in after} == {key(r) for r in before} - doomed
    # What must stay: up1's entries, the port forward (orig src outside),
    # the router's own entry via up0, the station-to-router one, IPv6.
    kept = {(r["orig_src"], r["orig_dst"]) for r in after}
    assert (S1, R_UP0) in kept  # port forward
    assert (R_UP0, S1) in kept  # the router's own
    assert (C1, S2) in kept and (C2, S2) in kept
    assert (C1, R_LAN) in kept
    assert any(r["family"] == "ipv6" for r in after)
    # Idempotent.
    assert int(lab.hotshare("flush-nat-via", LAN, R_UP0)) == 0


def test_flush_subnet_and_delete(lab: CtLab) -> None:
    lab.standard_traffic(icmp=False)
    before = parse_conntrack_text(lab.conntrack_text())
    net = ip_network(LAN)

    def touches(row: dict[str, Any]) -> bool:
        addrs = [row["orig_src"], row["orig_dst"], row["reply_src"], row["reply_dst"]]
        return row["family"] == "ipv4" and any(ip_address(a) in net for a in addrs)

    doomed = {r["id"] for r in before if touches(r)}
    assert doomed
    deleted = int(lab.hotshare("flush-subnet", LAN))
    after = parse_conntrack_text(lab.conntrack_text())
    assert deleted == len(doomed)
    assert {r["id"] for r in after} == {r["id"] for r in before} - doomed
    # The router's own entry is left; delete it through delete().
    mine = [r for r in after if r["family"] == "ipv4" and r["orig_src"] == R_UP0]
    assert len(mine) == 1
    gone = lab.py(
        lab.r,
        "import json; from hotshare.netlink import ctnetlink as c\n"
        f"e = [e for e in c.iter_entries(c.dump_raw()) if e.orig_src == {R_UP0!r}]\n"
        "print(json.dumps([c.delete(e[0]), c.delete(e[0])]))",
    )
    assert gone == [True, False], "deleted once, then ENOENT"
    assert not [r for r in parse_conntrack_text(lab.conntrack_text()) if r["orig_src"] == R_UP0]


def test_large_table_streams_in_chunks(lab: CtLab) -> None:
    n = 3000
    burst = lab.tool_run(lab.c1, "udp-burst", S2, "5353", str(n))
    assert len(set(burst["sports"])) == n
    time.sleep(0.3)
    result = lab.py(
        lab.r,
        """
import json, sys
from hotshare.netlink import ctacct as accounting
from hotshare.netlink import ctnetlink as c
LAN, C1, X = sys.argv[1], sys.argv[2], [sys.argv[3]]
def mine(buf):  # the burst's entries; the router's IGMP may come and go
    return sum(1 for e in c.iter_entries(buf) if e.orig_src == C1)
chunks = list(c.iter_dump_chunks())
raw = c.dump_raw()
with c.CtnetlinkSocket() as s:
    it = s.iter_dump_chunks()
    next(it)
    it.close()  # abandoned: the socket must drain and stay usable
    again = s.dump_raw()
print(json.dumps({
    "chunks": len(chunks),
    "chunk_entries": sum(mine(ch) for ch in chunks),
    "entries": mine(raw),
    "again": mine(again),
    "live_c": {k: v._asdict() for k, v in accounting.count_live(LAN, exclude=X, backend="c").items()},
    "live_py": {k: v._asdict() for k, v in accounting.count_live(LAN, exclude=X, backend="python").items()},
    "dump": {k: v._asdict() for k, v in accounting.count_by_client(raw, LAN, exclude=X).items()},
}))
""",
        LAN,
        C1,
        R_LAN,
    )
    rows = [r for r in parse_conntrack_text(lab.conntrack_text()) if r["orig_src"] == C1]
    assert result["chunks"] > 1, "3000 entries do not fit one receive buffer"
    assert result["entries"] == result["chunk_entries"] == result["again"] == len(rows) == n
    assert result["live_c"] == result["live_py"] == result["dump"]
    assert list(result["dump"]) == [C1]
    assert result["dump"][C1]["connections"] == n
    assert result["dump"][C1]["tx_packets"] == n
    assert result["dump"][C1]["tx_bytes"] == n * (1 + IPV4_UDP_OVERHEAD)


def test_ensure_acct_and_entries_without_counters(lab: CtLab) -> None:
    assert lab.hotshare("acct", "0").strip() == "1"
    quiet = lab.tool_run(lab.c1, "udp-send", S1, "5353", "100", "2")
    previous = lab.py(lab.r, "from hotshare.netlink import ctnetlink as c; print(c.ensure_acct())")
    assert previous == 0
    assert lab.hotshare("acct").strip() == "1"
    loud = lab.tool_run(lab.c1, "udp-send", S2, "5353", "100", "2")
    entries = lab.entries()
    e_quiet = _entry_for(entries, quiet)
    e_loud = _entry_for(entries, loud)
    assert (e_quiet["orig_packets"], e_quiet["orig_bytes"]) == (0, 0), "created while acct was off"
    assert (e_loud["orig_packets"], e_loud["orig_bytes"]) == (2, 2 * 128)
    counts = lab.counts("c")
    assert counts[C1]["connections"] == 2
    assert counts[C1]["tx_bytes"] == 2 * 128
    assert counts == lab.counts("python")
