"""What the hotspot tells of its clients: their usage and their comings and goings.

Usage totals come from conntrack (``metering.py``), quotas act on them
(``quota.py``), and the event stream (``eventbus.py``) carries clients
joining and leaving (hostapd's AP-STA-* events) and their leases (dnsmasq's
DHCPACK lines). ``Hotspot`` owns one of these and feeds it those events.
"""

from __future__ import annotations

import logging
import re
import selectors
from collections.abc import Callable

from ..config import HotspotConfig
from ..config.mqtt import default_node
from ..plan.plan import Plan
from ..system import sysctl
from .eventbus import EventBus
from .journal import Journal
from .metering import ACCT_SYSCTL, QUOTA_INTERVAL, Metering
from .mqtt import MqttPublisher
from .quota import Quotas, command
from .usage import usage_path

log = logging.getLogger("hotshare")

# dnsmasq's "DHCPACK(lan0) 192.168.12.57 6a:02:71:2d:90:f6 phone"
DHCPACK = re.compile(r"DHCPACK\([^)]*\) ([0-9.]+) ([0-9a-f:]{17})(?: (\S+))?")


class ClientTracking:
    """The metering, the quotas and the client events of one hotspot."""

    def __init__(self, cfg: HotspotConfig, plan: Plan, bus: EventBus, sel: selectors.BaseSelector,
                 set_sysctl: Callable[[str, str], None],
                 call_at: Callable[[str, float, Callable[[], None]], None], cancel: Callable[[str], None]) -> None:
        self.cfg, self.plan, self.bus, self.sel = cfg, plan, bus, sel
        self.set_sysctl, self.call_at, self.cancel = set_sysctl, call_at, cancel
        self.metering: Metering | None = None
        self.quotas: Quotas | None = None
        self.mqtt: MqttPublisher | None = None

    def follow_ipv6(self) -> None:
        if self.metering:
            self.metering.follow_ipv6()

    def start_metering(self) -> None:
        """Per-client totals from conntrack (NAT only: a bridge's clients
        are not tracked by the board)."""
        if sysctl.read(ACCT_SYSCTL) is None:
            log.warning("no conntrack in this kernel: no usage totals")
            return
        self.set_sysctl(ACCT_SYSCTL, "1")   # journaled: restored on stop
        paths = self.plan.paths
        self.metering = Metering(usage_path(paths.statedir, self.cfg.wifi_iface), self.plan.subnet,
                                 self.plan.gateway.ip, self.cfg.wifi_iface, paths.leases,
                                 self.cfg.billing_day, self.call_at, self.cancel)
        self.quotas = Quotas(self.cfg, self.plan.table, self.metering.ledger, self.bus.emit, self.call_at, self.cancel)
        if self.quotas.configured:
            self.metering.interval = QUOTA_INTERVAL
            self.metering.on_added = self.quotas.check
        self.bus.on_command = lambda cmd: command(cmd, self.metering, self.quotas)
        self.metering.open(self.sel)
        self.quotas.check(force=True)

    def open_mqtt(self, journal: Journal) -> None:
        """MQTT_BROKER: the same events, and the usage totals, to the fleet's broker."""
        if not self.cfg.mqtt.enabled:
            return

        def report(text: str) -> None:      # for `hotshare status`
            journal.extra["mqtt"] = text
            journal.save()

        self.mqtt = MqttPublisher(self.cfg.mqtt, f"hotshare-{default_node()}-{self.cfg.wifi_iface}",
                                  self.cfg.wifi_iface, self.sel, self.call_at, self.cancel, self._usage_now, report)
        self.bus.listeners.append(self.mqtt.publish_event)
        self.mqtt.publish_event(self.bus.hello)     # daemon_started: a restart shows
        self.mqtt.open()

    def _usage_now(self) -> dict[str, object] | None:
        if self.metering is None:
            return None
        self.metering.refresh()
        data = self.metering.ledger.to_dict()
        data.pop("version")     # the message's own (the same format version)
        return data

    def table_reloaded(self) -> None:
        """The ruleset was replaced: the new table's quota sets start empty."""
        if self.quotas:
            self.quotas.check(force=True)

    def station_event(self, event: str) -> None:
        """hostapd's AP-STA-CONNECTED / AP-STA-DISCONNECTED: a new usage session, an event."""
        words = event.split()
        if len(words) < 2 or words[0] not in ("AP-STA-CONNECTED", "AP-STA-DISCONNECTED"):
            return
        mac = words[1].lower()
        joined = words[0] == "AP-STA-CONNECTED"
        if self.metering and joined:
            self.metering.ledger.new_session(mac)
        self.bus.emit("client_joined" if joined else "client_left", mac=mac)

    def dnsmasq_lines(self, lines: list[str]) -> None:
        """dnsmasq's log: each lease it acknowledged is a ``dhcp_lease`` event."""
        for line in lines:
            m = DHCPACK.search(line)
            if m:
                self.bus.emit("dhcp_lease", ip=m[1], mac=m[2], hostname=m[3] or "")

    def close(self) -> None:
        """Stop metering: before the accounting sysctl and the table are undone."""
        if self.mqtt:
            self.mqtt.close()           # daemon_stopping was queued: sent now if it can be
            self.mqtt = None
        if self.metering:
            self.metering.close(self.sel)
            self.metering = None
