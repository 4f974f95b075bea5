"""The uplink health figures (HEALTH_CHECK, issue 12), for bench/run.py.

On a board of tests/netns/board.py with a simulated 4G ppp0 (a modem
namespace, lab/cellular.py) and a tethered usb0, hotshare runs with the
default health settings, its probes aimed at the lab's web address. An nft
counter in ppp0's internet counts the echo requests that reach the target
(the probes' cost on the SIM is that, times two for the replies).

* idle: ``idle_s`` seconds with no traffic: the service's CPU time (from
  /proc/PID/schedstat, nanoseconds: a tick is 10 ms, too coarse here) and
  wake-ups (context switches), and the probes; the bytes a probe costs
  (request and reply) times the probes a day at HEALTH_IDLE's default;
* traffic: 10 s of the phone fetching a page twice a second: the same,
  and the probes sent (passive evidence should make them 0);
* detection with traffic: the carrier drops everything (link, address and
  route stay), the phone keeps opening connections; seconds until one
  leaves by usb0 (detection and failover together);
* recovery: data flows again; seconds until ppp0 is alive (its up count);
* detection idle: the same death with no traffic at all; seconds until
  ``status`` says dead.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import REPO, cpu_counters, idle_cost, now, wait_http

from board import WEB, Board, Uplink
from lab.netns import Netns

sys.path.insert(0, str(REPO / "python"))
from hotshare.config.health import HealthConfig

COUNTER = """
table inet probes {
	counter echo { }
	chain input { type filter hook input priority -10; policy accept; icmp type echo-request counter name echo; }
}
"""


def _echo(b: Board) -> tuple[int, int]:
    out = b.internets["ppp0"].run(["nft", "list", "counter", "inet", "probes", "echo"]).stdout
    m = re.search(r"packets (\d+) bytes (\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _health(b: Board, name: str = "ppp0") -> str:
    out = b.hotshare("status", "lan0", "--json", check=False).stdout
    return str(((json.loads(out).get("uplinks") or {}).get(name) or {}).get("health"))


def _wait_health(b: Board, want: str, timeout: float, traffic: bool = False) -> float | None:
    t0 = now()
    while now() - t0 < timeout:
        if _health(b) == want:
            return now() - t0
        if traffic:
            b.fetch(timeout=0.5)
        time.sleep(0.1)
    return None


def _run_ns(pid: int) -> int:
    """Nanoseconds on a CPU, all threads of pid (the first field of schedstat)."""
    return sum(int((t / "schedstat").read_text().split()[0]) for t in Path(f"/proc/{pid}/task").iterdir())


def _window(b: Board, seconds: float, traffic: bool) -> dict[str, Any]:
    pid = b.pid()
    packets0, bytes0 = _echo(b)
    ns0 = _run_ns(pid)
    before = cpu_counters(pid)
    end = now() + seconds
    while now() < end:
        if traffic:
            b.fetch(timeout=2)
        time.sleep(0.5 if traffic else max(0.0, end - now()))
    cost = idle_cost(before, cpu_counters(pid))
    cost["cpu_ms_per_min"] = (_run_ns(pid) - ns0) / 1e6 * 60 / cost["seconds"]
    packets1, bytes1 = _echo(b)
    cost["probes"] = packets1 - packets0
    per_probe = 2 * (bytes1 - bytes0) / cost["probes"] if cost["probes"] else None     # request + reply
    cost["bytes_per_probe"] = per_probe
    cost["probe_bytes_per_day"] = per_probe * 86400 / HealthConfig().idle if per_probe else None
    return cost


def measure(tmp: Path, ppp0: Uplink, usb0: Uplink, idle_s: float) -> dict[str, Any]:
    b = Board(tmp / "health", uplinks=(ppp0, usb0))
    b.board, b.phone = Netns("hsbench-board"), Netns("hsbench-phone")
    b.workdir.mkdir(parents=True, exist_ok=True)
    fig: dict[str, Any] = {}
    try:
        b.start()
        b.internets["ppp0"].run(["nft", "-f", "-"], input=COUNTER)
        conf = b.workdir / "hotshare.conf"
        conf.write_text(f"HEALTH_CHECK=1\nHEALTH_TARGETS={WEB}\n")
        b.hotshare("up", "--daemon", "--config", str(conf), "--dns-server", ppp0.gateway, "lan0")
        b.dhcp()
        if _wait_health(b, "alive", 15) is None:
            raise RuntimeError("ppp0 never became alive")
        fig["idle"] = _window(b, idle_s, traffic=False)
        fig["traffic"] = _window(b, 10.0, traffic=True)
        modem = b.modems["ppp0"]
        modem.data(False)
        t0 = now()
        t, _body = wait_http(b.phone, WEB, t0 + 40, expect=usb0.board_ip, interval=0.05, timeout=0.5)
        fig["detect_traffic_s"] = t - t0
        modem.data(True)
        fig["recover_s"] = _wait_health(b, "alive", 40, traffic=True)
        b.hotshare("down", "lan0")      # a fresh start: no traffic at all from here
        b.hotshare("up", "--daemon", "--config", str(conf), "--dns-server", ppp0.gateway, "lan0")
        if _wait_health(b, "alive", 15) is None:
            raise RuntimeError("ppp0 never became alive after the restart")
        time.sleep(1)
        modem.data(False)
        fig["detect_idle_s"] = _wait_health(b, "dead", 90)
    finally:
        b.stop()
    return fig
