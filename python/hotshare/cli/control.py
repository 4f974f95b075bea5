"""Commands that look at or stop a running hotspot: status, clients, usage, list, down."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

from ..config.values import ifname
from ..config.values import mac as mac_value
from ..errors import EXIT_FAIL, EXIT_NOT_RUNNING, EXIT_OK, EXIT_USAGE
from ..service.eventbus import events_path
from ..service.instances import clients_of, instances, paths_for, resolve_iface, running_pid, status_of
from ..service.usage import usage_path
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


def clients(iface: str, as_json: bool, create_ap_layout: bool = False) -> int:
    iface = ifname("IFACE", iface)
    if running_pid(iface) is None:
        print(f"hotshare: no hotspot is running on {iface}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    rows = clients_of(iface)
    _say_if_accounting_falls_back()
    if as_json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    if create_ap_layout:   # create_ap's list_clients, byte for byte: scripts parse it
        if not rows:
            print("No clients connected")
        for c in [{"mac": "MAC", "ip": "IP", "hostname": "Hostname"}] * bool(rows) + rows:
            print(f"{c['mac']:<20} {c.get('ip') or '*':<18} {c.get('hostname') or '*'}")
        return EXIT_OK
    print(f"{'MAC':17}  {'IP':15}  {'HOSTNAME':20}  {'SIGNAL':>6}  {'CONNECTED':>9}")
    for c in rows:
        sig = f"{c['signal']} dBm" if c.get("signal") is not None else "-"
        t = f"{c['connected_time']} s" if c.get("connected_time") is not None else "-"
        print(f"{c['mac']:17}  {c.get('ip') or '-':15}  {c.get('hostname') or '-':20}  {sig:>6}  {t:>9}")
    return EXIT_OK


def usage(iface: str, as_json: bool) -> int:
    """The totals the service keeps; a running service is asked (over its
    event socket) to bring them up to the moment and save them first."""
    p = paths_for(iface)
    path = usage_path(p.statedir, iface)
    pid = running_pid(iface)
    if pid and _ask(iface, {"command": "refresh"}) is None:
        print("hotshare: the service did not answer; these totals may be a few minutes old", file=sys.stderr)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        print(f"hotshare: no usage recorded on {iface} yet", file=sys.stderr)
        return EXIT_NOT_RUNNING if pid is None else EXIT_FAIL
    if as_json:
        print(json.dumps(data, indent=1))
        return EXIT_OK
    print(f"{'MAC':17}  {'ADDRESS':15}  {'SESSION':>10}  {'TODAY':>10}  {'MONTH':>10}  (MB down/up)")
    for mac, c in data.get("clients", {}).items():
        cells = [f"{c[k]['rx_bytes'] / 1e6:.1f}/{c[k]['tx_bytes'] / 1e6:.1f}" for k in ("session", "day", "month")]
        print(f"{mac:17}  {(c.get('addresses') or ['-'])[0]:15}  " + "  ".join(f"{x:>10}" for x in cells))
    h = data.get("hotspot", {})
    if h:
        print(f"hotspot today {h['day']['rx_bytes'] / 1e6:.1f}/{h['day']['tx_bytes'] / 1e6:.1f} MB, "
              f"billing month from {h['month']['key']} {h['month']['rx_bytes'] / 1e6:.1f}/"
              f"{h['month']['tx_bytes'] / 1e6:.1f} MB")
    return EXIT_OK


def events(iface: str, as_json: bool) -> int:
    """Print the running service's events as they come (a blocking read of
    its event socket: nothing is polled); ends when the service stops."""
    import socket

    p = paths_for(iface)
    if not running_pid(iface):
        print(f"hotshare: no hotspot is running on {iface}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(events_path(p.rundir, iface))
    except OSError as e:
        print(f"hotshare: cannot read the events of {iface}: {e.strerror} (root only)", file=sys.stderr)
        return EXIT_FAIL
    with sock, sock.makefile("rb") as stream:
        for raw in stream:
            if as_json:
                sys.stdout.write(raw.decode())
            else:
                ev = json.loads(raw)
                rest = " ".join(f"{k}={v}" for k, v in ev.items() if k not in ("version", "event", "time", "iface"))
                print(f"{ev['time']} {ev['event']} {rest}".rstrip())
            sys.stdout.flush()
    return EXIT_OK


def quota_reset(iface: str, mac: str | None, period: str) -> int:
    """Ask the running service (over its event socket) to zero the figures
    of ``period`` (one client's, or all) and lift the quotas that frees."""
    if mac is not None:
        mac = mac_value("--mac", mac)
    if not running_pid(iface):
        print(f"hotshare: no hotspot is running on {iface}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    answer = _ask(iface, {"command": "quota_reset", "mac": mac, "period": period})
    if answer is None or "error" in answer:
        print(f"hotshare: {answer['error'] if answer else 'the service did not answer'}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _ask(iface: str, command: dict[str, Any], timeout: float = 10.0) -> dict[str, Any] | None:
    """Send one command over the service's event socket; its answer, or None."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(events_path(paths_for(iface).rundir, iface))
            sock.sendall(json.dumps(command).encode())
            with sock.makefile("rb") as stream:
                for raw in stream:
                    ev = json.loads(raw)
                    if ev.get("event") == "answer":
                        return dict(ev)
    except (OSError, ValueError):
        return None
    return None


def dispatch(ns: argparse.Namespace) -> int:
    if ns.command == "list":
        return list_running(ns.json)
    if ns.command == "doctor":
        from .doctor import run_doctor
        return run_doctor(ns)
    if ns.command == "qr":
        from .qr import cmd_qr
        return cmd_qr(ns)
    iface = resolve_iface(ns.iface, ns.config)
    if not iface:
        print("hotshare: name the interface (e.g. `hotshare status wlan0`) or give --config", file=sys.stderr)
        return EXIT_USAGE
    iface = ifname("IFACE", iface)
    if ns.command == "down":
        return stop(iface)
    if ns.command == "clients":
        return clients(iface, ns.json)
    if ns.command == "usage":
        return usage(iface, ns.json)
    if ns.command == "events":
        return events(iface, ns.json)
    if ns.command == "quota":
        return quota_reset(iface, ns.mac, ns.period)
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
                  + (f"\n  IPv6 {info['ipv6']}" if info.get("ipv6") else "")
                  + (f"\n  MQTT {info['mqtt']}" if info.get("mqtt") else ""))
            for name, h in (info.get("uplinks") or {}).items():  # type: ignore[attr-defined]
                print(f"  uplink {name}: {h.get('health')} ({h.get('reason')})")
        else:
            print(f"{iface}: not running" + (" (leftovers from a crash: `hotshare down` cleans them)"
                                             if info.get("stale") else ""))
    return EXIT_OK if info["running"] else EXIT_NOT_RUNNING
