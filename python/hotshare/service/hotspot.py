"""The resident service: apply a plan, follow the network, undo it.

The supervision loop (signals, children, hostapd's events) is in
``supervisor.py``; this adds what the hotspot does on rtnetlink events for
links, addresses and routes: follow the AP interface and the uplinks, keep
other programs' addresses off the AP, flush NAT to an uplink that went
(the addresses and the flush are ``uplink_addresses.py``'s). Keeping the
remedies in other firewalls in force (at start, when the uplinks change, when
another firewall changes) is ``firewall_watch.py``'s; usage, quotas and the
clients' events are ``client_tracking.py``'s.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import selectors
import time
from typing import Callable

from ..config import HotspotConfig
from ..errors import StartError
from ..netlink import rtnl
from ..plan import ruleset
from ..plan.ipv6 import ipv6_mode, ipv6_sysctls
from ..plan.model import IFF_UP, Snapshot
from ..plan.network import collisions, current_uplinks, forwarding_sysctls
from ..plan.ops import AddrAdd, VirtAdd
from ..plan.plan import Plan
from ..system import files as fsutil
from ..system import firewalls, nft, sysctl
from ..system import links as netcfg
from ..system import managers as guard
from . import steer
from .channel_scan import scan_and_choose
from .client_tracking import ClientTracking
from .dnsfollow import DnsFollower
from .eventbus import EventBus, events_path, message
from .firewall_watch import FirewallWatch
from .health_watch import HealthWatch
from .journal import Journal
from .pd6 import PrefixDelegation
from .relay6 import Relay6
from .samecard import StationFollower
from .supervisor import Supervisor
from .undo import undo
from .uplink_addresses import UplinkAddresses

log = logging.getLogger("hotshare")

class Hotspot(Supervisor):
    """One hotspot: its plan applied, followed as the network changes, undone."""

    def __init__(self, cfg: HotspotConfig, plan: Plan) -> None:
        self.cfg, self.plan, self.paths = cfg, plan, plan.paths
        super().__init__(Journal(iface=cfg.wifi_iface, pid=os.getpid(), path=self.paths.state),
                         {spec.name: spec for spec in plan.children}, self.paths.hostapd_ctrl, cfg.wifi_iface)
        self.rtnl: rtnl.RtnlSocket | None = None
        self.best_uplink = plan.best_uplink
        self.uplinks = plan.uplinks
        self.uplink_addresses = UplinkAddresses(plan.subnet)
        self.dns = DnsFollower(plan)
        self.fastpath: bool | None = None       # None: not tried yet
        self.fastpath_devices: tuple[str, ...] = ()
        card = plan.same_card
        self.station = (StationFollower(plan, card, self.hostapd_request, lambda: self.hold_child("hostapd"),
                                        lambda: self.resume_child("hostapd"))
                        if card and card.follows and plan.wireless else None)
        self.relay6 = (Relay6(self.journal, cfg, self._set_sysctl, self._follow_ipv6, self.call_at)
                       if cfg.ipv6 != "off" and cfg.share_method == "nat" else None)
        self.pd = (PrefixDelegation(cfg.wifi_iface, self.paths.workdir, self.add_child, self.drop_child)
                   if self.relay6 and cfg.ipv6 == "auto" else None)
        self.firewall = FirewallWatch(self.journal, cfg.wifi_iface, cfg.firewall, plan.subnet, plan.table,
                                      lambda: self.uplinks, self.call_at, self.cancel)
        self.bus = EventBus(events_path(self.paths.rundir, cfg.wifi_iface), cfg.wifi_iface, self.sel)
        # HEALTH_CHECK: an uplink that is up but whose data is dead counts as gone
        self.health = None
        if cfg.health.enabled and cfg.share_method == "nat":
            self.health = HealthWatch(cfg.health, self.sel, self.call_at, self.cancel,
                                      lambda: self.uplink_addresses.known, self._on_health, lambda: self.best_uplink,
                                      self.bus.emit)
        self.clients = ClientTracking(cfg, plan, self.bus, self.sel, self._set_sysctl, self.call_at, self.cancel)

    # -- start ---------------------------------------------------------------

    def start(self, on_ready: Callable[[], None] | None = None) -> None:
        """Apply the plan; on any failure undo it all and raise StartError."""
        try:
            self._apply()
            self._wait_ready()
        except BaseException as e:
            self._teardown()
            if isinstance(e, (StartError, KeyboardInterrupt)):
                raise
            raise StartError(str(e) or e.__class__.__name__) from e
        if self.plan.bridge:
            log.info("hotspot ready on %s, bridged to %s through %s", self.cfg.wifi_iface,
                     self.cfg.uplinks[0], self.plan.bridge)
        else:
            log.info("hotspot ready on %s: subnet %s, gateway %s, uplink %s", self.cfg.wifi_iface,
                     self.plan.subnet, self.plan.gateway.ip, self.best_uplink or "none yet")
        if on_ready:
            on_ready()

    def _apply(self) -> None:
        p, j, plan = self.paths, self.journal, self.plan
        fsutil.ensure_dir(p.workdir, 0o700)
        fsutil.ensure_dir(p.statedir, 0o700)    # leases: clients' MACs and hostnames
        fsutil.create_private(p.leases)         # dnsmasq keeps the mode of a file it finds
        fsutil.atomic_write(p.pidfile, f"{os.getpid()}\n", 0o644)
        j.plan = plan.to_dict()
        j.extra = ({"mode": "bridge", "bridge": plan.bridge} if plan.bridge else
                   {"mode": self.cfg.share_method, "subnet": str(plan.subnet),
                    "gateway": str(plan.gateway.ip), "table": plan.table})
        j.extra["wireless"] = str(plan.wireless)
        if plan.same_card:                      # `hotshare down STATION` finds us
            j.extra["station"] = plan.same_card.station
        j.extra["ipv6"] = plan.ipv6.text()
        if plan.ruleset:
            j.extra["uplink"] = self.best_uplink or ""
        j.pidfile = self.cfg.daemon_pidfile
        j.save()
        if plan.scan_first:                     # CHANNEL=auto: the radio up, its scan, the channel
            self.plan = plan = scan_and_choose(plan, j)
        if j.pidfile:   # create_ap's --pidfile: a new file renamed over the path, never through a link
            fsutil.atomic_write(j.pidfile, f"{os.getpid()}\n", 0o644)
        for f in plan.files:
            fsutil.atomic_write(f.path, f.text, f.mode)
        self._make_virtual()

        link = rtnl.snapshot().link(self.cfg.wifi_iface)
        if link is None:
            raise StartError(f"interface {self.cfg.wifi_iface} has gone")
        j.link_was_down = j.link_was_down or not (link.flags & IFF_UP)  # restored on stop
        j.save()
        self._setup_loop()
        # hostapd takes longest to come up and needs no address: start it
        # first and configure the link while it initialises the radio. A new
        # MAC address must be set before it, with the link down.
        early = plan.wireless and not self.cfg.new_macaddr
        if early:
            self._start_child(self.specs["hostapd"])
        self._configure_link()
        if plan.wireless and not early:
            self._start_child(self.specs["hostapd"])

        for name, value in plan.sysctls.items():
            self._set_sysctl(name, value)

        if plan.ruleset:
            j.table = plan.table
            j.save()
            self._load_ruleset(self.uplinks)
            firewalls.remove_leftovers(self.cfg.wifi_iface)  # rules a crash left before it journaled them
            self.firewall.apply_planned(plan.firewall, plan.firewall_notes)
            self.clients.start_metering()

        if self.pd:
            self.pd.follow(self.best_uplink)
        if self.relay6:
            self._follow_ipv6()
        if "dnsmasq" in self.specs:  # bind-interfaces: the address must exist first
            self._start_child(self.specs["dnsmasq"])

    def _make_virtual(self) -> None:
        """One radio, two roles: the virtual AP interface, journaled first."""
        made = [op.to_dict() for op in self.plan.link_ops if isinstance(op, VirtAdd)]
        if made:
            self.journal.virt = self.cfg.wifi_iface
            self.journal.save()
            netcfg.run(made)

    def _station_event(self, event: str) -> None:
        self.clients.station_event(event)

    def _child_lines(self, name: str, lines: list[str]) -> None:
        if name == "dnsmasq":
            self.clients.dnsmasq_lines(lines)

    def _replan_remedies(self) -> None:
        """The uplinks changed: the remedies for the new set, from the ruleset as it is now."""
        self.firewall.reconcile("uplinks changed")

    def _fastpath_devices(self, snap: Snapshot) -> tuple[str, ...]:
        """A flowtable may only name devices that exist (ppp0 comes and goes)."""
        if self.fastpath is False:
            return ()
        return tuple(d for d in (self.cfg.wifi_iface, *self.uplinks) if snap.link(d) is not None)

    def _load_ruleset(self, uplinks: tuple[str, ...], snap: Snapshot | None = None) -> None:
        """Load (or replace) our table: with the flowtable fast path where
        the kernel has it, without it where it has not."""
        same = uplinks == self.plan.uplinks
        devices = self._fastpath_devices(snap or rtnl.snapshot())
        if devices:
            try:
                nft.load(self.plan.ruleset if same and devices == self.plan.fastpath_devices
                         else ruleset.nft_ruleset(self.plan, uplinks, fastpath=devices))
                self.fastpath, self.fastpath_devices = True, devices
                return
            except nft.NftError as e:
                log.info("no flowtable fast path (%s): forwarding takes the normal path", e)
                self.fastpath = False
        nft.load(self.plan.ruleset_fallback if same else ruleset.nft_ruleset(self.plan, uplinks))
        self.fastpath_devices = ()

    def _configure_link(self) -> None:
        j, iface, plan = self.journal, self.cfg.wifi_iface, self.plan
        if not j.released:
            j.released = guard.release(iface)
            j.save()
        if plan.orig_mac:
            j.orig_mac = plan.orig_mac
        br = plan.bridge_plan
        if br is not None and not j.bridge:
            j.bridge, j.uplink = br.name, br.uplink
            j.moved_addresses = list(br.moved_addresses)
            j.moved_routes = [{"dst": dst, "gateway": gw, "metric": metric} for dst, gw, metric in br.moved_routes]
        for op in plan.link_ops:
            if isinstance(op, AddrAdd) and op.ifname == iface and op.address not in j.addresses:
                j.addresses.append(op.address)
        j.save()
        netcfg.run([op.to_dict() for op in plan.link_ops if not isinstance(op, VirtAdd)])
        if br is None:
            self._evict_foreign(rtnl.snapshot())

    def _evict_foreign(self, snap: Snapshot) -> None:
        """Remove addresses and routes another program put on the hotspot
        interface (dhcpcd's IPv4LL 169.254.x.x): they would answer ARP
        for the wrong subnet and can steal the board's default route."""
        addrs, routes = guard.foreign_state(snap, self.cfg.wifi_iface, self.plan.gateway)
        if not addrs and not routes:
            return
        iface = self.cfg.wifi_iface
        log.warning("removing what another program put on %s: %s", iface,
                    ", ".join(addrs + [f"route {r.dst}" for r in routes]))
        ops: list[netcfg.Op] = [{"op": "addr_del", "ifname": iface, "address": a, "missing_ok": True}
                                for a in addrs]
        ops += [{"op": "route_del", "ifname": iface, "dst": str(r.dst), "scope": r.scope, "metric": r.metric,
                 "missing_ok": True} for r in routes]
        try:
            netcfg.run(ops)
        except netcfg.NetcfgError as e:
            log.error("cannot clean %s: %s", iface, e)

    def _set_sysctl(self, name: str, value: str) -> None:
        old = sysctl.read(name)
        if old is None or old == value:
            return
        if name.endswith("/accept_ra") and old != "1":
            return      # 0 (an admin's choice) or 2 already: left as it is (plan.ipv6.ipv6_sysctls)
        self.journal.sysctls.setdefault(name, old)
        self.journal.save()
        sysctl.write(name, value)

    def _setup_loop(self) -> None:
        self._setup_signals()
        self.bus.open(message("daemon_started", self.cfg.wifi_iface, pid=os.getpid(),
                                        started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")))
        self.clients.open_mqtt(self.journal)
        groups = rtnl.RTMGRP_LINK | rtnl.RTMGRP_IPV4_IFADDR | rtnl.RTMGRP_IPV4_ROUTE
        self.rtnl = rtnl.RtnlSocket(groups)
        self.sel.register(self.rtnl, selectors.EVENT_READ, self._on_rtnl)
        self.uplink_addresses.remember(self.uplinks, rtnl.snapshot())
        if self.plan.ruleset:                   # NAT: follow the other firewalls
            self.firewall.open(self.sel)
        if self.health:
            self.health.open(self.uplinks)
        if self.station:                        # one radio, two roles: follow the station's channel
            self.station.open(self.sel)
        if self.relay6:
            self.relay6.open(self.sel)

    # -- following the network ----------------------------------------------

    def _on_rtnl(self) -> None:
        assert self.rtnl
        if not self.rtnl.drain_events():
            return
        snap = rtnl.snapshot()
        self._follow_ap_link(snap)
        if self.ap_present and not self.plan.bridge:
            self._evict_foreign(snap)
        if self.cfg.share_method == "nat":
            self._follow_uplinks(snap)
        hit = [] if self.plan.bridge else collisions(self.plan.subnet, snap, self.cfg.wifi_iface)
        if hit:
            log.error("the hotspot subnet %s now overlaps the %s: clients may lose the uplink; "
                      "restart hotshare to pick a free subnet", self.plan.subnet, hit[0])

    def _follow_ap_link(self, snap: Snapshot) -> None:
        present = snap.link(self.cfg.wifi_iface) is not None
        if present == self.ap_present:
            return
        self.ap_present = present
        if not present:
            log.error("%s disappeared; waiting for it to come back", self.cfg.wifi_iface)
            self._stop_children()
            return
        log.info("%s is back; restoring the hotspot", self.cfg.wifi_iface)
        try:
            self._configure_link()
            for name, value in self.plan.sysctls.items():
                if name.startswith((f"net/ipv4/conf/{self.cfg.wifi_iface}/", f"net/ipv6/conf/{self.cfg.wifi_iface}/")):
                    self._set_sysctl(name, value)
        except (netcfg.NetcfgError, StartError, OSError) as e:
            log.error("cannot restore %s: %s", self.cfg.wifi_iface, e)
        for child in self.children.values():
            child.restart_at = time.monotonic()

    def _on_health(self, failover: bool) -> None:
        """A probe round ended (status shows it); if an uplink's data died or
        came back, the failover follows, as for a link that went or came."""
        # one journal write per loop turn, however many rounds ended in it
        self.call_at("health-save", time.monotonic(), self._save_health)
        if failover:
            self._follow_uplinks(rtnl.snapshot())

    def _save_health(self) -> None:
        if self.health:
            self.journal.health = self.health.report()
            self.journal.save()

    def _follow_uplinks(self, snap: Snapshot) -> None:
        dead = self.health.dead() if self.health else frozenset()
        uplinks, best = current_uplinks(self.cfg, snap, dead)
        if uplinks != self.uplinks or self._fastpath_devices(snap) != self.fastpath_devices:
            self.uplinks = uplinks
            try:
                self._load_ruleset(uplinks, snap)
                self.clients.table_reloaded()
                self._replan_remedies()
            except (nft.NftError, OSError, RuntimeError) as e:
                log.error("cannot update the ruleset: %s", e)
            log.info("uplinks now: %s", ", ".join(uplinks) or "none")
        if self.health:
            self.health.track(uplinks)      # and which of them is in use
            steer.apply(self.journal, steer.wanted(snap, best, current_uplinks(self.cfg, snap)[1]))
        wanted = forwarding_sysctls(self.cfg.wifi_iface, uplinks)
        if self.cfg.ipv6 != "off":
            wanted.update(ipv6_sysctls(self.cfg.wifi_iface, uplinks))
        for name, value in wanted.items():
            if name.split("/")[3] in ("all", "default") or snap.link(name.split("/")[3]) is not None:
                self._set_sysctl(name, value)
        self.uplink_addresses.forget_gone(snap)
        if best != self.best_uplink:
            old = self.best_uplink
            self.best_uplink = best
            self.journal.extra["uplink"] = best or ""
            self.journal.save()
            log.info("uplink changed: %s -> %s", old or "none", best or "none")
            self.bus.emit("uplink_changed", old=old or "", new=best or "")
            if old:
                self.uplink_addresses.left(old)
        self.uplink_addresses.remember(self.uplinks, snap)
        dnsmasq = self.children.get("dnsmasq")
        self.dns.follow(best, dnsmasq.pid if dnsmasq and dnsmasq.running else 0)
        if self.pd:
            self.pd.follow(best)
        if self.relay6:
            self.relay6.follow(ipv6_mode(self.cfg, snap, best, self.pd.uplink if self.pd else None))

    def _follow_ipv6(self) -> None:
        """The IPv6 addresses changed (the uplink's prefix, dhcpcd's on the AP)."""
        if self.relay6:
            self.relay6.follow(ipv6_mode(self.cfg, rtnl.snapshot(), self.best_uplink,
                                         self.pd.uplink if self.pd else None))
            self.clients.follow_ipv6()   # usage: the clients' prefixes

    # -- stop ----------------------------------------------------------------

    def stop(self) -> None:
        self.stopping = True
        self.bus.emit("daemon_stopping", pid=os.getpid())
        self._teardown()
        log.info("hotspot on %s stopped; everything it changed is restored", self.cfg.wifi_iface)

    def _teardown(self) -> None:
        self.clients.close()                # before the sysctl and the table go
        if self.pd:                         # released while the uplink is still there
            self.pd.close()
        self._stop_children()
        self.bus.close()
        if self.relay6:
            self.relay6.close()
        problems = undo(self.journal, self.paths.child_marker)
        for problem in problems:
            log.error("cleanup: %s", problem)
        if not problems:
            fsutil.remove(self.paths.state)
        for f in self.plan.files:
            fsutil.remove(f.path)
        fsutil.remove(os.path.join(self.paths.workdir, "dnsmasq.pid"))
        try:
            os.rmdir(self.paths.workdir)    # only once empty (hostapd's socket went with it)
        except OSError:
            pass
        fsutil.remove(self.paths.pidfile)
        self.firewall.close(self.sel)
        if self.health:
            self.health.close()
        if self.station:
            self.station.close(self.sel)
        fsutil.remove(self.paths.dnsmasq_resolv)
        if self.rtnl:
            self.rtnl.close()
            self.rtnl = None
