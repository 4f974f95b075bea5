"""The validated hotspot configuration: what every later layer may trust."""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field

from .health import HealthConfig
from .mqtt import MqttConfig
from .values import IPAddress

# pppd's usepeerdns writes /etc/ppp/resolv.conf (some distributions patch it to
# /var/run/ppp/resolv.conf); /etc/resolv.conf's "nameserver IP # IFACE" lines
# (Buildroot's udhcpc script) are tied to IFACE, its other lines to no uplink.
LINK_DNS_FILES = (("/etc/ppp/resolv.conf", "ppp0"), ("/var/run/ppp/resolv.conf", "ppp0"), ("/etc/resolv.conf", ""))
LINK_DNS_FILES_TEXT = ",".join(f"{p}@{i}" if i else p for p, i in LINK_DNS_FILES)


@dataclass(frozen=True)
class HotspotConfig:
    """A validated hotspot configuration. Build it with :func:`from_mapping`."""

    wifi_iface: str
    uplinks: tuple[str, ...] = ()          # empty: every interface with a default route
    ssid: str = ""
    passphrase: str = field(default="", repr=False)
    use_psk: bool = False
    wpa_version: str = "2"
    channel: int = 0                       # 0: the band's default (or auto)
    auto_channel: bool = False             # CHANNEL=auto: ACS, else the least busy allowed channel
    freq_band: str = "2.4"
    country: str = ""
    gateway: ipaddress.IPv4Address | None = None   # None: choose a free subnet
    dhcp_dns: tuple[ipaddress.IPv4Address, ...] = ()  # empty: the gateway
    upstream_dns: tuple[IPAddress, ...] = ()  # empty: servers file or resolv.conf
    uplink_dns: tuple[tuple[IPAddress, str], ...] = ()  # UPSTREAM_DNS's IP@IFACE items (link-local ones too)
    dns_servers_file: str = "/etc/dnsmasq.conf"
    # resolv.conf-style files the uplinks' own clients write (pppd's usepeerdns,
    # udhcpc); (path, iface): a file tied to the uplink named, or "" for any
    link_dns_files: tuple[tuple[str, str], ...] = LINK_DNS_FILES
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
    wmm: bool = True                       # hostapd's wmm_enabled (NO_WMM=1: a driver that mishandles it)
    driver: str = "nl80211"
    new_macaddr: str = ""
    daemonize: bool = False
    firewall: str = "auto"                 # what to do about other firewalls that drop our traffic
    client_services: tuple[tuple[str, int], ...] = ()   # (tcp|udp, port) of the board open to clients
    max_client_connections: int = 1000     # new connections beyond this many per client are dropped
    block_private_uplink: bool = False     # clients cannot reach private addresses beyond the uplink
    max_stations: int = 0                  # hostapd's max_num_sta; 0: hostapd's default
    health: HealthConfig = field(default_factory=HealthConfig)  # HEALTH_*: config/health.py
    # One radio, two roles: WIFI_IFACE is also the (station) uplink, so the AP
    # is a virtual interface of that radio; wifi_iface is then the virtual one
    virt_of: str = ""                      # the station interface the AP was made beside ("" none)
    billing_day: int = 1                   # day of the month the SIM's billing month starts (1..28)
    quota_day: int = 0                     # bytes the whole hotspot may use a day; 0: no quota
    quota_month: int = 0                   # ... a billing month
    client_quotas: tuple[tuple[str, int, str], ...] = ()  # (MAC, bytes, "day" | "month")
    rate_limit_down: int = 0               # bits/s each client may receive; 0: no limit (plan/ratelimit.py)
    rate_limit_up: int = 0                 # ... send
    client_rate_limits: tuple[tuple[str, int, int], ...] = ()  # (MAC, down, up) in place of those; 0: none
    addn_hosts: str = ""                   # -e: an extra hosts file for dnsmasq
    redirect_to_localhost: bool = False    # with -n: every name resolves to the gateway
    hostapd_debug: int = 0                 # hostapd -d (1) or -dd (2)
    daemon_pidfile: str = ""               # --daemon: the daemon's pid, removed on exit
    daemon_logfile: str = ""               # --daemon: its log, instead of syslog
    ipv6: str = "auto"                     # auto: relay the uplink's /64 when it has one; off; nat66
    mqtt: MqttConfig = field(default_factory=MqttConfig)  # MQTT_*: config/mqtt.py

    @property
    def band_channel(self) -> int:
        if self.channel:
            return self.channel
        return 1 if self.freq_band == "2.4" else 36

    def public(self) -> dict[str, object]:
        """The configuration as data, with the secret masked (for status, logs)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["passphrase"] = "********" if self.passphrase else ""
        h = self.health
        out["health"] = {**dataclasses.asdict(h), "targets": [f"{ip}:{port}" if port else str(ip)
                                                              for ip, port in h.targets]}
        out["mqtt"] = {**dataclasses.asdict(self.mqtt), "password": "********" if self.mqtt.password else ""}
        return {k: (str(v) if isinstance(v, ipaddress.IPv4Address) else
                    ["@".join(str(y) for y in x if y) if isinstance(x, tuple) else str(x) for x in v]
                    if isinstance(v, tuple) else v)
                for k, v in out.items()}
