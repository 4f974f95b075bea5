"""A client's quota with the real parts: it is blocked soon after it goes
over, DNS and DHCP keep answering, `hotshare quota reset` lets it back;
the event stream reports it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from board import WEB, Board
from lab.proc import wait_until
from test_events import next_event

PHONE_MAC = "02:00:00:00:00:42"
GATEWAY = "192.168.12.1"


def test_quota_blocks_the_client_on_time_dns_still_answers_reset_unblocks(board: Board, tmp_path: Path) -> None:
    board.phone.ip("link", "set", "eth0", "address", PHONE_MAC)
    conf = tmp_path / "hotshare.conf"
    conf.write_text(f"CLIENT_QUOTAS={PHONE_MAC}=1M/day\n")
    board.up("--config", str(conf))
    board.board.sysctl_write("net.netfilter.nf_conntrack_tcp_timeout_time_wait", "1")
    reader = subprocess.Popen(["ip", "netns", "exec", "hs-board", sys.executable, "-m", "hotshare", "events",
                               "lan0", "--json"], env=board.env(), stdout=subprocess.PIPE, bufsize=0)
    try:
        assert next_event(reader)["event"] == "daemon_started"
        board.dhcp()
        assert board.fetch() is not None  # under quota: online
        assert board.download(3 << 20) is not None
        done = time.monotonic()
        # over it: blocked within seconds (the download's end is counted when its entry goes)
        wait_until(lambda: board.fetch(timeout=1.0) is None, 15, interval=0.2, what="the phone to be blocked")
        blocked_after = time.monotonic() - done
        assert blocked_after < 12, blocked_after
        ev = next_event(reader)
        while ev["event"] != "quota_reached":
            ev = next_event(reader)
        assert (ev["scope"], ev["period"], ev["limit"]) == (PHONE_MAC, "day", 1_000_000) and ev["bytes"] > 3 << 20
        sets = board.board.run(["nft", "-j", "list", "set", "inet", "hotshare_lan0", "quota_macs"]).stdout
        assert PHONE_MAC in sets
        # "no internet", not "cannot connect": DNS and DHCP answer
        assert board.resolve("www.example.test", GATEWAY) == [WEB]
        assert board.dhcp()["ip"]
        assert board.fetch(timeout=1.0) is None
        # lifted by command
        board.hotshare("quota", "reset", "lan0", "--mac", PHONE_MAC, "--period", "day")
        assert board.fetch() is not None
        assert json.loads(board.hotshare("usage", "lan0", "--json").stdout)["clients"][PHONE_MAC]["day"][
            "rx_bytes"] < 1 << 20
    finally:
        reader.kill()
