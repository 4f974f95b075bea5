"""The configuration keys hotshare knows: create_ap's, then its own."""

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
    "CLIENT_SERVICES", "MAX_CLIENT_CONNECTIONS", "BLOCK_PRIVATE_UPLINK", "MAX_STATIONS",
    "LINK_DNS_FILES", "NO_WMM",
)

