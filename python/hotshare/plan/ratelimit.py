"""Per-client rate limits (RATE_LIMIT_DOWN, RATE_LIMIT_UP, CLIENT_RATE_LIMITS)
as rules and sets of the hotspot's nftables table (pure).

Why nftables in the forward chain, and not tc on the AP interface: the
limits then live in the one table, loaded in the same transaction as the
rest and gone with it on stop or on the next start after a crash (no
qdiscs to journal and undo), and the per-client buckets need no Python
when a client joins: dynamic sets make one per client in the kernel, as
its packets come (tc would need a class and a filter per client, added
and removed by the service). The price: a flowtable-offloaded flow skips
the forward chain, so a limited client's flows are kept off the flowtable
(:func:`offload_match`); a limited client is a slow one, so the CPU the
fast path saves is small for it, and unlimited clients keep it.

How a client is known:
* up (client to uplink): by its MAC (``ether saddr``), for IPv4 and IPv6 at once;
* down (uplink to client): the MAC is not known yet in the forward hook,
  so by destination address. The default limit has one bucket per address
  (a phone using IPv4 and IPv6 at once may get the limit on each); a
  client with its own limit has one named limit for all its addresses,
  which the kernel learns from what that MAC sends (sets with a timeout,
  refreshed by every packet it sends).

Limits police (drop what is over the rate, after a burst of
``BURST_SECONDS`` at the rate): TCP settles just under the rate.
"""

from __future__ import annotations

from ..config.model import HotspotConfig

# What the bucket holds: TCP needs a few segments of room; much more lets
# a download run over the rate for longer at its start.
BURST_SECONDS = 0.1
MIN_BURST = 16 * 1514
# A learnt address of a client with its own limit is forgotten after this
# long without a packet from it (a DHCP address given to another phone).
LEARN_TIMEOUT = "10m"
SET_SIZE = 4096


def limited(cfg: HotspotConfig) -> bool:
    return bool(cfg.rate_limit_down or cfg.rate_limit_up or any(d or u for _m, d, u in cfg.client_rate_limits))


def _limit(bits: int) -> str:
    rate = bits // 8
    return f"rate over {rate} bytes/second burst {max(int(rate * BURST_SECONDS), MIN_BURST)} bytes"


def _dynamic(name: str, kind: str, timeout: str = LEARN_TIMEOUT) -> str:
    return (f"\tset {name} {{\n\t\ttype {kind}\n\t\tsize {SET_SIZE}\n"
            f"\t\tflags dynamic,timeout\n\t\ttimeout {timeout}\n\t}}\n")


def _macs(macs: list[str]) -> str:
    return "{ " + ", ".join(macs) + " }"


def sets(cfg: HotspotConfig) -> str:
    """The sets and named limits, for the table's head ("" without limits)."""
    if not limited(cfg):
        return ""
    out = ["\n\t# rate limits (plan/ratelimit.py): per-client buckets the kernel makes as clients send\n"]
    if cfg.rate_limit_up:
        out.append(_dynamic("rate_up", "ether_addr", "1m"))
    if cfg.rate_limit_down:
        out += [_dynamic("rate_down4", "ipv4_addr", "1m"), _dynamic("rate_down6", "ipv6_addr", "1m")]
        if cfg.client_rate_limits:  # their addresses: not under the default
            out += [_dynamic("rate_own4", "ipv4_addr"), _dynamic("rate_own6", "ipv6_addr")]
    for i, (_mac, down, _up) in enumerate(cfg.client_rate_limits):
        if down:
            out += [_dynamic(f"rate_{i}_4", "ipv4_addr"), _dynamic(f"rate_{i}_6", "ipv6_addr"),
                    f"\tlimit rate_{i}_down {{\n\t\t{_limit(down)}\n\t}}\n"]
    return "".join(out)


def rules(cfg: HotspotConfig) -> str:
    """The forward chain's rules, before the offload and every accept."""
    if not limited(cfg):
        return ""
    ap = cfg.wifi_iface
    out_ = f'iifname "{ap}" oifname @uplinks'
    in_ = f'iifname @uplinks oifname "{ap}"'
    lines = ["# rate limits: over the rate, dropped (a client with its own limit first)"]
    for i, (mac, down, up) in enumerate(cfg.client_rate_limits):
        for fam, addr in (("4", "ip"), ("6", "ip6")):
            learn = ([f"update @rate_{i}_{fam} {{ {addr} saddr }}"] if down else []) + (
                [f"update @rate_own{fam} {{ {addr} saddr }}"] if cfg.rate_limit_down else [])
            if learn:
                lines.append(f"{out_} ether saddr {mac} {' '.join(learn)}")
        if up:
            lines.append(f"{out_} ether saddr {mac} limit {_limit(up)} drop")
        if down:
            lines += [f'{in_} {addr} daddr @rate_{i}_{fam} limit name "rate_{i}_down" drop'
                      for fam, addr in (("4", "ip"), ("6", "ip6"))]
    own_macs = [mac for mac, _d, _u in cfg.client_rate_limits]
    if cfg.rate_limit_up:
        unless = f"ether saddr != {_macs(own_macs)} " if own_macs else ""
        lines.append(f"{out_} {unless}update @rate_up {{ ether saddr limit {_limit(cfg.rate_limit_up)} }} drop")
    if cfg.rate_limit_down:
        for fam, addr in (("4", "ip"), ("6", "ip6")):
            unless = f"{addr} daddr != @rate_own{fam} " if own_macs else ""
            lines.append(f"{in_} {unless}update @rate_down{fam} "
                         f"{{ {addr} daddr limit {_limit(cfg.rate_limit_down)} }} drop")
    return "".join(f"\t\t{line}\n" for line in lines)


def offload_match(cfg: HotspotConfig) -> str | None:
    """What the offload rule adds so that limited clients' flows stay in the
    forward chain: "" (everyone offloaded), a MAC match, or None (no one)."""
    if not limited(cfg):
        return ""
    unlimited = [mac for mac, d, u in cfg.client_rate_limits if not d and not u]
    if cfg.rate_limit_down or cfg.rate_limit_up:
        return f"ether saddr {_macs(unlimited)} " if unlimited else None
    limited_macs = [mac for mac, d, u in cfg.client_rate_limits if d or u]
    return f"ether saddr != {_macs(limited_macs)} "
