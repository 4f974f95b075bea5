"""Steering traffic off an uplink that is up but dead.

When the kernel's best default route goes through an uplink whose data is
dead (HEALTH_CHECK), the kernel keeps sending everything there. hotshare
then adds 0.0.0.0/1 and 128.0.0.0/1 through the best live uplink's gateway:
longer than any default route, shorter than every other route, so the
result is what the kernel would do had the dead uplink's default route
gone -- for the clients and the board alike -- while the dead uplink's own
route stays for its probes (sockets bound to it only take its routes), for
pppd, and for the day it comes back. Why not policy routing (mwan3's ip
rules and tables): two routes are one existing journaled operation each,
nothing to renumber, and undo is a route delete.

The routes are journaled before they are added and removed on stop, on a
crash (next start) and as soon as the dead uplink comes back.
"""

from __future__ import annotations

import logging

from ..plan.model import Snapshot
from ..system import links as netcfg
from .journal import Journal

log = logging.getLogger("hotshare")
HALVES = ("0.0.0.0/1", "128.0.0.0/1")


def wanted(snap: Snapshot, best: str | None, kernel_best: str | None) -> list[dict[str, object]]:
    """The steering routes for ``best`` when the kernel would pick another uplink; [] otherwise."""
    if not best or best == kernel_best:
        return []
    route = next((r for r in snap.default_routes() if r.ifname == best), None)
    if route is None:
        return []
    return [{"ifname": best, "dst": dst, "gateway": str(route.gateway) if route.gateway else None,
             "metric": route.metric} for dst in HALVES]


def apply(journal: Journal, routes: list[dict[str, object]]) -> None:
    """Make the journal's steering routes ``routes``: old ones deleted, new ones journaled then added."""
    if routes == journal.steer_routes:
        return
    old = [{"op": "route_del", "missing_ok": True, **r} for r in journal.steer_routes]
    journal.steer_routes = routes + [r for r in journal.steer_routes if r not in routes]
    journal.save()
    try:
        netcfg.run([op for op in old if {k: v for k, v in op.items() if k not in ("op", "missing_ok")}
                    not in routes] + [{"op": "route_add", "missing_ok": True, **r} for r in routes])
    except netcfg.NetcfgError as e:
        log.error("cannot steer traffic off the dead uplink: %s", e)
    journal.steer_routes = routes
    journal.save()
    if routes:
        log.info("steering traffic through %s (the preferred uplink is dead)", routes[0]["ifname"])
    else:
        log.info("steering routes removed: the kernel's preferred uplink is in use again")
