"""The 4G uplink as it behaves in the field: a path MTU below 1500 (a TCP
black hole without MSS clamping) and a carrier-grade NAT address."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..plan.ipv6 import ipv6_mode
from ..plan.network import current_uplinks, table_name
from .facts import Context
from .findings import Finding, bad, good, info, skip

CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


def clamp_loaded(ruleset: list[dict[str, Any]] | None, table: str) -> bool:
    """Our table has its MSS clamping chain (a rule setting the TCP maxseg option)."""
    for item in ruleset or []:
        rule = item.get("rule")
        if (isinstance(rule, dict) and rule.get("table") == table and rule.get("chain") == "mtu_fix"
                and "maxseg" in repr(rule.get("expr", []))):
            return True
    return False


def check_uplink_path(ctx: Context) -> list[Finding]:
    """12. The uplink in use: its MTU (a PMTU black hole unless MSS is clamped) and CGNAT."""
    fid = "uplink-path"
    if not ctx.sharing or not ctx.iface:
        return [skip(fid, "uplink path: SHARE_METHOD is not nat" if ctx.iface else "uplink path: no interface")]
    _names, best = current_uplinks(ctx.config, ctx.snap)
    if best is None:
        return [skip(fid, "uplink path: no uplink in use")]
    out: list[Finding] = []
    mtu = ctx.snap.mtu_of(best)
    evidence = f"{best} mtu {mtu}"
    if 0 < mtu < 1500:
        table = table_name(ctx.iface)
        if not ctx.running:
            out.append(info(fid, f"{best}'s MTU is {mtu}: hotshare clamps TCP MSS to it and offers it by DHCP",
                            evidence))
        elif clamp_loaded(ctx.ruleset, table):
            out.append(good(fid, f"{best}'s MTU is {mtu} and TCP MSS is clamped to it (table {table})", evidence))
        else:
            out.append(bad(fid, f"{best}'s MTU is {mtu} but TCP MSS is not clamped: large downloads may stall "
                                "(a path-MTU black hole: pages start, then hang)", evidence + f"; no mtu_fix "
                                f"rule in table inet {table}",
                           "restart the hotspot (`hotshare down` and up) to reload its table; check that "
                           "nothing else flushed it (`nft list table inet " + table + "`)"))
    addrs = [a for a in ctx.snap.addresses_of(best) if a.ip in CGNAT]
    if addrs:
        out.append(info(fid, f"{best} has a carrier-grade NAT address ({addrs[0].ip}): connections from the "
                             "internet cannot reach the board or its clients", f"{addrs[0]} is in {CGNAT}",
                        "for inbound access use a tunnel or VPN the board dials out to, or ask the operator "
                        "for a public address (APN)"))
    if not out:
        out.append(good(fid, f"the uplink {best} has MTU {mtu or 'unknown'} and no carrier-grade NAT address",
                        evidence))
    return out


def check_ipv6(ctx: Context) -> list[Finding]:
    """13. Which IPv6 mode applies to the clients (IPV6=auto|off|nat66) and why."""
    fid = "ipv6"
    if not ctx.iface:
        return [skip(fid, "IPv6: no interface")]
    cfg = ctx.config
    if ctx.running and ctx.status.get("ipv6"):
        now = str(ctx.status["ipv6"])
        return [info(fid, f"IPv6 for the clients: {now}", f"IPV6={cfg.ipv6}; the running hotspot's state")]
    _names, best = current_uplinks(cfg, ctx.snap) if cfg.share_method == "nat" else ((), None)
    mode = ipv6_mode(cfg, ctx.snap, best)
    evidence = f"IPV6={cfg.ipv6}" + (f"; {best}: " + (", ".join(str(a) for a in ctx.snap.global6_of(best))
                                                      or "no global IPv6 address") if best else "")
    return [info(fid, f"IPv6 for the clients: {mode.text()}{_delegated(ctx, best)}", evidence)]


def _delegated(ctx: Context, best: str | None) -> str:
    """What a delegated prefix (DHCPv6-PD, asked for only at start) would change."""
    if ctx.config.ipv6 != "auto" or not ctx.sharing or best is None:
        return ""
    if ctx.dhcpcd_binary == "":
        return "; no delegated prefix: dhcpcd is not installed (Debian: dhcpcd-base; Buildroot: BR2_PACKAGE_DHCPCD)"
    if ctx.dhcpcd_manager:
        return (f"; no delegated prefix: a dhcpcd manager runs ({ctx.dhcpcd_manager}), hotshare starts no dhcpcd "
                f"of its own (its dhcpcd.conf can ask: ia_pd 1 {ctx.iface}/0/64)")
    return f"; a delegated prefix (DHCPv6-PD), if {best} offers one, comes first: dhcpcd asks for it at start"
