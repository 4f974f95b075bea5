"""create_ap's command line as configuration: its options and positionals,
turned into the same raw ``KEY=VALUE`` strings a configuration file gives."""

from __future__ import annotations

import argparse

from ..errors import UsageError
from .conffile import read_conf_file


class ArgParser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line, exit 2) instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# create_ap options hotshare does not implement: say so rather than ignore them.
UNSUPPORTED = {
    "--fix-unmanaged": "hotshare keeps NetworkManager off the interface by itself",
}


def add_up_options(p: argparse.ArgumentParser) -> None:
    """The options of `up` and of create_ap's command line, as KEY=VALUE."""
    a = p.add_argument
    a("-c", dest="CHANNEL", metavar="CHANNEL", help="channel number (default: 1 on 2.4 GHz, 36 on 5 GHz)")
    a("-w", "--wpa-version", dest="WPA_VERSION", metavar="2|3|2+3", help="WPA2, WPA3-SAE, or both (default 2)")
    a("-n", dest="no_internet", action="store_true", help="do not share an uplink (same as -m none)")
    a("-m", dest="SHARE_METHOD", metavar="nat|bridge|none",
      help="how to share the uplink (default nat; bridge: a wired uplink's own network)")
    a("--psk", dest="USE_PSK", action="store_const", const="1", help="the passphrase is a raw 64-hex-digit PSK")
    a("--hidden", dest="HIDDEN", action="store_const", const="1", help="do not broadcast the SSID")
    a("--mac-filter", dest="MAC_FILTER", action="store_const", const="1", help="accept only listed stations")
    a("--mac-filter-accept", dest="MAC_FILTER_ACCEPT", metavar="FILE", help="MACs to accept (one a line)")
    a("--mac-deny", dest="MAC_FILTER_DENY", metavar="FILE", help="MACs to refuse (one a line)")
    a("--isolate-clients", dest="ISOLATE_CLIENTS", action="store_const", const="1",
      help="stations cannot reach each other")
    a("--ieee80211n", dest="IEEE80211N", action="store_const", const="1", help="enable 802.11n")
    a("--ieee80211ac", dest="IEEE80211AC", action="store_const", const="1", help="enable 802.11ac (5 GHz)")
    a("--ht_capab", dest="HT_CAPAB", metavar="CAPS", help="802.11n capabilities (default [HT40+])")
    a("--vht_capab", dest="VHT_CAPAB", metavar="CAPS", help="802.11ac capabilities")
    a("--no-wmm", dest="NO_WMM", action="store_const", const="1",
      help="no WMM (QoS) on the AP, for a driver that mishandles it (not with 802.11n/ac)")
    a("--country", dest="COUNTRY", metavar="CC", help="regulatory country code, e.g. CN")
    a("--freq-band", dest="FREQ_BAND", metavar="2.4|5", help="frequency band (default 2.4)")
    a("--driver", dest="DRIVER", metavar="DRIVER", help="hostapd driver (nl80211)")
    a("--no-virt", dest="NO_VIRT", action="store_const", const="1",
      help="never create a virtual AP interface: the Wi-Fi interface cannot also be the uplink")
    a("--virt-name", dest="VIRT_NAME", metavar="NAME",
      help="the virtual AP interface made when the Wi-Fi interface is also the uplink (default ap0)")
    a("--mac", dest="NEW_MACADDR", metavar="MAC", help="set the AP interface's MAC address")
    a("--dhcp-dns", dest="DHCP_DNS", metavar="IP[,IP]", help="DNS servers given to clients (default: gateway)")
    a("--dns-server", dest="upstream", action="append", metavar="IP[@IFACE]",
      help="upstream DNS server, IPv4 or IPv6, @IFACE: used only while IFACE is the uplink (a link-local "
           "IPv6 one needs it: fe80::1@ppp0) (repeatable; default: "
           "/etc/dnsmasq.conf's servers, else those the uplinks' own clients wrote, LINK_DNS_FILES)")
    a("-g", dest="GATEWAY", metavar="GATEWAY", help="gateway address (default: first free of 192.168.12.1, ...)")
    a("-d", dest="ETC_HOSTS", action="store_const", const="1", help="the DNS server also answers from /etc/hosts")
    a("-e", dest="ADDN_HOSTS", metavar="HOSTS_FILE", help="the DNS server also answers from this hosts file")
    a("--redirect-to-localhost", dest="REDIRECT_TO_LOCALHOST", action="store_const", const="1",
      help="with -n: every name resolves to the gateway (an information network on the board's web server)")
    a("--hostapd-debug", dest="HOSTAPD_DEBUG", metavar="1|2", help="run hostapd with -d (1) or -dd (2); "
      "its output goes to hotshare's log (keys stay hidden: hostapd prints them only with -K)")
    a("--pidfile", dest="DAEMON_PIDFILE", metavar="FILE",
      help="--daemon: write the daemon's pid to FILE (removed on exit)")
    a("--logfile", dest="DAEMON_LOGFILE", metavar="FILE",
      help="--daemon: append the daemon's log to FILE (mode 0600) instead of syslog")
    a("--no-dns", dest="NO_DNS", action="store_const", const="1", help="no DNS server on the hotspot")
    a("--no-dnsmasq", dest="NO_DNSMASQ", action="store_const", const="1", help="no DHCP or DNS at all")
    a("--no-haveged", dest="NO_HAVEGED", action="store_const", const="1", help="accepted for compatibility")
    a("--firewall", dest="FIREWALL", metavar="auto|insert|ignore",
      help="when another firewall drops hotspot traffic: fix Docker/iptables/firewalld and refuse "
           "otherwise (auto), also insert rules into other nftables tables (insert), or only warn (ignore)")
    a("--ipv6", dest="IPV6", metavar="auto|off|nat66",
      help="IPv6 for the clients: relay the uplink's /64 when it has one (auto), none (off), "
           "or a ULA prefix masqueraded to the uplink (nat66)")
    a("--passphrase-file", dest="PASSPHRASE_FILE", metavar="FILE", help="read the passphrase from FILE")
    a("--config", metavar="FILE", help="read settings from a create_ap.conf-style file")
    a("--config-once", metavar="FILE", help=argparse.SUPPRESS)  # like --config, then deleted
    a("--daemon", action="store_true", help="run in the background; return once the hotspot is ready")
    a("--dry-run", action="store_true", help="print what would be done and change nothing")
    a("-v", "--verbose", action="store_true", help="debug logging")
    a("positionals", nargs="*", metavar="ARGS", help="<wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]")



def raw_settings(ns: argparse.Namespace, base: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of a command line: ``base`` (what a re-exec was handed),
    else the --config file, then the options and positionals over it."""
    raw: dict[str, str] = dict(base) if base is not None else read_conf_file(ns.config) if ns.config else {}
    for key, value in vars(ns).items():
        if key.isupper() and value is not None:
            raw[key] = value
    if ns.upstream:
        raw["UPSTREAM_DNS"] = ",".join(ns.upstream)
    if ns.no_internet:
        raw["SHARE_METHOD"] = "none"
    pos = list(ns.positionals)
    if len(pos) > 4:
        raise UsageError("too many arguments: expected <wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]")
    if pos:
        raw["WIFI_IFACE"] = pos.pop(0)
    sharing = raw.get("SHARE_METHOD", "nat") != "none"
    if pos and sharing:
        raw["INTERNET_IFACE"] = pos.pop(0)
    if pos:
        raw["SSID"] = pos.pop(0)
    if pos:
        raw["PASSPHRASE"] = pos.pop(0)
    if len(pos) > 0:
        raise UsageError("too many arguments")
    return raw
