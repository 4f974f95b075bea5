"""Dying helpers and a disappearing interface (issue: survive the field).

A dnsmasq that is killed comes back at once; one that keeps failing backs
off and is reported; the downstream interface vanishing (a USB dongle
pulled) and coming back restores the hotspot without a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from board import PPP0, Board, running
from lab.netns import add_veth
from lab.proc import wait_until


def foreground(board: Board) -> subprocess.Popen[str]:
    argv = ["ip", "netns", "exec", board.board.name or "", sys.executable, "-m", "hotshare", "up",
            "--dns-server", PPP0.gateway, "lan0", "ppp0"]
    proc = subprocess.Popen(argv, env=board.env(), stderr=subprocess.PIPE, text=True)
    wait_until(lambda: board.status().get("running") is True and "dnsmasq" in board.children(), 20,
               what="hotshare to be ready")
    return proc


def stop(board: Board, proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert board.nft_tables() == [] and board.processes() == []
    return err


def test_a_crash_looping_dnsmasq_backs_off_is_reported_and_recovers(board: Board) -> None:
    proc = foreground(board)
    conf = board.rundir / "lan0" / "dnsmasq.conf"
    good = conf.read_text()
    conf.write_text("no-such-option\n")  # every restart now fails at once
    try:
        os.kill(board.children()["dnsmasq"], signal.SIGKILL)
        time.sleep(6)
    finally:
        conf.write_text(good)
    # with the port free again it comes back by itself
    wait_until(lambda: running(board.children().get("dnsmasq", 0)), 40, what="dnsmasq to come back")
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    err = stop(board, proc)
    starts = err.count("bad option")
    assert "dnsmasq keeps failing" in err, err
    assert starts < 12, f"restarted {starts} times in ~6 s: a tight loop"


def test_the_interface_vanishing_and_coming_back_restores_the_hotspot(board: Board) -> None:
    proc = foreground(board)
    board.dhcp()
    board.board.ip("link", "del", "lan0")  # the dongle is pulled (its peer goes too)
    wait_until(lambda: "dnsmasq" not in "".join(board.processes()), 10, what="dnsmasq to be stopped")
    assert board.status()["running"] is True
    add_veth("lan0", board.board, "eth0", board.phone)  # ...and plugged back in
    wait_until(lambda: board.board.ipv4_addresses("lan0") == ["192.168.12.1/24"], 10,
               what="the gateway address to be restored")
    wait_until(lambda: running(board.children().get("dnsmasq", 0)), 10, what="dnsmasq to be back")
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    err = stop(board, proc)
    assert "lan0 disappeared" in err and "lan0 is back" in err


def test_a_subnet_that_starts_to_collide_later_is_reported(board: Board) -> None:
    proc = foreground(board)
    board.board.ip("addr", "add", "192.168.12.77/24", "dev", "ppp0")  # the uplink changes address
    time.sleep(1)
    err = stop(board, proc)
    assert "the hotspot subnet 192.168.12.0/24 now overlaps the address 192.168.12.77/24 on ppp0" in err
