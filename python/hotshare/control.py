"""Commands that look at or stop a running hotspot: status, clients, list, down.

They read the instance's pid file and journal, and hostapd's control socket;
the resident service needs no control protocol of its own.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from . import fsutil
from .config import read_conf_file
from .hostapd_ctrl import CtrlError, HostapdCtrl
from .plan import Paths
from .state import Journal

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
log = logging.getLogger("hotshare")


def _dirs() -> tuple[str, str]:
    return (os.environ.get("HOTSHARE_RUNDIR", "/run/hotshare"),
            os.environ.get("HOTSHARE_STATEDIR", "/var/lib/hotshare"))


def paths_for(iface: str) -> Paths:
    run, state = _dirs()
    return Paths(run, state, iface)


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def instances() -> list[tuple[str, int]]:
    """(iface, pid) of every hotspot whose pid file names a live process."""
    run, _ = _dirs()
    out = []
    for path in sorted(glob.glob(os.path.join(run, "*.pid"))):
        iface = os.path.basename(path)[:-4]
        pid = fsutil.read_pid(path)
        if alive(pid):
            out.append((iface, pid))
    return out


def resolve_iface(iface: str | None, config: str | None) -> str | None:
    if iface:
        return iface
    if config:
        return read_conf_file(config).get("WIFI_IFACE") or None
    running = instances()
    return running[0][0] if len(running) == 1 else None


def status_of(iface: str) -> dict[str, object]:
    p = paths_for(iface)
    pid = fsutil.read_pid(p.pidfile)
    running = alive(pid)
    j = Journal.load(p.state)
    info: dict[str, object] = {"iface": iface, "running": running, "pid": pid if running else None}
    if j and running:
        info.update(j.extra)
        info["children"] = {name: cpid for name, cpid in j.children.items() if alive(cpid)}
        try:
            ctrl = HostapdCtrl(p.hostapd_ctrl, iface)
            try:
                st = ctrl.status()
            finally:
                ctrl.close()
            info["ap"] = {k: st.get(k) for k in ("state", "channel", "freq", "num_sta", "bssid[0]", "ssid[0]")}
        except (CtrlError, OSError):
            pass
    elif j and not running:
        info["stale"] = True  # a journal without a live process: `down` cleans it
    return info


def read_leases(path: str) -> dict[str, dict[str, str]]:
    """dnsmasq's lease file: 'expiry mac ip hostname client-id' a line."""
    leases: dict[str, dict[str, str]] = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4:
                    leases[parts[1].lower()] = {"ip": parts[2], "hostname": "" if parts[3] == "*" else parts[3],
                                                "expires": parts[0]}
    except OSError:
        pass
    return leases


def clients_of(iface: str) -> list[dict[str, object]]:
    p = paths_for(iface)
    leases = read_leases(p.leases)
    out: list[dict[str, object]] = []
    stations: list[dict[str, str]] | None = None
    try:
        ctrl = HostapdCtrl(p.hostapd_ctrl, iface)
        try:
            stations = ctrl.stations()
        finally:
            ctrl.close()
    except (CtrlError, OSError):
        stations = None
    if stations is None:  # wired downstream: the leases are all we know
        for mac, lease in leases.items():
            out.append({"mac": mac, "ip": lease["ip"], "hostname": lease["hostname"] or None,
                        "signal": None, "connected_time": None})
        _add_accounting(iface, out)
        return out
    for sta in stations:
        if "[AUTHORIZED]" not in sta.get("flags", ""):
            continue  # still in (or failing) the WPA handshake: not a client yet
        mac = sta["mac"].lower()
        lease = leases.get(mac, {})
        sig = sta.get("signal")
        out.append({"mac": mac, "ip": lease.get("ip"), "hostname": lease.get("hostname") or None,
                    "signal": int(sig) if sig and sig.lstrip("-").isdigit() else None,
                    "connected_time": int(sta["connected_time"]) if sta.get("connected_time", "").isdigit() else None,
                    "rx_bytes": int(sta.get("rx_bytes", 0) or 0), "tx_bytes": int(sta.get("tx_bytes", 0) or 0)})
    _add_accounting(iface, out)
    return out


def _add_accounting(iface: str, out: list[dict[str, object]]) -> None:
    """Per-client bytes and packets through NAT, from the conntrack table
    (read a buffer at a time: memory does not grow with the table)."""
    j = Journal.load(paths_for(iface).state)
    if not j or "subnet" not in j.extra:
        return
    try:
        from . import accounting
        counts = accounting.count_live(j.extra["subnet"], exclude=[j.extra["gateway"]])
    except (OSError, ValueError) as e:  # accounting is a bonus: never fail `clients` for it
        log.debug("no per-client accounting: %s", e)
        return
    for c in out:
        got = counts.get(str(c.get("ip")))
        if got is not None:
            c["internet"] = {"tx_bytes": got.tx_bytes, "tx_packets": got.tx_packets,
                             "rx_bytes": got.rx_bytes, "rx_packets": got.rx_packets,
                             "connections": got.connections}


def stop(target: str, timeout: float = 90.0) -> int:
    """Stop by interface name or pid; wait until everything is undone."""
    iface = target
    if target.isdigit():
        match = [i for i, pid in instances() if pid == int(target)]
        if not match:
            print(f"hotshare: no hotspot runs with pid {target}", file=sys.stderr)
            return EXIT_NOT_RUNNING
        iface = match[0]
    p = paths_for(iface)
    pid = fsutil.read_pid(p.pidfile)
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            print(f"hotshare: pid {pid} did not stop within {timeout:.0f} s", file=sys.stderr)
            return EXIT_FAIL
        return EXIT_OK
    if os.path.exists(p.state):  # it died without cleaning up: do it now
        from . import service
        lock = service.Lock(p)
        try:
            service.clean_leftovers(p)
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


def clients(iface: str, as_json: bool) -> int:
    if not alive(fsutil.read_pid(paths_for(iface).pidfile)):
        print(f"hotshare: no hotspot is running on {iface}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    rows = clients_of(iface)
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
        from . import doctor
        return doctor.main(ns)
    iface = resolve_iface(ns.iface, ns.config)
    if not iface:
        print("hotshare: name the interface (e.g. `hotshare status wlan0`) or give --config", file=sys.stderr)
        return EXIT_USAGE
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
                     if ap else ""))
        else:
            print(f"{iface}: not running" + (" (leftovers from a crash: `hotshare down` cleans them)"
                                             if info.get("stale") else ""))
    return EXIT_OK if info["running"] else EXIT_NOT_RUNNING
