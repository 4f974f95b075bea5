"""Undo what a journal lists, in reverse order.

Safe to run twice: on stop, on a failed start, and at the next start after a
crash (even SIGKILL, or a power cut of the service alone).
"""

from __future__ import annotations

import logging
import os
import signal
import time

from ..system import files, firewalls, nft, sysctl
from ..system import links as netcfg
from ..system import managers as guard
from ..system.host import cmdline_has, start_time
from .journal import Journal
from .relay6 import forget_client

log = logging.getLogger("hotshare")


def stop_children(children: dict[str, int], marker: str, started: dict[str, int] | None = None,
                  timeout: float = 3.0) -> None:
    """Stop our children: those with ``marker`` in their command line, or (a
    child that rewrites it) the pid whose start time ``started`` recorded."""
    def ours(name: str, pid: int) -> bool:
        return cmdline_has(pid, marker) or bool(started and started.get(name)
                                                 and start_time(pid) == started[name])

    alive = {pid: name for name, pid in children.items() if pid and ours(name, pid)}
    for pid in alive:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid, name in alive.items():
        while ours(name, pid) and time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:  # not our child: a dead instance's orphan
                pass
            time.sleep(0.02)
        if ours(name, pid):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def undo(j: Journal, marker: str) -> list[str]:
    """Reverse everything the journal lists; return what failed (best effort:
    one failure must not leave the rest behind)."""
    problems: list[str] = []
    stop_children(j.children, marker, j.started)
    j.children.clear()
    j.started.clear()
    for record in reversed(j.firewall):
        try:
            firewalls.undo(record)
        except (OSError, RuntimeError, ValueError) as e:
            problems.append(f"firewall: {e}")
    if j.firewall or j.table:  # also finds our rules when a crash beat the journal
        try:
            firewalls.remove_leftovers(j.iface)
        except (OSError, RuntimeError, ValueError) as e:
            problems.append(f"firewall: {e}")
    j.firewall = []
    if j.table:
        try:
            nft.delete_table(j.table)
        except nft.NftError as e:
            problems.append(str(e))
    ops: list[netcfg.Op] = [{"op": "addr_del", "ifname": j.iface, "address": a, "missing_ok": True}
                            for a in j.addresses]
    ops += [{"op": "addr6_del", "ifname": j.iface, "address": a, "missing_ok": True} for a in j.addresses6]
    for up, a in j.proxies:     # a relayed client: its proxy entry on the uplink, its /128 route
        ops += forget_client(j.iface, up, a)
    if j.orig_mac:
        ops.append({"op": "set_mac", "ifname": j.iface, "mac": j.orig_mac, "missing_ok": True})
    if j.link_was_down:
        ops.append({"op": "link_down", "ifname": j.iface, "missing_ok": True})
    ops += [{"op": "route_del", "missing_ok": True, **r} for r in j.steer_routes]  # service.steer's
    if j.bridge:  # deleting the bridge frees its ports; then the uplink gets its own back
        ops.append({"op": "link_del", "ifname": j.bridge, "missing_ok": True})
        ops += [{"op": "addr_add", "ifname": j.uplink, "address": a, "missing_ok": True} for a in j.moved_addresses]
        ops += [{"op": "route_add", "ifname": j.uplink, "missing_ok": True, **r} for r in j.moved_routes]
    if j.virt:  # the virtual AP interface goes last, and its addresses with it
        ops.append({"op": "virt_del", "ifname": j.virt, "missing_ok": True})
    try:
        netcfg.run(ops)
        j.steer_routes = []
    except netcfg.NetcfgError as e:
        problems.append(str(e))
    for name, value in j.sysctls.items():
        try:
            sysctl.write(name, value)
        except OSError as e:
            if not isinstance(e, FileNotFoundError):  # the interface is gone: nothing to restore
                problems.append(f"sysctl {name}: {e.strerror}")
    j.addresses6, j.proxies = [], []
    guard.give_back(j.iface, j.released)
    j.released = []
    if j.pidfile:
        files.remove_if_holds(j.pidfile, f"{j.pid}\n")
    return problems
