"""Other firewalls on the same hooks: find what would drop hotspot traffic,
and the remedies that make it pass (pure).

:func:`analyse` walks the parsed ``nft -j list ruleset`` (iptables-nft rules
are there too) with model packets of hotspot traffic and names every base
chain at ``forward`` (and at ``input`` for DHCP and DNS from the AP) that may
drop them. :func:`plan_actions` turns that into plain-data actions, or into
messages that stop the start; ``system.firewalls`` applies and undoes them.
Every rule hotshare adds to a foreign table carries the comment
``hotshare:<ap>``, which is how it is found again, even after a crash.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..config.values import FIREWALL_MODES as MODES
from .evaluate import Key, Packet, Walker, hotspot_packets

TAG_PREFIX = "hotshare:"
FIREWALLD_SHARED_ZONE = "firewalld-zone:nm-shared"   # in `tools`: firewalld has that zone
# What the tables of iptables-nft look like: built-in chains of a built-in table.
XT_TABLES = ("filter", "mangle", "raw", "security")
XT_CHAINS = ("INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING")
# Names written into nft / iptables command lines: anything else is not touched.
NAME_RE = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.\-]{0,63}$")


def tag(ap: str) -> str:
    return TAG_PREFIX + ap


@dataclass(frozen=True)
class Action:
    """One change to another firewall; JSON-serialisable via :meth:`to_dict`.

    kind ``iptables``: insert ``rules`` (iptables rule specs) at the top of
    ``table``/``chain`` through iptables-nft. kind ``nft``: insert ``rules``
    (nft rule text) at the top of ``family``/``table``/``chain``. kind
    ``firewalld``: put ``ap`` into ``zone`` at runtime."""

    kind: str
    ap: str
    family: str = ""
    table: str = ""
    chain: str = ""
    rules: tuple[str, ...] = ()
    zone: str = ""
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rules"] = list(self.rules)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Action:
        return cls(kind=str(d["kind"]), ap=str(d["ap"]), family=str(d.get("family", "")),
                   table=str(d.get("table", "")), chain=str(d.get("chain", "")),
                   rules=tuple(str(r) for r in d.get("rules", ())), zone=str(d.get("zone", "")),
                   why=str(d.get("why", "")))


@dataclass(frozen=True)
class Blocker:
    family: str
    table: str
    chain: str                  # the base chain
    hook: str                   # "forward" or "input"
    why: str                    # "policy drop", or the dropping rule
    traffic: str                # "forwarded traffic", "DHCP and DNS from wlan0"
    owner: str                  # "docker", "iptables", "firewalld" or "nftables"
    remedy: Action | None       # None: nothing hotshare can do
    safe: bool                  # applied in mode auto; an unsafe remedy only in mode insert
    hint: str                   # what to do, for the message

    @property
    def where(self) -> str:
        return f"table {self.family} {self.table} chain {self.chain}"

    @property
    def message(self) -> str:
        return f"{self.where} drops {self.traffic} ({self.why}); {self.hint}"


@dataclass(frozen=True)
class Analysis:
    ap: str
    uplinks: tuple[str, ...]
    subnet: ipaddress.IPv4Network
    blockers: tuple[Blocker, ...] = ()


def _one_or_set(names: tuple[str, ...]) -> str:
    return f'"{names[0]}"' if len(names) == 1 else "{ " + ", ".join(f'"{n}"' for n in names) + " }"


def nft_rules(ap: str, uplinks: tuple[str, ...], hook: str) -> tuple[str, ...]:
    """The accept rules for a native nftables chain (without their comment)."""
    if hook == "input":
        return (f'iifname "{ap}" udp dport {{ 53, 67 }} accept', f'iifname "{ap}" tcp dport 53 accept')
    if not uplinks:
        return (f'iifname "{ap}" accept', f'oifname "{ap}" ct state established,related accept')
    ups = _one_or_set(uplinks)
    return (f'iifname "{ap}" oifname {ups} accept',
            f'iifname {ups} oifname "{ap}" ct state established,related accept')


def iptables_rules(ap: str, uplinks: tuple[str, ...], hook: str) -> tuple[str, ...]:
    """The accept rules for an iptables chain (without their comment)."""
    if hook == "input":
        return (f"-i {ap} -p udp -m udp --dport 67 -j ACCEPT", f"-i {ap} -p udp -m udp --dport 53 -j ACCEPT",
                f"-i {ap} -p tcp -m tcp --dport 53 -j ACCEPT")
    est = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    if not uplinks:
        return (f"-i {ap} -j ACCEPT", f"-o {ap} {est}")
    return tuple(f"-i {ap} -o {u} -j ACCEPT" for u in uplinks) + tuple(f"-i {u} -o {ap} {est}" for u in uplinks)


def _tagged_iptables(rule: str, ap: str) -> str:
    head, _, target = rule.rpartition(" -j ")
    return f"{head} -m comment --comment {tag(ap)} -j {target}"


def _owner(walker: Walker, key: Key) -> str:
    family, table, chain = key
    if table == "firewalld":
        return "firewalld"
    if family == "ip" and table in XT_TABLES and chain in XT_CHAINS:
        if table == "filter" and chain == "FORWARD" and (family, table, "DOCKER-USER") in walker.chains:
            return "docker"
        return "iptables"
    return "nftables"


def _clears(walker: Walker, base: Key, at: Key, packets: list[Packet]) -> bool:
    """Would accept rules at the top of ``at`` let ``packets`` through ``base``?"""
    sim = replace(walker, inject=frozenset({at}))
    return all(sim.base_verdict(base, p)[0] == "accept" for p in packets)


def _blocker(walker: Walker, base: Key, hook: str, why: str, blocked: list[Packet],
             ap: str, uplinks: tuple[str, ...], tools: Collection[str]) -> Blocker:
    family, table, chain = base
    labels = sorted({p.label for p in blocked})
    if hook == "forward":
        traffic = "forwarded traffic"
    else:
        traffic = " and ".join(x for x in ("DHCP", "DNS") if x in labels) + f" from {ap}"
    owner = _owner(walker, base)
    b = Blocker(family, table, chain, hook, why, traffic, owner, None, False, "")
    where = f"{b.where}: {why}"
    if owner == "firewalld":
        # firewalld's own zone for shared connections (DHCP, DNS, forwarding;
        # what else of the board clients reach, our table decides), where it
        # has one; else trusted, whose "accept everything" our input chain
        # narrows to DHCP, DNS and CLIENT_SERVICES
        zone = "nm-shared" if FIREWALLD_SHARED_ZONE in tools else "trusted"
        cmd = f"firewall-cmd --zone={zone} --add-interface={ap}"
        if "firewall-cmd" not in tools:
            return replace(b, hint=f"firewall-cmd is not installed: run the equivalent of `{cmd}`, "
                                   "or set FIREWALL=ignore")
        return replace(b, remedy=Action("firewalld", ap, zone=zone, why=where), safe=True,
                       hint=f"hotshare runs `{cmd}` (runtime only)")
    if owner in ("docker", "iptables"):
        rules = iptables_rules(ap, uplinks, hook)
        targets = ["DOCKER-USER", chain] if owner == "docker" else [chain]
        target = next((c for c in targets if _clears(walker, base, (family, table, c), blocked)), None)
        shown = " and ".join(f"`iptables -I {targets[0]} {r}`" for r in rules)
        if target is None:
            return replace(b, hint=f"accept rules at the top of {' or '.join(targets)} would not help; "
                                   "make the chain accept it, or set FIREWALL=ignore")
        if "iptables" not in tools or not NAME_RE.match(table) or not NAME_RE.match(target):
            return replace(b, hint=f"hotshare cannot run iptables-nft here: run {shown}, or set FIREWALL=ignore")
        act = Action("iptables", ap, family, table, target, tuple(_tagged_iptables(r, ap) for r in rules), why=where)
        return replace(b, remedy=act, safe=True, hint=f"hotshare inserts accept rules at the top of {target}")
    rules = nft_rules(ap, uplinks, hook)
    shown = " and ".join(f"`{r}`" for r in rules)
    if not (NAME_RE.match(table) and NAME_RE.match(chain)):
        return replace(b, hint=f"add {shown} at its top, or set FIREWALL=ignore")
    act = Action("nft", ap, family, table, chain, tuple(f'{r} comment "{tag(ap)}"' for r in rules), why=where)
    return replace(b, remedy=act, safe=False,
                   hint=f"add {shown} at its top, or set FIREWALL=insert to let hotshare insert them "
                        "(removed again on stop), or set FIREWALL=ignore")


def analyse(ruleset: Mapping[str, Any], ap: str, uplinks: tuple[str, ...], subnet: ipaddress.IPv4Network,
            own_table: str, *, tools: Collection[str]) -> Analysis:
    """Every base chain but ours, in families ip and inet, that may drop
    hotspot traffic: forwarded traffic between ``ap`` and ``uplinks``, and
    DHCP and DNS from ``ap`` at the input hook. Pure, given ``tools`` (the
    names ``system.firewalls.available_tools`` returns)."""
    walker = Walker.of(ruleset, tag(ap))
    packets = hotspot_packets(ap, uplinks, subnet)
    blockers = []
    for key, chain in walker.chains.items():
        family, table, _ = key
        hook = chain.get("hook")
        if family not in ("ip", "inet") or hook not in ("forward", "input"):
            continue
        if family == "inet" and table == own_table:
            continue
        blocked, why = [], ""
        for p in packets:
            if p.hook != hook:
                continue
            verdict, reason = walker.base_verdict(key, p)
            if verdict == "drop":
                blocked.append(p)
                why = why or reason
        if blocked:
            blockers.append(_blocker(walker, key, hook, why, blocked, ap, uplinks, tools))
    return Analysis(ap, tuple(uplinks), subnet, tuple(blockers))


def plan_actions(analysis: Analysis, mode: str) -> tuple[list[Action], list[str]]:
    """The actions to apply, and the messages of blockers that stop the start.
    ``auto``: known remedies (Docker, iptables, firewalld); ``insert``: also
    accept rules in other nftables tables; ``ignore``: nothing."""
    if mode not in MODES:
        raise ValueError(f"unknown firewall mode {mode!r}")
    if mode == "ignore":
        return [], []
    actions: dict[tuple[str, str, str, str], Action] = {}
    refusals = []
    for b in analysis.blockers:
        act = b.remedy
        if act is None or not (b.safe or mode == "insert"):
            refusals.append(b.message)
            continue
        key = (act.kind, act.family, act.table, act.chain)
        if key in actions:
            actions[key] = replace(actions[key], why=f"{actions[key].why}; {act.why}")
        else:
            actions[key] = act
    return list(actions.values()), refusals


def notes(analysis: Analysis, mode: str) -> list[str]:
    """What to log about the blockers: warnings in mode ignore, what is done otherwise."""
    if mode == "ignore":
        return [f"FIREWALL=ignore: {b.where} drops {b.traffic} ({b.why})" for b in analysis.blockers]
    return [f"{b.where} drops {b.traffic} ({b.why}): {b.hint}"
            for b in analysis.blockers if b.remedy is not None and (b.safe or mode == "insert")]
