"""Rendering hostapd.conf, dnsmasq.conf and the nftables ruleset (pure).

The same files are loaded by the real programs in tests/netns (nft -c,
dnsmasq --test) and in the QEMU lab (hostapd with a station joining)."""

from __future__ import annotations

import ipaddress

import pytest

from hotshare.config import from_mapping
from hotshare.errors import ConfigError
from hotshare.plan.dnsmasq import dnsmasq_conf
from hotshare.plan.facts import Facts
from hotshare.plan.hostapd import hostapd_conf
from hotshare.plan.make import make_plan
from hotshare.plan.ruleset import nft_ruleset
from lab.snapshots import SEED_000


def plan(**kw: str):  # type: ignore[no-untyped-def]
    raw = {"WIFI_IFACE": "wlan0", "SSID": "Café #1 = ok", "PASSPHRASE": "correct horse battery"}
    raw.update(kw)
    return make_plan(from_mapping(raw), Facts(snapshot=SEED_000, wireless=True,
                                              servers_file=(ipaddress.IPv4Address("223.5.5.5"),)))


def conf(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_hostapd_wpa2_defaults() -> None:
    c = conf(hostapd_conf(plan()))
    assert bytes.fromhex(c["ssid2"]).decode() == "Café #1 = ok"
    assert c["interface"] == "wlan0" and c["driver"] == "nl80211"
    assert (c["wpa"], c["wpa_key_mgmt"], c["rsn_pairwise"]) == ("2", "WPA-PSK", "CCMP")
    assert c["wpa_passphrase"] == "correct horse battery"
    assert (c["hw_mode"], c["channel"], c["ignore_broadcast_ssid"], c["ap_isolate"]) == ("g", "1", "0", "0")
    assert c["ctrl_interface"] == "/run/hotshare/wlan0/hostapd" and c["ctrl_interface_group"] == "0"


def test_hostapd_wpa3_and_transition_need_management_frame_protection() -> None:
    c3 = conf(hostapd_conf(plan(WPA_VERSION="3")))
    assert (c3["wpa_key_mgmt"], c3["ieee80211w"]) == ("SAE", "2")
    c23 = conf(hostapd_conf(plan(WPA_VERSION="2+3")))
    assert (c23["wpa_key_mgmt"], c23["ieee80211w"]) == ("WPA-PSK SAE", "1")


def test_hostapd_options() -> None:
    c = conf(hostapd_conf(plan(HIDDEN="1", ISOLATE_CLIENTS="1", COUNTRY="cn", FREQ_BAND="5",
                                      IEEE80211AC="1", VHT_CAPAB="[SHORT-GI-80]", CHANNEL="149")))
    assert (c["ignore_broadcast_ssid"], c["ap_isolate"], c["country_code"]) == ("1", "1", "CN")
    assert (c["hw_mode"], c["channel"], c["ieee80211n"], c["ieee80211ac"]) == ("a", "149", "1", "1")
    assert c["vht_capab"] == "[SHORT-GI-80]"


def test_hostapd_wmm_on_unless_no_wmm_and_never_without_it_for_11n() -> None:
    assert conf(hostapd_conf(plan()))["wmm_enabled"] == "1"
    assert conf(hostapd_conf(plan(NO_WMM="1")))["wmm_enabled"] == "0"
    with pytest.raises(ConfigError) as err:
        plan(NO_WMM="1", IEEE80211N="1")
    assert err.value.key == "NO_WMM" and "802.11n/ac need WMM" in str(err.value)


def test_hostapd_raw_psk_and_masking() -> None:
    psk = "ab" * 32
    c = conf(hostapd_conf(plan(USE_PSK="1", PASSPHRASE=psk)))
    assert c["wpa_psk"] == psk and "wpa_passphrase" not in c
    masked = hostapd_conf(plan(), mask_secret=True)
    assert "correct horse" not in masked and "wpa_passphrase=********" in masked


def test_hostapd_mac_lists(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "deny"
    f.write_text("02:00:00:00:02:00\n")
    c = conf(hostapd_conf(plan(MAC_FILTER_DENY=str(f))))
    assert c["macaddr_acl"] == "0" and c["deny_mac_file"] == "/run/hotshare/wlan0/deny.mac"


def test_dnsmasq_serves_the_ap_interface_only() -> None:
    text = dnsmasq_conf(plan())
    lines = text.splitlines()
    # bind-dynamic with IPv6 (the AP's addresses follow the relayed prefix): still wlan0 only
    assert "interface=wlan0" in lines and "bind-dynamic" in lines
    assert "bind-interfaces" in dnsmasq_conf(plan(IPV6="off")).splitlines()
    assert [ln for ln in lines if ln.startswith("interface=")] == ["interface=wlan0"]
    assert "dhcp-range=192.168.12.10,192.168.12.254,255.255.255.0,1h" in lines
    assert "dhcp-option=option:router,192.168.12.1" in lines
    assert "dhcp-option=option:dns-server,192.168.12.1" in lines
    assert "dhcp-leasefile=/var/lib/hotshare/wlan0.leases" in lines
    assert "no-resolv" in lines and "server=223.5.5.5" in lines  # from /etc/dnsmasq.conf
    assert "port=0" not in lines


def test_dnsmasq_no_dns_and_explicit_client_dns() -> None:
    lines = dnsmasq_conf(plan(NO_DNS="1")).splitlines()
    assert "port=0" in lines and not any("dns-server" in ln for ln in lines)
    lines = dnsmasq_conf(plan(DHCP_DNS="1.1.1.1,9.9.9.9", UPSTREAM_DNS="10.64.0.1")).splitlines()
    assert "dhcp-option=option:dns-server,1.1.1.1,9.9.9.9" in lines
    assert "server=10.64.0.1" in lines and "server=223.5.5.5" not in lines


def test_nft_one_table_masquerading_to_the_uplinks() -> None:
    rs = nft_ruleset(plan())
    assert rs.startswith("table inet hotshare_wlan0\ndelete table inet hotshare_wlan0\n")
    assert rs.count("table inet hotshare_wlan0 {") == 1
    assert 'elements = { "ppp0", "usb0" }' in rs
    assert "oifname @uplinks ip saddr 192.168.12.0/24 masquerade" in rs
    assert "iifname @uplinks ip daddr 192.168.12.1 drop" in rs
    assert 'iifname @uplinks oifname "wlan0" ip daddr 192.168.12.0/24 ct state established,related accept' in rs


def test_nft_fastpath_offloads_only_what_is_accepted() -> None:
    rs = nft_ruleset(plan(), fastpath=("wlan0", "ppp0"))
    assert 'devices = { "wlan0", "ppp0" }' in rs
    assert ('iifname "wlan0" oifname @uplinks ip saddr 192.168.12.0/24 meta l4proto { tcp, udp } '
            "ct state established flow add @fastpath") in rs
    assert "flowtable" not in nft_ruleset(plan())


def test_nft_ruleset_with_other_uplinks() -> None:
    assert 'elements = { "usb0" }' in nft_ruleset(plan(), uplinks=("usb0",))
    assert "elements" not in nft_ruleset(plan(), uplinks=())


def test_max_stations_limits_hostapd() -> None:
    assert "max_num_sta=8" in hostapd_conf(plan(MAX_STATIONS="8")).splitlines()
    assert not any(ln.startswith("max_num_sta") for ln in hostapd_conf(plan()).splitlines())
