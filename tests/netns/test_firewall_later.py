"""A firewall that appears after hotshare started must not cut the clients off silently.

The real service, phone online; then Docker's rules are loaded through
iptables-nft (as Docker starting later at boot does), Docker "restarts"
(its chains rebuilt, our rules in DOCKER-USER gone), or a native table with
a forward ``policy drop`` appears. The service follows the ruleset through
nfnetlink events: no polling, so an idle service does nothing."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import PPP0, Board
from lab.proc import wait_until
from lab.syslog import SyslogCollector

DATA = Path(__file__).resolve().parents[1] / "data" / "firewall"
DOCKER = (DATA / "docker.iptables").read_text()
FILTER_DROP = (DATA / "filter-drop.nft").read_text()
REACTION = 1.0          # seconds from the change to the phone online again


@pytest.fixture
def syslog(tmp_path: Path) -> Iterator[SyslogCollector]:
    """The daemon logs to /dev/log; the netns lock makes this one the only hotshare."""
    log = SyslogCollector(out=tmp_path / "syslog.txt").start()
    try:
        yield log
    finally:
        log.stop()


def iptables_save(board: Board) -> str:
    out = board.board.run(["iptables-save"]).stdout
    return "\n".join(re.sub(r"\[\d+:\d+\]", "", ln) for ln in out.splitlines() if not ln.startswith("#"))


def without_ours(save: str) -> str:
    return "\n".join(ln for ln in save.splitlines() if "hotshare:lan0" not in ln)


def online_after(board: Board, change: list[str], stdin: str | None = None, limit: float = 5.0) -> float:
    """Make ``change`` in the board namespace; the seconds until the phone fetches again.
    Short fetches, so that one sent while the traffic is dropped does not
    hide the moment it passes again."""
    t0 = time.monotonic()
    board.board.run(change, input=stdin)
    while time.monotonic() - t0 < limit:
        if board.fetch(timeout=0.2) == PPP0.board_ip:
            return time.monotonic() - t0
    raise AssertionError(f"the phone is still offline {limit} s after {' '.join(change)}")


def cut_off(board: Board) -> bool:
    return board.fetch(timeout=1.0) is None


def test_docker_started_later_and_restarted_is_passed_within_a_second(board: Board,
                                                                      syslog: SyslogCollector) -> None:
    board.up()
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    mark = syslog.mark()

    took = online_after(board, ["iptables-restore"], DOCKER)
    print(f"docker started: phone online again after {took:.3f} s")
    assert took <= REACTION
    assert syslog.wait_for(r"another firewall changed: made hotspot traffic pass table ip filter chain FORWARD",
                           timeout=2, since=mark)
    during = iptables_save(board)
    ours = [ln for ln in during.splitlines() if "hotshare:lan0" in ln]
    assert ours and all(ln.startswith("-A DOCKER-USER ") for ln in ours)
    docker = without_ours(during)
    assert "-P FORWARD DROP" in docker or ":FORWARD DROP" in docker

    # a restart rebuilds Docker's chains: our rules in DOCKER-USER go with them
    took = online_after(board, ["iptables-restore"], DOCKER)
    print(f"docker restarted: phone online again after {took:.3f} s")
    assert took <= REACTION
    took = online_after(board, ["iptables", "-F", "DOCKER-USER"])
    print(f"DOCKER-USER flushed: phone online again after {took:.3f} s")
    assert took <= REACTION
    assert "blocked" not in board.status()

    board.hotshare("down", "lan0")
    assert iptables_save(board) == docker        # exactly as Docker left it


def test_a_native_drop_later_is_named_in_the_log_and_in_status(board: Board, syslog: SyslogCollector) -> None:
    board.up()
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    mark = syslog.mark()
    board.board.run(["nft", "-f", "-"], input=FILTER_DROP)
    line = syslog.wait_for(r"hotspot traffic is blocked: table inet filter chain forward drops forwarded traffic",
                           timeout=2, since=mark)
    assert line and "FIREWALL=insert" in line
    blocked = wait_until(lambda: board.status().get("blocked"), 2, what="status to say blocked")
    assert "table inet filter chain forward" in str(blocked)
    assert cut_off(board)                                    # nothing was inserted: auto is not insert
    assert "hotshare" not in board.board.run(["nft", "list", "table", "inet", "filter"]).stdout

    took = online_after(board, ["nft", "delete", "table", "inet", "filter"])
    assert took <= REACTION
    wait_until(lambda: "blocked" not in board.status(), 2, what="status to clear blocked")
    assert syslog.wait_for(r"passes the other firewalls again", timeout=2, since=mark)


def test_a_native_drop_later_is_passed_with_firewall_insert(board: Board) -> None:
    board.up("--firewall", "insert")
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    took = online_after(board, ["nft", "-f", "-"], FILTER_DROP)
    print(f"native drop, FIREWALL=insert: phone online again after {took:.3f} s")
    assert took <= REACTION
    assert "blocked" not in board.status()
    board.hotshare("down", "lan0")
    listed = board.board.run(["nft", "list", "table", "inet", "filter"]).stdout
    assert "hotshare" not in listed and "policy drop" in listed


# -- no events, no work ------------------------------------------------------

COUNTING = """#!/bin/sh
echo "$0 $*" >> {log}
exec {real} "$@"
"""


def counted(board: Board, tmp_path: Path) -> Path:
    """Run the daemon with nft and iptables-nft-save wrapped: each run is a line in the returned file."""
    bindir, log = tmp_path / "bin", tmp_path / "runs.log"
    bindir.mkdir()
    log.touch()
    for name in ("nft", "iptables-nft-save"):
        real = next(p for d in ("/usr/sbin", "/sbin", "/usr/bin") if os.access(p := f"{d}/{name}", os.X_OK))
        wrapper = bindir / name
        wrapper.write_text(COUNTING.format(log=log, real=real))
        wrapper.chmod(0o755)
    env = board.env()
    board.env = lambda: {**env, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}  # type: ignore[method-assign]
    return log


def runs(log: Path) -> int:
    return len(log.read_text().splitlines())


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])          # utime + stime


def test_idle_the_service_does_no_work_and_does_not_chase_its_own_changes(board: Board, tmp_path: Path) -> None:
    log = counted(board, tmp_path)
    board.up()
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    assert runs(log) > 0                                  # the wrappers are the ones it runs
    pid = board.pid()
    time.sleep(1.0)
    n, ticks = runs(log), cpu_ticks(pid)
    time.sleep(3.0)
    assert runs(log) == n, "the idle service read the ruleset"
    assert cpu_ticks(pid) - ticks <= 1, "the idle service used CPU"

    # one reaction to Docker, then quiet again: its own changes do not wake it for more than one look
    before = runs(log)
    assert online_after(board, ["iptables-restore"], DOCKER) <= REACTION
    time.sleep(1.0)
    n = runs(log)
    print("programs run for the reaction:", *log.read_text().splitlines()[before:], sep="\n  ")
    time.sleep(3.0)
    assert runs(log) == n, "the service keeps reacting to its own changes"
    ticks = cpu_ticks(pid)
    time.sleep(2.0)
    assert cpu_ticks(pid) - ticks <= 1
