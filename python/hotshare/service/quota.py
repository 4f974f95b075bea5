"""Usage quotas: the whole hotspot's (QUOTA_DAY, QUOTA_MONTH) and per
client (CLIENT_QUOTAS), checked whenever the ledger grows, enforced by two
sets of hotshare's own nftables table, replaced in one ``nft -f``
transaction: ``quota_macs`` (clients over their quota) and ``quota_all``
(the AP interface, when the hotspot's is reached).  Only new connections
through the board are refused: DHCP and DNS answer as before, so phones show
"no internet" rather than "cannot connect".

A quota is lifted when its period ends (a timer at the next midnight is
armed only while something is blocked) or by ``hotshare quota reset``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import HotspotConfig
from ..system import nft
from .usage import Ledger

if TYPE_CHECKING:
    from .metering import Metering

log = logging.getLogger("hotshare")

TIMER = "quota-period"


class Quotas:
    def __init__(self, cfg: HotspotConfig, table: str, ledger: Ledger, emit: Callable[..., None],
                 call_at: Callable[[str, float, Callable[[], None]], None], cancel: Callable[[str], None]) -> None:
        self.cfg, self.table, self.ledger, self.emit = cfg, table, ledger, emit
        self.call_at, self.cancel = call_at, cancel
        self.blocked_macs: frozenset[str] = frozenset()
        self.blocked_all = False
        self.reached: set[tuple[str, str]] = set()  # (scope, period) already reported

    @property
    def configured(self) -> bool:
        return bool(self.cfg.quota_day or self.cfg.quota_month or self.cfg.client_quotas)

    def over(self) -> tuple[bool, frozenset[str], list[dict[str, Any]]]:
        """What is over quota now: (whole hotspot, MACs, the quotas reached)."""
        hits: list[dict[str, Any]] = []
        for period, limit in (("day", self.cfg.quota_day), ("month", self.cfg.quota_month)):
            used = self.ledger.hotspot[period].total_bytes
            if limit and used >= limit:
                hits.append({"scope": "hotspot", "period": period, "bytes": used, "limit": limit})
        macs = set()
        for mac, limit, period in self.cfg.client_quotas:
            client = self.ledger.clients.get(mac)
            used = client.periods[period].total_bytes if client else 0
            if used >= limit:
                macs.add(mac)
                hits.append({"scope": mac, "period": period, "bytes": used, "limit": limit})
        return any(h["scope"] == "hotspot" for h in hits), frozenset(macs), hits

    def check(self, force: bool = False) -> None:
        """Bring the sets in line with the ledger (``force``: rewrite them
        even if nothing changed, after the table was reloaded)."""
        if not self.configured:
            return
        self.ledger.roll(dt.date.today())
        block_all, macs, hits = self.over()
        for h in hits:
            if (h["scope"], h["period"]) not in self.reached:
                self.reached.add((h["scope"], h["period"]))
                log.warning("quota reached: %s used %d bytes this %s (limit %d): new connections blocked",
                            h["scope"], h["bytes"], h["period"], h["limit"])
                self.emit("quota_reached", **h)
        self.reached &= {(h["scope"], h["period"]) for h in hits}
        if force or block_all != self.blocked_all or macs != self.blocked_macs:
            self._apply(block_all, macs)
        if block_all or macs:
            self._arm_period_end()
        else:
            self.cancel(TIMER)

    def _apply(self, block_all: bool, macs: frozenset[str]) -> None:
        t = f"inet {self.table}"
        text = f"flush set {t} quota_macs\nflush set {t} quota_all\n"
        if macs:
            text += f"add element {t} quota_macs {{ {', '.join(sorted(macs))} }}\n"
        if block_all:
            text += f'add element {t} quota_all {{ "{self.cfg.wifi_iface}" }}\n'
        try:
            nft.load(text)
        except nft.NftError as e:
            log.error("cannot update the quota sets: %s", e)
            return
        lifted = self.blocked_macs - macs
        if lifted or (self.blocked_all and not block_all):
            log.info("quota lifted: %s", ", ".join(sorted(lifted) + (["hotspot"] if self.blocked_all and not
                                                                        block_all else [])))
        self.blocked_all, self.blocked_macs = block_all, macs

    def _arm_period_end(self) -> None:
        now = dt.datetime.now()
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time())
        self.call_at(TIMER, time.monotonic() + (midnight - now).total_seconds() + 1, self.check)

    def reset(self, mac: str | None, period: str) -> None:
        """``hotshare quota reset``: zero the figures (one client's, or every
        one's and the hotspot's) of ``period`` and lift what that unblocks."""
        self.ledger.reset(mac, period, dt.date.today())
        log.info("quota reset: %s, %s", mac or "all", period)
        self.check()


def command(cmd: dict[str, Any], metering: Metering | None, quotas: Quotas | None) -> dict[str, Any]:
    """A command from the event socket (root only): ``refresh`` (`hotshare
    usage`: the totals up to the moment, saved) or ``quota_reset``."""
    if metering is None or quotas is None:
        raise ValueError("no usage totals on this hotspot")
    if cmd.get("command") == "refresh":
        metering.refresh()
        metering.save()
        return {"done": "refresh"}
    period, mac = cmd.get("period"), cmd.get("mac")
    if cmd.get("command") != "quota_reset" or period not in ("day", "month") or \
            not (mac is None or isinstance(mac, str)):
        raise ValueError("unknown command")
    metering.refresh()
    quotas.reset(mac.lower() if isinstance(mac, str) else None, str(period))
    metering.save()
    return {"done": "quota_reset", "mac": mac, "period": period}
