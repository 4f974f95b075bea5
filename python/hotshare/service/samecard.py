"""Keep the AP on its station's channel (one radio, two roles; plan.samecard).

A radio that uses one channel at a time cannot keep the AP on channel 1 once
the station uplink is on channel 6, and the station cannot reconnect on
another channel while the AP holds the radio's one. So, from nl80211's mlme
events for the station (no polling):

* a channel switch announced to the station (CH_SWITCH_STARTED_NOTIFY): the
  AP announces the same switch to its clients (hostapd CHAN_SWITCH), and
  both move together, clients staying associated;
* the station switched (CH_SWITCH_NOTIFY) or connected or roamed elsewhere
  (CONNECT, ROAM): the AP moves there, by a channel switch where hostapd
  and the driver can, else by a restart of hostapd alone (clients reconnect);
* the station lost its network (DISCONNECT): hostapd is held stopped, which
  frees the channel so the station can reconnect on any; it starts again on
  the station's new channel when the station connects.
"""

from __future__ import annotations

import dataclasses
import logging
import selectors
import socket
import time
from collections.abc import Callable

from ..netlink import nl80211
from ..netlink.uapi import (
    NL80211_CMD_CH_SWITCH_NOTIFY,
    NL80211_CMD_CH_SWITCH_STARTED_NOTIFY,
    NL80211_CMD_CONNECT,
    NL80211_CMD_DISCONNECT,
    NL80211_CMD_ROAM,
)
from ..plan.hostapd import hostapd_conf
from ..plan.plan import Plan
from ..plan.samecard import SameCard, frequency_of, retuned
from ..system import files as fsutil
from ..system import wifi
from .watched import unwatch

log = logging.getLogger("hotshare")

CSA_BEACONS = 5     # beacons of warning for clients when the AP moves on its own


class StationFollower:
    """``request``: a hostapd control request (None: hostapd is not there);
    ``hold``/``resume``: stop hostapd and keep it stopped / start it again."""

    def __init__(self, plan: Plan, card: SameCard, request: Callable[[str], str | None],
                 hold: Callable[[], None], resume: Callable[[], None]) -> None:
        self.plan, self.card = plan, card
        self.request, self.hold, self.resume = request, hold, resume
        self.ap_freq = frequency_of(plan.cfg.freq_band, plan.cfg.band_channel)
        self.held = False
        self.events: nl80211.MlmeEvents | None = None
        self.station_index = 0
        self.lost_at = 0.0          # monotonic time the station disconnected (for the log's figure)

    def open(self, sel: selectors.BaseSelector) -> None:
        self.station_index = socket.if_nametoindex(self.card.station)
        self.events = nl80211.MlmeEvents()
        sel.register(self.events, selectors.EVENT_READ, self._on_events)

    def close(self, sel: selectors.BaseSelector) -> None:
        if self.events:
            unwatch(sel, self.events)
            self.events = None

    def _on_events(self) -> None:
        assert self.events
        for ev in self.events.events():
            if ev.cmd == -1:            # events were dropped: ask where the station is now
                self.station_at(wifi.station_freq(self.card.station))
            elif ev.ifindex == self.station_index:
                self.on_station(ev)

    def on_station(self, ev: nl80211.Event) -> None:
        if ev.cmd == NL80211_CMD_CH_SWITCH_STARTED_NOTIFY and ev.freq:
            log.info("%s is told to switch to %d MHz in %d beacons: the AP switches with it",
                     self.card.station, ev.freq, ev.count)
            self.move(ev.freq, max(ev.count, 1))
        elif ev.cmd == NL80211_CMD_CH_SWITCH_NOTIFY and ev.freq:
            self.station_at(ev.freq)
        elif ev.cmd in (NL80211_CMD_CONNECT, NL80211_CMD_ROAM):
            self.station_at(ev.freq or wifi.station_freq(self.card.station))
        elif ev.cmd == NL80211_CMD_DISCONNECT and self.card.follows and not self.held:
            log.info("%s lost its network: hostapd waits, so it may reconnect on any channel", self.card.station)
            self.lost_at = time.monotonic()
            self.held = True
            self.hold()

    def station_at(self, freq: int) -> None:
        """The station is (connected) on ``freq``: the AP goes there too."""
        if not freq or not self.card.follows:
            return
        if self.held:
            self._retune(freq)
            self.held = False
            log.info("%s is on %d MHz again (%.1f s after it was lost): hostapd restarts there",
                     self.card.station, freq, time.monotonic() - self.lost_at)
            self.resume()
        elif freq != self.ap_freq:
            self.move(freq, CSA_BEACONS)

    def move(self, freq: int, count: int) -> None:
        """A channel switch of the AP, else a restart of hostapd on ``freq``."""
        if freq == self.ap_freq and not self.held:
            return
        ht = " ht" if self.plan.cfg.ieee80211n or self.plan.cfg.ieee80211ac else ""
        reply = None if self.held else self.request(f"CHAN_SWITCH {count} {freq}{ht}")
        self._retune(freq)
        if reply is not None and reply.strip() == "OK":
            log.info("the AP switches to %d MHz with %s", freq, self.card.station)
            return
        log.info("the AP moves to %d MHz by a restart of hostapd (channel switch: %s)", freq,
                 (reply or "hostapd not reachable").strip())
        self.held = False
        self.resume()

    def _retune(self, freq: int) -> None:
        """hostapd.conf on ``freq``: what a restart (or a crash's) starts with."""
        try:
            cfg = retuned(self.plan.cfg, freq)
        except ValueError as e:
            log.error("cannot follow %s: %s", self.card.station, e)
            return
        # hostapd.conf names plan.channel (CHANNEL=auto's choice): the station's now
        self.plan = dataclasses.replace(self.plan, cfg=cfg, channel=cfg.channel, chanlist=())
        fsutil.atomic_write(self.plan.paths.hostapd_conf, hostapd_conf(self.plan), 0o600)
        self.ap_freq = freq
