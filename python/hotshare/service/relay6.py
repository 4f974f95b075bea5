"""The IPv6 relay (IPV6=auto with a /64 on the uplink), as OpenWrt's odhcpd
does it in relay mode: the AP gets an address in the uplink's prefix (no
route for the prefix: the /64 stays on-link on the uplink, whose other hosts
stay reachable) so dnsmasq advertises the prefix to the clients; each client
gets a /128 route to the AP and an NDP proxy entry on the uplink (the board
answers the router's neighbour solicitations for it).

Event-driven: a client's address is learned from its duplicate address
detection on the AP (answered for at once) and from the kernel's neighbour
events there (RTM_NEWNEIGH); its proxy entry goes when the neighbour fails
or goes (RTM_DELNEIGH: the client left). A neighbour the AP has not met yet
is looked for when the uplink's router solicits it, or once the client's
DAD is over: the kernel is asked to resolve it (NTF_USE), and its answer
(or failure) is such an event.
"""

from __future__ import annotations

import ipaddress
import logging
import selectors
import socket
import time
from typing import Callable

from ..config import HotspotConfig
from ..netlink import neigh
from ..netlink.rtnl import RtnlSocket
from ..netlink.uapi import NTF_PROXY, NUD_FAILED, RTM_DELADDR, RTM_NEWADDR, RTMGRP_IPV6_IFADDR, RTMGRP_NEIGH
from ..plan.ipv6 import Ipv6Mode
from ..system import links as netcfg
from ..system import nsolicit
from .journal import Journal

log = logging.getLogger("hotshare")

DAD_WAIT = 1.2      # a client's duplicate address detection takes 1 s (RetransTimer)


class Relay6:
    def __init__(self, journal: Journal, cfg: HotspotConfig, set_sysctl: Callable[[str, str], None],
                 on_addresses: Callable[[], None],
                 call_at: Callable[[str, float, Callable[[], None]], None]) -> None:
        self.journal, self.ap = journal, cfg.wifi_iface
        self.set_sysctl, self.on_addresses, self.call_at = set_sysctl, on_addresses, call_at
        self.mode = Ipv6Mode("none", "not started")
        self.rtnl: RtnlSocket | None = None
        self.listeners: list[socket.socket] = []
        self.sel: selectors.BaseSelector | None = None

    def open(self, sel: selectors.BaseSelector) -> None:
        self.sel = sel
        self.rtnl = RtnlSocket(RTMGRP_NEIGH | RTMGRP_IPV6_IFADDR)
        sel.register(self.rtnl, selectors.EVENT_READ, self._on_rtnl)

    def close(self) -> None:
        self._close_listeners()
        if self.rtnl and self.sel:
            self.sel.unregister(self.rtnl)
            self.rtnl.close()
        self.rtnl = None

    # -- which prefix ---------------------------------------------------------

    def follow(self, mode: Ipv6Mode) -> None:
        """Apply ``mode`` (plan.ipv6.ipv6_mode of the network now)."""
        if self.journal.extra.get("ipv6") != mode.text():
            self.journal.extra["ipv6"] = mode.text()
            self.journal.save()
            log.info("IPv6 for the clients: %s", mode.text())
        same_nat66 = mode.mode == self.mode.mode == "nat66" and mode.prefix == self.mode.prefix
        if (mode.uplink, mode.prefix) == (self.mode.uplink, self.mode.prefix) or same_nat66:
            self.mode = mode
            return
        self._leave()
        self.mode = mode
        if mode.prefix is not None:
            self._enter(mode)

    def _enter(self, mode: Ipv6Mode) -> None:
        address = str(mode.ap_address)
        if address not in self.journal.addresses6:     # pd: dhcpcd's, journaled in case both die
            self.journal.addresses6.append(address)
            self.journal.save()
        if mode.mode == "pd":       # on the AP by dhcpcd, on-link there: nothing to answer for upstream
            return
        nat66 = mode.mode == "nat66"        # our own ULA prefix: on-link on the AP, masqueraded out
        self._run({"op": "addr6_add", "ifname": self.ap, "address": address, "prefix_route": nat66,
                   "missing_ok": True})
        if nat66:
            return
        self.set_sysctl(f"net/ipv6/conf/{mode.uplink}/proxy_ndp", "1")
        # the kernel answers a multicast solicitation for a proxied address after a random
        # 0-0.8 s (proxy_delay, RFC 4861 7.2.8: several proxies may answer); the board is
        # the clients' only proxy, and each delay holds up a client's first packet from
        # the internet (measured: 0.05-0.76 s of the first IPv6 page)
        self.set_sysctl(f"net/ipv6/neigh/{mode.uplink}/proxy_delay", "0")
        for name in (mode.uplink, self.ap):
            try:
                s = nsolicit.open_listener(name)
            except OSError as e:
                log.warning("no neighbour solicitations from %s (%s): clients are found by their own traffic",
                            name, e.strerror)
                continue
            self.listeners.append(s)
            if self.sel:
                self.sel.register(s, selectors.EVENT_READ, lambda s=s, up=name == mode.uplink: self._on_ns(s, up))
        try:
            for a in neigh.present_addresses(socket.if_nametoindex(self.ap), socket.AF_INET6):
                self._client(a, True)
        except OSError as e:
            log.warning("cannot read the neighbours of %s: %s", self.ap, e)

    def _leave(self) -> None:
        """The old prefix goes: its proxy entries, the AP's address (dnsmasq then
        advertises it once more with lifetime 0, and the clients drop it)."""
        self._close_listeners()
        ops = [op for up, a in self.journal.proxies for op in forget_client(self.ap, up, a)]
        ops += [{"op": "addr6_del", "ifname": self.ap, "address": a, "missing_ok": True}
                for a in self.journal.addresses6]
        self._run(*ops)
        self.journal.proxies, self.journal.addresses6 = [], []
        self.journal.save()

    def _close_listeners(self) -> None:
        while self.listeners:
            s = self.listeners.pop()
            if self.sel:
                self.sel.unregister(s)
            s.close()

    # -- the clients ------------------------------------------------------------

    def _in_prefix(self, address: str) -> bool:
        p, ap = self.mode.prefix, self.mode.ap_address
        ip = ipaddress.IPv6Address(address)
        return self.mode.mode == "relay" and p is not None and ip in p and (ap is None or ip != ap.ip)

    def _client(self, address: str, present: bool) -> None:
        if not self._in_prefix(address):
            return
        entry = [self.mode.uplink, address]
        if present and entry not in self.journal.proxies:
            self.journal.proxies.append(entry)
            self.journal.save()
            self._run({"op": "route6_add", "ifname": self.ap, "address": address},
                      {"op": "proxy_add", "ifname": self.mode.uplink, "address": address})
            log.info("client %s: answered for on %s", address, self.mode.uplink)
        elif not present and entry in self.journal.proxies:
            self._run(*forget_client(self.ap, self.mode.uplink, address))
            self.journal.proxies.remove(entry)
            self.journal.save()
            log.info("client %s left", address)

    def _on_rtnl(self) -> None:
        assert self.rtnl
        addresses = False
        ap_index = _index(self.ap)
        for mtype, msg in self.rtnl.drain_messages():
            if mtype in (RTM_NEWADDR, RTM_DELADDR, -1):
                addresses = True
                continue
            ev = neigh.parse_event(mtype, msg)
            if ev is None or ev.family != socket.AF_INET6 or ev.ifindex != ap_index or ev.flags & NTF_PROXY:
                continue
            if ev.present:
                self._client(ev.address, True)
            elif ev.deleted or ev.state & NUD_FAILED:
                self._client(ev.address, False)
        if addresses:
            self.on_addresses()

    def _on_ns(self, s: socket.socket, on_uplink: bool) -> None:
        if s.fileno() < 0:      # closed by an event handled just before, in the same select
            return
        for source, target in nsolicit.read(s):
            if not self._in_prefix(str(target)) or [self.mode.uplink, str(target)] in self.journal.proxies:
                continue
            if on_uplink:                       # the router looks for a client: find it on the AP
                self._resolve(str(target))
            elif source.is_unspecified:
                # a client's new address: answered for at once (its first connection's
                # reply must not wait for the router's retries), and looked for once its
                # DAD is over, so that a neighbour entry exists whose failure or removal
                # (the client left, or the address was a duplicate) takes the proxy away
                self._client(str(target), True)
                self.call_at(f"resolve {target}", time.monotonic() + DAD_WAIT, self._resolver(str(target)))

    def _resolver(self, address: str) -> Callable[[], None]:
        return lambda: self._resolve(address)

    def _resolve(self, address: str) -> None:
        self._run({"op": "neigh_resolve", "ifname": self.ap, "address": address, "missing_ok": True})

    def _run(self, *ops: netcfg.Op) -> None:
        try:
            netcfg.run(list(ops))
        except netcfg.NetcfgError as e:
            log.error("IPv6 relay: %s", e)


def forget_client(ap: str, uplink: str, address: str) -> list[netcfg.Op]:
    """A client's proxy entry and /128 route removed (gone already is fine)."""
    return [{"op": "proxy_del", "ifname": uplink, "address": address, "missing_ok": True},
            {"op": "route6_del", "ifname": ap, "address": address, "missing_ok": True}]


def _index(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0
