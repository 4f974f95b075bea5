"""Usage totals with the real parts: hotshare in the board namespace, a
phone downloading through NAT, the kernel's conntrack destroy events and
counter-zeroing dumps, the uplink interface's own counters.

    phone (hs-phone) eth0 ── lan0  board (hs-board)  ppp0 ── isp0  internet (hs-inet)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from board import WEB, Board
from lab.proc import wait_until

REPO = Path(__file__).resolve().parents[2]
ETH_HEADER = 14  # veth counters count the Ethernet header, conntrack counts from the IP header
MB = 1 << 20


def usage(board: Board) -> dict[str, Any]:
    return dict(json.loads(board.hotshare("usage", "lan0", "--json").stdout))


def phone_mac(board: Board) -> str:
    return str(board.phone.ip_json("link", "show", "eth0")[0]["address"])


def uplink_l3(board: Board) -> int:
    """Bytes both ways through ppp0, less the Ethernet headers."""
    stats = board.board.ip_json("-s", "link", "show", "ppp0")[0]["stats64"]
    return sum(stats[d]["bytes"] - ETH_HEADER * stats[d]["packets"] for d in ("rx", "tx"))


def entries(board: Board, proto: int) -> list[dict[str, Any]]:
    """The board's conntrack entries of ``proto`` to the web server (listing
    also reaps expired ones, which sends their destroy events)."""
    out = board.board.run([sys.executable, "-m", "hotshare.tools.conntrack", "list"],
                          env={**os.environ, "PYTHONPATH": str(REPO / "python")}).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["proto"] == proto and e["orig_dst"] == WEB]


def download_and_let_it_end(board: Board, size: int) -> None:
    assert board.download(size) is not None
    # TIME_WAIT shortened: the connection's entry goes, with its destroy event
    wait_until(lambda: not entries(board, 6), 20, interval=0.5, what="the download's entry to go")


def test_totals_survive_connection_end_restart_and_address_change_and_match_the_uplink(board: Board) -> None:
    acct_before = board.board.run(["sysctl", "-n", "net.netfilter.nf_conntrack_acct"], check=False).stdout.strip()
    board.up()
    board.board.sysctl_write("net.netfilter.nf_conntrack_tcp_timeout_time_wait", "1")
    assert board.board.run(["sysctl", "-n", "net.netfilter.nf_conntrack_acct"]).stdout.strip() == "1"
    lease = board.dhcp()
    mac = phone_mac(board)
    uplink_start = uplink_l3(board)

    # 1. a connection ends: its bytes stay counted
    download_and_let_it_end(board, 2 * MB)
    u = usage(board)
    phone = u["clients"][mac]
    assert phone["addresses"] == [lease["ip"]]
    for period in ("session", "day", "month"):
        assert 2 * MB < phone[period]["rx_bytes"] < 2.2 * MB, (period, phone)
        assert phone[period]["tx_bytes"] > 0 and phone[period]["rx_packets"] > 10
    assert u["hotspot"]["day"]["rx_bytes"] == phone["day"]["rx_bytes"]

    # 2. hotshare restarts: the totals are still there, and keep adding up
    assert board.hotshare("down", "lan0").returncode == 0
    if acct_before:  # restored on stop
        assert board.board.run(["sysctl", "-n", "net.netfilter.nf_conntrack_acct"]).stdout.strip() == acct_before
    board.up()
    assert usage(board)["clients"][mac]["day"]["rx_bytes"] == phone["day"]["rx_bytes"]
    download_and_let_it_end(board, 1 * MB)
    after_restart = usage(board)["clients"][mac]["day"]["rx_bytes"]
    assert 3 * MB < after_restart < 3.3 * MB

    # 3. the phone takes another address: the same client's totals
    new_ip = "192.168.12.222"
    board.phone.ip("addr", "flush", "dev", "eth0")
    board.phone.ip("addr", "add", f"{new_ip}/24", "dev", "eth0")
    board.phone.ip("route", "add", "default", "via", lease["router"])
    # a live flow (a ping's entry stays 30 s), read while it is there: the zeroing dump counts it
    tx_before = usage(board)["clients"][mac]["day"]["tx_bytes"]
    board.phone.run(["busybox", "ping", "-q", "-c", "20", "-i", "0.02", "-s", "1200", WEB])
    assert [e["orig_src"] for e in entries(board, 1)] == [new_ip]
    live = usage(board)["clients"][mac]
    assert live["addresses"][:2] == [new_ip, lease["ip"]]
    assert live["day"]["tx_bytes"] >= tx_before + 20 * 1228
    download_and_let_it_end(board, 1 * MB)
    final = usage(board)
    assert 4 * MB < final["clients"][mac]["day"]["rx_bytes"] < 4.4 * MB
    assert list(final["clients"]) == [mac]

    # 4. clients' traffic (the router's own is none here: no DNS, no pings) is
    #    what crossed the uplink, within 1 %
    counted = sum(c["day"]["rx_bytes"] + c["day"]["tx_bytes"] for c in final["clients"].values())
    crossed = uplink_l3(board) - uplink_start
    assert abs(counted - crossed) <= 0.01 * crossed, (counted, crossed)


def test_destroy_events_recorded(board: Board, tmp_path: Path) -> None:
    """Records a real kernel's destroy events for the unit tests
    (tests/data/conntrack-destroy-events.bin, when HOTSHARE_RECORD=1)."""
    board.up()
    board.board.sysctl_write("net.netfilter.nf_conntrack_tcp_timeout_time_wait", "1")
    board.dhcp()
    out, ready = tmp_path / "events.bin", tmp_path / "ready"
    rec = subprocess.Popen(["ip", "netns", "exec", "hs-board", sys.executable, "-m", "hotshare.tools.conntrack",
                            "events", "-o", str(out), "--seconds", "8", "--ready", str(ready)],
                           env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    wait_until(ready.exists, 10, interval=0.05, what="the recorder")
    for _ in range(3):
        assert board.fetch() is not None
    download_and_let_it_end(board, 200_000)
    assert rec.wait(timeout=20) == 0
    data = out.read_bytes()
    assert len(data) > 200
    if os.environ.get("HOTSHARE_RECORD") == "1":
        (REPO / "tests" / "data" / "conntrack-destroy-events.bin").write_bytes(data)
