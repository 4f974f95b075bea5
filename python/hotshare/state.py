"""The undo journal: every change hotshare makes, recorded before it is made.

The journal is a small JSON file in the run directory, rewritten atomically
after each step. ``undo`` reverses whatever it lists, in reverse order, and
is safe to run twice: on stop, on a failed start, and at the next start after
a crash (even SIGKILL or a power cut of the service alone).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass, field

from . import firewall, fsutil, guard, netcfg, nft, sysctl

log = logging.getLogger("hotshare")


@dataclass
class Journal:
    iface: str
    pid: int = 0
    table: str = ""
    addresses: list[str] = field(default_factory=list)      # CIDRs added to iface
    sysctls: dict[str, str] = field(default_factory=dict)   # name -> value before
    children: dict[str, int] = field(default_factory=dict)  # name -> pid
    released: list[str] = field(default_factory=list)       # managers told to let go
    firewall: list[dict[str, object]] = field(default_factory=list)  # rules put in other firewalls
    bridge: str = ""                                         # bridge mode: our bridge
    uplink: str = ""                                         # the uplink joined to it
    moved_addresses: list[str] = field(default_factory=list)  # the uplink's, moved to the bridge
    moved_routes: list[dict[str, object]] = field(default_factory=list)
    link_was_down: bool = False
    orig_mac: str = ""
    extra: dict[str, str] = field(default_factory=dict)      # public facts for status
    path: str = field(default="", repr=False)

    def save(self) -> None:
        data = asdict(self)
        data.pop("path")
        fsutil.atomic_write(self.path, json.dumps(data, indent=1) + "\n", 0o600)

    @classmethod
    def load(cls, path: str) -> Journal | None:
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # An atomic writer never leaves half a file, but a hand-edited or
            # foreign one must not stop the hotspot from starting.
            log.warning("ignoring unreadable journal %s", path)
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"}
        return cls(path=path, **known)


def _ours(pid: int, marker: str) -> bool:
    """Is ``pid`` still the child we started (not a recycled pid)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except OSError:
        return False


def stop_children(children: dict[str, int], marker: str, timeout: float = 3.0) -> None:
    alive = [pid for pid in children.values() if pid and _ours(pid, marker)]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in alive:
        while _ours(pid, marker) and time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:  # not our child: a dead instance's orphan
                pass
            time.sleep(0.02)
        if _ours(pid, marker):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def undo(j: Journal, marker: str) -> list[str]:
    """Reverse everything the journal lists; return what failed (best effort:
    one failure must not leave the rest behind)."""
    problems: list[str] = []
    stop_children(j.children, marker)
    j.children.clear()
    for record in reversed(j.firewall):
        try:
            firewall.undo(record)
        except (OSError, RuntimeError, ValueError) as e:
            problems.append(f"firewall: {e}")
    if j.firewall or j.table:  # also finds our rules when a crash beat the journal
        try:
            firewall.remove_leftovers(j.iface)
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
    if j.orig_mac:
        ops.append({"op": "set_mac", "ifname": j.iface, "mac": j.orig_mac, "missing_ok": True})
    if j.link_was_down:
        ops.append({"op": "link_down", "ifname": j.iface, "missing_ok": True})
    if j.bridge:  # deleting the bridge frees its ports; then the uplink gets its own back
        ops.append({"op": "link_del", "ifname": j.bridge, "missing_ok": True})
        ops += [{"op": "addr_add", "ifname": j.uplink, "address": a, "missing_ok": True} for a in j.moved_addresses]
        ops += [{"op": "route_add", "ifname": j.uplink, "missing_ok": True, **r} for r in j.moved_routes]
    try:
        netcfg.run(ops)
    except netcfg.NetcfgError as e:
        problems.append(str(e))
    for name, value in j.sysctls.items():
        try:
            sysctl.write(name, value)
        except OSError as e:
            if not isinstance(e, FileNotFoundError):  # the interface is gone: nothing to restore
                problems.append(f"sysctl {name}: {e.strerror}")
    guard.give_back(j.iface, j.released)
    j.released = []
    return problems
