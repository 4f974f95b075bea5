"""iperf3 through the lab: a server in one namespace, a client in another
(the rate limit test and bench)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.netns import Netns
from lab.proc import Daemon, wait_until

PORT = 5201


def server(ns: Netns, address: str, log: Path) -> Daemon:
    """iperf3 -s on ``address`` in ``ns``, once it listens (the caller stops it)."""
    d = Daemon("iperf3", ["iperf3", "-s", "-B", address, "-p", str(PORT)], netns=ns.name, log=log)
    wait_until(lambda: f":{PORT:04X} " in ns.run(["cat", "/proc/net/tcp"]).stdout, 5, what="iperf3 listening")
    return d


def bits_per_second(ns: Netns, server_address: str, down: bool, seconds: int = 4) -> float:
    """What the receiving end saw, down (server to ns) or up; the first
    second (slow start, a limit's burst) left out."""
    argv = ["iperf3", "-c", server_address, "-p", str(PORT), "-t", str(seconds), "-O", "1", "-J",
            *(["-R"] if down else [])]
    out: dict[str, Any] = json.loads(ns.run(argv, timeout=seconds + 20).stdout)
    return float(out["end"]["sum_received"]["bits_per_second"])
