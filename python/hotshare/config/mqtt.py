"""The MQTT keys (``MQTT_*``): publishing the event stream and periodic
usage to a fleet's broker (``service.mqtt``). Off unless MQTT_BROKER is set.

Nothing here reaches a shell or a generated file; the broker's name and the
topic go to paho's packets, so they are kept plain all the same, and the
password comes from a root-only file, never a value on the command line.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ConfigError
from .values import count, no_control_characters, plain_path

# a host name (RFC 1123 labels) or an IPv4 address; IPv6 literals in brackets
HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                     r"[A-Za-z0-9])?)*$")
# topic levels of plain characters: no wildcard (+ #), no empty level, no $ (the broker's own topics)
TOPIC_RE = re.compile(r"^[A-Za-z0-9_.:-]+(/[A-Za-z0-9_.:-]+)*$")
DEFAULT_PORT, DEFAULT_TLS_PORT = 1883, 8883


@dataclass(frozen=True)
class MqttConfig:
    broker: str = ""                # host name or address; "" : no MQTT
    port: int = DEFAULT_PORT
    topic: str = ""                 # the prefix: <topic>/events, <topic>/usage, <topic>/status
    ca_file: str = ""               # TLS with this CA ("" : plain TCP)
    username: str = ""
    password: str = field(default="", repr=False)
    usage_interval: int = 300       # seconds between usage messages (0: none)
    queue_limit: int = 1000         # messages kept while the broker is unreachable

    @property
    def enabled(self) -> bool:
        return bool(self.broker)


def _broker(key: str, v: str, tls: bool) -> tuple[str, int]:
    host, port_text = v, ""
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ConfigError(key, f"{v!r} is not HOST[:PORT]", "write it like [2001:db8::1]:8883")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(key, f"{host!r} is not an IPv6 address", "write it like [2001:db8::1]:8883") from None
    else:
        host, colon, port_text = v.partition(":")
        if colon and not port_text:
            raise ConfigError(key, f"{v!r} has no port after ':'",
                              "write HOST or HOST:PORT, e.g. mqtt.example.com:8883")
        if not HOST_RE.match(host):
            raise ConfigError(key, f"{host!r} is not a host name or address",
                              "write HOST or HOST:PORT, e.g. mqtt.example.com:8883 or 10.0.0.5")
    if port_text:
        return host, count(key, port_text, 1, 65535)
    return host, DEFAULT_TLS_PORT if tls else DEFAULT_PORT


def _topic(key: str, v: str) -> str:
    if len(v) > 200 or not TOPIC_RE.match(v):
        raise ConfigError(key, f"{v!r} is not a topic prefix",
                          "use levels of letters, digits and _ . : - separated by /, no + or # (e.g. fleet/board-17)")
    return v


def _ca_file(key: str, v: str) -> str:
    path = plain_path(key, v)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise ConfigError(key, f"cannot read {path!r} ({e.strerror})",
                          "give the CA certificate (PEM) that signed the broker's certificate") from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise ConfigError(key, f"{path!r} is not a PEM certificate", "give the CA certificate (PEM) of the broker")
    return path


def _password(key: str, v: str) -> str:
    """The first line of a regular file only root can read (opened without
    following a link; its mode checked on the file opened)."""
    path = plain_path(key, v)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise ConfigError(key, f"cannot read {path!r} ({e.strerror})",
                          f"create it with the password on its first line: chmod 600 {path}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(key, f"{path!r} is not a regular file", "give a file with the password on its first line")
        if st.st_mode & 0o077 or st.st_uid != os.geteuid():
            raise ConfigError(key, f"{path!r} can be read by others (mode {stat.S_IMODE(st.st_mode):04o}, "
                              f"owner uid {st.st_uid})", f"chown root {path} && chmod 600 {path}")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        password = data.decode("utf-8").split("\n", 1)[0].rstrip("\r")
    except UnicodeDecodeError:
        raise ConfigError(key, f"{path!r} is not UTF-8 text", "write the password as text on the first line") from None
    if not password:
        raise ConfigError(key, f"{path!r} has no password on its first line", "write the password on the first line")
    return password


def mqtt_from_mapping(get: Callable[[str, str], str]) -> MqttConfig:
    """MQTT_* keys from ``get(key, default)``; ConfigError on the first bad one."""
    d = MqttConfig()
    keys = ("MQTT_TOPIC", "MQTT_TLS", "MQTT_USERNAME", "MQTT_PASSWORD_FILE", "MQTT_USAGE_INTERVAL",
            "MQTT_QUEUE_LIMIT")
    broker_text = get("MQTT_BROKER", "")
    if not broker_text:
        for key in keys:
            if get(key, ""):
                raise ConfigError(key, "is set but MQTT_BROKER is not", "set MQTT_BROKER=HOST[:PORT], or drop " + key)
        return d
    ca_file = _ca_file("MQTT_TLS", get("MQTT_TLS", "")) if get("MQTT_TLS", "") else ""
    host, port = _broker("MQTT_BROKER", broker_text, bool(ca_file))
    username = no_control_characters("MQTT_USERNAME", get("MQTT_USERNAME", ""))
    if len(username.encode()) > 1024:
        raise ConfigError("MQTT_USERNAME", "is longer than 1024 bytes", "use the name the broker knows")
    password = _password("MQTT_PASSWORD_FILE", get("MQTT_PASSWORD_FILE", "")) if get("MQTT_PASSWORD_FILE", "") else ""
    if password and not username:
        raise ConfigError("MQTT_PASSWORD_FILE", "is set but MQTT_USERNAME is not",
                          "set MQTT_USERNAME too (MQTT sends a password only with a user name)")
    interval_text = get("MQTT_USAGE_INTERVAL", "")
    interval = count("MQTT_USAGE_INTERVAL", interval_text, 0, 86400) if interval_text else d.usage_interval
    if 0 < interval < 10:
        raise ConfigError("MQTT_USAGE_INTERVAL", f"{interval} s is too often for a metered uplink",
                          "use 10 to 86400 seconds, or 0 for no usage messages")
    limit_text = get("MQTT_QUEUE_LIMIT", "")
    return MqttConfig(
        broker=host, port=port,
        topic=_topic("MQTT_TOPIC", get("MQTT_TOPIC", "") or f"hotshare/{default_node()}"),
        ca_file=ca_file, username=username, password=password, usage_interval=interval,
        queue_limit=count("MQTT_QUEUE_LIMIT", limit_text, 1, 100000) if limit_text else d.queue_limit)


def default_node() -> str:
    """This board's host name as a topic level (``hotshare/<hostname>``)."""
    name = os.uname().nodename.split(".")[0]
    return name if TOPIC_RE.match(name) and "/" not in name else "board"
