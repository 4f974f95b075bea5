"""From raw KEY=VALUE strings (a file, the command line, or both) to a
validated :class:`HotspotConfig`.

A configuration file is parsed, never executed: no shell expansion, no
``eval``. Every value is checked here, once, before anything on the system
changes, so the renderers downstream can trust what they are given. An error
is one line that names the key and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

from ..errors import ConfigError
from .health import health_from_mapping
from .keys import KNOWN_KEYS
from .model import LINK_DNS_FILES_TEXT, HotspotConfig
from .mqtt import mqtt_from_mapping
from .values import (
    CAPAB_RE,
    CHANNELS_5,
    CHANNELS_24,
    COUNTRY_RE,
    FREQ_BANDS,
    IPV6_MODES,
    SHARE_METHODS,
    WPA_VERSIONS,
    boolean,
    choice,
    client_quotas,
    client_rates,
    count,
    debug_level,
    dns_servers,
    firewall_mode,
    hosts_file,
    ifname,
    ipv4,
    ipv4_list,
    mac,
    no_control_characters,
    passphrase_value,
    plain_path,
    rate,
    read_mac_file,
    services,
    size,
    ssid_value,
    tied_paths,
)


def from_mapping(raw: Mapping[str, str],
                 read_file: Callable[[str, str], tuple[str, ...]] = read_mac_file) -> HotspotConfig:
    """Validate raw KEY=VALUE strings (from a file, the command line, or both)."""
    for key in raw:
        if key not in KNOWN_KEYS:
            raise ConfigError(key, "is not a key hotshare knows",
                              "remove it or check its spelling (see `hotshare --help`)")
    get = lambda k, d="": raw.get(k, d).strip()  # noqa: E731

    wifi = get("WIFI_IFACE")
    if not wifi:
        raise ConfigError("WIFI_IFACE", "is not set", "name the Wi-Fi (or wired) interface to serve, e.g. wlan0")
    wifi = ifname("WIFI_IFACE", wifi)

    uplinks_raw = get("INTERNET_IFACE")
    uplinks: tuple[str, ...] = ()
    if uplinks_raw and uplinks_raw != "auto":
        uplinks = tuple(ifname("INTERNET_IFACE", u.strip()) for u in uplinks_raw.split(",") if u.strip())
    virt_of, virt = "", ifname("VIRT_NAME", get("VIRT_NAME", "ap0") or "ap0")
    if wifi in uplinks:
        # create_ap's `create_ap wlan0 wlan0 ...`: the AP on a virtual interface of the same radio
        if boolean("NO_VIRT", get("NO_VIRT")):
            raise ConfigError("INTERNET_IFACE", f"{wifi} is also the hotspot interface",
                              "drop NO_VIRT (--no-virt) to serve from a virtual interface of the same radio, "
                              "or share a different interface")
        if virt == wifi or virt in uplinks:
            raise ConfigError("VIRT_NAME", f"{virt} is already the Wi-Fi or an uplink interface",
                              "choose a free name for the virtual AP interface, e.g. ap0")
        virt_of, wifi = wifi, virt

    share = choice("SHARE_METHOD", get("SHARE_METHOD", "nat") or "nat", SHARE_METHODS)
    if share == "bridge" and len(uplinks) != 1:
        raise ConfigError("INTERNET_IFACE", "bridge mode needs exactly one uplink interface",
                          "name the wired interface to bridge, e.g. INTERNET_IFACE=eth0")

    no_dnsmasq = boolean("NO_DNSMASQ", get("NO_DNSMASQ"))
    use_psk = boolean("USE_PSK", get("USE_PSK"))
    passphrase = raw.get("PASSPHRASE", "")
    if not passphrase and get("PASSPHRASE_FILE"):
        path = get("PASSPHRASE_FILE")
        try:
            with open(path, encoding="utf-8") as f:
                passphrase = f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError("PASSPHRASE_FILE", f"cannot read {path!r} ({e.__class__.__name__})",
                              "create it (mode 0600) with the passphrase on its first line") from None
    if passphrase:
        passphrase = passphrase_value("PASSPHRASE", passphrase, use_psk)

    wpa = get("WPA_VERSION", "2") or "2"
    if wpa in ("1", "1+2"):
        raise ConfigError("WPA_VERSION", f"{wpa} (WPA1/TKIP) is insecure and not supported", "use 2, 3 or 2+3")
    wpa = choice("WPA_VERSION", wpa, WPA_VERSIONS)
    if wpa != "2" and use_psk:
        raise ConfigError("USE_PSK", "a raw PSK cannot be used with WPA3-SAE", "set USE_PSK=0 or WPA_VERSION=2")

    band = choice("FREQ_BAND", get("FREQ_BAND", "2.4") or "2.4", FREQ_BANDS)
    chan_raw = get("CHANNEL", "default") or "default"
    channel = 0
    auto_channel = chan_raw == "auto"
    if chan_raw not in ("default", "auto"):
        if not (chan_raw.isascii() and chan_raw.isdigit()):  # not '²'
            raise ConfigError("CHANNEL", f"{chan_raw!r} is not a channel number", "use a number, 'default' or 'auto'")
        channel = int(chan_raw)
        valid = CHANNELS_24 if band == "2.4" else CHANNELS_5
        if channel not in valid:
            raise ConfigError("CHANNEL", f"{channel} is not a {band} GHz channel",
                              f"use one of {valid[0]}..{valid[-1]} or set FREQ_BAND")

    country = get("COUNTRY").upper()
    if country and not COUNTRY_RE.match(country):
        raise ConfigError("COUNTRY", f"{country!r} is not an ISO 3166 country code", "use two letters, e.g. CN")

    gateway = ipv4("GATEWAY", get("GATEWAY")) if get("GATEWAY") else None
    if gateway is not None and not gateway.is_private:
        raise ConfigError("GATEWAY", f"{gateway} is not a private address",
                          "use an address from 10/8, 172.16/12 or 192.168/16")
    if gateway is not None and (gateway.is_loopback or gateway.is_link_local or gateway.is_multicast
                                or gateway.is_reserved or int(gateway) >> 24 == 0):
        # 0/8, 127/8, 169.254/16 and 240/4 count as "private" to Python: no client would get a lease
        raise ConfigError("GATEWAY", f"{gateway} is not a unicast address a hotspot can use",
                          "use an address from 10/8, 172.16/12 or 192.168/16, e.g. 192.168.12.1")
    if gateway is not None and int(gateway) & 0xFF in (0, 255):
        raise ConfigError("GATEWAY", f"{gateway} is a network or broadcast address in its /24",
                          "use a host address such as x.y.z.1")

    dhcp_dns_raw = get("DHCP_DNS", "gateway") or "gateway"
    dhcp_dns = () if dhcp_dns_raw == "gateway" else ipv4_list("DHCP_DNS", dhcp_dns_raw)

    mac_filter = boolean("MAC_FILTER", get("MAC_FILTER"))
    mac_accept: tuple[str, ...] = ()
    if mac_filter:
        path = get("MAC_FILTER_ACCEPT", "/etc/hostapd/hostapd.accept") or "/etc/hostapd/hostapd.accept"
        mac_accept = read_file("MAC_FILTER_ACCEPT", path)
    mac_deny = read_file("MAC_FILTER_DENY", get("MAC_FILTER_DENY")) if get("MAC_FILTER_DENY") else ()

    ht = get("HT_CAPAB", "[HT40+]")
    if not CAPAB_RE.match(ht):
        raise ConfigError("HT_CAPAB", f"{ht!r} is not a list of [FLAGS]", "write it like [HT40+][SHORT-GI-20]")
    vht = get("VHT_CAPAB")
    if not CAPAB_RE.match(vht):
        raise ConfigError("VHT_CAPAB", f"{vht!r} is not a list of [FLAGS]", "write it like [SHORT-GI-80]")
    ieee80211ac = boolean("IEEE80211AC", get("IEEE80211AC"))
    if ieee80211ac and band != "5":
        raise ConfigError("IEEE80211AC", "802.11ac needs the 5 GHz band", "set FREQ_BAND=5 or IEEE80211AC=0")

    ieee80211n = boolean("IEEE80211N", get("IEEE80211N"))
    no_wmm = boolean("NO_WMM", get("NO_WMM"))
    if no_wmm and (ieee80211n or ieee80211ac):
        raise ConfigError("NO_WMM", "802.11n/ac need WMM", "set NO_WMM=0, or IEEE80211N=0 and IEEE80211AC=0")

    driver = choice("DRIVER", get("DRIVER", "nl80211") or "nl80211", ("nl80211",))
    new_mac = mac("NEW_MACADDR", get("NEW_MACADDR")) if get("NEW_MACADDR") else ""

    ssid = raw.get("SSID", "")
    if ssid:
        ssid = ssid_value("SSID", ssid)

    upstream, uplink_dns = dns_servers("UPSTREAM_DNS", get("UPSTREAM_DNS"))
    for _ip, up in uplink_dns:
        if uplinks and up not in uplinks:
            raise ConfigError("UPSTREAM_DNS", f"{_ip}@{up}: {up} is not one of INTERNET_IFACE",
                              f"tie the server to one of {','.join(uplinks)}, or leave out @{up}")

    addn_hosts = hosts_file("ADDN_HOSTS", get("ADDN_HOSTS")) if get("ADDN_HOSTS") else ""
    redirect = boolean("REDIRECT_TO_LOCALHOST", get("REDIRECT_TO_LOCALHOST"))
    if redirect and (share != "none" or no_dnsmasq or boolean("NO_DNS", get("NO_DNS"))):
        raise ConfigError("REDIRECT_TO_LOCALHOST", "needs -n (SHARE_METHOD=none) and hotshare's DNS, as in create_ap",
                          "add -n and drop --no-dns/--no-dnsmasq, or leave out --redirect-to-localhost")
    pidfile, logfile = (plain_path(k, get(k)) if get(k) else "" for k in ("DAEMON_PIDFILE", "DAEMON_LOGFILE"))
    if logfile == "/dev/null":   # create_ap's default (its --mkconfig writes it): no file, so syslog
        logfile = ""

    for key, value in raw.items():  # what no check above refused: no key may carry a line break
        if key != "PASSPHRASE":       # (checked above, stricter: printable ASCII only)
            no_control_characters(key, value)
    return HotspotConfig(
        wifi_iface=wifi, uplinks=uplinks, ssid=ssid, passphrase=passphrase, use_psk=use_psk,
        wpa_version=wpa, channel=channel, auto_channel=auto_channel, freq_band=band, country=country,
        gateway=gateway,
        dhcp_dns=dhcp_dns, upstream_dns=upstream, uplink_dns=uplink_dns,
        link_dns_files=tied_paths("LINK_DNS_FILES", get("LINK_DNS_FILES") or LINK_DNS_FILES_TEXT),
        dns_servers_file=get("DNS_SERVERS_FILE", "/etc/dnsmasq.conf"),
        etc_hosts=boolean("ETC_HOSTS", get("ETC_HOSTS")), no_dns=boolean("NO_DNS", get("NO_DNS")),
        no_dnsmasq=no_dnsmasq, hidden=boolean("HIDDEN", get("HIDDEN")),
        isolate_clients=boolean("ISOLATE_CLIENTS", get("ISOLATE_CLIENTS")),
        mac_filter=mac_filter, mac_accept=mac_accept, mac_deny=mac_deny, share_method=share,
        ieee80211n=ieee80211n, ieee80211ac=ieee80211ac, wmm=not no_wmm,
        ht_capab=ht, vht_capab=vht, driver=driver, new_macaddr=new_mac,
        daemonize=boolean("DAEMONIZE", get("DAEMONIZE")), firewall=firewall_mode("FIREWALL", get("FIREWALL")),
        client_services=services("CLIENT_SERVICES", get("CLIENT_SERVICES")),
        max_client_connections=count("MAX_CLIENT_CONNECTIONS", get("MAX_CLIENT_CONNECTIONS", "1000") or "1000",
                                     16, 1 << 20),
        block_private_uplink=boolean("BLOCK_PRIVATE_UPLINK", get("BLOCK_PRIVATE_UPLINK")),
        max_stations=count("MAX_STATIONS", get("MAX_STATIONS"), 1, 2007) if get("MAX_STATIONS") else 0,
        health=health_from_mapping(get),
        virt_of=virt_of,
        billing_day=count("BILLING_DAY", get("BILLING_DAY", "1") or "1", 1, 28),
        quota_day=size("QUOTA_DAY", get("QUOTA_DAY")) if get("QUOTA_DAY") else 0,
        quota_month=size("QUOTA_MONTH", get("QUOTA_MONTH")) if get("QUOTA_MONTH") else 0,
        client_quotas=client_quotas("CLIENT_QUOTAS", get("CLIENT_QUOTAS")),
        rate_limit_down=rate("RATE_LIMIT_DOWN", get("RATE_LIMIT_DOWN")) if get("RATE_LIMIT_DOWN") else 0,
        rate_limit_up=rate("RATE_LIMIT_UP", get("RATE_LIMIT_UP")) if get("RATE_LIMIT_UP") else 0,
        client_rate_limits=client_rates("CLIENT_RATE_LIMITS", get("CLIENT_RATE_LIMITS")),
        addn_hosts=addn_hosts, redirect_to_localhost=redirect,
        hostapd_debug=debug_level("HOSTAPD_DEBUG", get("HOSTAPD_DEBUG")),
        daemon_pidfile=pidfile, daemon_logfile=logfile,
        ipv6=choice("IPV6", get("IPV6", "auto") or "auto", IPV6_MODES),
        mqtt=mqtt_from_mapping(get),
    )



def require_ap_settings(cfg: HotspotConfig) -> None:
    """Checks that only apply when the downstream is a radio (hostapd runs)."""
    if not cfg.ssid:
        raise ConfigError("SSID", "is not set", "give the network name, e.g. SSID=hotshare")
    if not cfg.passphrase:
        raise ConfigError("PASSPHRASE", "is not set",
                          "give 8 to 63 characters, or PASSPHRASE_FILE=/etc/hotshare/passphrase")

