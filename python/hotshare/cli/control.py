"""Commands that look at or stop a running hotspot: status, clients, list, down."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

from ..config.values import ifname
from ..errors import EXIT_FAIL, EXIT_NOT_RUNNING, EXIT_OK, EXIT_USAGE
from ..service.instances import clients_of, instances, paths_for, resolve_iface, running_pid, status_of
from ..system.host import lock_held


def stop(target: str, timeout: float = 90.0) -> int:
    """Stop by interface name or pid; wait until everything is undone."""
    iface = target
    if target.isascii() and target.isdigit():
        match = [i for i, pid in instances() if pid == int(target)]
        if not match:
            print(f"hotshare: no hotspot runs with pid {target}", file=sys.stderr)
            return EXIT_NOT_RUNNING
        iface = match[0]
    iface = ifname("IFACE", iface)  # it becomes a path: checked first
    p = paths_for(iface)
    pid = running_pid(iface)
    if pid == 0:
        print(f"hotshare: the instance lock of {iface} is held, but its pid file names no hotshare process; "
              "nothing was signalled", file=sys.stderr)
        return EXIT_FAIL
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while lock_held(p.lock) and time.monotonic() < deadline:
            time.sleep(0.05)
        if lock_held(p.lock):
            print(f"hotshare: pid {pid} did not stop within {timeout:.0f} s", file=sys.stderr)
            return EXIT_FAIL
        return EXIT_OK
    if os.path.exists(p.state):  # it died without cleaning up: do it now
        from ..service.lock import Lock, clean_leftovers
        lock = Lock(p)
        try:
            clean_leftovers(p)
        finally:
            lock.release()
        return EXIT_OK
    print(f"hotshare: no hotspot is running on {iface}", file=sys.stderr)
    return EXIT_NOT_RUNNING


def list_running(as_json: bool) -> int:
    rows = [status_of(iface) for iface, _pid in instances()]
    if as_json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['pid']} {r['iface']} subnet {r.get('subnet', '?')}")
    return EXIT_OK


def _say_if_accounting_falls_back() -> None:
    """One line on stderr when the per-client counts came from the pure-Python
    path because the C helper was not built (not when it was turned off)."""
    ctacct = sys.modules.get("hotshare.netlink.ctacct")
    if ctacct is not None and ctacct.backend() == "python" and not os.environ.get("HOTSHARE_NO_CEXT"):
        print(ctacct.NOT_BUILT_MESSAGE, file=sys.stderr)


def clients(iface: str, as_json: bool) -> int:
    iface = ifname("IFACE", iface)
    if running_pid(iface) is None:
        print(f"hotshare: no hotspot is running on {iface}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    rows = clients_of(iface)
    _say_if_accounting_falls_back()
    if as_json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    print(f"{'MAC':17}  {'IP':15}  {'HOSTNAME':20}  {'SIGNAL':>6}  {'CONNECTED':>9}")
    for c in rows:
        sig = f"{c['signal']} dBm" if c.get("signal") is not None else "-"
        t = f"{c['connected_time']} s" if c.get("connected_time") is not None else "-"
        print(f"{c['mac']:17}  {c.get('ip') or '-':15}  {c.get('hostname') or '-':20}  {sig:>6}  {t:>9}")
    return EXIT_OK


def dispatch(ns: argparse.Namespace) -> int:
    if ns.command == "list":
        return list_running(ns.json)
    if ns.command == "doctor":
        from .doctor import run_doctor
        return run_doctor(ns)
    iface = resolve_iface(ns.iface, ns.config)
    if not iface:
        print("hotshare: name the interface (e.g. `hotshare status wlan0`) or give --config", file=sys.stderr)
        return EXIT_USAGE
    iface = ifname("IFACE", iface)
    if ns.command == "down":
        return stop(iface)
    if ns.command == "clients":
        return clients(iface, ns.json)
    info = status_of(iface)
    if ns.json:
        print(json.dumps(info, indent=1))
    else:
        if info["running"]:
            ap: dict[str, Any] = info.get("ap") or {}  # type: ignore[assignment]
            print(f"{iface}: running (pid {info['pid']}), subnet {info.get('subnet')}, "
                  f"gateway {info.get('gateway')}"
                  + (f", AP {ap.get('state')} on channel {ap.get('channel')}, {ap.get('num_sta')} station(s)"
                     if ap else "")
                  + (f"\n  IPv6 {info['ipv6']}" if info.get("ipv6") else ""))
        else:
            print(f"{iface}: not running" + (" (leftovers from a crash: `hotshare down` cleans them)"
                                             if info.get("stale") else ""))
    return EXIT_OK if info["running"] else EXIT_NOT_RUNNING
