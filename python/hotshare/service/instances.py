"""What a running hotspot is doing: status, clients, the list of instances.

Read from the instance's pid file and journal, dnsmasq's lease file and
hostapd's control socket; the resident service needs no control protocol of
its own, and nothing here imports the apply layer.
"""

from __future__ import annotations

import glob
import ipaddress
import logging
import os
import socket

from ..config import read_conf_file
from ..config.values import IFNAME_RE
from ..netlink import neigh
from ..plan.paths import Paths
from ..system.host import alive, cmdline_has, lock_held, read_pid, rundir, statedir
from ..system.hostapd_ctrl import CtrlError, HostapdCtrl
from .journal import Journal

log = logging.getLogger("hotshare")


def paths_for(iface: str) -> Paths:
    return Paths(rundir(), statedir(), iface)


def running_pid(iface: str) -> int | None:
    """The pid of the instance on ``iface`` if one runs (it holds the lock), else None.
    0 when the lock is held but its pid file names no live hotshare process."""
    p = paths_for(iface)
    if not lock_held(p.lock):
        return None
    pid = read_pid(p.pidfile)
    return pid if alive(pid) and cmdline_has(pid, "hotshare") else 0


def instances() -> list[tuple[str, int]]:
    """(iface, pid) of every hotspot that runs."""
    out = []
    for path in sorted(glob.glob(os.path.join(rundir(), "*.lock"))):
        iface = os.path.basename(path)[:-5]
        if IFNAME_RE.match(iface) and (pid := running_pid(iface)) is not None:
            out.append((iface, pid))
    return out


def resolve_iface(iface: str | None, config: str | None) -> str | None:
    if config and not iface:
        iface = read_conf_file(config).get("WIFI_IFACE") or None
    if iface:
        return served_beside(iface) or iface
    running = instances()
    return running[0][0] if len(running) == 1 else None


def served_beside(station: str) -> str | None:
    """The running hotspot whose virtual AP was made beside ``station``
    (`hotshare down wlan0` after `hotshare up wlan0 wlan0 ...` stops ap0)."""
    if running_pid(station) is not None or os.path.exists(paths_for(station).state):
        return None
    for iface, _pid in instances():
        j = Journal.load(paths_for(iface).state)
        if j is not None and j.extra.get("station") == station:
            return iface
    return None


def status_of(iface: str) -> dict[str, object]:
    p = paths_for(iface)
    pid = running_pid(iface)
    running = pid is not None
    j = Journal.load(p.state)
    info: dict[str, object] = {"iface": iface, "running": running, "pid": pid or None}
    if j and running:
        info.update(j.extra)
        if j.health:
            info["uplinks"] = j.health      # HEALTH_CHECK: each uplink's health, last probe, reason
        info["children"] = {name: cpid for name, cpid in j.children.items() if alive(cpid)}
        try:
            ctrl = HostapdCtrl(p.hostapd_ctrl, iface)
            try:
                st = ctrl.status()
            finally:
                ctrl.close()
            ap: dict[str, object] = {k: st.get(k) for k in ("state", "channel", "freq", "bssid[0]", "ssid[0]")}
            # hostapd says num_sta[0] (per BSS); older versions num_sta
            num = st.get("num_sta[0]", st.get("num_sta"))
            ap["num_sta"] = int(num) if num and num.isascii() and num.isdigit() else num
            info["ap"] = ap
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
    if stations is None:  # wired downstream: a lease of this subnet whose holder answers ARP now
        j = Journal.load(p.state)
        subnet = ipaddress.IPv4Network(j.extra["subnet"]) if j and "subnet" in j.extra else None
        try:
            here = neigh.present(socket.if_nametoindex(iface))
        except OSError:
            here = {}
        for mac, lease in leases.items():
            if here.get(mac) == lease["ip"] and (subnet is None or ipaddress.IPv4Address(lease["ip"]) in subnet):
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
        from ..netlink import ctacct as accounting
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
