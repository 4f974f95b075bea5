"""Made-up kernel snapshots (links, addresses, routes) for the pure tests.

``snap()`` builds a :class:`hotshare.plan.model.Snapshot` from a few
addresses and routes; :data:`SEED_000` is the board of seed 000 (ppp0 and
usb0 both with a default route, ppp0 the better metric), the snapshot the
planning, rendering, fuzzing and doctor tests start from.
"""

from __future__ import annotations

import ipaddress

from hotshare.config import HotspotConfig, from_mapping
from hotshare.plan.facts import Facts
from hotshare.plan.make import make_plan
from hotshare.plan.model import IFF_LOWER_UP, IFF_UP, Address, Link, Route, Snapshot
from hotshare.plan.plan import Plan

UP = IFF_UP | IFF_LOWER_UP
LINKS = ("lo", "wlan0", "ppp0", "usb0", "eth0")


def snap(addrs: dict[str, list[str]] | None = None, routes: list[tuple[str, str, int]] | None = None,
         links: tuple[str, ...] = LINKS, down: tuple[str, ...] = ()) -> Snapshot:
    """``links`` (then any other interface ``addrs`` names) with ifindex 1, 2...,
    all up but ``down``; ``addrs`` {ifname: ["a.b.c.d/len", ...]}; ``routes``
    [(destination, ifname, metric)] in the main table, no gateway."""
    addrs = addrs or {}
    names = list(dict.fromkeys([*links, *addrs]))
    lks = tuple(Link(i, n, 0 if n in down else UP, 6) for i, n in enumerate(names, 1))
    idx = {lk.name: lk.index for lk in lks}
    a = tuple(Address(idx[n], n, ipaddress.IPv4Interface(c)) for n, cs in addrs.items() for c in cs)
    r = tuple(Route(ipaddress.IPv4Network(dst), idx[dev], dev, None, metric, 254)
              for dst, dev, metric in (routes or []))
    return Snapshot(lks, a, r)


# seed 000's board: ppp0 and usb0 both with default routes
SEED_000 = snap({"ppp0": ["10.112.142.89/32"], "usb0": ["192.168.43.100/24"], "lo": ["127.0.0.1/8"]},
                [("0.0.0.0/0", "ppp0", 250), ("0.0.0.0/0", "usb0", 300), ("10.64.64.64/32", "ppp0", 0),
                 ("192.168.43.0/24", "usb0", 300)])


def cfg(**kw: str) -> HotspotConfig:
    """A valid Wi-Fi configuration on wlan0, with ``kw`` over it."""
    raw = {"WIFI_IFACE": "wlan0", "SSID": "s", "PASSPHRASE": "12345678"}
    raw.update(kw)
    return from_mapping(raw)


def plan_on(s: Snapshot, **kw: str) -> Plan:
    """The plan of ``cfg(**kw)`` on snapshot ``s``, with a radio."""
    return make_plan(cfg(**kw), Facts(snapshot=s, wireless=True))
