"""Per-client rate limits with real traffic: iperf3 from a wired phone to
the internet namespace's server, both ways, through hotshare's table.

A limited phone gets the limit within 25% down and up; a second phone
(a macvlan of the same wire, in its own namespace) is not limited and keeps
the flowtable's fast path (checked when this kernel can load a flowtable);
nothing of the limits is left after `down`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from board import PPP0, WEB, Board
from lab import iperf
from lab.netns import Netns
from lab.proc import wait_until

PHONE_MAC = "02:00:00:00:00:42"
PHONE2_MAC = "02:00:00:00:00:43"
UNITS = {"kbit": 1e3, "mbit": 1e6}


def bits(rate: str) -> float:
    return float(rate[:-4]) * UNITS[rate[-4:]]


def measured(ns: Netns, down: bool) -> float:
    return iperf.bits_per_second(ns, WEB, down)


def second_phone(board: Board) -> Netns:
    """A second client on the same wire: a macvlan of the phone's eth0 moved to its own namespace."""
    phone2 = Netns("hs-phone2").create()
    board.internets["phone2"] = phone2      # deleted with the board
    board.phone.ip("link", "add", "mv0", "link", "eth0", "address", PHONE2_MAC, "type", "macvlan", "mode", "bridge")
    board.phone.ip("link", "set", "mv0", "netns", str(phone2.name))
    phone2.ip("link", "set", "mv0", "name", "eth0")
    phone2.ip("link", "set", "lo", "up")
    return phone2


def lease(board: Board, ns: Netns) -> str:
    lease_file = board.workdir / f"{ns.name}.lease"
    ns.run(["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "10", "-T", "1",
            "-s", str(Path(__file__).parents[1] / "lab" / "udhcpc.script")],
           env={**os.environ, "LAB_LEASE_FILE": str(lease_file)}, timeout=30)
    return dict(ln.split("=", 1) for ln in lease_file.read_text().splitlines() if "=" in ln)["ip"]


def offloaded(board: Board) -> list[str]:
    """Conntrack entries of the phones that the flowtable carries now."""
    out = board.board.run(["conntrack", "-L", "-p", "tcp"], check=False).stdout
    return [ln for ln in out.splitlines() if "OFFLOAD" in ln]


# (the configuration, the phone's limit down/up): the default for every
# client with the second phone let off; a limit of the phone's own alone
CASES = {
    "default": (f"RATE_LIMIT_DOWN=4mbit\nRATE_LIMIT_UP=2mbit\nCLIENT_RATE_LIMITS={PHONE2_MAC}=none/none\n",
                ("4mbit", "2mbit")),
    "own": (f"CLIENT_RATE_LIMITS={PHONE_MAC}=3mbit/1500kbit\n", ("3mbit", "1500kbit")),
}


@pytest.mark.parametrize("case", CASES)
def test_limited_phone_gets_its_rate_other_phone_is_free_and_down_removes_it(
        board: Board, tmp_path: Path, case: str) -> None:
    if shutil.which("iperf3") is None:
        pytest.skip("iperf3 missing (run support/setup)")
    text, (down_rate, up_rate) = CASES[case]
    board.phone.ip("link", "set", "eth0", "address", PHONE_MAC)
    phone2 = second_phone(board)
    inet = board.internets[PPP0.board_if]
    board.daemons.append(iperf.server(inet, WEB, board.log(str(inet.name), "iperf3")))
    conf = tmp_path / "hotshare.conf"
    conf.write_text(text)
    board.up("--config", str(conf))
    phone_ip, phone2_ip = board.dhcp()["ip"], lease(board, phone2)

    got = {"down": measured(board.phone, down=True), "up": measured(board.phone, down=False)}
    for way, rate in (("down", down_rate), ("up", up_rate)):
        assert 0.75 * bits(rate) <= got[way] <= 1.25 * bits(rate), (way, got[way], rate)
    free = {"down": measured(phone2, down=True), "up": measured(phone2, down=False)}
    for way, rate in (("down", down_rate), ("up", up_rate)):
        assert free[way] > 3 * bits(rate), (way, free[way], rate)
    print(f"rate limit {case}: phone {got}, limits {down_rate}/{up_rate}; free phone {free}")

    table = board.board.run(["nft", "list", "table", "inet", "hotshare_lan0"]).stdout
    if "flowtable" in table:  # this kernel offloads: the free phone's flows, not the limited one's
        both = [subprocess.Popen(["ip", "netns", "exec", str(ns.name), "iperf3", "-c", WEB, "-p", str(iperf.PORT),
                                  "-t", "3", "-R"], stdout=subprocess.DEVNULL) for ns in (board.phone, phone2)]
        try:
            lines = wait_until(lambda: [ln for ln in offloaded(board) if f"src={phone2_ip} " in ln], 3,
                               what="the free phone's flow offloaded")
            assert not [ln for ln in offloaded(board) if f"src={phone_ip} " in ln], lines
        finally:
            for p in both:
                p.wait(10)
    board.hotshare("down", "lan0")
    assert "rate_" not in board.board.run(["nft", "list", "ruleset"]).stdout
