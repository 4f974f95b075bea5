"""The checks of who else runs: no other network manager (dhcpcd,
NetworkManager, connman) manages the hotspot interface, and the hotshare
instance on it is healthy (its daemons run, or it left nothing behind)."""

from __future__ import annotations

import ipaddress
import re

from .checks_shared import need_iface
from .facts import Context
from .findings import Finding, bad, good, info

IPV4LL = ipaddress.IPv4Network("169.254.0.0/16")


def _is_ipv4ll(ctx: Context, iface: str) -> list[str]:
    found = [f"address {a}" for a in ctx.snap.addresses_of(iface) if a.ip in IPV4LL]
    found += [f"route {r.dst}" for r in ctx.snap.routes if r.ifname == iface and not r.is_default
              and r.dst.subnet_of(IPV4LL)]
    return found


def check_no_other_manager(ctx: Context) -> list[Finding]:
    """10. dhcpcd, NetworkManager or connman do not manage the AP interface (they add, remove
    or replace its addresses and routes behind hotshare's back)."""
    fid = "managers"
    if (s := need_iface(ctx, fid, "network managers")) is not None:
        return [s]
    iface = ctx.iface or ""
    local = [p for p in ctx.procs if p.same_netns]
    out = []
    ll = _is_ipv4ll(ctx, iface)
    # hotshare's own dhcpcd (DHCPv6-PD on the uplink) and its privilege-separated helpers are no manager
    own = (ctx.status.get("children") or {}).get("dhcpcd") if ctx.running else None
    dhcpcd = [p for p in local if p.comm == "dhcpcd" and p.pid != own
              and not (own and "proxy]" in " ".join(p.args))]
    on_iface = [p for p in dhcpcd if iface in p.args or any(a == iface for a in " ".join(p.args).split())]
    deny = bool(ctx.dhcpcd_conf and re.search(rf"^\s*denyinterfaces\b.*\b{re.escape(iface)}\b", ctx.dhcpcd_conf,
                                              re.M))
    dhcpcd_fix = (f"keep dhcpcd off {iface}: add `denyinterfaces {iface}` to /etc/dhcpcd.conf and release it now "
                  f"with `dhcpcd -k {iface}` (or `dhcpcd -x {iface}`)")
    if ll or on_iface:
        who = ("dhcpcd " + ", ".join(f"pid {p.pid}" for p in (on_iface or dhcpcd))) if dhcpcd else \
            "no dhcpcd runs now (something else, e.g. avahi-autoipd, or a dhcpcd that has exited)"
        evidence = "; ".join(filter(None, [
            f"IPv4 link-local on {iface}: {', '.join(ll)}" if ll else "",
            f"dhcpcd processes on {iface}: " + "; ".join(f"{p.pid} {' '.join(p.args)}" for p in on_iface)
            if on_iface else "", f"who: {who}"]))
        fix = dhcpcd_fix if dhcpcd else f"find what configures {iface} and stop it"
        if ll:
            fix += f"; then remove the 169.254 address (`ip addr del ADDR/16 dev {iface}`)"
        title = (f"a DHCP client manages {iface}: it gave it an IPv4LL address (169.254.x.x), having found "
                 "no DHCP server" if ll else f"dhcpcd runs a DHCP client on {iface}")
        out.append(bad(fid, title, evidence, fix))
    elif dhcpcd and not deny:
        out.append(info(fid, f"dhcpcd runs and may take {iface} when its link comes up",
                        "dhcpcd pids " + ", ".join(str(p.pid) for p in dhcpcd) + f"; no `denyinterfaces {iface}` "
                        "in /etc/dhcpcd.conf", dhcpcd_fix))
    nm = [p for p in local if p.comm == "NetworkManager"]
    if nm:
        state = (ctx.nm_devices or {}).get(iface)
        nm_fix = (f"`nmcli device set {iface} managed no`, and permanently: /etc/NetworkManager/conf.d/hotshare.conf "
                  f"with `[keyfile]` `unmanaged-devices=interface-name:{iface}`")
        if ctx.nm_devices is None:
            out.append(info(fid, f"NetworkManager runs (pid {nm[0].pid}); whether it manages {iface} is unknown "
                                 "(no nmcli)", "", nm_fix))
        elif state is not None and state != "unmanaged":
            out.append(bad(fid, f"NetworkManager manages {iface}", f"`nmcli -t -f DEVICE,STATE device`: "
                           f"{iface}:{state} (NetworkManager pid {nm[0].pid})", nm_fix))
    connman = [p for p in local if p.comm == "connmand"]
    if connman:
        m = re.search(r"^\s*NetworkInterfaceBlacklist\s*=\s*(.*)$", ctx.connman_conf or "", re.M)
        prefixes = [x.strip() for x in m.group(1).split(",")] if m else ["vmnet", "vboxnet", "virbr", "ifb"]
        if not any(p and iface.startswith(p) for p in prefixes):
            out.append(bad(fid, f"connman may manage {iface}",
                           f"connmand pid {connman[0].pid}; NetworkInterfaceBlacklist: {', '.join(prefixes)}",
                           f"add {iface} to NetworkInterfaceBlacklist in /etc/connman/main.conf and restart connman"))
    if not any(not f.ok for f in out):
        names = ", ".join(sorted({p.comm for p in dhcpcd + nm + connman})) or "none runs"
        out.insert(0, good(fid, f"no network manager manages {iface} (dhcpcd, NetworkManager, connman: {names})"))
    return out

def check_instance_healthy(ctx: Context) -> list[Finding]:
    """12. A running hotspot has its hostapd and dnsmasq; a dead one left no leftovers."""
    fid = "instance"
    if (s := need_iface(ctx, fid, "hotshare instance")) is not None:
        return [s]
    iface = ctx.iface
    st = ctx.status
    if st.get("stale"):
        return [bad(fid, f"hotshare on {iface} stopped without cleaning up (crashed or killed)",
                    f"its journal {ctx.journal_path or 'exists'} lists its changes, but no hotshare process "
                    f"runs for {iface}",
                    f"`hotshare down {iface}` undoes what it left (address, nftables table, sysctls, daemons)")]
    if not st.get("running"):
        return [good(fid, f"hotshare is not running on {iface} and left nothing behind")]
    alive = st.get("children") or {}
    dead = [n for n in ctx.journal_children if n not in alive]
    out = []
    for name in dead:
        out.append(bad(fid, f"{name} is not running under hotshare on {iface}",
                       f"hotshare pid {st.get('pid')}; {name} was pid {ctx.journal_children[name]}, now gone",
                       f"hotshare restarts it by itself; if it stays down, read why in hotshare's log "
                       f"(syslog: `logread | grep -e hotshare -e {name}`), then `hotshare down {iface}` and "
                       "start it again"))
    ap = st.get("ap") or {}
    if "hostapd" in alive and ap.get("state") and ap.get("state") != "ENABLED":
        out.append(bad(fid, f"hostapd runs but the access point is {ap.get('state')}",
                       f"hostapd STATUS: state={ap.get('state')} channel={ap.get('channel')}",
                       "see hostapd's lines in the log; a DFS channel waits 60 s, a disabled one never starts"))
    if not out:
        kids = ", ".join(f"{n} pid {p}" for n, p in alive.items()) or "no daemons"
        out.append(good(fid, f"hotshare runs on {iface} (pid {st.get('pid')}): {kids}"))
    return out
