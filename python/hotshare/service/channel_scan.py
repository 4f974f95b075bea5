"""CHANNEL=auto at start: the radio brought up so that it can scan (a
radio that is down neither scans nor reports surveys), its scan, and the
channel chosen from what it saw (plan.make.with_scan, plan.regulatory).

Bringing the link up is a change like any other: journaled first
(``link_was_down``: undo takes it down again on stop, after a crash, after
a failed start)."""

from __future__ import annotations

import logging

from ..errors import StartError
from ..netlink import rtnl
from ..plan.make import with_scan
from ..plan.model import IFF_UP
from ..plan.plan import Plan
from ..plan.regulatory import Scan
from ..system import links as netcfg
from ..system import managers as guard
from ..system import wifi
from .journal import Journal

log = logging.getLogger("hotshare")


def scan_and_choose(plan: Plan, j: Journal) -> Plan:
    """The plan with CHANNEL=auto's channel (journaled), from a scan of the AP interface
    (of the station sharing its radio, if one does: the AP's may not exist yet)."""
    iface = plan.same_card.station if plan.same_card else plan.cfg.wifi_iface
    link = rtnl.snapshot().link(iface)
    if link is None:
        raise StartError(f"interface {iface} has gone")
    if not j.released:          # NetworkManager and dhcpcd let go first, as before any change
        j.released = guard.release(j.iface)
        j.save()
    if not link.flags & IFF_UP and iface == j.iface:
        j.link_was_down = True
        j.save()
        netcfg.run([{"op": "link_up", "ifname": iface}])
    scan = Scan(wifi.networks_per_freq(iface), wifi.survey_works(iface))
    plan = with_scan(plan, scan)
    j.plan = plan.to_dict()
    j.save()
    seen = ", ".join(f"{n} on {f} MHz" for f, n in sorted(scan.busy.items())) or "none"
    if plan.chanlist:
        log.info("CHANNEL=auto: networks seen: %s; hostapd's ACS picks among channels %s", seen,
                 ",".join(map(str, plan.chanlist)))
    else:
        log.info("CHANNEL=auto: networks seen: %s; channel %d (%s)", seen, plan.channel,
                 "the least busy" if scan.busy else "the scan saw no network")
    return plan
