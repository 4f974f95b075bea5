#!/usr/bin/env python3
"""Benchmark: conntrack destroy events into per-client counts, and what
they cost the running service.

* ``parse``: events per second through ClientAccounting.feed(), C helper vs
  pure-Python path, on generated destroy-event batches (tests/lab/ctdump.py's
  encoder, 1,000 events a batch, 200 stations), median of --runs runs of
  --events events; both must give the same counts.
* ``load`` (root, --load): hotshare up in the board namespaces of
  tests/netns/board.py, the phone opening --rate new UDP connections a second
  (each from a new source port, so each a new conntrack entry; UDP timeout
  1 s in the board, so each ends with a destroy event within seconds), for
  --seconds; hotshare's CPU time over that window / the window (one core =
  100 %), against the same window with no load.

Prints JSON on stdout; bench/run.py includes it.

    .venv/bin/python bench/ctevents.py [--events 200000] [--runs 5] [--load] [--rate 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT / "python", ROOT / "tests", ROOT / "tests" / "netns", ROOT / "bench"):
    sys.path.insert(0, str(_p))

SUBNET, ROUTER = "10.42.0.0/23", "10.42.0.1"
BATCH = 1000

# The phone's load generator: --rate new UDP flows a second to the web server.
LOADGEN = r"""
import socket, sys, time
rate, seconds, dst = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
t0 = time.monotonic(); sent = 0
while (el := time.monotonic() - t0) < seconds:
    due = int(el * rate)
    while sent < due:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x" * 64, (dst, 9))
        s.close(); sent += 1
    time.sleep(0.002)
print(sent)
"""


def parse_rates(n_events: int, runs: int) -> dict[str, Any]:
    from hotshare.netlink import ctacct
    from lab.ctdump import as_tuples, encode_events, random_entries

    rng = random.Random(1)
    batches = [encode_events(random_entries(rng, BATCH, stations=200)) for _ in range(max(1, n_events // BATCH))]
    out: dict[str, Any] = {"events": len(batches) * BATCH, "batch_events": BATCH,
                           "bytes_per_event": sum(map(len, batches)) / (len(batches) * BATCH)}
    answers = {}
    for backend in ctacct.available_backends():
        times = []
        for _ in range(runs + 1):  # the first is the warm-up
            t = time.perf_counter()
            counts = {}
            for b in batches:
                acc = ctacct.ClientAccounting(SUBNET, exclude=[ROUTER], backend=backend)
                acc.feed(b)
                counts.update(acc.result())
            times.append(time.perf_counter() - t)
        answers[backend] = as_tuples(counts)
        out[f"{backend}_events_per_s"] = out["events"] / statistics.median(times[1:])
    if len({json.dumps(a, sort_keys=True) for a in answers.values()}) != 1:
        raise SystemExit("the backends disagree")
    if "c_events_per_s" in out:
        out["c_over_python"] = out["c_events_per_s"] / out["python_events_per_s"]
    return out


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_share(rate: float, seconds: float) -> dict[str, Any]:
    from board import WEB, Board

    with tempfile.TemporaryDirectory(prefix="hs-bench-") as tmp:
        b = Board(Path(tmp)).start()
        try:
            conf = Path(tmp) / "hotshare.conf"  # the per-client connection limit well above the load's
            conf.write_text("MAX_CLIENT_CONNECTIONS=65536\n")
            b.up("--config", str(conf))
            b.board.sysctl_write("net.netfilter.nf_conntrack_udp_timeout", "1")
            b.dhcp()
            pid = b.pid()
            c0, t0 = cpu_s(pid), time.monotonic()
            time.sleep(seconds)
            idle = (cpu_s(pid) - c0) / (time.monotonic() - t0)
            c0, t0 = cpu_s(pid), time.monotonic()
            gen = b.phone.run([sys.executable, "-c", LOADGEN, str(rate), str(seconds), WEB], timeout=seconds + 30)
            time.sleep(3)  # the last flows' destroy events
            loaded = (cpu_s(pid) - c0) / (time.monotonic() - t0)
            usage = json.loads(b.hotshare("usage", "lan0", "--json").stdout)
            flows = int(gen.stdout.strip())
            counted = sum(c["day"]["tx_packets"] for c in usage["clients"].values())
            return {"rate": rate, "seconds": seconds, "flows_sent": flows, "packets_counted": counted,
                    "idle_cpu_percent": 100 * idle, "cpu_percent": 100 * loaded,
                    "backend": "c" if list((ROOT / "python" / "hotshare").glob("_ctacct*.so")) else "python"}
        finally:
            b.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--load", action="store_true", help="(root) hotshare's CPU share under --rate new connections/s")
    p.add_argument("--rate", type=float, default=2000)
    p.add_argument("--seconds", type=float, default=10)
    a = p.parse_args()
    if not list((ROOT / "python" / "hotshare").glob("_ctacct*.so")):
        subprocess.run([sys.executable, str(ROOT / "csrc" / "build_ffi.py")], check=True, capture_output=True)
    out: dict[str, Any] = {"parse": parse_rates(a.events, a.runs)}
    if a.load:
        out["load"] = load_share(a.rate, a.seconds)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
