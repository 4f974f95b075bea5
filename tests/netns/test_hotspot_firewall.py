"""Seed 001: another firewall drops forwarded traffic ("connected, no internet").

The real service with Docker's rule set loaded through iptables-nft, and
with a native nftables table whose forward chain drops."""

from __future__ import annotations

import re
from pathlib import Path

from board import PPP0, Board

DATA = Path(__file__).resolve().parents[1] / "data" / "firewall"


def iptables_save(board: Board) -> str:
    out = board.board.run(["iptables-save"]).stdout
    # counters and the dated comment lines change by themselves
    return "\n".join(re.sub(r"\[\d+:\d+\]", "", ln) for ln in out.splitlines() if not ln.startswith("#"))


def test_docker_forward_drop_is_passed_and_left_as_it_was(board: Board) -> None:
    board.board.run(["iptables-restore"], input=(DATA / "docker.iptables").read_text())
    before = iptables_save(board)
    board.up()
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    during = iptables_save(board)
    assert "hotshare:lan0" in during
    # Docker's own rules are all still there, in order; ours sit in DOCKER-USER only
    ours = [ln for ln in during.splitlines() if "hotshare:lan0" in ln]
    assert ours and all(ln.startswith("-A DOCKER-USER ") for ln in ours)
    assert [ln for ln in during.splitlines() if "hotshare:lan0" not in ln] == before.splitlines()
    board.hotshare("down", "lan0")
    assert iptables_save(board) == before


def test_a_native_table_that_drops_is_named_and_nothing_starts(board: Board) -> None:
    board.board.run(["nft", "-f", "-"], input=(DATA / "filter-drop.nft").read_text())
    proc = board.hotshare("up", "--daemon", "--dns-server", PPP0.gateway, "lan0", "ppp0", check=False)
    assert proc.returncode == 1
    assert "table inet filter chain forward drops forwarded traffic" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert not any("hotshare" in t for t in board.nft_tables())
    assert board.board.ipv4_addresses("lan0") == [] and board.processes() == []


def test_firewall_insert_makes_it_pass_and_stop_restores_the_table(board: Board) -> None:
    board.board.run(["nft", "-f", "-"], input=(DATA / "filter-drop.nft").read_text())
    before = board.board.run(["nft", "list", "table", "inet", "filter"]).stdout
    board.up("--firewall", "insert")
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    board.hotshare("down", "lan0")
    assert board.board.run(["nft", "list", "table", "inet", "filter"]).stdout == before
