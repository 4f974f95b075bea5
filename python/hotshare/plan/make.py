"""make_plan: from the validated configuration and the facts to the whole plan (pure).

First the decisions (interface, subnet, uplinks, sysctls, bridge), then what
follows from them: the link operations, the generated files, the children's
command lines, our nftables table and the remedies in other firewalls.
"""

from __future__ import annotations

import dataclasses

from ..coexist.analysis import analyse, notes, plan_actions
from ..config import ConfigError, HotspotConfig
from ..errors import StartError
from . import ops
from .dnsmasq import dnsmasq_conf
from .facts import Facts
from .hostapd import hostapd_conf, mac_list
from .ipv6 import ipv6_mode, ipv6_sysctls
from .network import (
    ACCT_SYSCTL,
    bridge_name,
    check_bridgeable,
    choose_gateway,
    current_uplinks,
    dhcp_range,
    forwarding_sysctls,
    table_name,
)
from .paths import Paths
from .plan import BridgePlan, ChildSpec, GeneratedFile, Plan
from .regulatory import Scan, choose_channel
from .ruleset import nft_ruleset
from .samecard import same_card
from .uplink_dns import Server, resolv_file_text

COMES_AND_GOES = ("ppp", "wwan", "usb")   # modem, QMI/MBIM module, USB tethering

# Where Buildroot's package for each program is, for the message when one is missing.
PACKAGES = {"hostapd": "BR2_PACKAGE_HOSTAPD", "dnsmasq": "BR2_PACKAGE_DNSMASQ"}


def make_plan(cfg: HotspotConfig, facts: Facts) -> Plan:
    return _consequences(decide(cfg, facts), facts)


def decide(cfg: HotspotConfig, facts: Facts) -> Plan:
    snap = facts.snapshot
    radio_iface = cfg.virt_of or cfg.wifi_iface
    if snap.link(radio_iface) is None:
        raise ConfigError("WIFI_IFACE", f"there is no interface {radio_iface}",
                          "check `ip link`; for a USB dongle, plug it in first")
    if cfg.virt_of and snap.link(cfg.wifi_iface) is not None:
        raise ConfigError("VIRT_NAME", f"{cfg.wifi_iface} exists already",
                          f"choose another --virt-name, or remove it (iw dev {cfg.wifi_iface} del)")
    cfg, card = same_card(cfg, facts.card)
    # The uplinks are followed as they come and go: ppp0 exists only while
    # the modem is connected, usb0 while a phone tethers, wwan0 once the
    # module enumerates. Any other one named must exist (a typo is caught).
    for up in cfg.uplinks:
        if snap.link(up) is None and not up.startswith(COMES_AND_GOES):
            raise ConfigError("INTERNET_IFACE", f"there is no interface {up}",
                              "check `ip link` (only ppp*, wwan* and usb* links may be missing at start)")
    bridge = None
    if cfg.share_method == "bridge":
        up = cfg.uplinks[0]
        if snap.link(up) is None:
            raise ConfigError("INTERNET_IFACE", f"there is no interface {up} to bridge", "check `ip link`")
        check_bridgeable(up, facts.wifi_uplinks)
        bridge = BridgePlan(bridge_name(cfg.wifi_iface), up, tuple(str(a) for a in snap.addresses_of(up)),
                            tuple((str(r.dst), str(r.gateway), r.metric) for r in snap.routes
                                  if r.ifname == up and r.table == 254 and r.gateway))
    channel, chanlist = choose_channel(cfg, facts.radio) if facts.wireless else (cfg.band_channel, ())
    gw = choose_gateway(cfg, snap)
    uplinks, best = current_uplinks(cfg, snap) if cfg.share_method == "nat" else ((), None)
    present = tuple(u for u in uplinks if snap.link(u) is not None)
    static = cfg.upstream_dns or facts.servers_file
    from_links = cfg.share_method == "nat" and not static and not cfg.uplink_dns
    follows = cfg.share_method == "nat" and (from_links or bool(cfg.uplink_dns))
    servers = (*(Server(ip, up) for ip, up in cfg.uplink_dns), *(Server(ip) for ip in static),
               *(facts.link_dns if from_links else ()))
    return Plan(
        cfg=cfg, paths=Paths(facts.rundir, facts.statedir, cfg.wifi_iface), wireless=facts.wireless,
        gateway=gw, dhcp_range=dhcp_range(gw), uplinks=uplinks, best_uplink=best,
        upstream_dns=static, table=table_name(cfg.wifi_iface),
        dns_servers=tuple(dict.fromkeys(servers)) if follows else (), dns_follows=follows,
        dns_from_links=from_links, uplink_mtu=snap.mtu_of(best),
        sysctls=({**forwarding_sysctls(cfg.wifi_iface, present), ACCT_SYSCTL: "1",
                  **(ipv6_sysctls(cfg.wifi_iface, present) if cfg.ipv6 != "off" else {})}
                 if cfg.share_method == "nat" else {}),
        ipv6=ipv6_mode(cfg, snap, best),
        bridge_plan=bridge, same_card=card, channel=channel, chanlist=chanlist,
        radio=facts.radio if facts.wireless else None,
    )


def _consequences(plan: Plan, facts: Facts) -> Plan:
    cfg, p = plan.cfg, plan.paths
    files = []
    if plan.wireless:
        files += [GeneratedFile(p.hostapd_conf, 0o600, hostapd_conf(plan), hostapd_conf(plan, mask_secret=True)),
                  GeneratedFile(p.accept_file, 0o600, mac_list(cfg.mac_accept)),
                  GeneratedFile(p.deny_file, 0o600, mac_list(cfg.mac_deny))]
    if plan.runs_dnsmasq:
        files.append(GeneratedFile(p.dnsmasq_conf, 0o600, dnsmasq_conf(plan)))
        if plan.dns_follows and not cfg.no_dns:
            files.append(GeneratedFile(p.dnsmasq_resolv, 0o644, resolv_file_text(plan.best_uplink, plan.dns_servers)))
    plan = dataclasses.replace(plan, link_ops=link_ops(plan), children=children(plan, facts), files=tuple(files),
                               orig_mac=facts.mac if cfg.new_macaddr else "")
    if cfg.share_method != "nat":
        return plan
    devices = tuple(d for d in (cfg.wifi_iface, *plan.uplinks) if facts.snapshot.link(d) is not None)
    fallback = nft_ruleset(plan)
    plan = dataclasses.replace(plan, fastpath_devices=devices, ruleset_fallback=fallback,
                               ruleset=nft_ruleset(plan, fastpath=devices) if devices else fallback)
    if facts.ruleset is None:
        return plan
    analysis = analyse(facts.ruleset, cfg.wifi_iface, plan.uplinks, plan.subnet, plan.table,
                       tools=facts.firewall_tools)
    actions, refusals = plan_actions(analysis, cfg.firewall)
    if refusals:
        raise StartError(refusals[0])
    return dataclasses.replace(plan, firewall=tuple(actions), firewall_notes=tuple(notes(analysis, cfg.firewall)))


def with_scan(plan: Plan, scan: Scan) -> Plan:
    """CHANNEL=auto once the radio has scanned (plan.scan_first): the channel
    chosen from what it saw, and hostapd.conf naming it."""
    assert plan.radio is not None
    radio = dataclasses.replace(plan.radio, scanned=scan)
    channel, chanlist = choose_channel(plan.cfg, radio)
    plan = dataclasses.replace(plan, radio=radio, channel=channel, chanlist=chanlist)
    files = tuple(dataclasses.replace(f, text=hostapd_conf(plan), shown=hostapd_conf(plan, mask_secret=True))
                  if f.path == plan.paths.hostapd_conf else f for f in plan.files)
    return dataclasses.replace(plan, files=files)


def link_ops(plan: Plan) -> tuple[ops.LinkOp, ...]:
    """The AP interface configured: made first if it is a virtual one, a new MAC first (the link must be down
    for it), then our address and the link up; or, in bridge mode, the
    uplink (and a wired downstream; hostapd adds a radio itself) joined to a
    bridge of ours, the uplink's addresses and gateway routes moved to it."""
    cfg, iface = plan.cfg, plan.cfg.wifi_iface
    out: list[ops.LinkOp] = []
    card = plan.same_card
    if card and card.virtual:   # created down: its MAC is set with it
        out.append(ops.VirtAdd(iface, phy=card.phy, mac=card.virt_mac))
    if cfg.new_macaddr:
        out += [ops.LinkDown(iface), ops.SetMac(iface, mac=cfg.new_macaddr)]
    br = plan.bridge_plan
    if br is None:
        return (*out, ops.AddrAdd(iface, True, address=str(plan.gateway)), ops.LinkUp(iface))
    out.append(ops.BridgeAdd(br.name))
    out += [ops.AddrDel(br.uplink, True, address=a) for a in br.moved_addresses]
    out += [ops.SetMaster(br.uplink, master=br.name), ops.LinkUp(br.uplink)]
    if not plan.wireless:
        out += [ops.SetMaster(iface, master=br.name), ops.LinkUp(iface)]
    out += [ops.AddrAdd(br.name, True, address=a) for a in br.moved_addresses]
    out.append(ops.LinkUp(br.name))
    out += [ops.RouteAdd(br.name, True, dst=dst, gateway=gw, metric=metric) for dst, gw, metric in br.moved_routes]
    return tuple(out)


def children(plan: Plan, facts: Facts) -> tuple[ChildSpec, ...]:
    p = plan.paths
    out = []
    if plan.wireless:
        # -d/-dd: hostapd prints keys only with -K, which is never given
        debug = ("-" + "d" * plan.cfg.hostapd_debug,) if plan.cfg.hostapd_debug else ()
        out.append(ChildSpec("hostapd", (_binary("hostapd", facts), *debug, p.hostapd_conf)))
    if plan.runs_dnsmasq:
        # dnsmasq logs "started, version ..." once its sockets are bound
        out.append(ChildSpec("dnsmasq", (_binary("dnsmasq", facts), "-k", "-C", p.dnsmasq_conf,
                                         f"--pid-file={p.workdir}/dnsmasq.pid"), ready_marker="started, version"))
    return tuple(out)


def _binary(name: str, facts: Facts) -> str:
    if facts.binaries is None:      # not looked up (unit tests): the bare name
        return name
    path = facts.binaries.get(name)
    if not path:
        raise StartError(f"{name} is not installed: install it (Buildroot: {PACKAGES[name]})")
    return path
