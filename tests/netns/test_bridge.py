"""SHARE_METHOD=bridge (seed 002): the phone joins the uplink's own network.

With a wired uplink the phone gets its address from the upstream DHCP
server through hotshare's bridge, and the board keeps its own address on
the bridge. (A Wi-Fi client uplink cannot be bridged: tests/unit/test_plan.py.)"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from board import WEB, Board, Uplink
from lab.proc import Daemon

ETH1 = Uplink("eth1", "192.168.50.2/24", "192.168.50.1", 100, "hs-lan", "lanport")


@pytest.fixture
def lan_board(tmp_path: Path):  # type: ignore[no-untyped-def]
    from conftest import _skip_reason

    if reason := _skip_reason():
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(ETH1,)).start()
    lan = b.internets["eth1"]
    b.daemons.append(Daemon("upstream-dhcp", [
        "dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", "--interface=lanport", "--bind-interfaces",
        "--dhcp-range=192.168.50.100,192.168.50.150,12h", "--dhcp-option=option:router,192.168.50.1",
        f"--dhcp-leasefile={tmp_path}/upstream.leases", "--log-facility=-"],
        netns=lan.name, log=tmp_path / "upstream-dhcp.log"))
    try:
        yield b
    finally:
        b.stop()


def test_phone_gets_its_address_from_the_upstream_network(lan_board: Board) -> None:
    b = lan_board
    before_addrs = b.board.ipv4_addresses("eth1")
    before_routes = b.board.ip_json("route", "show", "default")
    b.hotshare("up", "--daemon", "-m", "bridge", "lan0", "eth1")
    assert b.status()["mode"] == "bridge"

    lease = b.dhcp()
    first, last = ipaddress.IPv4Address("192.168.50.100"), ipaddress.IPv4Address("192.168.50.150")
    assert first <= ipaddress.IPv4Address(lease["ip"]) <= last
    assert lease["router"] == "192.168.50.1"
    assert b.fetch() == lease["ip"]  # no NAT: the server sees the phone itself
    assert b.board.ipv4_addresses("hs-lan0") == ["192.168.50.2/24"]  # the board kept its address
    assert b.fetch(f"http://{WEB}/", ns=b.board) == "192.168.50.2"

    b.hotshare("down", "lan0")
    assert not b.board.link_exists("hs-lan0")
    assert b.board.ipv4_addresses("eth1") == before_addrs
    assert [r["gateway"] for r in b.board.ip_json("route", "show", "default")] == \
        [r["gateway"] for r in before_routes]
    assert b.fetch(f"http://{WEB}/", ns=b.board) == "192.168.50.2"

