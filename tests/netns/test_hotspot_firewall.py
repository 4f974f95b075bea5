"""Seed 001: another firewall drops forwarded traffic ("connected, no internet").

The real service with Docker's rule set loaded through iptables-nft, and
with a native nftables table whose forward chain drops."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from board import PPP0, Board
from lab.proc import Daemon
from lab.tcp import LISTENER, connect_from

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



def test_the_internet_cannot_open_a_connection_to_a_client(board: Board) -> None:
    board.up()
    lease = board.dhcp()
    phone_ip = lease["ip"]
    board.daemons.append(Daemon("phone-listener", [sys.executable, "-c", LISTENER, "8080", "phone"],
                                netns=board.phone.name,
                                log=board.log("hs-phone", "listener"), ready_line="READY"))
    inet = board.internets["ppp0"]
    # a host on the uplink side that knows the hotspot's subnet is behind the board
    inet.ip("route", "add", "192.168.12.0/24", "via", PPP0.board_ip, "dev", PPP0.peer_if)

    assert board.fetch() == PPP0.board_ip                               # outbound works
    assert connect_from(board.phone, phone_ip, 8080) == "open phone"     # the listener listens
    assert connect_from(inet, phone_ip, 8080) == "closed TimeoutError"   # inbound is dropped
    assert connect_from(board.phone, "192.168.12.1", 53).startswith("open")  # dnsmasq, for clients
    assert connect_from(inet, "192.168.12.1", 53) == "closed TimeoutError"  # not for the uplink

    # the route is sound: it is our table, nothing else, that stopped it
    table = f"inet {board.status()['table']}"
    board.board.run(["nft", "flush", "chain", *table.split(), "forward"])
    assert connect_from(inet, phone_ip, 8080) == "open phone"
