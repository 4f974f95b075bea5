"""The rate limit figures (RATE_LIMIT_*, CLIENT_RATE_LIMITS), for bench/run.py.

On a board of tests/netns/board.py (namespaces of the bench's own names),
hotshare runs with the wired phone limited to ``DOWN``/``UP``; iperf3 from
the phone to the internet namespace's server, each way, gives what the
phone gets (the first second, the bucket's burst, left out): achieved / limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from board import WEB, Board
from lab import iperf, topology
from lab.netns import Netns

PPP0 = topology.PPP0.in_netns("hsbench-inet")
PHONE_MAC = "02:00:00:00:00:42"
DOWN, UP = 4_000_000, 2_000_000   # CLIENT_RATE_LIMITS=...=4mbit/2mbit


def measure(tmp: Path) -> dict[str, Any]:
    b = Board(tmp / "ratelimit", uplinks=(PPP0,))
    b.board, b.phone = Netns("hsbench-board"), Netns("hsbench-phone")
    b.workdir.mkdir(parents=True, exist_ok=True)
    b.start()
    try:
        b.phone.ip("link", "set", "eth0", "address", PHONE_MAC)
        inet = b.internets["ppp0"]
        b.daemons.append(iperf.server(inet, WEB, b.log(str(inet.name), "iperf3")))
        conf = b.workdir / "hotshare.conf"
        conf.write_text(f"CLIENT_RATE_LIMITS={PHONE_MAC}={DOWN // 1000}kbit/{UP // 1000}kbit\n")
        b.hotshare("up", "--daemon", "--dns-server", PPP0.gateway, "--config", str(conf), "lan0", "ppp0")
        b.dhcp()
        return {"limit_down_bps": DOWN, "limit_up_bps": UP,
                "down_bps": iperf.bits_per_second(b.phone, WEB, down=True),
                "up_bps": iperf.bits_per_second(b.phone, WEB, down=False)}
    finally:
        b.stop()
