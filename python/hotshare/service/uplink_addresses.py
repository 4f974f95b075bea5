"""The uplinks' addresses, and the NAT flush when one goes.

Masquerade picks the uplink's address at each new connection, so the
connections behind an address the uplink lost (a redial, a link that went,
a switch to another uplink) can never get a reply: they are flushed, and
clients' retries go out at once with the address in use now.
"""

from __future__ import annotations

import errno
import logging
from ipaddress import IPv4Network

from ..plan.model import Snapshot

log = logging.getLogger("hotshare")


class UplinkAddresses:
    """The last address seen on each uplink (what its NAT entries carry)."""

    def __init__(self, subnet: IPv4Network) -> None:
        self.subnet = subnet
        self.known: dict[str, str] = {}     # uplink -> its address; health probes go out from it

    def remember(self, uplinks: tuple[str, ...], snap: Snapshot) -> None:
        for name in uplinks:
            addrs = snap.addresses_of(name)
            if addrs:
                self.known[name] = str(addrs[0].ip)

    def forget_gone(self, snap: Snapshot) -> None:
        """A redial gives the uplink a new address (or the link goes with
        it): the connections masqueraded to the old address are flushed."""
        for name, old in list(self.known.items()):
            if old not in (str(a.ip) for a in snap.addresses_of(name)):
                log.info("%s lost its address %s", name, old)
                del self.known[name]
                self.flush_nat(old)

    def left(self, uplink: str) -> None:
        """The best uplink changed away from this one: its connections cannot survive it."""
        if uplink in self.known:
            self.flush_nat(self.known[uplink])

    def flush_nat(self, nat_address: str) -> None:
        """Delete the connections masqueraded to this address so clients'
        retries open new ones at once."""
        try:
            from ..netlink import ctnetlink as conntrack
            n = conntrack.flush_nat_via(self.subnet, nat_address)
            log.info("flushed %d connection(s) that left through %s", n, nat_address)
        except (ImportError, AttributeError):
            log.debug("conntrack flush not available")
        except OSError as e:
            if e.errno != errno.ENOENT:
                log.warning("cannot flush stale connections: %s", e)
