"""The service's side of usage totals: conntrack destroy events into the
ledger, in the supervisor's loop, and the ledger onto disk.

What wakes it: only the destroy-event socket, and a save timer that is
armed only while there is unsaved data or traffic was seen in the last
dump.  With quotas, new-connection events wake it too and it looks at the
live connections every ``QUOTA_INTERVAL`` while traffic flows, so a quota
is enforced within seconds (saving stays at most every ``SAVE_INTERVAL``).
Saving (``SAVE_INTERVAL`` after the first unsaved byte, at once past
``SAVE_BYTES``, and on stop) first collects the live connections' counters
with a zeroing dump, so what long connections carried is saved too; if that
dump found nothing flowing, no timer is left armed: an idle hotspot is not
woken.  A connection that starts after that is seen at the latest when its
first neighbour ends (a DNS lookup's UDP entry goes 30 s after it) -- or,
if it is the only one, when it ends.

IPv6: a client's IPv6 entries are counted when its address is in one of the
AP interface's prefixes (the relayed /64 or the NAT66 ULA one) and is none
of the board's own addresses (the uplink's SLAAC address is in the relayed
/64 too); :meth:`Metering.follow_ipv6` reads them again when the board's
IPv6 addresses change.  An address maps to its MAC through the AP's
neighbour table, as an IPv4 one does.
"""

from __future__ import annotations

import datetime as dt
import logging
import selectors
import socket
import time
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from ..netlink import ctevents, neigh, rtnl
from ..netlink.ctacct import ClientAccounting, ClientCounters
from .usage import Ledger
from .watched import unwatch

log = logging.getLogger("hotshare")

ACCT_SYSCTL = "net/netfilter/nf_conntrack_acct"
SAVE_INTERVAL = 180.0       # seconds: at most this much is lost to a power cut
QUOTA_INTERVAL = 5.0        # with quotas: how often live connections are counted while traffic flows
SAVE_BYTES = 16 << 20       # ... or this many bytes, whichever comes first
TIMER = "usage-save"


class Metering:
    def __init__(self, path: str, subnet: IPv4Network, gateway: IPv4Address, ap: str, leases: str,
                 billing_day: int, call_at: Callable[[str, float, Callable[[], None]], None],
                 cancel: Callable[[str], None], interval: float = SAVE_INTERVAL) -> None:
        self.path, self.subnet, self.gateway, self.ap, self.leases = path, subnet, gateway, ap, leases
        self.interval = interval  # between looks at the live connections, while traffic flows
        self._saved_at = 0.0
        self.call_at, self.cancel = call_at, cancel
        self.ledger = Ledger.load(path, billing_day)
        self.events: ctevents.DestroyEvents | None = None
        self._mac_of: dict[str, str] = {}
        self._timer_armed = False
        self._prefixes6: tuple[IPv6Network, ...] = ()   # the AP's IPv6 prefixes: its clients' addresses
        self._board6: tuple[IPv6Address, ...] = ()      # the board's own addresses in them
        self.on_added: Callable[[], None] | None = None  # quotas, events: after each addition

    # -- life ----------------------------------------------------------------

    def open(self, sel: selectors.BaseSelector) -> None:
        """Subscribe, then collect what flowed while nobody counted (the
        live entries' counters since they were last zeroed)."""
        # with quotas, new connections wake it too: traffic has started, look at it soon
        self.events = ctevents.DestroyEvents(new=self.interval < SAVE_INTERVAL)
        sel.register(self.events, selectors.EVENT_READ, self._on_events)
        self._read_ipv6()
        self._collect_live()
        self.save()

    def close(self, sel: selectors.BaseSelector) -> None:
        if self.events is None:
            return
        try:
            self._on_events()
            self._collect_live()
        except OSError as e:
            log.warning("usage: last counts not collected: %s", e)
        self.save()
        unwatch(sel, self.events)
        self.events = None
        self.cancel(TIMER)

    # -- counting ------------------------------------------------------------

    def _accounting(self) -> ClientAccounting:
        return ClientAccounting(self.subnet, exclude=[self.gateway, *self._board6], prefixes6=self._prefixes6)

    def follow_ipv6(self) -> None:
        """The board's IPv6 addresses changed: what has been read so far
        with the old prefixes, then the new ones."""
        if self.events is None:
            return
        self._on_events()
        self._read_ipv6()

    def _read_ipv6(self) -> None:
        try:
            index = socket.if_nametoindex(self.ap)
            mine = [a for a in rtnl.addresses6() if not a.interface.ip.is_link_local]
        except OSError as e:
            log.warning("usage: cannot read the IPv6 addresses (%s): IPv6 traffic is not counted", e)
            return
        self._prefixes6 = tuple(sorted({a.interface.network for a in mine if a.index == index}))
        self._board6 = tuple(sorted({a.interface.ip for a in mine
                                     if any(a.interface.ip in p for p in self._prefixes6)}))

    def _on_events(self) -> None:
        assert self.events is not None
        acc = self._accounting()
        dropped = self.events.dropped
        if self.events.read(acc):
            self._add(acc.result())
            if not self._timer_armed and self.interval < SAVE_INTERVAL:
                self._arm()
        if self.events.dropped != dropped:
            log.warning("usage: the kernel dropped conntrack events (%d times so far): some bytes are not counted",
                        self.events.dropped)

    def _collect_live(self) -> int:
        return self._add(ctevents.collect_live(self.subnet, exclude=[self.gateway, *self._board6],
                                               prefixes6=self._prefixes6))

    def _add(self, counts: dict[str, ClientCounters]) -> int:
        if any(a not in self._mac_of for a in counts):
            self._refresh_macs()
        added = self.ledger.add(counts, self._mac_of, dt.date.today())
        if added and self.on_added:
            self.on_added()
        if self.ledger.unsaved_bytes >= SAVE_BYTES:
            self.save()
        elif self.ledger.unsaved_bytes and not self._timer_armed:
            self._arm()
        return added

    def _arm(self) -> None:
        self._timer_armed = True
        self.call_at(TIMER, time.monotonic() + self.interval, self._on_timer)

    def _on_timer(self) -> None:
        self._timer_armed = False
        self.cancel(TIMER)
        self._mac_of.clear()  # an address may have gone to another client since
        try:
            flowing = self._collect_live()
        except OSError as e:
            log.warning("usage: cannot dump the live connections: %s", e)
            flowing = 0
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL or not flowing:
            self.save()
        if flowing and not self._timer_armed:
            self._arm()  # traffic goes on: look again then

    def refresh(self) -> None:
        """Bring the totals up to the moment (for a reader asking now)."""
        if self.events is not None:
            self._on_events()
            self._collect_live()

    def save(self) -> None:
        self._saved_at = time.monotonic()
        try:
            self.ledger.save(self.path)
        except OSError as e:
            log.error("usage: cannot save the totals to %s: %s", self.path, e)

    # -- who has which address -------------------------------------------------

    def _refresh_macs(self) -> None:
        """The neighbour table of the AP interface, then the DHCP leases (a
        neighbour entry may be gone when a long connection ends)."""
        mac_of: dict[str, str] = {}
        try:
            with open(self.leases) as f:
                for line in f:  # expiry MAC address hostname client-id
                    parts = line.split()
                    if len(parts) >= 3:
                        mac_of[parts[2]] = parts[1].lower()
        except OSError:
            pass
        try:
            index = socket.if_nametoindex(self.ap)
            mac_of.update(neigh.by_address(index))
            if self._prefixes6:  # spelled by inet_ntop, as the counts are
                mac_of.update(neigh.by_address(index, socket.AF_INET6))
        except OSError:
            pass
        self._mac_of.update(mac_of)
