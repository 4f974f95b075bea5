"""Seed 000: dhcpcd grabs the AP interface and puts 169.254.x.x on it.

A real dhcpcd (Debian's dhcpcd-base, manager mode, IPv4LL on) runs on the
board and manages the hotspot interface. hotshare must keep it off that
interface while it runs, without killing it or touching its other
interfaces, and leave the phone online."""

from __future__ import annotations

import ipaddress
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import PPP0, Board, running
from lab.proc import Daemon, wait_until

LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")


def link_local(board: Board) -> list[str]:
    return [a for a in board.board.ipv4_addresses("lan0") if ipaddress.IPv4Interface(a).ip in LINK_LOCAL]


@pytest.fixture
def dhcpcd(board: Board, tmp_path: Path) -> Iterator[Daemon]:
    if shutil.which("dhcpcd") is None and not Path("/usr/sbin/dhcpcd").exists():
        pytest.skip("dhcpcd is not installed (Debian: dhcpcd-base)")
    if Path("/run/dhcpcd/pid").exists():
        pytest.skip("another dhcpcd manager already runs on this machine")
    conf = tmp_path / "dhcpcd.conf"
    # The board's usual setup: DHCP (falling back to IPv4LL) on the Wi-Fi
    # interface; no hook scripts, which would write the machine's resolv.conf.
    conf.write_text("allowinterfaces lan0\nipv4only\nnoipv6rs\ntimeout 2\nscript /bin/true\n")
    d = Daemon("dhcpcd", ["dhcpcd", "-M", "-B", "-f", str(conf)], netns=board.board.name, log=tmp_path / "dhcpcd.log")
    try:
        yield d
    finally:
        d.stop()


def test_dhcpcd_is_kept_off_the_hotspot_interface(board: Board, dhcpcd: Daemon) -> None:
    wait_until(lambda: bool(link_local(board)), 30, interval=0.2, what="dhcpcd to put an IPv4LL address on lan0")
    board.up()
    assert board.board.ipv4_addresses("lan0") == ["192.168.12.1/24"]
    assert not [r for r in board.board.ip_json("route", "show", "dev", "lan0")
                if r["dst"].startswith("169.254")]

    # for as long as it runs: sample for several of dhcpcd's retry periods
    lease = board.dhcp()
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        assert link_local(board) == [], "dhcpcd got hold of lan0 again"
        time.sleep(0.2)
    assert board.fetch() == PPP0.board_ip
    assert board.dhcp()["ip"] == lease["ip"]
    assert dhcpcd.alive(), "dhcpcd itself must be left running"

    board.hotshare("down", "lan0")
    assert "192.168.12.1/24" not in board.board.ipv4_addresses("lan0")
    assert running(dhcpcd.pid)


def test_addresses_added_later_by_any_program_are_removed(board: Board) -> None:
    board.up()
    board.board.ip("addr", "add", "169.254.7.7/16", "dev", "lan0")
    board.board.ip("route", "add", "default", "dev", "lan0", "metric", "1001002")
    wait_until(lambda: board.board.ipv4_addresses("lan0") == ["192.168.12.1/24"], 5, interval=0.05,
               what="the stray address to be removed")
    wait_until(lambda: not [r for r in board.board.ip_json("route", "show", "dev", "lan0") if r["dst"] == "default"],
               5, interval=0.05, what="the stray default route to be removed")
    board.dhcp()
    assert board.fetch() == PPP0.board_ip


def _added_link_local(monitor_log: Path) -> list[str]:
    """Lines of `ip -o monitor address` that add (not delete) a 169.254 address on lan0."""
    out = []
    for ln in monitor_log.read_text().splitlines():
        fields = ln.split()
        if ln.startswith("#") or not fields or fields[0] == "Deleted" or "lan0" not in fields[:2]:
            continue
        if "inet" in fields and ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).ip in LINK_LOCAL:
            out.append(ln)
    return out


def test_dhcpcd_is_asked_to_release_the_interface_not_just_overruled(board: Board, dhcpcd: Daemon,
                                                                     tmp_path: Path) -> None:
    """The address guard would hide a dhcpcd that was never asked (it deletes
    each 169.254 address within milliseconds): watch every address change."""
    wait_until(lambda: bool(link_local(board)), 30, interval=0.2, what="dhcpcd to put an IPv4LL address on lan0")
    monitor_log = tmp_path / "addr-monitor.log"
    monitor = Daemon("addr-monitor", ["ip", "-o", "monitor", "address"], netns=board.board.name, log=monitor_log)
    time.sleep(0.3)  # `ip monitor` has subscribed
    try:
        board.up()
        board.dhcp()
        time.sleep(8)  # several of dhcpcd's IPv4LL retry periods
        assert board.fetch() == PPP0.board_ip
    finally:
        monitor.stop()  # the window ends while hotshare still runs
    assert _added_link_local(monitor_log) == [], "dhcpcd was not released: it kept adding IPv4LL addresses"

    # dhcpcd's own account: asked over its control socket, it let go of lan0
    during = dhcpcd.log.read_text()
    assert "control command: dhcpcd --release lan0" in during
    assert "lan0: removing interface" in during.split("control command: dhcpcd --release lan0", 1)[1]

    # On stop, hotshare hands lan0 back (`dhcpcd -n lan0` on the socket).
    # dhcpcd 9.4.1 (Debian 12) does not take it: its privilege-separated
    # control process logs "cannot handle another client" and lan0 stays
    # unmanaged until dhcpcd restarts. Newer ones log the command.
    board.hotshare("down", "lan0")
    handed_back = ("control command: dhcpcd -n lan0", "ps_ctl_dispatch: cannot handle another client")
    wait_until(lambda: any(h in dhcpcd.log.read_text()[len(during):] for h in handed_back), 5, interval=0.1,
               what="dhcpcd to log hotshare's hand-back of lan0")
    assert dhcpcd.alive()
