"""Per-client usage totals: session, day and billing month, by MAC address.

The ledger adds what :mod:`hotshare.netlink.ctevents` counts per address
(destroy events, zeroing dumps) to the client that had the address, so a
client's totals follow it across connection ends and address changes; it is
saved to ``<statedir>/<iface>.usage`` (JSON, written atomically, mode 0600:
it names clients) and read back at start, so they survive hotshare restarts
and reboots.

Periods: ``day`` is the local calendar day (key ``YYYY-MM-DD``), ``month``
the billing month that starts on ``BILLING_DAY`` (key: the date it began);
when a period's key is no longer the current one its figures start again
from zero.  ``session`` is the client's current association: it starts
again when the station (re)joins the AP (hostapd's AP-STA-CONNECTED); on a
wired downstream, where nothing says so, it runs from the client's first
traffic.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from ..netlink.ctacct import ClientCounters
from ..system import files as fsutil

log = logging.getLogger("hotshare")

FORMAT_VERSION = 1
FIELDS = ("tx_bytes", "tx_packets", "rx_bytes", "rx_packets")
PERIODS = ("session", "day", "month")
MAX_ADDRESSES = 4           # the newest addresses a client had, newest first
UNKNOWN_PREFIX = "unknown-"  # an address whose MAC could not be found


def day_key(today: dt.date) -> str:
    return today.isoformat()


def month_key(today: dt.date, billing_day: int) -> str:
    """The date the billing month containing ``today`` began."""
    if today.day >= billing_day:
        return today.replace(day=billing_day).isoformat()
    first = today.replace(day=1) - dt.timedelta(days=1)  # a day of the month before
    return first.replace(day=billing_day).isoformat()


@dataclass
class Totals:
    key: str = ""
    tx_bytes: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    rx_packets: int = 0

    def add(self, c: ClientCounters) -> None:
        self.tx_bytes += c.tx_bytes
        self.tx_packets += c.tx_packets
        self.rx_bytes += c.rx_bytes
        self.rx_packets += c.rx_packets

    @property
    def total_bytes(self) -> int:
        return self.tx_bytes + self.rx_bytes

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **{f: getattr(self, f) for f in FIELDS}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Totals:
        return cls(key=str(d.get("key", "")), **{f: _count(d.get(f)) for f in FIELDS})


def _count(v: object) -> int:
    return v if isinstance(v, int) and v >= 0 else 0


@dataclass
class Client:
    addresses: list[str] = field(default_factory=list)
    periods: dict[str, Totals] = field(default_factory=lambda: {p: Totals() for p in PERIODS})

    def seen_at(self, address: str) -> None:
        if self.addresses[:1] != [address]:
            self.addresses = [address, *(a for a in self.addresses if a != address)][:MAX_ADDRESSES]


class Ledger:
    """Every client's totals, and the hotspot's, for the current periods."""

    def __init__(self, billing_day: int = 1) -> None:
        self.billing_day = billing_day
        self.clients: dict[str, Client] = {}
        self.hotspot: dict[str, Totals] = {p: Totals() for p in ("day", "month")}
        self.unsaved_bytes = 0

    # -- periods -------------------------------------------------------------

    def keys(self, today: dt.date) -> dict[str, str]:
        return {"day": day_key(today), "month": month_key(today, self.billing_day)}

    def roll(self, today: dt.date) -> list[str]:
        """Start the periods that have ended again from zero; return the
        names of those that did ("day", "month")."""
        keys = self.keys(today)
        rolled = [p for p, k in keys.items() if self.hotspot[p].key != k]
        for p in rolled:
            self.hotspot[p] = Totals(key=keys[p])
        for c in self.clients.values():
            for p, k in keys.items():
                if c.periods[p].key != k:
                    c.periods[p] = Totals(key=k)
        return rolled

    # -- adding --------------------------------------------------------------

    def add(self, counts: dict[str, ClientCounters], mac_of: dict[str, str], today: dt.date) -> int:
        """Add per-address counts; ``mac_of`` maps addresses to MACs (an
        address missing from it is kept apart under ``unknown-<address>``).
        Return the bytes added."""
        self.roll(today)
        keys = self.keys(today)
        added = 0
        for address, c in counts.items():
            if not (c.tx_bytes or c.rx_bytes or c.tx_packets or c.rx_packets):
                continue
            mac = mac_of.get(address) or UNKNOWN_PREFIX + address
            client = self.clients.get(mac)
            if client is None:
                client = self.clients[mac] = Client()
                for p, k in keys.items():
                    client.periods[p].key = k
            client.seen_at(address)
            for t in client.periods.values():
                t.add(c)
            for t in self.hotspot.values():
                t.add(c)
            added += c.tx_bytes + c.rx_bytes
        self.unsaved_bytes += added
        return added

    def new_session(self, mac: str) -> None:
        client = self.clients.get(mac)
        if client is not None:
            client.periods["session"] = Totals()

    def reset(self, mac: str | None, period: str, today: dt.date) -> None:
        """Zero one client's (or, ``mac`` None, every client's and the
        hotspot's) figures of ``period``."""
        key = self.keys(today).get(period, "")
        clients = self.clients.values() if mac is None else [c for m, c in self.clients.items() if m == mac]
        for c in clients:
            c.periods[period] = Totals(key=key)
        if mac is None and period in self.hotspot:
            self.hotspot[period] = Totals(key=key)

    # -- persisting ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "billing_day": self.billing_day,
            "hotspot": {p: t.to_dict() for p, t in self.hotspot.items()},
            "clients": {mac: {"addresses": c.addresses, **{p: t.to_dict() for p, t in c.periods.items()}}
                        for mac, c in sorted(self.clients.items())},
        }

    def save(self, path: str) -> None:
        fsutil.atomic_write(path, json.dumps(self.to_dict(), indent=1) + "\n", 0o600)
        self.unsaved_bytes = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any], billing_day: int) -> Ledger:
        ledger = cls(billing_day)
        if d.get("version") != FORMAT_VERSION:
            return ledger
        for p, t in (d.get("hotspot") or {}).items():
            if p in ledger.hotspot and isinstance(t, dict):
                ledger.hotspot[p] = Totals.from_dict(t)
        for mac, c in (d.get("clients") or {}).items():
            if not isinstance(c, dict):
                continue
            client = ledger.clients[str(mac)] = Client(
                addresses=[str(a) for a in c.get("addresses") or []][:MAX_ADDRESSES])
            for p in PERIODS:
                if isinstance(c.get(p), dict):
                    client.periods[p] = Totals.from_dict(c[p])
        if d.get("billing_day") != billing_day:  # the months are cut elsewhere now
            for t in [ledger.hotspot["month"], *(c.periods["month"] for c in ledger.clients.values())]:
                t.key = ""
        return ledger

    @classmethod
    def load(cls, path: str, billing_day: int) -> Ledger:
        """The saved ledger; an empty one if there is none or it is
        unreadable (logged: the totals start again)."""
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            return cls(billing_day)
        except (OSError, ValueError) as e:
            log.error("usage totals in %s unreadable (%s): counting from zero", path, e)
            return cls(billing_day)
        return cls.from_dict(data if isinstance(data, dict) else {}, billing_day)


def usage_path(statedir: str, iface: str) -> str:
    return f"{statedir}/{iface}.usage"
