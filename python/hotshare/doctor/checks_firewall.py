"""The firewall check: no other firewall (Docker, firewalld, a distribution's
nftables or iptables rules) drops the hotspot's forwarded traffic.

The rules are walked by :mod:`hotshare.coexist.analysis`; this module says
what each blocker means for the hotspot, running or not."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..coexist import analysis as firewall
from ..plan.network import current_uplinks, table_name
from .checks_shared import hotspot_gateway, hotspot_subnet
from .facts import Context
from .findings import Finding, bad, good, info, skip


def _forward_drop_chains(ruleset: list[dict[str, Any]], own_table: str) -> list[dict[str, Any]]:
    out = []
    for item in ruleset:
        ch = item.get("chain")
        if (ch and ch.get("hook") == "forward" and ch.get("policy") == "drop" and ch.get("family") in ("ip", "inet")
                and ch.get("table") != own_table):
            out.append(ch)
    return out


def _policy_drop_only(ctx: Context, why_not: str) -> list[Finding]:
    """The fallback when firewall.analyse cannot run: base chains at the
    forward hook whose policy is drop."""
    iface = ctx.iface or "wlan0"
    out = []
    for ch in _forward_drop_chains(ctx.ruleset or [], table_name(iface)):
        fam, table, name = ch.get("family"), ch.get("table"), ch.get("name")
        out.append(bad("firewall", f"another firewall drops forwarded traffic: table {fam} {table} chain {name} "
                                   "(policy drop)",
                       f"type {ch.get('type')} hook forward priority {ch.get('prio')}; policy drop "
                       f"(rules not analysed: {why_not})",
                       f"let the hotspot through: `nft insert rule {fam} {table} {name} iifname \"{iface}\" accept` "
                       f"and `nft insert rule {fam} {table} {name} oifname \"{iface}\" ct state established,related "
                       "accept`"))
    return out or [good("firewall", "no other firewall drops forwarded traffic (no forward chain with policy drop)")]


def _by_hand(action: Any) -> str:
    """The commands that do what a firewall.Action does."""
    untag = re.compile(r' -m comment --comment \S+| comment "[^"]*"')   # hotshare's own marker
    if action.kind == "iptables":
        return " and ".join(f"`iptables -t {action.table} -I {action.chain} {untag.sub('', r)}`"
                            for r in action.rules)
    if action.kind == "nft":
        return " and ".join(f"`nft insert rule {action.family} {action.table} {action.chain} {untag.sub('', r)}`"
                            for r in action.rules)
    return f"`firewall-cmd --zone={action.zone} --add-interface={action.ap}`"


def check_forward_not_dropped(ctx: Context) -> list[Finding]:
    """9. No other firewall drops the hotspot's traffic (Docker, for one, sets FORWARD's policy to drop).

    An ``accept`` in hotshare's own table does not stop another base chain at
    the same hook from dropping the packet. hotshare.firewall walks the other
    tables' rules with model packets of hotspot traffic; hotshare itself makes
    the traffic pass where that is safe (FIREWALL=auto) and refuses to start
    otherwise, so the doctor says which case each blocker is."""
    fid = "firewall"
    if not ctx.sharing:
        return [skip(fid, "other firewalls: SHARE_METHOD is not nat")]
    if ctx.ruleset is None:
        return [skip(fid, f"other firewalls: nftables ruleset not read ({ctx.ruleset_error or 'unknown'})")]
    iface = ctx.iface or "wlan0"
    uplinks, _best = current_uplinks(ctx.config, ctx.snap)
    net, _source = hotspot_subnet(ctx)
    if net is None:
        gw = hotspot_gateway(ctx)
        net = ipaddress.IPv4Interface(f"{gw or '192.168.12.1'}/24").network
    mode = getattr(ctx.config, "firewall", "auto")
    try:
        analysis = firewall.analyse({"nftables": ctx.ruleset}, iface, uplinks, net, table_name(iface),
                                    tools=ctx.firewall_tools)
    except Exception as e:  # another module's analysis failing must not hide the simple case
        return _policy_drop_only(ctx, f"hotshare.firewall: {e!r}")
    out = []
    for b in analysis.blockers:
        title = f"another firewall drops {b.traffic}: {b.where} ({b.why})"
        evidence = f"{b.where}, hook {b.hook}: {b.why} ({b.owner}; from `nft list ruleset`)"
        fixable = b.remedy is not None and mode != "ignore" and (b.safe or mode == "insert")
        handled = [a for a in ctx.journal_firewall if a.get("family", b.family) == b.family and (
            a.get("table") == b.table or (a.get("kind") == "firewalld" and b.owner == "firewalld"))]
        if ctx.running and handled:
            where = ", ".join(f"{a.get('kind')} {a.get('table') or a.get('zone')} {a.get('chain') or ''}".rstrip()
                              for a in handled)
            out.append(info(fid, f"{b.where} drops {b.traffic} by itself; hotshare's rules let the hotspot through",
                            f"{evidence}; applied by hotshare: {where}"))
        elif not ctx.running and fixable:
            out.append(info(fid, f"{b.where} drops {b.traffic}: hotshare makes its traffic pass at start",
                            evidence, b.hint))
        elif ctx.running:
            manual = _by_hand(b.remedy) if b.remedy is not None else ""
            fix = (f"restart the hotspot (`hotshare down {iface}`, then up): at start {b.hint}" if fixable
                   else b.hint)
            out.append(bad(fid, title, evidence, fix + (f"; by hand: {manual}" if manual else "")))
        elif mode == "ignore":
            manual = _by_hand(b.remedy) if b.remedy is not None else "accept rules for the hotspot"
            out.append(bad(fid, title, evidence + "; FIREWALL=ignore",
                           f"set FIREWALL=auto so hotshare makes its traffic pass, or add by hand: {manual}"))
        else:
            out.append(bad(fid, title + ": hotshare will refuse to start", evidence, b.hint))
    if not out:
        out.append(good(fid, "no other firewall drops the hotspot's traffic"))
    return out
