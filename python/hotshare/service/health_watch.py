"""Following each uplink's health in the service loop: evidence, probes, recovery.

Event-driven, single-threaded, on the supervisor's selectors loop:

* conntrack events (``netlink.ctevidence``) are the free evidence: the loop
  joins the event groups only while the uplink in use (the best one) lacks
  fresh evidence (none for ``interval`` s), and leaves them as soon as it
  is proven, so a busy hotspot wakes about once per ``interval``, not once
  per connection, and an idle one not at all. The other uplinks carry no
  traffic to learn from: their idle probes watch them (measured: with the
  backup's events followed too, 10 s of a phone's browsing cost 42
  wake-ups instead of a handful);
* a probe round (``system.probe``) starts only when traffic went out
  through an uplink and nothing came back within ``timeout``, after
  ``idle`` s without evidence, or every ``interval`` s while an uplink is
  suspected or dead; an idle round asks one target at a time and stops at
  ``reliability`` answers (one 28-byte echo a minute on a healthy uplink);
* a change between dead and alive calls ``on_change``: the hotspot
  recomputes its best uplink (the failover, the NAT flush and the DNS
  follower hang off it); and ``emit`` sends it as an ``uplink_dead`` or
  ``uplink_back`` event (the event stream, MQTT);
* ``recovery`` (an argv) runs once every ``recovery_after`` s an uplink
  stays dead, through system.run (no shell, a timeout; the loop waits for
  it, so it never runs twice at once).

Why conntrack events and not the interface's rx counters: on ppp0 the
modem's LCP echo replies count as received packets even when the data
session behind it is dead; a conntrack reply is end to end.
"""

from __future__ import annotations

import logging
import selectors
import time
from typing import Callable

from ..config.health import HealthConfig
from ..netlink.ctevidence import CtEvidence
from ..system import run as programs
from ..system.probe import Probe
from .uplink_health import ALIVE, DEAD, UNKNOWN, UplinkHealth

log = logging.getLogger("hotshare")
RECOVERY_TIMEOUT = 30.0


class _Round:
    def __init__(self, name: str, why: str, staged: bool, started: float) -> None:
        self.name, self.why, self.staged, self.started = name, why, staged, started
        self.probes: list[Probe] = []
        self.answered = self.sent = 0
        self.next_target = 0


class HealthWatch:
    def __init__(self, cfg: HealthConfig, sel: selectors.BaseSelector,
                 call_at: Callable[[str, float, Callable[[], None]], None], cancel: Callable[[str], None],
                 addresses: Callable[[], dict[str, str]], on_change: Callable[[bool], None],
                 in_use: Callable[[], str | None], emit: Callable[..., None] | None = None) -> None:
        self.cfg, self.sel, self.call_at, self.cancel, self.in_use = cfg, sel, call_at, cancel, in_use
        self.emit = emit
        self.addresses, self.on_change = addresses, on_change
        self.health = UplinkHealth(cfg)
        self.ct: CtEvidence | None = None
        self.rounds: dict[str, _Round] = {}
        self.recovered_at: dict[str, float] = {}    # uplink -> when recovery last ran
        self.started: dict[str, float] = {}         # uplink -> when its last round started
        self.stats = {"rounds": 0, "probes": 0, "ct_events": 0, "wakeups": 0}

    # -- lifecycle -----------------------------------------------------------

    def open(self, uplinks: tuple[str, ...]) -> None:
        try:
            self.ct = CtEvidence()
            self.sel.register(self.ct, selectors.EVENT_READ, self._on_ct)
        except OSError as e:        # no nf_conntrack_netlink: probes alone
            log.warning("no conntrack events (%s): uplink health from probes only", e)
            self.ct = None
        self.track(uplinks)

    def close(self) -> None:
        for name in list(self.rounds):
            self._end_round(name, report=False)
        self.cancel("health")
        if self.ct:
            self.sel.unregister(self.ct)
            self.ct.close()
            self.ct = None

    def track(self, uplinks: tuple[str, ...]) -> None:
        self.health.track(uplinks)
        for name in [n for n in self.rounds if n not in uplinks]:
            self._end_round(name, report=False)
        self._tick()

    def dead(self) -> frozenset[str]:
        return self.health.dead()

    def report(self) -> dict[str, dict[str, object]]:
        return self.health.report(time.monotonic(), time.time())

    # -- evidence ------------------------------------------------------------

    def _on_ct(self) -> None:
        assert self.ct
        self.stats["wakeups"] += 1
        events = self.ct.read()
        self.stats["ct_events"] += len(events)
        by_addr = {a: n for n, a in self.addresses().items()}
        now = time.monotonic()
        changed = False
        for e in events:
            name = by_addr.get(e.reply_dst)
            if name is None:
                continue
            if e.replied:
                changed |= self.health.reply_seen(name, now)
            elif e.new:
                self.health.sent_unanswered(name, now)
        self._tick()
        if changed:
            self._log_states()
            self.on_change(False)

    def _fresh(self, name: str, now: float) -> bool:
        s = self.health.uplinks[name]
        return s.state == DEAD or now - s.last_evidence < self.cfg.interval

    # -- the one timer ---------------------------------------------------------

    def _tick(self) -> None:
        """Start the rounds that are due, join or leave the event groups, and
        set the timer for the next thing that can happen without an event."""
        now = time.monotonic()
        addrs = self.addresses()
        due: list[float] = []
        for name, s in self.health.uplinks.items():
            if name not in addrs or name in self.rounds:
                continue        # no address: nothing to probe from (the link follower handles it)
            if s.state == DEAD or (s.state not in (ALIVE, UNKNOWN) and s.last_probe):
                # rounds start every interval (a good round ends at the first answers)
                start = max(self.started.get(name, 0.0) + self.cfg.interval, s.last_probe + 0.5)
            else:
                why = self.health.needs_probe(name, now)
                start = now if why else min(
                    (s.suspect_since + self.cfg.timeout) if s.suspect_since else now + self.cfg.idle,
                    max(s.last_evidence, s.last_probe) + self.cfg.idle)
            if start <= now:
                self._start_round(name, self.health.needs_probe(name, now) or "probing", now)
            else:
                due.append(start)
            if name == self.in_use() and s.state != DEAD and name not in self.rounds and self._fresh(name, now):
                due.append(s.last_evidence + self.cfg.interval)     # when it stops being fresh (future)
        best = self.in_use()
        want = best in addrs and best in self.health.uplinks and not self._fresh(best, now)
        if self.ct:
            try:
                self.ct.subscribe(want)
            except OSError as e:
                log.warning("cannot follow conntrack events: %s", e)
        if due:
            self.call_at("health", min(due), self._on_timer)
        else:
            self.cancel("health")

    def _on_timer(self) -> None:
        self.stats["wakeups"] += 1
        self._tick()
        self._maybe_recover(time.monotonic())

    # -- probe rounds --------------------------------------------------------

    def _start_round(self, name: str, why: str, now: float) -> None:
        s = self.health.uplinks[name]
        staged = s.state in (ALIVE, UNKNOWN) and not s.suspect_since   # idle check: one target at a time
        r = self.rounds[name] = _Round(name, why, staged, now)
        self.started[name] = now
        self.health.probe_started(name, why)
        self.stats["rounds"] += 1
        self._send_next(r)

    def _send_next(self, r: _Round) -> None:
        targets = self.cfg.targets
        want = (self.cfg.reliability - r.answered) if r.staged else len(targets)
        while want > 0 and r.next_target < len(targets):
            ip, port = targets[r.next_target]
            r.next_target += 1
            want -= 1
            r.sent += 1
            try:
                probe = Probe(r.name, self.cfg.method, ip, port)
            except OSError as e:
                log.debug("probe of %s through %s: %s", ip, r.name, e)
                continue
            self.stats["probes"] += 1
            r.probes.append(probe)
            self._register(r, probe)
        self.call_at(f"health-{r.name}", time.monotonic() + self.cfg.timeout, lambda: self._timed_out(r))

    def _register(self, r: _Round, probe: Probe) -> None:
        ev = selectors.EVENT_WRITE if probe.want_write else selectors.EVENT_READ
        self.sel.register(probe, ev, lambda: self._on_probe(r, probe))

    def _drop(self, r: _Round, probe: Probe) -> None:
        self.sel.unregister(probe)
        probe.close()
        r.probes.remove(probe)

    def _on_probe(self, r: _Round, probe: Probe) -> None:
        was_writing = probe.want_write
        got = probe.handle()
        if got is None:
            if was_writing and not probe.want_write:     # HTTP: connected, now the answer
                self.sel.modify(probe, selectors.EVENT_READ, lambda: self._on_probe(r, probe))
            return
        self._drop(r, probe)
        r.answered += int(got)
        if r.answered >= self.cfg.reliability or (not r.probes and r.next_target >= len(self.cfg.targets)):
            self._end_round(r.name)

    def _timed_out(self, r: _Round) -> None:
        if self.rounds.get(r.name) is not r:
            return
        for probe in list(r.probes):
            self._drop(r, probe)
        if r.staged and r.answered < self.cfg.reliability and r.next_target < len(self.cfg.targets):
            self._send_next(r)          # an idle check: ask the next target before calling it bad
            return
        self._end_round(r.name)

    def _end_round(self, name: str, report: bool = True) -> None:
        r = self.rounds.pop(name)
        self.cancel(f"health-{name}")
        for probe in list(r.probes):
            self._drop(r, probe)
        if not report:
            return
        s = self.health.uplinks.get(name)
        was_dead, dead_since = (s.state == DEAD, s.dead_since) if s else (False, 0.0)
        now = time.monotonic()
        failover = self.health.round_done(name, r.answered, r.sent, now, r.why)
        if failover:
            self._log_states()
            if s and self.emit:
                if was_dead:
                    self.emit("uplink_back", uplink=name, reason=s.reason, dead_seconds=round(now - dead_since, 1))
                else:
                    self.emit("uplink_dead", uplink=name, reason=s.reason)
        self.on_change(failover)
        self._tick()

    def _log_states(self) -> None:
        for name, s in self.health.uplinks.items():
            log.info("uplink %s: %s (%s)", name, s.state, s.reason)

    # -- recovery ------------------------------------------------------------

    def _maybe_recover(self, now: float) -> None:
        if not self.cfg.recovery:
            return
        for name, s in self.health.uplinks.items():
            if s.state != DEAD or now - max(s.dead_since, self.recovered_at.get(name, 0.0)) < self.cfg.recovery_after:
                continue
            self.recovered_at[name] = now
            argv = self.cfg.recovery
            log.warning("uplink %s dead for %d s: running %s", name, now - s.dead_since, " ".join(argv))
            try:
                result = programs.run(argv[0], *argv[1:], timeout=RECOVERY_TIMEOUT)
                log.info("recovery command for %s exited %d: %s", name, result.returncode,
                         result.first_error_line(""))
            except programs.ProgramError as e:
                log.error("recovery command for %s: %s", name, e)
