"""The network checks: netfilter features, the DNS and DHCP ports free, an
uplink with a default route, upstream DNS answering, the subnet free, and IPv4
forwarding on."""

from __future__ import annotations

import dataclasses
import re

from ..config import ConfigError
from ..plan.model import Route, Snapshot
from ..plan.network import choose_gateway, collisions, current_uplinks
from .checks_shared import hotspot_gateway, hotspot_subnet, need_iface
from .facts import Context
from .findings import Finding, bad, good, info, skip
from .nft_probe import FLOW_PROBE, FLOWTABLE_OPTIONS, NAT_PROBE, explain_probe


def _route_text(r: Route, snap: Snapshot) -> str:
    link = snap.link(r.ifname)
    state = "" if link is None or link.up else " (link down)"
    via = f" via {r.gateway}" if r.gateway else ""
    return f"default{via} dev {r.ifname} metric {r.metric}{state}"


def _proc_text(pid: int, comm: str) -> str:
    return f"{comm} (pid {pid})"


def check_netfilter_features(ctx: Context) -> list[Finding]:
    """4. The kernel has the nftables features hotshare's NAT table needs."""
    fid = "netfilter"
    if not ctx.sharing:
        return [skip(fid, "netfilter: SHARE_METHOD is not nat")]
    if ctx.nft_missing:
        return [bad(fid, "nft is not installed", ctx.nft_missing,
                    "install nftables (Debian: apt-get install nftables; Buildroot: BR2_PACKAGE_NFTABLES)")]
    if "JSON support not compiled-in" in ctx.ruleset_error:
        # hotshare reads rulesets as `nft -j` (its own table's state, other firewalls)
        return [bad(fid, "nft was built without JSON support, which hotshare needs", f"`nft -j`: {ctx.ruleset_error}",
                    "build nftables with JSON (Buildroot: BR2_PACKAGE_NFTABLES_JSON=y, which the hotshare "
                    "package selects; from source: ./configure --with-json)")]
    if ctx.probe_error is None:
        return [skip(fid, f"netfilter: not probed ({ctx.probe_skipped or 'unknown reason'})")]
    out: list[Finding] = []
    if ctx.probe_error:
        why = explain_probe(ctx.probe_error, NAT_PROBE)
        evidence = "`nft -c` of a table like hotshare's: " + "; ".join(
            ln.strip() for ln in ctx.probe_error.splitlines() if "Error" in ln)
        if why.missing:
            names = ", ".join(f for f, _ in why.missing)
            options = ", ".join(dict.fromkeys(o for _, o in why.missing))
            out.append(bad(fid, f"the kernel lacks netfilter features hotshare needs: {names}", evidence,
                           f"enable {options} in the kernel configuration (=m or =y) and rebuild; "
                           "if they are modules, check that they load (`modprobe nft_chain_nat nft_masq nft_ct`; "
                           "before Linux 5.1 nft_chain_nat_ipv4)"))
        if why.userspace:
            out.append(bad(fid, "nft cannot parse the rules hotshare loads", "; ".join(why.userspace),
                           "install a newer nftables (0.9.4 or later)"))
        if why.other and not out:
            hint = ("CONFIG_NF_TABLES" if re.search(r"Protocol not supported|cache initialization", ctx.probe_error)
                    else "CONFIG_NF_TABLES and CONFIG_NF_TABLES_INET")
            out.append(bad(fid, "nftables does not work here", "; ".join(why.other),
                           f"enable {hint} in the kernel (and run as root)"))
    else:
        out.append(good(fid, "the kernel supports hotshare's nftables table (inet family, NAT, masquerade, "
                             "conntrack)"))
    if ctx.flowtable_error:
        flow = explain_probe(ctx.flowtable_error, FLOW_PROBE)
        first = next((ln.strip() for ln in ctx.flowtable_error.splitlines() if "Error" in ln), "")
        if flow.missing or flow.other:
            out.append(info("flowtable", "no nftables flowtable support: hotshare forwards without its "
                                         "fast path (optional)", f"`nft -c` of a flowtable: {first}",
                            f"for faster forwarding enable {FLOWTABLE_OPTIONS}"))
    elif ctx.flowtable_error == "":
        out.append(info("flowtable", "the kernel supports nftables flowtables (forwarding offload)"))
    return out


PORT_NAMES = {53: "DNS", 67: "DHCP"}


def check_ports_free(ctx: Context) -> list[Finding]:
    """5. No other process holds the DNS or DHCP port dnsmasq needs."""
    fid = "ports"
    cfg = ctx.config
    if cfg.no_dnsmasq:
        return [skip(fid, "ports: NO_DNSMASQ=1")]
    ports = [67] if cfg.no_dns else [53, 67]
    own: set[int] = set()
    if ctx.running:
        own = {int(pid) for name, pid in (ctx.status.get("children") or {}).items() if name == "dnsmasq"}
    # hotshare's dnsmasq binds the hotspot's addresses only (bind-interfaces,
    # except-interface=lo): a resolver on the loopback does not collide
    ours: set[str] = {"0.0.0.0", "::"}
    gw = hotspot_gateway(ctx)
    if gw is not None:
        ours.add(str(gw))
    if ctx.iface:
        ours.update(str(a.ip) for a in ctx.snap.addresses_of(ctx.iface))
    out = []
    for port in ports:
        holders: dict[tuple[int, str], list[str]] = {}
        for s in ctx.sockets:
            if s.port != port or (port == 53 and s.addr not in ours):
                continue
            pid, comm = ctx.owners.get(s.inode, (0, "an unknown process"))
            if pid in own:
                continue
            addr = f"[{s.addr}]" if ":" in s.addr else s.addr
            holders.setdefault((pid, comm), []).append(f"{s.proto} {addr}:{port}")
        if not holders:
            continue
        who = "; ".join(f"{', '.join(socks)} held by " + (_proc_text(pid, comm) if pid else comm)
                        for (pid, comm), socks in holders.items())
        if not ctx.owners_known:
            who += " (run as root to see which process)"
        names = {comm for _pid, comm in holders}
        if "dnsmasq" in names:
            fix = ("another dnsmasq serves every interface: stop it (`/etc/init.d/S80dnsmasq stop`, "
                   "`systemctl disable --now dnsmasq`) or give it `bind-interfaces` and "
                   f"`except-interface={ctx.iface or 'wlan0'}`")
        elif port == 53:
            fix = ("stop that DNS server, or make it listen only on addresses other than the hotspot's "
                   "(not 0.0.0.0 or 127.0.0.1); or run hotshare with NO_DNS=1 and DHCP_DNS=<a DNS server>")
        else:
            fix = f"stop that DHCP server, or restrict it to interfaces other than {ctx.iface or 'the hotspot'}"
        out.append(bad(fid, f"port {port} ({PORT_NAMES[port]}) is taken by " + ", ".join(sorted(names)), who, fix))
    if not out:
        out.append(good(fid, "port" + ("s 53 and 67 are" if len(ports) == 2 else " 67 is") + " free for dnsmasq"))
    return out


def check_uplink_has_default_route(ctx: Context) -> list[Finding]:
    """6. An uplink carries a default route (else clients have no internet)."""
    fid = "uplink"
    if not ctx.sharing:
        return [skip(fid, "uplink: SHARE_METHOD is not nat")]
    cfg = ctx.config
    names, best = current_uplinks(cfg, ctx.snap)
    defaults = ctx.snap.default_routes()
    evidence = "default routes: " + ("; ".join(_route_text(r, ctx.snap) for r in defaults) or "none")
    if cfg.uplinks:
        evidence += f"; INTERNET_IFACE={','.join(cfg.uplinks)}"
    if best is not None:
        route = next(r for r in defaults if r.ifname == best)
        others = [n for n in names if n != best]
        return [good(fid, f"the uplink {best} has a default route (metric {route.metric})"
                          + (f"; also ready: {', '.join(others)}" if others else ""))]
    up_elsewhere = [r.ifname for r in defaults if r.ifname != ctx.iface and (lk := ctx.snap.link(r.ifname))
                    and lk.up]
    if cfg.uplinks and up_elsewhere:
        fix = (f"the default route is via {', '.join(dict.fromkeys(up_elsewhere))}: add it to INTERNET_IFACE, "
               "or leave INTERNET_IFACE unset to follow the default route")
    elif cfg.uplinks:
        fix = (f"bring {' or '.join(cfg.uplinks)} up with a default route (is the modem dialled? `ip link`, "
               "`ip route`); hotshare follows it when it appears")
    else:
        fix = ("connect an uplink: no interface has a default route (check the modem/ppp, the Ethernet "
               "cable or the DHCP client; `ip route add default via GATEWAY dev IFACE` by hand)")
    return [bad(fid, "no uplink has a default route: clients will have no internet", evidence, fix)]


def check_upstream_dns_answers(ctx: Context) -> list[Finding]:
    """7. The upstream DNS servers dnsmasq forwards to answer."""
    fid = "dns"
    cfg = ctx.config
    if cfg.no_dnsmasq or cfg.no_dns:
        return [skip(fid, "upstream DNS: hotshare runs no DNS server (NO_DNS/NO_DNSMASQ)")]
    if not ctx.dns_servers:
        return [bad(fid, "no upstream DNS server is configured",
                    f"UPSTREAM_DNS is unset, {cfg.dns_servers_file} has no server= line and "
                    "/etc/resolv.conf has no nameserver",
                    "set UPSTREAM_DNS=<server>[,<server>] (e.g. your operator's resolvers)")]
    answered = [r for r in ctx.dns_results if r.ok]
    evidence = f"servers from {ctx.dns_source}: " + "; ".join(f"{r.server} {r.detail}" for r in ctx.dns_results)
    if answered:
        failed = [r.server for r in ctx.dns_results if not r.ok]
        return [good(fid, f"upstream DNS answers ({len(answered)} of {len(ctx.dns_results)} servers"
                          + (f"; not {', '.join(failed)}" if failed else "") + ")", evidence)]
    fix = {"UPSTREAM_DNS": "check the UPSTREAM_DNS servers (try `nslookup . SERVER`) or use others"}.get(
        ctx.dns_source,
        f"fix or replace the servers in {ctx.dns_source}, or set UPSTREAM_DNS=<server> for the hotspot")
    _names, best = current_uplinks(cfg, ctx.snap)
    if best is None and ctx.sharing:
        fix = "first give the system an uplink with a default route (see above); then " + fix
    return [bad(fid, "no upstream DNS server answers: clients will not resolve names", evidence, fix)]


def check_subnet_free(ctx: Context) -> list[Finding]:
    """8. The hotspot's subnet overlaps no other interface's address or route (else the
    routes to its clients and to that other network clash)."""
    fid = "subnet"
    if (s := need_iface(ctx, fid, "subnet")) is not None:
        return [s]
    iface = ctx.iface or ""
    net, source = hotspot_subnet(ctx)
    if net is None:
        try:
            gw = choose_gateway(ctx.config, ctx.snap)
        except ConfigError as e:
            return [bad(fid, "no free subnet is left for the hotspot", str(e), "set GATEWAY to a free address")]
        return [good(fid, f"GATEWAY is unset: hotshare picks a free subnet ({gw.network} now)")]
    hits = collisions(net, ctx.snap, iface)
    if not hits:
        return [good(fid, f"the hotspot subnet {net} ({source}) overlaps nothing else")]
    try:
        free = choose_gateway(dataclasses.replace(ctx.config, gateway=None), ctx.snap)
        suggestion = f"GATEWAY={free.ip} (free now)"
    except ConfigError:
        suggestion = "a GATEWAY in a free subnet"
    fix = (f"choose {suggestion}, or leave GATEWAY unset and hotshare picks a free one"
           + (f"; then restart the hotspot (`hotshare down {iface}` and up again)" if ctx.running else ""))
    return [bad(fid, f"the hotspot subnet {net} overlaps the {hits[0]}",
                f"{source}; overlapping: " + "; ".join(hits), fix)]

def check_ip_forwarding(ctx: Context) -> list[Finding]:
    """11. IPv4 forwarding is on for the hotspot and its uplinks (per input interface)."""
    fid = "forwarding"
    if (s := need_iface(ctx, fid, "forwarding")) is not None:
        return [s]
    if not ctx.sharing:
        return [skip(fid, "forwarding: SHARE_METHOD is not nat")]
    iface = ctx.iface or ""
    names, _best = current_uplinks(ctx.config, ctx.snap)
    wanted = [n for n in (iface, *names) if ctx.snap.link(n) is not None]
    off = [n for n in wanted if ctx.sysctls.get(f"net/ipv4/conf/{n}/forwarding") == "0"]
    evidence = "; ".join(f"net.ipv4.conf.{n}.forwarding = {ctx.sysctls.get(f'net/ipv4/conf/{n}/forwarding')}"
                         for n in wanted)
    if not off:
        return [good(fid, f"IPv4 forwarding is on for {', '.join(wanted)}") if ctx.running and wanted else
                good(fid, "IPv4 forwarding: hotshare turns it on for the hotspot and its uplinks at start")]
    if not ctx.running:
        return [info(fid, f"IPv4 forwarding is off for {', '.join(off)}: hotshare turns it on at start", evidence)]
    return [bad(fid, f"IPv4 forwarding is off for {', '.join(off)} while the hotspot runs", evidence,
                " ; ".join(f"`sysctl -w net.ipv4.conf.{n}.forwarding=1`" for n in off)
                + "; then find what turned it off (a `sysctl --system` or network script run after hotshare "
                  "started); restarting the hotspot sets it again")]
