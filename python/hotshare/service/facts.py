"""Read the system once, before planning: the facts ``plan.make_plan`` needs."""

from __future__ import annotations

from ..config import HotspotConfig
from ..netlink import rtnl
from ..plan.facts import Facts, Radio, RadioFacts
from ..plan.network import parse_servers_file
from ..plan.regulatory import parse_channels, regdb_rules
from ..plan.uplink_dns import IPAddress, Server, parse_resolv
from ..system import firewalls, wifi
from ..system.run import find_binary
from ..system.wifi import is_wireless, wifi_mode


def gather_facts(cfg: HotspotConfig, rundir: str, statedir: str) -> Facts:
    servers: tuple[IPAddress, ...] = ()
    if not cfg.upstream_dns and not cfg.uplink_dns and cfg.dns_servers_file:
        try:
            with open(cfg.dns_servers_file, encoding="utf-8", errors="replace") as f:
                servers = parse_servers_file(f.read())
        except OSError:
            pass
    nat = cfg.share_method == "nat"
    wifi_uplinks = {u: wifi_mode(u) for u in cfg.uplinks if is_wireless(u)}
    wireless = is_wireless(cfg.virt_of or cfg.wifi_iface)
    binaries = {name: find_binary(name) or "" for name in ("hostapd", "dnsmasq")}
    return Facts(snapshot=rtnl.snapshot(), wireless=wireless, servers_file=servers,
                 link_dns=read_link_dns(cfg) if nat and not cfg.upstream_dns and not cfg.uplink_dns else (),
                 rundir=rundir, statedir=statedir,
                 wifi_uplinks=wifi_uplinks, card=radio_facts(cfg, wifi_uplinks),
                 mac=_mac(cfg.wifi_iface) if cfg.new_macaddr else "",
                 ruleset=firewalls.current_ruleset() if nat and cfg.firewall != "ignore" else None,
                 firewall_tools=firewalls.available_tools() if nat else frozenset(),
                 binaries=binaries, radio=read_radio(cfg, binaries["hostapd"]) if wireless else None)


def read_radio(cfg: HotspotConfig, hostapd: str) -> Radio | None:
    """The radio's channels (None when iw cannot tell: then hostapd decides),
    COUNTRY's rules, whether hostapd has ACS. Not what it sees: a radio that
    is down cannot scan, so CHANNEL=auto's scan is made at start, once it is
    up (service.channel_scan)."""
    phy = wifi.phy_of(cfg.virt_of or cfg.wifi_iface)
    channels = parse_channels(wifi.iw_text("phy", phy, "info")) if phy else {}
    if not channels:
        return None
    rules = regdb_rules(wifi.read_regdb(), cfg.country) if cfg.country else None
    return Radio(channels, rules, hostapd_acs=cfg.auto_channel and wifi.hostapd_has_acs(hostapd))


def radio_facts(cfg: HotspotConfig, wifi_uplinks: dict[str, tuple[str, bool]]) -> RadioFacts | None:
    """The AP's radio and the station uplink on it, if one is: the virtual
    AP's (WIFI_IFACE was also the uplink), or another interface of the radio."""
    if cfg.virt_of:
        station, phy = cfg.virt_of, wifi.phy_of(cfg.virt_of)
    else:
        phy = wifi.phy_of(cfg.wifi_iface)
        station = next((u for u, (iftype, _) in wifi_uplinks.items()
                        if iftype == "managed" and phy and wifi.phy_of(u) == phy), "")
    if not phy or not station:
        return None
    return RadioFacts(phy=phy, phy_mac=wifi.phy_mac(phy), info=wifi.phy_info(phy), station=station,
                      station_freq=wifi.station_freq(station))


def _mac(ifname: str) -> str:
    try:
        with open(f"/sys/class/net/{ifname}/address") as f:
            return f.read().strip()
    except OSError:
        return ""


def read_link_dns(cfg: HotspotConfig) -> tuple[Server, ...]:
    """The servers the uplinks' own clients wrote (LINK_DNS_FILES), in order;
    a file that does not exist (the link is not up) gives none."""
    out: list[Server] = []
    for path, iface in cfg.link_dns_files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                out += parse_resolv(f.read(65536), iface)
        except OSError:
            continue
    return tuple(dict.fromkeys(out))
