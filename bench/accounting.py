#!/usr/bin/env python3
"""Benchmark: per-client accounting of a conntrack dump.

Three ways to turn the same raw ctnetlink dump into per-client counters:

* ``c``        hotshare.netlink.ctacct with the cffi helper (csrc/ctacct.c);
* ``python``   hotshare.netlink.ctacct's pure-Python walk (HOTSHARE_NO_CEXT path);
* ``pyroute2`` pyroute2's own parser -- a Marshal with ``nfct_msg``, the
  message class ``Conntrack().dump_entries()`` decodes with -- then the same
  attribution rule over ``get_attr()``.  Messages are decoded one at a time
  (a generator), which is the most economical way to use pyroute2.

The dumps are synthetic (tests/lab/ctdump.py: the encoder
that reproduces the recorded kernel dump byte for byte), of 1k, 10k and 50k
entries.  Every backend runs in a fresh subprocess, so that imports and
allocations do not leak between them:

* time: median of --runs runs (after the cold run, which is the warm-up);
* peak extra memory: the process's peak RSS during one run, above its RSS
  just before it (VmHWM reset through /proc/self/clear_refs), which counts
  C allocations too; plus tracemalloc's peak for Python allocations;
* import cost: RSS after importing the backend's modules, above a bare
  interpreter's.

All three must give the same counts, or the benchmark stops.  It never fails
on a time; it prints figures: a Markdown table on stdout and JSON in
bench/results/accounting.json.

    .venv/bin/python bench/accounting.py [--sizes 1000,10000,50000] [--runs 5]
                                         [--live 20000,50000 [--live-runs 3]]

With --live (root): the same counting on a real conntrack table of N UDP
entries built in a namespace lab (tests/lab/ctlab.py), by
count_live() (streaming), dump_raw() + count_by_client(), pyroute2's
NFCTSocket().dump() and, for reference, Conntrack().dump_entries().
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "accounting.json"
SUBNET = "10.42.0.0/23"
ROUTER = "10.42.0.1"
BACKENDS = ("c", "python", "pyroute2")
TARGETS = {"c_vs_pyroute2": 100.0, "c_vs_python": 5.0, "c_extra_peak_mb": 5.0}


# --------------------------------------------------------------------------
# Worker side (a fresh interpreter per backend and size)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _pyroute2_counter(subnet: str, router: str) -> Callable[[bytes], dict[str, tuple[int, ...]]]:
    from pyroute2.netlink.marshal import Marshal
    from pyroute2.netlink.nfnetlink.nfctsocket import nfct_msg

    aggregate = _pyroute2_aggregate(subnet, router)

    def run(buf: bytes) -> dict[str, tuple[int, ...]]:
        marshal = Marshal()
        marshal.msg_map = {0x100: nfct_msg}
        return aggregate(marshal.parse(buf))

    return run


def _pyroute2_aggregate(subnet: str, router: str) -> Callable[[Iterable[Any]], dict[str, tuple[int, ...]]]:
    """The documented attribution rule over pyroute2 nfct_msg objects."""
    from ipaddress import IPv4Address, ip_network

    net = ip_network(subnet)
    lo, mask = int(net.network_address), int(net.netmask)
    excluded = int(IPv4Address(router))

    def station(addr: str | None) -> bool:
        if not addr:
            return False
        a = int(IPv4Address(addr))
        return a & mask == lo and a != excluded

    def counters(msg: Any, name: str) -> tuple[int, int]:
        c = msg.get_attr(name)
        if c is None:
            return 0, 0
        packets = c.get_attr("CTA_COUNTERS_PACKETS")
        octets = c.get_attr("CTA_COUNTERS_BYTES")
        if packets is None:
            packets = c.get_attr("CTA_COUNTERS32_PACKETS") or 0
        if octets is None:
            octets = c.get_attr("CTA_COUNTERS32_BYTES") or 0
        return octets, packets

    def aggregate(msgs: Iterable[Any]) -> dict[str, tuple[int, ...]]:
        acc: dict[str, list[int]] = {}
        for msg in msgs:
            if msg["header"]["type"] != 0x100 or msg["nfgen_family"] != 2:
                continue
            orig, reply = msg.get_attr("CTA_TUPLE_ORIG"), msg.get_attr("CTA_TUPLE_REPLY")
            osrc = orig.get_attr("CTA_TUPLE_IP").get_attr("CTA_IP_V4_SRC") if orig else None
            rsrc = reply.get_attr("CTA_TUPLE_IP").get_attr("CTA_IP_V4_SRC") if reply else None
            o, r = counters(msg, "CTA_COUNTERS_ORIG"), counters(msg, "CTA_COUNTERS_REPLY")
            if station(osrc):
                who, tx, rx = osrc, o, r
            elif station(rsrc):
                who, tx, rx = rsrc, r, o
            else:
                continue
            s = acc.setdefault(str(who), [0, 0, 0, 0, 0])
            s[0] += tx[0]
            s[1] += tx[1]
            s[2] += rx[0]
            s[3] += rx[1]
            s[4] += 1
        return {k: tuple(v) for k, v in sorted(acc.items(), key=lambda kv: int(IPv4Address(kv[0])))}

    return aggregate


def _hotshare() -> tuple[Any, Any]:
    sys.path.insert(0, str(ROOT / "python"))
    from hotshare.netlink import ctacct as accounting
    from hotshare.netlink import ctnetlink as conntrack

    return accounting, conntrack


def _hotshare_counter(backend: str, subnet: str, router: str) -> Callable[[bytes], dict[str, tuple[int, ...]]]:
    accounting, _ = _hotshare()
    if backend == "c" and accounting.backend() != "c":
        raise SystemExit("the C helper is not built: .venv/bin/python csrc/build_ffi.py")

    def run(buf: bytes) -> dict[str, tuple[int, ...]]:
        counts = accounting.count_by_client(buf, subnet, exclude=[router], backend=backend)
        return {k: tuple(v) for k, v in counts.items()}

    return run


def measure(once: Callable[[], Any], runs: int, import_kb: int, trace: bool = True) -> dict[str, Any]:
    """Cold run for the peak RSS (also the warm-up), then runs timed runs,
    then one under tracemalloc."""
    gc.collect()
    before_kb = _status_kb("VmRSS")
    exact = _reset_peak()
    result = once()
    peak_kb = _status_kb("VmHWM")
    digest = hashlib.sha256(json.dumps(result, sort_keys=True).encode()).hexdigest()
    size = len(result)
    del result
    gc.collect()

    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)

    traced_peak: int | None = None
    if trace:
        tracemalloc.start()
        once()
        traced_peak = tracemalloc.get_traced_memory()[1] // 1024
        tracemalloc.stop()
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "times_s": times,
        "rss_extra_peak_kb": peak_kb - before_kb if exact else None,
        "tracemalloc_peak_kb": traced_peak,
        "import_rss_kb": import_kb,
        "clients": size,
        "digest": digest,
    }


def worker(backend: str, path: str, runs: int) -> dict[str, Any]:
    bare_kb = _status_kb("VmRSS")
    make = _pyroute2_counter if backend == "pyroute2" else partial(_hotshare_counter, backend)
    count = make(SUBNET, ROUTER)
    imported_kb = _status_kb("VmRSS")
    buf = Path(path).read_bytes()
    return dict(backend=backend, **measure(lambda: count(buf), runs, imported_kb - bare_kb))


# Live: the kernel's own table, dumped inside a router namespace.
LIVE_BACKENDS = ("raw", "c", "python", "c-buffered", "pyroute2", "pyroute2-entries")
LIVE_HELP = {
    "raw": "hotshare dump_raw() only (receive, no parsing)",
    "c": "count_live(): C helper fed each receive buffer",
    "python": "count_live(): pure Python fed each receive buffer",
    "c-buffered": "dump_raw() then count_by_client() with the C helper",
    "pyroute2": "NFCTSocket().dump() + the same counting over nfct_msg",
    "pyroute2-entries": "Conntrack().dump_entries() listed (no counters in its entries)",
}


def live_worker(backend: str, runs: int, subnet: str, router: str) -> dict[str, Any]:
    bare_kb = _status_kb("VmRSS")
    once: Callable[[], Any]
    if backend == "pyroute2":
        from pyroute2 import NFCTSocket

        aggregate = _pyroute2_aggregate(subnet, router)

        def once() -> Any:
            with NFCTSocket() as sock:
                return aggregate(sock.dump())

    elif backend == "pyroute2-entries":
        from pyroute2 import Conntrack

        def once() -> Any:
            with Conntrack() as ct:
                return [str(e.tuple_orig) for e in ct.dump_entries()]

    else:
        accounting, conntrack = _hotshare()
        if backend == "raw":

            def once() -> Any:
                return list(range(len(conntrack.dump_raw()) // 1000))  # size in kB, as a list

        elif backend == "c-buffered":

            def once() -> Any:
                counts = accounting.count_by_client(conntrack.dump_raw(), subnet, exclude=[router], backend="c")
                return {k: tuple(v) for k, v in counts.items()}

        else:

            def once() -> Any:
                counts = accounting.count_live(subnet, exclude=[router], backend=backend)
                return {k: tuple(v) for k, v in counts.items()}

    return dict(backend=backend, **measure(once, runs, _status_kb("VmRSS") - bare_kb, trace=False))


# --------------------------------------------------------------------------
# Driver side


def make_dump(n: int, seed: int) -> bytes:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "python")]  # lab.ctdump names hotshare's error codes
    from lab.ctdump import encode_dump, random_entries

    return encode_dump(random_entries(random.Random(seed), n, stations=200))


def ensure_cext() -> None:
    if not list((ROOT / "python" / "hotshare").glob("_ctacct*.so")):
        subprocess.run([sys.executable, str(ROOT / "csrc" / "build_ffi.py")], check=True)


def run_worker(backend: str, path: Path, runs: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("HOTSHARE_NO_CEXT", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", backend, str(path), "--runs", str(runs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"{backend} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout)


def fmt_kb(kb: int | None) -> str:
    if kb is None:
        return "n/a"
    return f"{kb} kB" if kb < 1024 else f"{kb / 1024:.1f} MB"


def run_live(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    """A router namespace holding N real UDP entries (two stations, 1 datagram
    per source port, echoed), dumped by each backend in a fresh process."""
    sys.path.insert(0, str(ROOT / "tests"))
    from lab.ctlab import LAN, R_LAN, S2, CtLab, have_tools

    why = have_tools()
    if why:
        raise SystemExit(f"--live: {why}")
    rows: list[dict[str, Any]] = []
    for n in sizes:
        with CtLab() as lab:
            lab.sh(
                lab.r,
                "sysctl",
                "-qw",
                "net.netfilter.nf_conntrack_udp_timeout=3600",
                "net.netfilter.nf_conntrack_udp_timeout_stream=3600",
            )
            half = n // 2
            lab.tool_run(lab.c1, "udp-burst", S2, "5353", str(n - half), "20000")
            if half:
                lab.tool_run(lab.c2, "udp-burst", S2, "5353", str(half), "20000")
            time.sleep(1.0)
            entries = int(lab.sh(lab.r, "conntrack", "-C").strip())
            results = {}
            for backend in LIVE_BACKENDS:
                print(f"  live {n} entries, {backend} ...", file=sys.stderr, flush=True)
                out = lab.sh(
                    lab.r,
                    sys.executable,
                    __file__,
                    "--live-worker",
                    backend,
                    LAN,
                    R_LAN,
                    "--runs",
                    str(runs),
                    timeout=3600,
                )
                results[backend] = json.loads(out)
            counted = {results[b]["digest"] for b in ("c", "python", "c-buffered", "pyroute2")}
            if len(counted) != 1:
                raise SystemExit(f"live backends disagree at {n} entries: {results}")
            for r in results.values():
                r.update(entries=entries, entries_per_s=entries / r["median_s"])
                rows.append(r)

    print(f"\n## Live table, dumped in a namespace (median of {runs} runs)\n")
    print("| entries | backend | what | median time | entries/s | peak extra RSS | import RSS |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['entries']} | {r['backend']} | {LIVE_HELP[r['backend']]} | {r['median_s'] * 1e3:.1f} ms"
            f" | {r['entries_per_s']:,.0f} | {fmt_kb(r['rss_extra_peak_kb'])} | {fmt_kb(r['import_rss_kb'])} |"
        )
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sizes", default="1000,10000,50000")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--out", default=str(RESULTS))
    p.add_argument(
        "--live",
        metavar="SIZES",
        help="also dump a real table of these sizes (e.g. 20000,50000) in a namespace; needs root",
    )
    p.add_argument("--live-runs", type=int, default=3)
    p.add_argument("--worker", nargs=2, metavar=("BACKEND", "DUMP"), help=argparse.SUPPRESS)
    p.add_argument("--live-worker", nargs=3, metavar=("BACKEND", "SUBNET", "ROUTER"), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.runs)))
        return 0
    if args.live_worker:
        print(json.dumps(live_worker(args.live_worker[0], args.runs, args.live_worker[1], args.live_worker[2])))
        return 0

    ensure_cext()
    backends = [b for b in args.backends.split(",") if b]
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-acct-") as tmp:
        for n in sizes:
            dump = Path(tmp, f"dump-{n}.bin")
            dump.write_bytes(make_dump(n, seed=n))
            results = {}
            for backend in backends:
                print(f"  {n} entries, {backend} ...", file=sys.stderr, flush=True)
                results[backend] = run_worker(backend, dump, args.runs)
            digests = {r["digest"] for r in results.values()}
            if len(digests) != 1:
                raise SystemExit(f"backends disagree at {n} entries: {results}")
            for r in results.values():
                r.update(entries=n, dump_bytes=dump.stat().st_size, entries_per_s=n / r["median_s"])
                rows.append(r)

    def ratio(n: int, a: str, b: str) -> float | None:
        ra = next((r for r in rows if r["entries"] == n and r["backend"] == a), None)
        rb = next((r for r in rows if r["entries"] == n and r["backend"] == b), None)
        return rb["median_s"] / ra["median_s"] if ra and rb else None

    ratios = {n: {"c_vs_pyroute2": ratio(n, "c", "pyroute2"), "c_vs_python": ratio(n, "c", "python")} for n in sizes}

    print("\n## Per-client accounting of a conntrack dump\n")
    print(f"{platform.machine()}, Python {platform.python_version()}, median of {args.runs} runs\n")
    print("| entries | dump | backend | median time | entries/s | peak extra RSS | tracemalloc peak | import RSS |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['entries']} | {r['dump_bytes'] / 1e6:.2f} MB | {r['backend']} | {r['median_s'] * 1e3:.2f} ms"
            f" | {r['entries_per_s']:,.0f} | {fmt_kb(r['rss_extra_peak_kb'])} | {fmt_kb(r['tracemalloc_peak_kb'])}"
            f" | {fmt_kb(r['import_rss_kb'])} |"
        )
    print("\n| entries | C vs pyroute2 | C vs pure Python |")
    print("|---:|---:|---:|")
    for n, rs in ratios.items():
        cells = [f"{v:.1f}x" if v is not None else "n/a" for v in rs.values()]
        print(f"| {n} | {' | '.join(cells)} |")
    big = max(sizes)
    c_big = next((r for r in rows if r["entries"] == big and r["backend"] == "c"), None)
    print(
        f"\nTargets at {big} entries: C >= {TARGETS['c_vs_pyroute2']:.0f}x pyroute2, >= {TARGETS['c_vs_python']:.0f}x"
        f" pure Python, < {TARGETS['c_extra_peak_mb']:.0f} MB extra peak"
        + (f" (measured {fmt_kb(c_big['rss_extra_peak_kb'])})" if c_big else "")
    )

    live_rows = run_live([int(x) for x in args.live.split(",")], args.live_runs) if args.live else []

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "accounting",
                "machine": platform.machine(),
                "python": platform.python_version(),
                "runs": args.runs,
                "subnet": SUBNET,
                "rows": rows,
                "ratios": {str(k): v for k, v in ratios.items()},
                "targets": TARGETS,
                "live": live_rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
