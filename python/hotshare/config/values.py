"""Checkers for single values: each returns the clean value or raises
ConfigError naming the key and the fix."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import unicodedata
from collections.abc import Iterable

from ..errors import ConfigError

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



# Control characters (C0, C1: \v \f \x1c-\x1e U+0085 included) and the Unicode line
# and paragraph separators: Python's str.splitlines() and many readers break
# lines at them. No value may carry one into a generated file.
FORBIDDEN_CATEGORIES = ("Cc", "Zl", "Zp")


def no_control_characters(key: str, v: str) -> str:
    for c in v:
        if unicodedata.category(c) in FORBIDDEN_CATEGORIES:
            raise ConfigError(key, f"contains the control or line-separator character U+{ord(c):04X}",
                              "remove it: values are plain text on one line")
    return v


def boolean(key: str, v: str) -> bool:
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(key, f"{v!r} is not a boolean", "use 1 or 0")


def ifname(key: str, v: str) -> str:
    if not IFNAME_RE.match(v):
        raise ConfigError(key, f"{v!r} is not an interface name",
                          "use the name `ip link` shows, e.g. wlan0 (letters, digits, . _ -, at most 15)")
    return v


def ipv4(key: str, v: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(v)
    except ValueError:
        raise ConfigError(key, f"{v!r} is not an IPv4 address", "write it like 192.168.12.1") from None


def ipv4_list(key: str, v: str) -> tuple[ipaddress.IPv4Address, ...]:
    return tuple(ipv4(key, x.strip()) for x in v.split(",") if x.strip())


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def dns_server_ip(key: str, v: str) -> IPAddress:
    """A DNS server's address, either family (no ``%scope``: see dns_servers)."""
    try:
        ip = ipaddress.ip_address(v) if "%" not in v else None
    except ValueError:
        ip = None
    if ip is None or ip.is_unspecified or ip.is_multicast:
        raise ConfigError(key, f"{v!r} is not a DNS server's address",
                          "write it like 192.168.12.1, 2001:4860:4860::8888 or fe80::1@ppp0")
    return ip


def dns_servers(key: str, v: str) -> tuple[tuple[IPAddress, ...], tuple[tuple[IPAddress, str], ...]]:
    """``IP`` or ``IP@IFACE`` items (dnsmasq's ``server=IP@IFACE``), IPv4 or
    IPv6: servers reached through any uplink, and servers tied to the uplink
    named. A link-local IPv6 server is reached on one link only: it needs its
    interface (``fe80::1@ppp0``, or ``fe80::1%ppp0`` as ping writes it)."""
    plain, tied = [], []
    for item in (x.strip() for x in v.split(",")):
        if not item:
            continue
        address, at, iface = item.partition("@")
        scoped = not at and "%" in item
        if scoped:
            address, at, iface = item.partition("%")
        ip = dns_server_ip(key, address.strip())
        iface = ifname(key, iface.strip()) if at else ""
        if scoped and not (ip.version == 6 and ip.is_link_local):
            raise ConfigError(key, f"{item}: only a link-local IPv6 DNS server takes %IFACE",
                              f"tie it to an uplink as {address}@{iface}, or leave out %{iface}")
        if at:
            tied.append((ip, iface))
        elif ip.version == 6 and ip.is_link_local:
            raise ConfigError(key, f"{item} is link-local: it is reached on one interface only",
                              f"name the uplink it is on, e.g. {item}@ppp0")
        else:
            plain.append(ip)
    return tuple(plain), tuple(tied)


def tied_paths(key: str, v: str) -> tuple[tuple[str, str], ...]:
    """``PATH`` or ``PATH@IFACE`` items: absolute paths, each maybe tied to an interface."""
    out = []
    for item in (x.strip() for x in v.split(",")):
        if not item:
            continue
        path, at, iface = item.rpartition("@") if "@" in item else (item, "", "")
        if not path.startswith("/"):
            raise ConfigError(key, f"{path!r} is not an absolute path", "write it like /etc/ppp/resolv.conf@ppp0")
        out.append((path, ifname(key, iface.strip()) if at else ""))
    return tuple(out)


# A path that reaches a generated file (dnsmasq.conf) or is opened as root:
# absolute, plain characters (dnsmasq's parser treats quotes, backslashes,
# commas and '#' specially), no '..' step.
PLAIN_PATH_RE = re.compile(r"^(/[A-Za-z0-9_.+-]+)+$")


def plain_path(key: str, v: str) -> str:
    if not PLAIN_PATH_RE.match(v) or "/../" in v + "/" or v.endswith("/.."):
        raise ConfigError(key, f"{v!r} is not a plain absolute path",
                          "use an absolute path of letters, digits and . _ + - (e.g. /run/create_ap.pid)")
    return v


def hosts_file(key: str, v: str) -> str:
    """dnsmasq's addn-hosts: a regular file dnsmasq can read once it has
    dropped root (it re-reads it as 'nobody' on SIGHUP)."""
    path = plain_path(key, v)
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(key, f"cannot read {path!r} ({e.strerror})", "give an existing hosts file") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(key, f"{path!r} is not a regular file", "give a hosts file (IP NAME lines)")
    if not st.st_mode & stat.S_IROTH:
        raise ConfigError(key, f"{path!r} is not readable by others: dnsmasq reads it after dropping root",
                          f"chmod 644 {path}")
    return path


def debug_level(key: str, v: str) -> int:
    """create_ap's --hostapd-debug: 1 (hostapd -d) or 2 (-dd)."""
    if v in ("", "0"):
        return 0
    if v not in ("1", "2"):
        raise ConfigError(key, f"{v!r} is not a debug level", "use 1 (hostapd -d) or 2 (hostapd -dd)")
    return int(v)


def mac(key: str, v: str) -> str:
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
        if line and not MAC_RE.match(line):  # name the line, never echo a file's contents
            raise ConfigError(key, f"{path}:{n} is not a MAC address",
                              "write one address a line, like 02:11:22:33:44:55")
        if line:
            macs.append(line.lower())
    return tuple(macs)


def ssid_value(key: str, v: str) -> str:
    raw = v.encode("utf-8")
    if not 1 <= len(raw) <= 32:
        raise ConfigError(key, f"must be 1 to 32 bytes (got {len(raw)})", "choose a shorter or non-empty SSID")
    if any(unicodedata.category(c) in FORBIDDEN_CATEGORIES for c in v):
        raise ConfigError(key, "contains control characters", "use printable characters only")
    return v


def passphrase_value(key: str, v: str, use_psk: bool) -> str:
    if use_psk:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", v):
            raise ConfigError(key, "with USE_PSK=1 it must be a raw PSK of 64 hex digits",
                              "give 64 hex digits or set USE_PSK=0")
        return v
    if len(v) == 64 and re.fullmatch(r"[0-9a-fA-F]{64}", v):
        raise ConfigError(key, "must be 8 to 63 characters (got 64)",
                          "64 hex digits are a raw PSK: set USE_PSK=1 (--psk) to use it as one")
    if not 8 <= len(v) <= 63:
        raise ConfigError(key, f"must be 8 to 63 characters (got {len(v)})",
                          "choose a passphrase of 8 to 63 printable ASCII characters")
    if not all(32 <= ord(c) <= 126 for c in v):
        raise ConfigError(key, "must be printable ASCII", "use letters, digits and ASCII punctuation only")
    return v


def choice(key: str, v: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if v not in choices:
        raise ConfigError(key, f"{v!r} is not supported", "use one of " + ", ".join(choices))
    return v



FIREWALL_MODES = ("auto", "insert", "ignore")
# IPV6: auto relays the uplink's /64 to the clients when it has one (none otherwise);
# off gives clients no IPv6; nat66 gives them a ULA prefix masqueraded to the uplink
IPV6_MODES = ("auto", "off", "nat66")


def firewall_mode(key: str, value: str) -> str:
    """The ``FIREWALL`` key: auto (default), insert or ignore."""
    v = value.strip().lower()
    if v == "":
        return "auto"
    if v not in FIREWALL_MODES:
        raise ConfigError(key, f"{value!r} is not a firewall mode",
                          "use auto (fix Docker, iptables and firewalld, refuse on other firewalls), "
                          "insert (also insert accept rules into other nftables tables) or ignore")
    return v


def services(key: str, v: str) -> tuple[tuple[str, int], ...]:
    """``22,80,123/udp``: ports of the board open to clients (TCP unless /udp)."""
    out = []
    for item in (x.strip() for x in v.split(",")):
        if not item:
            continue
        port, _, proto = item.partition("/")
        proto = proto or "tcp"
        if proto not in ("tcp", "udp") or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
            raise ConfigError(key, f"{item!r} is not a port", "list ports like 22,80,123/udp (TCP unless /udp)")
        out.append((proto, int(port)))
    return tuple(dict.fromkeys(out))


def count(key: str, v: str, low: int, high: int) -> int:
    if not (v.isascii() and v.isdigit()) or not low <= int(v) <= high:
        raise ConfigError(key, f"{v!r} is not a number from {low} to {high}", f"use a number from {low} to {high}")
    return int(v)


SIZE_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}  # decimal, as operators bill
SIZE_RE = re.compile(r"^([0-9]{1,15})([KMGT]?)B?$")
QUOTA_PERIODS = ("day", "month")


def size(key: str, v: str) -> int:
    """A byte count like 500M or 2G (decimal units); 0 is refused."""
    m = SIZE_RE.match(v.strip().upper())
    if not m or int(m[1]) == 0:
        raise ConfigError(key, f"{v!r} is not a size", "give bytes with K, M, G or T (decimal), e.g. 500M or 2G")
    return int(m[1]) * SIZE_UNITS[m[2]]


def client_quotas(key: str, v: str) -> tuple[tuple[str, int, str], ...]:
    """``MAC=SIZE/PERIOD,...`` (PERIOD day or month) -> ((mac, bytes, period), ...)."""
    out: dict[tuple[str, str], int] = {}
    for item in (i.strip() for i in v.split(",")):
        if not item:
            continue
        who, _, amount = item.partition("=")
        amount, _, period = amount.partition("/")
        if not MAC_RE.match(who) or period not in QUOTA_PERIODS or not amount:
            raise ConfigError(key, f"{item!r} is not MAC=SIZE/day or MAC=SIZE/month",
                              "list quotas like 6a:02:71:2d:90:f6=500M/day,6a:02:71:2d:90:f7=5G/month")
        out[(who.lower(), period)] = size(key, amount)
    return tuple((mac_, amount_, period_) for (mac_, period_), amount_ in out.items())


RATE_UNITS = {"BIT": 1, "KBIT": 10**3, "MBIT": 10**6, "GBIT": 10**9}  # decimal, as tc and operators count
RATE_RE = re.compile(r"^([0-9]{1,7})(BIT|KBIT|MBIT|GBIT)$")
RATE_MIN, RATE_MAX = 16_000, 10**10  # below a packet a second the limit means nothing; 10gbit: no board does more
RATE_FIX = "give bits per second with kbit, mbit or gbit, from 16kbit to 10gbit, e.g. 2mbit or 500kbit"


def rate(key: str, v: str) -> int:
    """A rate like 2mbit or 500kbit -> bits per second."""
    m = RATE_RE.match(v.strip().upper())
    if not m or not RATE_MIN <= int(m[1]) * RATE_UNITS[m[2]] <= RATE_MAX:
        raise ConfigError(key, f"{v!r} is not a rate", RATE_FIX)
    return int(m[1]) * RATE_UNITS[m[2]]


def client_rates(key: str, v: str) -> tuple[tuple[str, int, int], ...]:
    """``MAC=DOWN/UP,...`` (each a rate or ``none``) -> ((mac, down, up), ...), 0 for none."""
    out: dict[str, tuple[int, int]] = {}
    for item in (i.strip() for i in v.split(",")):
        if not item:
            continue
        who, _, limits = item.partition("=")
        down, slash, up = limits.partition("/")
        if not MAC_RE.match(who) or not slash or not down or not up:
            raise ConfigError(key, f"{item!r} is not MAC=DOWN/UP",
                              "list limits like 6a:02:71:2d:90:f6=1mbit/256kbit,6a:02:71:2d:90:f7=none/none "
                              "(down/up; none: no limit)")
        bits = [0 if r.strip().lower() == "none" else rate(key, r) for r in (down, up)]
        out[who.lower()] = (bits[0], bits[1])
    return tuple((mac_, down_, up_) for mac_, (down_, up_) in out.items())
