"""Is each uplink's data alive? The pure state machine behind HEALTH_*.

No I/O and no clock of its own: the caller (``service.health_watch``) feeds
it evidence with the time it happened and asks it what to do next. Per
uplink:

* ``unknown``: nothing seen yet (a new uplink, or just started);
* ``alive``: a reply came back through it (conntrack saw one, or a probe
  round had ``reliability`` answers), and, if it was dead, ``up`` good
  rounds in a row;
* ``probing``: suspected (traffic went out and nothing came back, or idle
  for ``idle`` s) and being probed, not yet ``down`` bad rounds;
* ``dead``: ``down`` bad rounds in a row; left out of the failover until
  ``up`` good rounds in a row.

Passive evidence (a reply) ends any suspicion at once, except while dead:
a dead uplink's replies are the probes' own or stray ones, and only the
``up`` count brings it back (mwan3's rule, so a flapping modem does not
flap the clients).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.health import HealthConfig

UNKNOWN, ALIVE, PROBING, DEAD = "unknown", "alive", "probing", "dead"


@dataclass
class UplinkState:
    state: str = UNKNOWN
    reason: str = "no evidence yet"
    good: int = 0               # good rounds in a row
    bad: int = 0                # bad rounds in a row
    last_evidence: float = 0.0  # monotonic time of the last reply (passive or probe)
    last_probe: float = 0.0     # monotonic time of the last probe round's end
    dead_since: float = 0.0
    suspect_since: float = 0.0  # traffic went out without replies since then (0: not suspected)


class UplinkHealth:
    """The health of every uplink, from evidence and probe results."""

    def __init__(self, cfg: HealthConfig) -> None:
        self.cfg = cfg
        self.uplinks: dict[str, UplinkState] = {}

    def track(self, names: tuple[str, ...]) -> None:
        """Follow these uplinks (new ones start unknown; gone ones are forgotten)."""
        self.uplinks = {n: self.uplinks.get(n) or UplinkState() for n in names}

    def dead(self) -> frozenset[str]:
        return frozenset(n for n, s in self.uplinks.items() if s.state == DEAD)

    def reply_seen(self, name: str, now: float) -> bool:
        """Passive evidence: a reply came back through ``name``. True if the state changed."""
        s = self.uplinks.get(name)
        if s is None:
            return False
        s.last_evidence, s.suspect_since = now, 0.0
        if s.state in (UNKNOWN, PROBING):
            s.state, s.reason, s.bad = ALIVE, "replies seen in conntrack", 0
            return True
        return False

    def sent_unanswered(self, name: str, since: float) -> None:
        """Traffic left through ``name`` at ``since`` and no reply is known yet."""
        s = self.uplinks.get(name)
        if s is not None and not s.suspect_since and s.last_evidence < since:
            s.suspect_since = since

    def needs_probe(self, name: str, now: float) -> str:
        """Why ``name`` should be probed now ("" if it need not): a suspicion
        older than the timeout, a long idle, or it is being probed or dead."""
        s = self.uplinks.get(name)
        if s is None:
            return ""
        if s.state in (PROBING, DEAD):
            return s.reason
        if s.suspect_since and now - s.suspect_since >= self.cfg.timeout and s.last_evidence < s.suspect_since:
            return f"no reply to traffic for {self.cfg.timeout} s"
        if not s.last_evidence and not s.last_probe:
            return "first check"
        if now - max(s.last_evidence, s.last_probe) >= self.cfg.idle:
            return f"idle for {self.cfg.idle} s"
        return ""

    def probe_started(self, name: str, why: str) -> None:
        s = self.uplinks.get(name)
        if s is not None and s.state in (UNKNOWN, ALIVE):
            s.state, s.reason = PROBING, f"probing: {why}"

    def round_done(self, name: str, answered: int, sent: int, now: float, why: str = "") -> bool:
        """A probe round's result: ``answered`` of ``sent`` targets replied.
        True if the state changed (alive/dead: the failover must follow)."""
        s = self.uplinks.get(name)
        if s is None:
            return False
        before = s.state
        s.last_probe = now
        if answered >= min(self.cfg.reliability, sent or 1) and answered:
            s.good, s.bad, s.last_evidence, s.suspect_since = s.good + 1, 0, now, 0.0
            if s.state != DEAD or s.good >= self.cfg.up:
                s.state, s.reason = ALIVE, f"{answered}/{sent} probe targets answered"
            else:
                s.reason = f"recovering: {s.good}/{self.cfg.up} good probe rounds"
        else:
            s.bad, s.good = s.bad + 1, 0
            if s.state == DEAD:
                s.reason = f"dead: {answered}/{sent} probe targets answered"
            elif s.bad >= self.cfg.down:
                s.state, s.dead_since = DEAD, now
                s.reason = f"dead: {s.bad} probe rounds in a row without {self.cfg.reliability} answer(s)" + \
                    (f" ({why})" if why else "")
            else:
                s.state = PROBING
                s.reason = f"probing: {s.bad}/{self.cfg.down} bad rounds" + (f" ({why})" if why else "")
        return s.state != before and DEAD in (s.state, before)

    def report(self, now: float, wall: float) -> dict[str, dict[str, object]]:
        """For ``status --json``: state, reason, and the wall-clock times of the
        last probe, the last reply and the death (``now``: monotonic, ``wall``: time.time())."""
        def at(t: float) -> float | None:
            return round(wall - (now - t), 1) if t else None

        return {n: {"health": s.state, "reason": s.reason, "last_probe": at(s.last_probe),
                    "last_reply": at(s.last_evidence), "dead_since": at(s.dead_since) if s.state == DEAD else None}
                for n, s in self.uplinks.items()}
