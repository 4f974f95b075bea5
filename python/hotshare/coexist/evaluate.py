"""Evaluate an ``nft -j list ruleset`` against model packets (pure).

netfilter runs every base chain registered at a hook; an ``accept`` in our
table ends the packet's walk through *our* chain only, so another table's
``policy drop`` still drops hotspot traffic. :class:`Walker` follows a model
packet through one base chain (jumps, gotos, verdict maps, sets) and says
how the chain ends for it. It is pessimistic: a match it cannot decide
(limits, opaque iptables matches) counts as "may match" for a drop and as
"may not match" for an accept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .ruletext import rule_text

JUMP_LIMIT = 16                          # the kernel's own limit on nested jumps
INTERNET = ipaddress.IPv4Network("93.184.215.14/32")   # a typical destination
NO_UPLINK = "\x00uplink"                # an uplink whose name no rule can mention
_PROTO_NUM = {"icmp": 1, "tcp": 6, "udp": 17}
_SERVICES = {"domain": 53, "bootps": 67, "bootpc": 68, "http": 80, "https": 443}

Tri = Optional[bool]                     # True, False, or None: cannot tell


@dataclass(frozen=True)
class Packet:
    """One model packet: where it comes in and goes out, addresses, ports, conntrack state."""

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


def hotspot_packets(ap: str, uplinks: tuple[str, ...], subnet: ipaddress.IPv4Network) -> list[Packet]:
    out: list[Packet] = []
    for up in uplinks or (NO_UPLINK,):
        for proto, port in (("tcp", 443), ("udp", 53), ("icmp", None)):
            sport = 40000 if port else None
            for ct in ("new", "established"):
                out.append(Packet("forward", "forward", ap, up, subnet, INTERNET, proto, sport, port, ct))
            out.append(Packet("forward", "reply", up, ap, INTERNET, subnet, proto, port, sport, "established"))
    host = ipaddress.IPv4Network("0.0.0.0/32")
    bcast = ipaddress.IPv4Network("255.255.255.255/32")
    out += [
        Packet("input", "DHCP", ap, None, host, bcast, "udp", 68, 67, "new", "broadcast"),
        Packet("input", "DHCP", ap, None, subnet, subnet, "udp", 68, 67, "new"),
        Packet("input", "DNS", ap, None, subnet, subnet, "udp", 40000, 53, "new"),
        Packet("input", "DNS", ap, None, subnet, subnet, "tcp", 40000, 53, "new"),
        Packet("input", "DNS", ap, None, subnet, subnet, "tcp", 40000, 53, "established"),
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
        return int(e) if e.isascii() and e.isdigit() else names.get(e)
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
class Walker:
    """Walks chains of one ruleset for one model packet at a time."""

    chains: dict[Key, dict[str, Any]]
    rules: dict[Key, list[dict[str, Any]]]
    sets: dict[Key, list[Any]]
    skip_tag: str
    inject: frozenset[Key] = frozenset()   # chains with our accept rules simulated at the top
    within_limits: bool = False             # the packet is under every per-element limit (ct count over N)
    base: str = ""
    maybe: str = ""                         # the first drop that may match

    @classmethod
    def of(cls, ruleset: Mapping[str, Any], skip_tag: str) -> Walker:
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
    def _value(self, left: Any, p: Packet) -> tuple[str, Any] | object:
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

    def _match(self, key: Key, m: Any, p: Packet) -> Tri:
        if not isinstance(m, dict):
            return None
        right, op = m.get("right"), m.get("op", "==")
        if op in ("==", "in") and isinstance(right, str) and right.startswith("@") and \
                self.sets.get((key[0], key[1], right[1:])) == []:
            return False  # nothing is in an empty set, whatever the packet's side (ether saddr...)
        val = self._value(m.get("left"), p)
        if val is _ABSENT:
            return False
        if val is _UNKNOWN or not isinstance(val, tuple):
            return None
        kind, v = val
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

    def walk(self, key: Key, p: Packet, depth: int = 0) -> tuple[str, str]:
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

    def _rule(self, key: Key, rule: Mapping[str, Any], p: Packet, depth: int) -> tuple[str, str] | None:
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
            elif name == "set" and isinstance(body, dict) and body.get("stmt"):
                # a per-element limit (`add @s { ip saddr ct count over N }`) matches only past it
                if self.within_limits:
                    return None
                cond = _and(cond, None)
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
                 p: Packet, depth: int) -> tuple[str, str] | None:
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
              p: Packet, depth: int) -> tuple[str, str] | None:
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

    def base_verdict(self, key: Key, p: Packet) -> tuple[str, str]:
        self.base, self.maybe = key[2], ""
        out = self.walk(key, p)
        if out[0] == "next" and self.chains[key].get("policy") == "drop":
            return "drop", "policy drop"
        if out[0] == "drop":
            return out
        return ("drop", self.maybe) if self.maybe else ("accept", "")
