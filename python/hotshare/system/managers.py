"""Keep network managers off the hotspot interface while hotshare runs.

dhcpcd, NetworkManager and connman treat a new
carrier on wlan0 as a reason to run a DHCP client there, and end by putting a
169.254.x.x address and routes on the AP interface. hotshare asks each
manager it finds to let go of the interface for the time it runs (never by
editing their configuration files), and removes whatever any of them still
adds: the service calls :func:`foreign_state` on every address or route event.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket

from ..plan.model import Route, Snapshot
from . import host
from .run import ProgramError, Result, find_binary, run

log = logging.getLogger("hotshare")

# dhcpcd 9 and 10 (manager mode), then older releases.
DHCPCD_SOCKETS = ("/run/dhcpcd/sock", "/var/run/dhcpcd/sock", "/var/run/dhcpcd.sock", "/run/dhcpcd.sock")


def dhcpcd_command(*args: str) -> bool:
    """Send a command line to a running dhcpcd manager over its control
    socket, as `dhcpcd ARGS` would; False when no dhcpcd listens."""
    for path in DHCPCD_SOCKETS:
        if not os.path.exists(path):
            continue
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
                s.settimeout(1.0)
                s.connect(path)
                s.sendall(b"".join(a.encode() + b"\0" for a in ("dhcpcd", *args)))
            return True
        except OSError as e:
            log.debug("dhcpcd control socket %s: %s", path, e)
    return False


def _nmcli(*args: str) -> Result | None:
    if find_binary("nmcli") is None:
        return None
    try:
        return run("nmcli", *args)
    except ProgramError as e:  # a stuck D-Bus: say so, and go on without it
        log.warning("%s", e)
        return None


def nm_managed(iface: str) -> bool:
    res = _nmcli("-t", "-f", "GENERAL.STATE", "device", "show", iface)
    return bool(res and res.ok and "unmanaged" not in res.stdout)


def release(iface: str) -> list[str]:
    """Ask every manager present to leave ``iface`` alone; return the names
    of those that were asked (journaled, so stop can give it back)."""
    taken: list[str] = []
    if host.process_running("dhcpcd") and dhcpcd_command("--release", iface):
        log.info("asked dhcpcd to release %s while the hotspot runs", iface)
        taken.append("dhcpcd")
    if host.process_running("NetworkManager") and nm_managed(iface):
        res = _nmcli("device", "set", iface, "managed", "no")
        if res and res.ok:
            log.info("NetworkManager no longer manages %s while the hotspot runs", iface)
            taken.append("NetworkManager")
    if host.process_running("connmand") and find_binary("connmanctl"):
        # connman has no per-device runtime switch for DHCP; its addresses are
        # removed by the address guard, and doctor names it.
        log.warning("connman is running: it may configure %s; add it to connman's "
                    "NetworkInterfaceBlacklist to stop the tug of war", iface)
    return taken


def give_back(iface: str, taken: list[str]) -> None:
    if "dhcpcd" in taken and dhcpcd_command("-n", iface):
        log.info("handed %s back to dhcpcd", iface)
    if "NetworkManager" in taken:
        _nmcli("device", "set", iface, "managed", "yes")
        log.info("handed %s back to NetworkManager", iface)


def foreign_state(snap: Snapshot, iface: str, ours: ipaddress.IPv4Interface) -> tuple[list[str], list[Route]]:
    """Addresses and routes on the hotspot interface that hotshare did not
    put there (dhcpcd's IPv4LL 169.254.x.x and its routes, a DHCP lease...)."""
    addrs = [str(a) for a in snap.addresses_of(iface) if a != ours]
    routes = [r for r in snap.routes if r.ifname == iface and r.table == 254 and r.dst != ours.network]
    return addrs, routes
