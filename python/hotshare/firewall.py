"""Other firewalls on the same hooks: find what would drop hotspot traffic, make it pass.

netfilter runs every base chain registered at a hook; an ``accept`` in our
table ends the packet's walk through *our* chain only, so Docker's
``FORWARD`` chain (``policy drop``), firewalld, ufw or a hand-written
``table inet filter`` still drop hotspot traffic ("connected, no internet").

:func:`analyse` walks the parsed ``nft -j list ruleset`` (iptables-nft rules
are there too) with a few model packets of hotspot traffic and names every
base chain at ``forward`` (and at ``input`` for DHCP and DNS from the AP) that
may drop them. :func:`plan_actions` turns that into plain-data actions, or into
messages that stop the start. :func:`apply`, :func:`undo` and
:func:`remove_leftovers` change the system; every rule hotshare adds to a
foreign table carries the comment ``hotshare:<ap>``, which is how it is found
again, even after a crash.

iptables-nft 1.8.9 stores ``-m comment`` as an opaque xt match: ``nft -j``
shows ``{"xt": {"type": "match", "name": "comment"}}`` without the text, so
rules in iptables-nft tables are found through ``iptables-nft-save``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Optional

from .config import ConfigError
from .nft import NftError, nft_binary

MODES = ("auto", "insert", "ignore")
TAG_PREFIX = "hotshare:"
JUMP_LIMIT = 16                          # the kernel's own limit on nested jumps

# What the tables of iptables-nft look like: built-in chains of a built-in table.
_XT_TABLES = ("filter", "mangle", "raw", "security")
_XT_CHAINS = ("INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING")
# Names written into nft / iptables command lines: anything else is not touched.
_NAME_RE = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.\-]{0,63}$")
_INTERNET = ipaddress.IPv4Network("93.184.215.14/32")   # a typical destination
_NO_UPLINK = "\x00uplink"                # an uplink whose name no rule can mention
_PROTO_NUM = {"icmp": 1, "tcp": 6, "udp": 17}
_SERVICES = {"domain": 53, "bootps": 67, "bootpc": 68, "http": 80, "https": 443}

Tri = Optional[bool]                     # True, False, or None: cannot tell


class FirewallError(RuntimeError):
    pass


def tag(ap: str) -> str:
    return TAG_PREFIX + ap


def parse_mode(value: str) -> str:
    """The ``FIREWALL`` key: auto (default), insert or ignore."""
    v = value.strip().lower()
    if v == "":
        return "auto"
    if v not in MODES:
        raise ConfigError("FIREWALL", f"{value!r} is not a firewall mode",
                          "use auto (fix Docker, iptables and firewalld, refuse on other firewalls), "
                          "insert (also insert accept rules into other nftables tables) or ignore")
    return v


# -- plain data ----------------------------------------------------------------

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


# -- hotspot traffic as model packets -------------------------------------------

@dataclass(frozen=True)
class _Packet:
    hook: str
    label: str                  # "forward", "reply", "DHCP", "DNS"
    iif: str
    oif: str | None             # None at the input hook
    saddr: ipaddress.IPv4Network
    daddr: ipaddress.IPv4Network
    proto: str
    sport: int | None
    dport: int | None
    ct: str
    pkttype: str = "unicast"


def _packets(ap: str, uplinks: tuple[str, ...], subnet: ipaddress.IPv4Network) -> list[_Packet]:
    out: list[_Packet] = []
    for up in uplinks or (_NO_UPLINK,):
        for proto, port in (("tcp", 443), ("udp", 53), ("icmp", None)):
            sport = 40000 if port else None
            for ct in ("new", "established"):
                out.append(_Packet("forward", "forward", ap, up, subnet, _INTERNET, proto, sport, port, ct))
            out.append(_Packet("forward", "reply", up, ap, _INTERNET, subnet, proto, port, sport, "established"))
    host = ipaddress.IPv4Network("0.0.0.0/32")
    bcast = ipaddress.IPv4Network("255.255.255.255/32")
    out += [
        _Packet("input", "DHCP", ap, None, host, bcast, "udp", 68, 67, "new", "broadcast"),
        _Packet("input", "DHCP", ap, None, subnet, subnet, "udp", 68, 67, "new"),
        _Packet("input", "DNS", ap, None, subnet, subnet, "udp", 40000, 53, "new"),
        _Packet("input", "DNS", ap, None, subnet, subnet, "tcp", 40000, 53, "new"),
        _Packet("input", "DNS", ap, None, subnet, subnet, "tcp", 40000, 53, "established"),
    ]
    return out


# -- evaluating nft JSON against a model packet -------------------------------------

_UNKNOWN = object()             # the packet's value cannot be known here
_ABSENT = object()              # the packet has no such field: the match fails

Key = tuple[str, str, str]      # family, table, chain or set


def _and(a: Tri, b: Tri) -> Tri:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _any(results: Iterator[Tri]) -> Tri:
    seen_none = False
    for r in results:
        if r is True:
            return True
        seen_none = seen_none or r is None
    return None if seen_none else False


def _net(e: Any) -> tuple[int, int] | None:
    """An address element as an inclusive integer range; None if not IPv4."""
    try:
        if isinstance(e, str):
            n = ipaddress.IPv4Network(e, strict=False)
        elif isinstance(e, dict) and "prefix" in e:
            n = ipaddress.IPv4Network(f"{e['prefix']['addr']}/{e['prefix']['len']}", strict=False)
        elif isinstance(e, dict) and "range" in e:
            lo, hi = (int(ipaddress.IPv4Address(x)) for x in e["range"])
            return lo, hi
        else:
            return None
    except (ValueError, TypeError, KeyError):
        return None
    return int(n.network_address), int(n.broadcast_address)


def _num(e: Any, names: Mapping[str, int]) -> int | None:
    if isinstance(e, bool):
        return None
    if isinstance(e, int):
        return e
    if isinstance(e, str):
        return int(e) if e.isdigit() else names.get(e)
    return None


def _elem(kind: str, v: Any, e: Any) -> Tri:
    if isinstance(e, dict) and "elem" in e:
        e = e["elem"].get("val") if isinstance(e["elem"], dict) else e["elem"]
    if kind == "if":
        if not isinstance(e, str):
            return None
        if e.endswith("*") and not e.endswith("\\*"):
            return bool(v.startswith(e[:-1]))
        return bool(v == e.replace("\\*", "*"))
    if kind == "ifidx":
        return bool(v == e) if isinstance(e, str) else None
    if kind == "addr":
        rng = _net(e)
        if rng is None:
            return False if isinstance(e, str) and ":" in e else None
        lo, hi = int(v.network_address), int(v.broadcast_address)
        if rng[0] <= lo and hi <= rng[1]:
            return True
        return False if hi < rng[0] or lo > rng[1] else None
    if kind in ("port", "proto"):
        names = _SERVICES if kind == "port" else _PROTO_NUM
        if isinstance(e, dict) and "range" in e:
            ends = [_num(x, names) for x in e["range"]] if isinstance(e["range"], list) else []
            if len(ends) != 2 or ends[0] is None or ends[1] is None:
                return None
            return bool(ends[0] <= v <= ends[1])
        n = _num(e, names)
        return None if n is None else n == v
    if kind == "str":
        return bool(v == e) if isinstance(e, str) else None
    return None


@dataclass
class _Walker:
    """Walks chains of one ruleset for one model packet at a time."""

    chains: dict[Key, dict[str, Any]]
    rules: dict[Key, list[dict[str, Any]]]
    sets: dict[Key, list[Any]]
    skip_tag: str
    inject: frozenset[Key] = frozenset()   # chains with our accept rules simulated at the top
    base: str = ""
    maybe: str = ""                         # the first drop that may match

    @classmethod
    def of(cls, ruleset: Mapping[str, Any], skip_tag: str) -> _Walker:
        chains: dict[Key, dict[str, Any]] = {}
        rules: dict[Key, list[dict[str, Any]]] = {}
        sets: dict[Key, list[Any]] = {}
        for item in ruleset.get("nftables", []):
            if not isinstance(item, dict):
                continue
            if "chain" in item:
                c = item["chain"]
                chains[(c["family"], c["table"], c["name"])] = c
            elif "rule" in item:
                r = item["rule"]
                rules.setdefault((r["family"], r["table"], r["chain"]), []).append(r)
            elif "set" in item or "map" in item:
                s = item.get("set") or item["map"]
                elem = s.get("elem", [])
                sets[(s["family"], s["table"], s["name"])] = elem if isinstance(elem, list) else [elem]
        return cls(chains, rules, sets, skip_tag)

    # the packet's side of a match
    def _value(self, left: Any, p: _Packet) -> tuple[str, Any] | object:
        if not isinstance(left, dict) or len(left) != 1:
            return _UNKNOWN
        (kind, body), = left.items()
        if not isinstance(body, dict):
            return _UNKNOWN
        if kind == "meta":
            key = body.get("key")
            if key in ("iifname", "iif"):
                return ("if" if key == "iifname" else "ifidx", p.iif)
            if key in ("oifname", "oif"):
                return _ABSENT if p.oif is None else ("if" if key == "oifname" else "ifidx", p.oif)
            if key == "l4proto":
                return ("proto", _PROTO_NUM[p.proto])
            if key == "nfproto":
                return ("str", "ipv4")
            if key == "pkttype":
                return ("str", p.pkttype)
            return _UNKNOWN
        if kind == "payload":
            proto, fld = body.get("protocol"), body.get("field")
            if proto == "ip":
                if fld in ("saddr", "daddr"):
                    return ("addr", p.saddr if fld == "saddr" else p.daddr)
                return ("proto", _PROTO_NUM[p.proto]) if fld == "protocol" else _UNKNOWN
            if proto in ("ip6", "icmpv6"):
                return _ABSENT
            if proto in ("tcp", "udp", "th", "udplite", "sctp", "dccp", "icmp"):
                if (proto == "th" and p.proto in ("tcp", "udp")) or proto == p.proto:
                    if fld in ("sport", "dport") and p.proto != "icmp":
                        return ("port", p.sport if fld == "sport" else p.dport)
                    return _UNKNOWN
                return _UNKNOWN if proto == "th" else _ABSENT
            return _UNKNOWN
        if kind == "ct":
            return ("str", p.ct) if body.get("key") == "state" else _UNKNOWN
        return _UNKNOWN

    def _match(self, key: Key, m: Any, p: _Packet) -> Tri:
        if not isinstance(m, dict):
            return None
        val = self._value(m.get("left"), p)
        if val is _ABSENT:
            return False
        if val is _UNKNOWN or not isinstance(val, tuple):
            return None
        kind, v = val
        right, op = m.get("right"), m.get("op", "==")
        if isinstance(right, str) and right.startswith("@"):
            elems = self.sets.get((key[0], key[1], right[1:]))
            if elems is None:
                return None
        elif isinstance(right, dict) and "set" in right:
            elems = right["set"] if isinstance(right["set"], list) else [right["set"]]
        elif isinstance(right, list):
            elems = right
        else:
            elems = [right]
        if op == "==" or (op == "in" and kind == "str"):
            return _any(_elem(kind, v, e) for e in elems)
        if op == "!=":
            r = _any(_elem(kind, v, e) for e in elems)
            return None if r is None else not r
        if op in ("<", ">", "<=", ">=") and kind == "port" and len(elems) == 1:
            n = _num(elems[0], _SERVICES)
            if n is None or v is None:
                return None
            return {"<": v < n, ">": v > n, "<=": v <= n, ">=": v >= n}[op]
        return None

    def walk(self, key: Key, p: _Packet, depth: int = 0) -> tuple[str, str]:
        """("accept" | "drop" | "next", reason): how the chain ends for ``p``.
        Pessimistic: an accept that may not match is passed over, a drop that
        may match counts."""
        if key in self.inject:
            return "accept", ""
        if depth > JUMP_LIMIT:
            return "next", ""
        for rule in self.rules.get(key, []):
            if rule.get("comment") == self.skip_tag:
                continue
            out = self._rule(key, rule, p, depth)
            if out is not None:
                return out
        return "next", ""

    def _rule(self, key: Key, rule: Mapping[str, Any], p: _Packet, depth: int) -> tuple[str, str] | None:
        cond: Tri = True
        for expr in rule.get("expr", []):
            if not isinstance(expr, dict) or len(expr) != 1:
                cond = _and(cond, None)
                continue
            (name, body), = expr.items()
            if name == "match":
                cond = _and(cond, self._match(key, body, p))
                if cond is False:
                    return None
            elif name in ("accept", "drop", "reject", "jump", "goto", "return", "continue", "queue"):
                return self._verdict(key, rule, name, body, cond, p, depth)
            elif name == "vmap":
                return self._vmap(key, rule, body, cond, p, depth)
            elif name == "xt":
                xt = body if isinstance(body, dict) else {}
                target = {"ACCEPT": "accept", "DROP": "drop", "REJECT": "reject", "RETURN": "return"}
                if xt.get("type") == "target" and xt.get("name") in target:
                    return self._verdict(key, rule, target[xt["name"]], None, cond, p, depth)
                if xt.get("type") == "match" and xt.get("name") != "comment":
                    cond = _and(cond, None)     # conntrack, addrtype...: opaque in JSON
            elif name not in ("counter", "log", "mangle", "notrack", "set", "dup", "flow",
                              "masquerade", "snat", "dnat", "redirect", "tproxy"):
                cond = _and(cond, None)         # limit, quota, meter...: may not match
        return None

    def _verdict(self, key: Key, rule: Mapping[str, Any], name: str, body: Any, cond: Tri,
                 p: _Packet, depth: int) -> tuple[str, str] | None:
        certain = cond is True
        if name == "accept":
            return ("accept", "") if certain else None
        if name in ("drop", "reject"):
            where = "" if key[2] == self.base else f" in chain {key[2]}"
            reason = f"rule `{rule_text(rule)}`{where} (handle {rule.get('handle', '?')})"
            if certain:
                return "drop", reason
            # May drop: remembered, and the walk goes on to find a certain drop to name.
            self.maybe = self.maybe or reason + ", which may match"
            return None
        if name in ("jump", "goto") and isinstance(body, dict):
            sub = self.walk((key[0], key[1], str(body.get("target"))), p, depth + 1)
            if sub[0] == "drop" and not certain:
                self.maybe = self.maybe or sub[1] + ", which may match"
                return None
            if sub[0] == "drop":
                return sub
            if certain and (sub[0] == "accept" or name == "goto"):
                return sub
            return None
        if name == "return" and certain:
            return "next", ""
        return None

    def _vmap(self, key: Key, rule: Mapping[str, Any], body: Any, cond: Tri,
              p: _Packet, depth: int) -> tuple[str, str] | None:
        if not isinstance(body, dict):
            return None
        data = body.get("data")
        if isinstance(data, str) and data.startswith("@"):
            elems: list[Any] = self.sets.get((key[0], key[1], data[1:]), [])
        elif isinstance(data, dict) and isinstance(data.get("set"), list):
            elems = data["set"]
        else:
            return None
        for pair in elems:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], dict) and len(pair[1]) == 1):
                continue
            hit = _and(cond, self._match(key, {"op": "==", "left": body.get("key"), "right": pair[0]}, p))
            if hit is False:
                continue
            (verdict, vbody), = pair[1].items()
            out = self._verdict(key, rule, verdict, vbody, hit, p, depth)
            if out is not None:
                return out
        return None

    def base_verdict(self, key: Key, p: _Packet) -> tuple[str, str]:
        self.base, self.maybe = key[2], ""
        out = self.walk(key, p)
        if out[0] == "next" and self.chains[key].get("policy") == "drop":
            return "drop", "policy drop"
        if out[0] == "drop":
            return out
        return ("drop", self.maybe) if self.maybe else ("accept", "")


# -- rule text, for messages ------------------------------------------------------

def _text(e: Any, quote: bool = False) -> str:
    if isinstance(e, str):
        return f'"{e}"' if quote and not e.startswith("@") else e
    if isinstance(e, list):
        return ",".join(_text(x, quote) for x in e)
    if not isinstance(e, dict):
        return json.dumps(e)
    if "set" in e:
        items = e["set"] if isinstance(e["set"], list) else [e["set"]]
        return "{ " + ", ".join(_text(x, quote) for x in items) + " }"
    if "prefix" in e:
        return f"{e['prefix'].get('addr')}/{e['prefix'].get('len')}"
    if "range" in e:
        return "-".join(_text(x, quote) for x in e["range"])
    if "meta" in e:
        k = e["meta"].get("key")
        return k if k in ("iif", "oif", "iifname", "oifname", "mark") else f"meta {k}"
    if "payload" in e:
        pl = e["payload"]
        return f"{pl.get('protocol')} {pl.get('field')}" if "protocol" in pl else "@payload"
    if "ct" in e:
        return f"ct {e['ct'].get('key')}"
    if "fib" in e:
        return f"fib {' . '.join(e['fib'].get('flags', []))} {e['fib'].get('result')}"
    return next(iter(e), "?")


def rule_text(rule: Mapping[str, Any]) -> str:
    """An approximation of how ``nft list`` shows a rule (for messages)."""
    try:
        return _rule_text(rule)
    except (AttributeError, TypeError, KeyError, ValueError):
        return json.dumps(rule.get("expr"))[:200]


def _rule_text(rule: Mapping[str, Any]) -> str:
    parts = []
    for expr in rule.get("expr", []):
        if not isinstance(expr, dict) or len(expr) != 1:
            continue
        (name, body), = expr.items()
        if name == "match":
            left = body.get("left")
            quote = isinstance(left, dict) and left.get("meta", {}).get("key") in ("iifname", "oifname")
            op = body.get("op", "==")
            parts.append(" ".join(x for x in (_text(left), "" if op in ("==", "in") else op,
                                              _text(body.get("right"), quote)) if x))
        elif name in ("jump", "goto"):
            parts.append(f"{name} {body.get('target')}")
        elif name == "reject" and isinstance(body, dict):
            parts.append(" ".join(["reject", "with", str(body.get("type", "")), str(body.get("expr", ""))]).strip())
        elif name == "xt" and isinstance(body, dict):
            parts.append(f'xt {body.get("type")} "{body.get("name")}"')
        elif name == "vmap":
            parts.append(f"{_text(body.get('key'))} vmap {{ ... }}")
        elif name != "counter":
            parts.append(name)
    return " ".join(parts)


# -- remedies -----------------------------------------------------------------------

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


def available_tools() -> frozenset[str]:
    """Which remedies' tools exist here: "iptables" (an nf_tables iptables) and "firewall-cmd"."""
    have = set()
    if _iptables() is not None:
        have.add("iptables")
    if _which("firewall-cmd") is not None:
        have.add("firewall-cmd")
    return frozenset(have)


def _owner(walker: _Walker, key: Key) -> str:
    family, table, chain = key
    if table == "firewalld":
        return "firewalld"
    if family == "ip" and table in _XT_TABLES and chain in _XT_CHAINS:
        if table == "filter" and chain == "FORWARD" and (family, table, "DOCKER-USER") in walker.chains:
            return "docker"
        return "iptables"
    return "nftables"


def _clears(walker: _Walker, base: Key, at: Key, packets: list[_Packet]) -> bool:
    """Would accept rules at the top of ``at`` let ``packets`` through ``base``?"""
    sim = replace(walker, inject=frozenset({at}))
    return all(sim.base_verdict(base, p)[0] == "accept" for p in packets)


def _blocker(walker: _Walker, base: Key, hook: str, why: str, blocked: list[_Packet],
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
        cmd = f"firewall-cmd --zone=trusted --add-interface={ap}"
        if "firewall-cmd" not in tools:
            return replace(b, hint=f"firewall-cmd is not installed: run the equivalent of `{cmd}`, "
                                   "or set FIREWALL=ignore")
        return replace(b, remedy=Action("firewalld", ap, zone="trusted", why=where), safe=True,
                       hint=f"hotshare runs `{cmd}` (runtime only)")
    if owner in ("docker", "iptables"):
        rules = iptables_rules(ap, uplinks, hook)
        targets = ["DOCKER-USER", chain] if owner == "docker" else [chain]
        target = next((c for c in targets if _clears(walker, base, (family, table, c), blocked)), None)
        shown = " and ".join(f"`iptables -I {targets[0]} {r}`" for r in rules)
        if target is None:
            return replace(b, hint=f"accept rules at the top of {' or '.join(targets)} would not help; "
                                   "make the chain accept it, or set FIREWALL=ignore")
        if "iptables" not in tools or not _NAME_RE.match(table) or not _NAME_RE.match(target):
            return replace(b, hint=f"hotshare cannot run iptables-nft here: run {shown}, or set FIREWALL=ignore")
        act = Action("iptables", ap, family, table, target, tuple(_tagged_iptables(r, ap) for r in rules), why=where)
        return replace(b, remedy=act, safe=True, hint=f"hotshare inserts accept rules at the top of {target}")
    rules = nft_rules(ap, uplinks, hook)
    shown = " and ".join(f"`{r}`" for r in rules)
    if not (_NAME_RE.match(table) and _NAME_RE.match(chain)):
        return replace(b, hint=f"add {shown} at its top, or set FIREWALL=ignore")
    act = Action("nft", ap, family, table, chain, tuple(f'{r} comment "{tag(ap)}"' for r in rules), why=where)
    return replace(b, remedy=act, safe=False,
                   hint=f"add {shown} at its top, or set FIREWALL=insert to let hotshare insert them "
                        "(removed again on stop), or set FIREWALL=ignore")


def analyse(ruleset: Mapping[str, Any], ap: str, uplinks: tuple[str, ...], subnet: ipaddress.IPv4Network,
            own_table: str, *, tools: Collection[str] | None = None) -> Analysis:
    """Every base chain but ours, in families ip and inet, that may drop
    hotspot traffic: forwarded traffic between ``ap`` and ``uplinks``, and
    DHCP and DNS from ``ap`` at the input hook. Pure, given ``tools`` (the
    names :func:`available_tools` returns; when None, it is asked)."""
    if tools is None:
        tools = available_tools()
    walker = _Walker.of(ruleset, tag(ap))
    packets = _packets(ap, uplinks, subnet)
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


# -- running the tools --------------------------------------------------------------

def _which(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
                                       if shutil.which(f"{d}/{name}")), None)


def _iptables() -> str | None:
    """An iptables that writes nftables (the tables ``nft`` shows), or None."""
    path = _which("iptables-nft")
    if path is not None:
        return path
    path = _which("iptables")
    if path is None:
        return None
    proc = subprocess.run([path, "-V"], capture_output=True, text=True, check=False)
    return path if "nf_tables" in proc.stdout else None


def _run(argv: list[str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=input, capture_output=True, text=True, check=False)


def _fail(what: str, proc: subprocess.CompletedProcess[str]) -> FirewallError:
    first = (proc.stderr.strip().splitlines() or [proc.stdout.strip() or f"exit status {proc.returncode}"])[0]
    return FirewallError(f"{what}: {first}")


def current_ruleset() -> dict[str, Any]:
    """``nft -j list ruleset``, parsed."""
    proc = _run([nft_binary(), "-j", "list", "ruleset"])
    if proc.returncode != 0:
        raise NftError(proc.stderr.strip() or "nft list ruleset failed")
    data = json.loads(proc.stdout or '{"nftables": []}')
    return data if isinstance(data, dict) else {"nftables": []}


def _xt_tagged(ap: str, table: str | None = None, chain: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(table, chain, rule spec) of the iptables-nft rules carrying our comment."""
    ipt = _iptables()
    if ipt is None:
        return []
    save = ipt[: -len("iptables-nft")] + "iptables-nft-save" if ipt.endswith("iptables-nft") else ipt + "-save"
    proc = _run([save] if table is None else [save, "-t", table])
    if proc.returncode != 0:
        raise _fail("iptables-save failed", proc)
    found, current = [], ""
    for line in proc.stdout.splitlines():
        if line.startswith("*"):
            current = line[1:].strip()
        elif line.startswith("-A "):
            words = shlex.split(line)
            spec = words[2:]
            tagged = any(a == "--comment" and b == tag(ap) for a, b in zip(spec, spec[1:]))
            if tagged and (chain is None or words[1] == chain):
                found.append((current, words[1], spec))
    return found


def _xt_remove(ap: str, table: str | None = None, chain: str | None = None) -> int:
    ipt = _iptables()
    n = 0
    for tbl, ch, spec in _xt_tagged(ap, table, chain):
        assert ipt is not None
        proc = _run([ipt, "-w", "-t", tbl, "-D", ch, *spec])
        if proc.returncode == 0:
            n += 1
        elif "does a matching rule exist" not in proc.stderr:
            raise _fail(f"cannot delete our rule from {tbl} {ch}", proc)
    return n


def _nft_tagged(ap: str, family: str, table: str, chain: str) -> list[int]:
    proc = _run([nft_binary(), "-j", "-a", "list", "chain", family, table, chain])
    if proc.returncode != 0:
        if "No such file or directory" in proc.stderr:
            return []
        raise _fail(f"cannot list table {family} {table} chain {chain}", proc)
    items = json.loads(proc.stdout or '{"nftables": []}').get("nftables", [])
    return [int(i["rule"]["handle"]) for i in items
            if "rule" in i and i["rule"].get("comment") == tag(ap)]


def _nft_delete(rules: list[tuple[str, str, str, int]]) -> int:
    """Delete rules by handle; one already gone is not an error."""
    n = 0
    for family, table, chain, handle in rules:
        proc = _run([nft_binary(), "delete", "rule", family, table, chain, "handle", str(handle)])
        if proc.returncode == 0:
            n += 1
        elif "No such file or directory" not in proc.stderr:
            raise _fail(f"cannot delete rule {handle} of table {family} {table}", proc)
    return n


def _firewalld_zone(ap: str) -> str | None:
    proc = _run(["firewall-cmd", f"--get-zone-of-interface={ap}"])
    if proc.returncode != 0:          # 2: NO_ZONE, the interface is in no zone
        return None
    return proc.stdout.strip() or None


def apply(action: Action | Mapping[str, Any]) -> dict[str, Any]:
    """Apply one action; returns its undo record (JSON-serialisable). Rules
    of ours already in the chain are replaced, so applying twice is safe."""
    act = action if isinstance(action, Action) else Action.from_dict(action)
    record = act.to_dict()
    if act.kind == "iptables":
        ipt = _iptables()
        if ipt is None:
            raise FirewallError("iptables-nft not found")
        _xt_remove(act.ap, act.table, act.chain)
        for pos, rule in enumerate(act.rules, 1):
            proc = _run([ipt, "-w", "-t", act.table, "-I", act.chain, str(pos), *shlex.split(rule)])
            if proc.returncode != 0:
                _xt_remove(act.ap, act.table, act.chain)
                raise _fail(f"cannot insert into iptables {act.table} {act.chain}", proc)
        return record
    if act.kind == "nft":
        old = _nft_tagged(act.ap, act.family, act.table, act.chain)
        _nft_delete([(act.family, act.table, act.chain, h) for h in old])
        batch = "".join(f"insert rule {act.family} {act.table} {act.chain} {r}\n" for r in reversed(act.rules))
        proc = _run([nft_binary(), "-f", "-"], input=batch)
        if proc.returncode != 0:
            raise _fail(f"cannot insert into table {act.family} {act.table} chain {act.chain}", proc)
        record["handles"] = _nft_tagged(act.ap, act.family, act.table, act.chain)
        return record
    if act.kind == "firewalld":
        if _which("firewall-cmd") is None:
            raise FirewallError("firewall-cmd not found")
        before = _firewalld_zone(act.ap)
        record["previous_zone"] = before
        record["changed"] = before != act.zone
        if before != act.zone:
            verb = "--add-interface" if before is None else "--change-interface"
            proc = _run(["firewall-cmd", f"--zone={act.zone}", f"{verb}={act.ap}"])
            if proc.returncode != 0:
                raise _fail(f"firewall-cmd cannot put {act.ap} into zone {act.zone}", proc)
        return record
    raise FirewallError(f"unknown firewall action {act.kind!r}")


def undo(record: Mapping[str, Any]) -> None:
    """Undo what :func:`apply` did; also takes the action itself (a journal
    entry whose apply never returned). Idempotent: rules are found by their
    comment, not by the record's handles, so what is gone is not an error."""
    kind, ap = record.get("kind"), str(record.get("ap", ""))
    if not ap:
        raise FirewallError("undo record without an interface")
    if kind == "iptables":
        _xt_remove(ap, str(record["table"]), str(record["chain"]))
    elif kind == "nft":
        fam, tbl, ch = str(record["family"]), str(record["table"]), str(record["chain"])
        _nft_delete([(fam, tbl, ch, h) for h in _nft_tagged(ap, fam, tbl, ch)])
    elif kind == "firewalld":
        if record.get("changed") is False or _which("firewall-cmd") is None:
            return
        zone, prev = str(record.get("zone", "trusted")), record.get("previous_zone")
        if _firewalld_zone(ap) != zone:
            return
        args = ([f"--zone={prev}", f"--change-interface={ap}"] if prev
                else [f"--zone={zone}", f"--remove-interface={ap}"])
        proc = _run(["firewall-cmd", *args])
        if proc.returncode != 0:
            raise _fail(f"firewall-cmd cannot take {ap} out of zone {zone}", proc)
    else:
        raise FirewallError(f"unknown firewall undo record {kind!r}")


def remove_leftovers(ap: str, ruleset: Mapping[str, Any] | None = None) -> int:
    """Delete every rule, in any table, whose comment is ``hotshare:<ap>``:
    native ones from ``nft -j list ruleset``, iptables-nft ones from
    ``iptables-nft-save``. Returns how many were removed. (A firewalld zone
    change has no comment: it is undone from the journal, or by a reload.)"""
    data = current_ruleset() if ruleset is None else ruleset
    native = [(r["family"], r["table"], r["chain"], int(r["handle"]))
              for i in data.get("nftables", []) if isinstance(i, dict) and "rule" in i
              for r in (i["rule"],) if r.get("comment") == tag(ap)]
    n = _nft_delete(native)
    xt = any(isinstance(i, dict) and "table" in i and i["table"].get("family") == "ip"
             and i["table"].get("name") in (*_XT_TABLES, "nat") for i in data.get("nftables", []))
    return n + (_xt_remove(ap) if xt else 0)


__all__ = ["MODES", "Action", "Analysis", "Blocker", "FirewallError", "analyse", "apply", "available_tools",
           "current_ruleset", "iptables_rules", "nft_rules", "notes", "parse_mode", "plan_actions",
           "remove_leftovers", "rule_text", "tag", "undo"]
