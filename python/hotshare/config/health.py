"""The uplink health check's keys (``HEALTH_*``), as OpenWrt's mwan3 has them.

A cellular uplink can keep its link and address while its data session is
dead; only end-to-end evidence shows it. Conntrack's replies are that
evidence for free; probes (``HEALTH_METHOD`` to ``HEALTH_TARGETS``, bound to
each uplink) fill in when traffic goes out and nothing comes back, or after
``HEALTH_IDLE`` seconds without any. Defaults keep an idle healthy uplink
under 100 kB of probes a day (one 28-byte ICMP echo a minute each way).
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError
from .values import boolean, choice, count, ipv4

METHODS = ("icmp", "dns", "tcp", "http")
DEFAULT_PORTS = {"icmp": 0, "dns": 53, "tcp": 443, "http": 80}
DEFAULT_TARGETS = "1.1.1.1,8.8.8.8"
# What a recovery command may be: an absolute program and plain arguments.
_ARG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-=:,@+%")


@dataclass(frozen=True)
class HealthConfig:
    enabled: bool = False
    method: str = "icmp"
    targets: tuple[tuple[ipaddress.IPv4Address, int], ...] = ((ipaddress.IPv4Address("1.1.1.1"), 0),
                                                              (ipaddress.IPv4Address("8.8.8.8"), 0))
    interval: int = 3           # seconds between probe rounds while evidence is wanted
    timeout: int = 2            # seconds a target has to answer
    reliability: int = 1        # targets that must answer for a round to count as good
    down: int = 3               # bad rounds in a row: dead
    up: int = 3                 # good rounds in a row: alive again
    idle: int = 50              # seconds without evidence before an idle probe (50: < 100 kB a day, < 60 s)
    recovery: tuple[str, ...] = ()  # argv run after recovery_after seconds dead
    recovery_after: int = 300


def _targets(key: str, v: str, method: str) -> tuple[tuple[ipaddress.IPv4Address, int], ...]:
    out = []
    for item in (x.strip() for x in v.split(",")):
        if not item:
            continue
        ip, colon, port = item.partition(":")
        if colon and method == "icmp":
            raise ConfigError(key, f"{item!r}: ICMP has no port", "write the address alone, e.g. 1.1.1.1")
        if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(key, f"{item!r} has a bad port", "write IP or IP:PORT, e.g. 1.1.1.1:443")
        address = ipv4(key, ip)
        if address.is_multicast or address.is_unspecified or address.is_loopback:
            raise ConfigError(key, f"{address} is not a unicast address beyond the uplink",
                              "name servers on the internet, e.g. 1.1.1.1,8.8.8.8")
        out.append((address, int(port) if colon else DEFAULT_PORTS[method]))
    if not out:
        raise ConfigError(key, "is empty", f"list one or more addresses, e.g. {DEFAULT_TARGETS}")
    return tuple(dict.fromkeys(out))


def _argv(key: str, v: str) -> tuple[str, ...]:
    try:
        argv = tuple(shlex.split(v))
    except ValueError:
        raise ConfigError(key, "has unbalanced quotes", "write the program and its arguments, e.g. "
                          "/usr/sbin/ifup ppp0") from None
    if argv and not argv[0].startswith("/"):
        raise ConfigError(key, f"{argv[0]!r} is not an absolute path", "name the program in full, e.g. /usr/sbin/ifup")
    for arg in argv:
        if not arg or not set(arg) <= _ARG_CHARS:
            raise ConfigError(key, f"{arg!r} has characters a command never needs",
                              "use letters, digits and / . _ - = : , @ + % (it runs without a shell)")
    return argv


def health_from_mapping(get: Callable[[str, str], str]) -> HealthConfig:
    """HEALTH_* keys from ``get(key, default)``; ConfigError on the first bad one."""
    d = HealthConfig()

    def number(key: str, default: int, low: int, high: int) -> int:
        v = get(key, "")
        return count(key, v, low, high) if v else default

    method = choice("HEALTH_METHOD", get("HEALTH_METHOD", "") or d.method, METHODS)
    targets = _targets("HEALTH_TARGETS", get("HEALTH_TARGETS", "") or DEFAULT_TARGETS, method)
    timeout = number("HEALTH_TIMEOUT", d.timeout, 1, 30)
    interval = number("HEALTH_INTERVAL", d.interval, 1, 3600)
    if interval < timeout:
        raise ConfigError("HEALTH_INTERVAL", f"{interval} s is shorter than HEALTH_TIMEOUT ({timeout} s)",
                          "make HEALTH_INTERVAL at least HEALTH_TIMEOUT")
    reliability = number("HEALTH_RELIABILITY", d.reliability, 1, 16)
    if reliability > len(targets):
        raise ConfigError("HEALTH_RELIABILITY", f"{reliability} is more than the {len(targets)} HEALTH_TARGETS",
                          f"use a number from 1 to {len(targets)}, or list more targets")
    return HealthConfig(
        enabled=boolean("HEALTH_CHECK", get("HEALTH_CHECK", "")), method=method, targets=targets,
        interval=interval, timeout=timeout, reliability=reliability,
        down=number("HEALTH_DOWN", d.down, 1, 100), up=number("HEALTH_UP", d.up, 1, 100),
        idle=number("HEALTH_IDLE", d.idle, 5, 86400),
        recovery=_argv("HEALTH_RECOVERY", get("HEALTH_RECOVERY", "")),
        recovery_after=number("HEALTH_RECOVERY_AFTER", d.recovery_after, 10, 86400),
    )
