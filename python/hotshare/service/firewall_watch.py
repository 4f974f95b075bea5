"""Keep hotspot traffic passing other firewalls while they change.

Docker starting after hotshare (or restarting, which rebuilds its chains and
drops our rules from DOCKER-USER) installs ``FORWARD policy drop``. The
kernel announces every ruleset change on nfnetlink (``netlink.nftables``);
the loop wakes on those, waits for the burst to settle, then re-reads the
ruleset once, re-runs the coexistence analysis for the current uplinks and
applies what is missing. Idempotent, so our own changes (which are announced
too) end in one reading that finds everything in place; our own table's
changes are not even read. No events, no work.
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

from ..coexist import analysis as coexist
from ..coexist.analysis import Action
from ..errors import OperationError
from ..netlink import nftables
from ..system import firewalls
from .journal import Journal
from .watched import unwatch

log = logging.getLogger("hotshare")

SETTLE = 0.2            # seconds without events before the ruleset is read
MAX_WAIT = 0.5          # ... but no longer than this after the first event
# A firewall that fights our rules (or a bug of ours) must not make a busy
# loop: after this many changes within WINDOW seconds, pause for WINDOW.
MAX_CHANGES, WINDOW = 6, 60.0
TIMER = "firewall"


def _key(act: Action) -> tuple[Any, ...]:
    return act.kind, act.family, act.table, act.chain, act.rules, act.zone


class FirewallWatch:
    """The remedies in other firewalls: applied at start, kept in force.

    ``call_at``/``cancel`` are the supervisor's timers, ``uplinks`` says the
    current uplinks. The journal's ``firewall`` lists what is applied (undone
    on stop) and ``extra["blocked"]`` what cannot be passed safely."""

    def __init__(self, journal: Journal, ap: str, mode: str, subnet: IPv4Network, table: str,
                 uplinks: Callable[[], tuple[str, ...]], call_at: Callable[[str, float, Callable[[], None]], None],
                 cancel: Callable[[str], None]) -> None:
        self.journal, self.ap, self.mode, self.subnet, self.table = journal, ap, mode, subnet, table
        self.uplinks, self.call_at, self.cancel = uplinks, call_at, cancel
        self.sock: nftables.NftEventSocket | None = None
        self.first_event: float | None = None
        self.changes: list[float] = []       # when recent reactions changed something
        self.paused_until = 0.0
        self.tools: frozenset[str] | None = None

    # -- the socket -----------------------------------------------------------

    def open(self, sel: selectors.BaseSelector) -> None:
        """Follow the ruleset (NAT mode, FIREWALL other than ignore)."""
        if self.mode == "ignore" or self.sock is not None:
            return
        try:
            self.sock = nftables.NftEventSocket()
        except OSError as e:
            log.warning("cannot follow the ruleset (%s): a firewall started later may block clients", e.strerror)
            return
        sel.register(self.sock, selectors.EVENT_READ, self._on_events)

    def close(self, sel: selectors.BaseSelector) -> None:
        self.cancel(TIMER)
        if self.sock is not None:
            unwatch(sel, self.sock)
            self.sock = None

    def _on_events(self) -> None:
        assert self.sock
        try:
            touched = self.sock.changes(ignore={("inet", self.table)})
        except (OSError, ValueError) as e:
            log.warning("cannot read nftables events: %s", e)
            touched = {nftables.UNKNOWN}
        if not touched:
            return                           # our own table, or only batch ends
        now = time.monotonic()
        if self.first_event is None:
            self.first_event = now
        when = min(now + SETTLE, self.first_event + MAX_WAIT)
        self.call_at(TIMER, max(when, self.paused_until), self._settled)

    def _settled(self) -> None:
        self.first_event = None
        self.reconcile("another firewall changed")

    # -- applying ---------------------------------------------------------------

    def apply_planned(self, actions: tuple[Action, ...], notes: tuple[str, ...]) -> None:
        """At start: the plan's remedies (a start that cannot pass was
        refused when it was planned, naming the table and chain)."""
        for note in notes:
            log.warning("%s", note)
        j = self.journal
        j.firewall = []
        for action in actions:
            j.firewall.append(action.to_dict())  # journaled before it is applied
            j.save()
            j.firewall[-1] = firewalls.apply(action)
            j.save()
            log.info("made hotspot traffic pass %s", action.why)

    def reconcile(self, reason: str) -> None:
        """Read the ruleset, and make what the analysis wants for the current
        uplinks be in force: apply what is missing or different, nothing
        else. A remedy no longer needed stays until stop (it only accepts our
        traffic), so an analysis that sees our own rules cannot flip-flop."""
        if self.mode == "ignore":
            return
        try:
            if self.tools is None:
                self.tools = firewalls.available_tools()
            ruleset = firewalls.current_ruleset(self.ap)
            analysis = coexist.analyse(ruleset, self.ap, self.uplinks(), self.subnet, self.table, tools=self.tools)
            actions, refusals = coexist.plan_actions(analysis, self.mode)
            applied = {_key(Action.from_dict(r)) for r in self.journal.firewall}
            todo = [a for a in actions if _key(a) not in applied or not firewalls.present(a, ruleset)]
            if todo:
                self._rate_limit()
            for act in todo:
                self._apply(act)
                log.info("%s: made hotspot traffic pass %s", reason, act.why)
        except (OperationError, OSError, ValueError, KeyError) as e:
            log.error("%s: cannot make hotspot traffic pass: %s", reason, e)
            return
        self._blocked(refusals)

    def _apply(self, act: Action) -> None:
        """Journal first, then apply: ``firewalls.apply`` replaces our rules
        of that chain, so an older record for the same chain goes."""
        j = self.journal
        where = (act.kind, act.family, act.table, act.chain)
        old = [r for r in j.firewall
               if (r.get("kind"), r.get("family", ""), r.get("table", ""), r.get("chain", "")) == where]
        j.firewall = [r for r in j.firewall if r not in old]
        j.firewall.append(act.to_dict())
        j.save()
        record = firewalls.apply(act)
        if act.kind == "firewalld" and old and old[0].get("changed"):
            # the zone the interface had before the first change is the one to give back
            record.update(previous_zone=old[0].get("previous_zone"), changed=True)
        j.firewall[-1] = record
        j.save()

    def _rate_limit(self) -> None:
        now = time.monotonic()
        self.changes = [t for t in self.changes if now - t < WINDOW] + [now]
        if len(self.changes) >= MAX_CHANGES:
            self.paused_until = now + WINDOW
            self.changes = []
            log.error("the firewall keeps removing hotspot rules (%d times within %.0f s): "
                      "following it again in %.0f s", MAX_CHANGES, WINDOW, WINDOW)

    def _blocked(self, refusals: list[str]) -> None:
        """What cannot be passed safely: logged once, shown by ``status``."""
        extra = self.journal.extra
        message = "; ".join(refusals)
        if message == extra.get("blocked", ""):
            return
        if message:
            log.error("hotspot traffic is blocked: %s", message)
            extra["blocked"] = message
        else:
            log.info("hotspot traffic passes the other firewalls again")
            extra.pop("blocked", None)
        self.journal.save()
