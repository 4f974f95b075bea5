"""The hotspot's configuration: create_ap's KEY=VALUE keys, parsed and validated.

A configuration file is parsed, never executed: no shell expansion, no
``eval``. Every value is checked here, once, before anything on the system
changes, so the renderers downstream can trust what they are given. An error
is one line that names the key and says how to fix it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Callable

# What a Linux interface name may be here: the kernel allows more, but these
# names end up in nftables rules and daemon configs, so keep them plain.
IFNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")
MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
CAPAB_RE = re.compile(r"^(\[[A-Za-z0-9+_-]+\])*$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")

WPA_VERSIONS = ("2", "3", "2+3")
SHARE_METHODS = ("nat", "bridge", "none")
FREQ_BANDS = ("2.4", "5")
CHANNELS_24 = range(1, 15)
CHANNELS_5 = (36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124,
              128, 132, 136, 140, 144, 149, 153, 157, 161, 165)


class ConfigError(ValueError):
    """A configuration value that cannot be used: says which key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}; {fix}")


@dataclass(frozen=True)
class HotspotConfig:
    """A validated hotspot configuration. Build it with :func:`from_mapping`."""

    wifi_iface: str
    uplinks: tuple[str, ...] = ()          # empty: every interface with a default route
    ssid: str = ""
    passphrase: str = field(default="", repr=False)
    use_psk: bool = False
    wpa_version: str = "2"
    channel: int = 0                       # 0: the band's default
    freq_band: str = "2.4"
    country: str = ""
    gateway: ipaddress.IPv4Address | None = None   # None: choose a free subnet
    dhcp_dns: tuple[ipaddress.IPv4Address, ...] = ()  # empty: the gateway
    upstream_dns: tuple[ipaddress.IPv4Address, ...] = ()  # empty: servers file or resolv.conf
    dns_servers_file: str = "/etc/dnsmasq.conf"
    etc_hosts: bool = False
    no_dns: bool = False
    no_dnsmasq: bool = False
    hidden: bool = False
    isolate_clients: bool = False
    mac_filter: bool = False
    mac_accept: tuple[str, ...] = ()
    mac_deny: tuple[str, ...] = ()
    share_method: str = "nat"
    ieee80211n: bool = False
    ieee80211ac: bool = False
    ht_capab: str = "[HT40+]"
    vht_capab: str = ""
    driver: str = "nl80211"
    new_macaddr: str = ""
    daemonize: bool = False
    firewall: str = "auto"                 # what to do about other firewalls that drop our traffic

    @property
    def band_channel(self) -> int:
        if self.channel:
            return self.channel
        return 1 if self.freq_band == "2.4" else 36

    def public(self) -> dict[str, object]:
        """The configuration as data, with the secret masked (for status, logs)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["passphrase"] = "********" if self.passphrase else ""
        return {k: (str(v) if isinstance(v, ipaddress.IPv4Address) else
                    [str(x) for x in v] if isinstance(v, tuple) else v)
                for k, v in out.items()}


# -- the create_ap.conf file -------------------------------------------------

def parse_conf_text(text: str, source: str = "config") -> dict[str, str]:
    """Read create_ap's ``KEY=VALUE`` lines. Values may be single- or
    double-quoted; nothing is expanded. Returns the raw strings."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not m:
            raise ConfigError(f"{source}:{lineno}", "not a KEY=VALUE line",
                              "write it as KEY=VALUE with an upper-case key")
        key, value = m.group(1), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def read_conf_file(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("--config", f"cannot read {path!r} ({e})",
                          "give the path of a readable create_ap.conf-style file") from None
    return parse_conf_text(text, source=path)


# -- value checkers ------------------------------------------------------------

def _bool(key: str, v: str) -> bool:
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(key, f"{v!r} is not a boolean", "use 1 or 0")


def _ifname(key: str, v: str) -> str:
    if not IFNAME_RE.match(v):
        raise ConfigError(key, f"{v!r} is not an interface name",
                          "use the name `ip link` shows, e.g. wlan0 (letters, digits, . _ -, at most 15)")
    return v


def _ipv4(key: str, v: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(v)
    except ValueError:
        raise ConfigError(key, f"{v!r} is not an IPv4 address", "write it like 192.168.12.1") from None


def _ipv4_list(key: str, v: str) -> tuple[ipaddress.IPv4Address, ...]:
    return tuple(_ipv4(key, x.strip()) for x in v.split(",") if x.strip())


def _mac(key: str, v: str) -> str:
    if not MAC_RE.match(v):
        raise ConfigError(key, f"{v!r} is not a MAC address", "write it like 02:11:22:33:44:55")
    return v.lower()


def read_mac_file(key: str, path: str) -> tuple[str, ...]:
    """A hostapd-style MAC list: one address a line, '#' comments."""
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(key, f"cannot read {path!r} ({e})", "give a file with one MAC address a line") from None
    macs = []
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            macs.append(_mac(f"{key} ({path}:{n})", line))
    return tuple(macs)


def _ssid(key: str, v: str) -> str:
    raw = v.encode("utf-8")
    if not 1 <= len(raw) <= 32:
        raise ConfigError(key, f"must be 1 to 32 bytes (got {len(raw)})", "choose a shorter or non-empty SSID")
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ConfigError(key, "contains control characters", "use printable characters only")
    return v


def _passphrase(key: str, v: str, use_psk: bool) -> str:
    if use_psk:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", v):
            raise ConfigError(key, "with USE_PSK=1 it must be a raw PSK of 64 hex digits",
                              "give 64 hex digits or set USE_PSK=0")
        return v
    if not 8 <= len(v) <= 63:
        raise ConfigError(key, f"must be 8 to 63 characters (got {len(v)})",
                          "choose a passphrase of 8 to 63 printable ASCII characters")
    if not all(32 <= ord(c) <= 126 for c in v):
        raise ConfigError(key, "must be printable ASCII", "use letters, digits and ASCII punctuation only")
    return v


def _choice(key: str, v: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if v not in choices:
        raise ConfigError(key, f"{v!r} is not supported", "use one of " + ", ".join(choices))
    return v


# -- from raw strings to a config ----------------------------------------------

# create_ap's keys that hotshare accepts but has no use for.
IGNORED_KEYS = {
    "NO_HAVEGED": "hotshare does not need haveged: the kernel's RNG is ready",
    "NO_VIRT": "hotshare never creates a virtual interface",
}

KNOWN_KEYS = (
    "CHANNEL", "GATEWAY", "WPA_VERSION", "ETC_HOSTS", "DHCP_DNS", "NO_DNS", "NO_DNSMASQ",
    "HIDDEN", "MAC_FILTER", "MAC_FILTER_ACCEPT", "ISOLATE_CLIENTS", "SHARE_METHOD",
    "IEEE80211N", "IEEE80211AC", "HT_CAPAB", "VHT_CAPAB", "DRIVER", "NO_VIRT", "COUNTRY",
    "FREQ_BAND", "NEW_MACADDR", "DAEMONIZE", "NO_HAVEGED", "WIFI_IFACE", "INTERNET_IFACE",
    "SSID", "PASSPHRASE", "USE_PSK",
    # hotshare's own keys
    "PASSPHRASE_FILE", "MAC_FILTER_DENY", "UPSTREAM_DNS", "DNS_SERVERS_FILE", "FIREWALL",
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
    wifi = _ifname("WIFI_IFACE", wifi)

    uplinks_raw = get("INTERNET_IFACE")
    uplinks: tuple[str, ...] = ()
    if uplinks_raw and uplinks_raw != "auto":
        uplinks = tuple(_ifname("INTERNET_IFACE", u.strip()) for u in uplinks_raw.split(",") if u.strip())
    if wifi in uplinks:
        raise ConfigError("INTERNET_IFACE", f"{wifi} is also the hotspot interface",
                          "share a different interface, or use a second radio for the AP")

    share = _choice("SHARE_METHOD", get("SHARE_METHOD", "nat") or "nat", SHARE_METHODS)
    if share == "bridge" and len(uplinks) != 1:
        raise ConfigError("INTERNET_IFACE", "bridge mode needs exactly one uplink interface",
                          "name the wired interface to bridge, e.g. INTERNET_IFACE=eth0")

    no_dnsmasq = _bool("NO_DNSMASQ", get("NO_DNSMASQ"))
    use_psk = _bool("USE_PSK", get("USE_PSK"))
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
        passphrase = _passphrase("PASSPHRASE", passphrase, use_psk)

    wpa = get("WPA_VERSION", "2") or "2"
    if wpa in ("1", "1+2"):
        raise ConfigError("WPA_VERSION", f"{wpa} (WPA1/TKIP) is insecure and not supported", "use 2, 3 or 2+3")
    wpa = _choice("WPA_VERSION", wpa, WPA_VERSIONS)
    if wpa != "2" and use_psk:
        raise ConfigError("USE_PSK", "a raw PSK cannot be used with WPA3-SAE", "set USE_PSK=0 or WPA_VERSION=2")

    band = _choice("FREQ_BAND", get("FREQ_BAND", "2.4") or "2.4", FREQ_BANDS)
    chan_raw = get("CHANNEL", "default") or "default"
    channel = 0
    if chan_raw != "default":
        if not chan_raw.isdigit():
            raise ConfigError("CHANNEL", f"{chan_raw!r} is not a channel number", "use a number or 'default'")
        channel = int(chan_raw)
        valid = CHANNELS_24 if band == "2.4" else CHANNELS_5
        if channel not in valid:
            raise ConfigError("CHANNEL", f"{channel} is not a {band} GHz channel",
                              f"use one of {valid[0]}..{valid[-1]} or set FREQ_BAND")

    country = get("COUNTRY").upper()
    if country and not COUNTRY_RE.match(country):
        raise ConfigError("COUNTRY", f"{country!r} is not an ISO 3166 country code", "use two letters, e.g. CN")

    gateway = _ipv4("GATEWAY", get("GATEWAY")) if get("GATEWAY") else None
    if gateway is not None and not gateway.is_private:
        raise ConfigError("GATEWAY", f"{gateway} is not a private address",
                          "use an address from 10/8, 172.16/12 or 192.168/16")
    if gateway is not None and int(gateway) & 0xFF in (0, 255):
        raise ConfigError("GATEWAY", f"{gateway} is a network or broadcast address in its /24",
                          "use a host address such as x.y.z.1")

    dhcp_dns_raw = get("DHCP_DNS", "gateway") or "gateway"
    dhcp_dns = () if dhcp_dns_raw == "gateway" else _ipv4_list("DHCP_DNS", dhcp_dns_raw)

    mac_filter = _bool("MAC_FILTER", get("MAC_FILTER"))
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
    ieee80211ac = _bool("IEEE80211AC", get("IEEE80211AC"))
    if ieee80211ac and band != "5":
        raise ConfigError("IEEE80211AC", "802.11ac needs the 5 GHz band", "set FREQ_BAND=5 or IEEE80211AC=0")

    driver = _choice("DRIVER", get("DRIVER", "nl80211") or "nl80211", ("nl80211",))
    new_mac = _mac("NEW_MACADDR", get("NEW_MACADDR")) if get("NEW_MACADDR") else ""

    ssid = raw.get("SSID", "")
    if ssid:
        ssid = _ssid("SSID", ssid)

    return HotspotConfig(
        wifi_iface=wifi, uplinks=uplinks, ssid=ssid, passphrase=passphrase, use_psk=use_psk,
        wpa_version=wpa, channel=channel, freq_band=band, country=country, gateway=gateway,
        dhcp_dns=dhcp_dns, upstream_dns=_ipv4_list("UPSTREAM_DNS", get("UPSTREAM_DNS")),
        dns_servers_file=get("DNS_SERVERS_FILE", "/etc/dnsmasq.conf"),
        etc_hosts=_bool("ETC_HOSTS", get("ETC_HOSTS")), no_dns=_bool("NO_DNS", get("NO_DNS")),
        no_dnsmasq=no_dnsmasq, hidden=_bool("HIDDEN", get("HIDDEN")),
        isolate_clients=_bool("ISOLATE_CLIENTS", get("ISOLATE_CLIENTS")),
        mac_filter=mac_filter, mac_accept=mac_accept, mac_deny=mac_deny, share_method=share,
        ieee80211n=_bool("IEEE80211N", get("IEEE80211N")), ieee80211ac=ieee80211ac,
        ht_capab=ht, vht_capab=vht, driver=driver, new_macaddr=new_mac,
        daemonize=_bool("DAEMONIZE", get("DAEMONIZE")), firewall=_firewall_mode(get("FIREWALL")),
    )


def _firewall_mode(value: str) -> str:
    from .firewall import parse_mode  # firewall.py imports this module

    return parse_mode(value)


def require_ap_settings(cfg: HotspotConfig) -> None:
    """Checks that only apply when the downstream is a radio (hostapd runs)."""
    if not cfg.ssid:
        raise ConfigError("SSID", "is not set", "give the network name, e.g. SSID=hotshare")
    if not cfg.passphrase:
        raise ConfigError("PASSPHRASE", "is not set",
                          "give 8 to 63 characters, or PASSPHRASE_FILE=/etc/hotshare/passphrase")


def to_conf_text(raw: Mapping[str, str]) -> str:
    """Write raw values back as a create_ap.conf (for --mkconfig)."""
    lines = ["# hotshare configuration (create_ap.conf format: KEY=VALUE, never executed)"]
    for key in KNOWN_KEYS:
        if key in raw:
            value = raw[key]
            if any(c in value for c in "\n\r"):
                raise ConfigError(key, "contains a line break", "remove it")
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"
