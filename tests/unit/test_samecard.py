"""One radio, two roles (plan.samecard): the driver's interface combinations,
the virtual AP interface and its channel, decided before anything changes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hotshare.config import ConfigError, from_mapping
from hotshare.plan.facts import Facts, RadioFacts
from hotshare.plan.hostapd import hostapd_conf
from hotshare.plan.make import make_plan
from hotshare.plan.regulatory import Radio, parse_channels
from hotshare.plan.samecard import ap_station_channels, channel_of, parse_combinations, retuned, virtual_mac
from lab.snapshots import snap

# `iw phy phy0 info` of a mac80211_hwsim radio, captured in the lab (test_60_samecard)
HWSIM_INFO = (Path(__file__).parent / "data" / "hwsim-iw-phy-info.txt").read_text()

# A driver that can have one interface at a time (no combinations at all).
SINGLE = ("Wiphy phy1\n\tSupported interface modes:\n\t\t * managed\n\t\t * AP\n"
          "\tinterface combinations are not supported\n")

# AP and station only in one group that allows one interface: never both.
EXCLUSIVE = """Wiphy phy2
\tvalid interface combinations:
\t\t * #{ managed, AP } <= 1, #{ P2P-device } <= 1,
\t\t   total <= 2, #channels <= 1
\tHT Capability overrides:
"""

# Two channels at once (a multi-channel concurrent chip).
DUAL = """Wiphy phy3
\tvalid interface combinations:
\t\t * #{ managed } <= 1, #{ AP, P2P-GO } <= 1,
\t\t   total <= 2, #channels <= 2
"""


def radio(info: str = HWSIM_INFO, freq: int = 2437) -> RadioFacts:
    return RadioFacts(phy="phy0", phy_mac="02:00:00:00:00:00", info=info, station="wlan0", station_freq=freq)


def plan_for(radio_facts: RadioFacts, **kw: str):  # type: ignore[no-untyped-def]
    raw = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "wlan0", "SSID": "s", "PASSPHRASE": "12345678", **kw}
    s = snap({"wlan0": ["10.77.0.20/24"]}, [("0.0.0.0/0", "wlan0", 0)], links=("lo", "wlan0"))
    return make_plan(from_mapping(raw), Facts(snapshot=s, wireless=True, card=radio_facts))


def test_hwsim_allows_an_ap_beside_a_station_on_one_channel() -> None:
    combos = parse_combinations(HWSIM_INFO)
    assert combos, "no combination parsed from the real iw output"
    assert ap_station_channels(combos) == 1


def test_drivers_that_cannot_do_both_or_can_on_two_channels() -> None:
    assert ap_station_channels(parse_combinations(SINGLE)) == 0
    assert ap_station_channels(parse_combinations(EXCLUSIVE)) == 0
    assert ap_station_channels(parse_combinations(DUAL)) == 2


def test_same_interface_twice_makes_a_virtual_ap_on_the_stations_channel() -> None:
    p = plan_for(radio(freq=2437))
    assert p.cfg.wifi_iface == "ap0" and p.cfg.virt_of == "wlan0"
    first = p.link_ops[0].to_dict()
    assert first == {"op": "virt_add", "ifname": "ap0", "missing_ok": False, "phy": "phy0",
                     "mac": "02:00:00:00:00:01"}
    assert "interface=ap0\n" in hostapd_conf(p) and "channel=6\n" in hostapd_conf(p)
    assert p.uplinks == ("wlan0",)
    assert p.to_dict()["same_card"]["follows_station"] is True


def test_channel_auto_on_a_one_channel_radio_is_the_stations_channel() -> None:
    """CHANNEL=auto does not override the one channel the radio has: the AP
    goes where the station is, with no scan of its own."""
    raw = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "wlan0", "SSID": "s", "PASSPHRASE": "12345678",
           "CHANNEL": "auto"}
    s = snap({"wlan0": ["10.77.0.20/24"]}, [("0.0.0.0/0", "wlan0", 0)], links=("lo", "wlan0"))
    p = make_plan(from_mapping(raw), Facts(snapshot=s, wireless=True, card=radio(freq=2462),
                                           radio=Radio(parse_channels(HWSIM_INFO), hostapd_acs=True)))
    assert p.channel == 11 and p.chanlist == () and not p.scan_first
    assert "channel=11\n" in hostapd_conf(p)


def test_virt_name_and_no_virt() -> None:
    assert plan_for(radio(), VIRT_NAME="hs0").link_ops[0].ifname == "hs0"
    with pytest.raises(ConfigError, match="^VIRT_NAME: 'bad name' is not an interface name"):
        plan_for(radio(), VIRT_NAME="bad name")
    with pytest.raises(ConfigError, match="^INTERNET_IFACE: wlan0 is also the hotspot interface"):
        plan_for(radio(), NO_VIRT="1")


def test_refusals_name_the_limit_before_anything_changes() -> None:
    with pytest.raises(ConfigError, match=r"^WIFI_IFACE: the radio phy0 of wlan0 cannot be an AP and a station "):
        plan_for(radio(SINGLE))
    with pytest.raises(ConfigError, match=r"^CHANNEL: .*one channel at a time \(#channels <= 1\) and wlan0 is on "
                                          r"channel 6 \(2.4 GHz\)"):
        plan_for(radio(), CHANNEL="1")
    with pytest.raises(ConfigError, match=r"^FREQ_BAND: .*wlan0 is on channel 6 \(2.4 GHz\).*CHANNEL=6"):
        plan_for(radio(), FREQ_BAND="5")
    # the station's own channel is fine, and a two-channel radio keeps the one asked
    assert plan_for(radio(), CHANNEL="6").cfg.channel == 6
    assert plan_for(radio(DUAL), CHANNEL="1").cfg.channel == 1


def test_a_station_on_5ghz_takes_the_ap_there() -> None:
    p = plan_for(radio(freq=5180))
    assert (p.cfg.freq_band, p.cfg.channel) == ("5", 36)
    assert "hw_mode=a\n" in hostapd_conf(p)


def test_an_existing_interface_of_that_name_is_refused() -> None:
    raw = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "wlan0", "SSID": "s", "PASSPHRASE": "12345678"}
    s = snap({}, [], links=("lo", "wlan0", "ap0"))
    with pytest.raises(ConfigError, match="^VIRT_NAME: ap0 exists already"):
        make_plan(from_mapping(raw), Facts(snapshot=s, wireless=True, card=radio()))


def test_the_virtual_mac_differs_and_is_locally_administered() -> None:
    assert virtual_mac("00:11:22:33:44:55") == "02:11:22:33:44:56"
    assert virtual_mac("02:00:00:00:00:00") != "02:00:00:00:00:00"
    assert int(virtual_mac("ff:11:22:33:44:ff").split(":")[0], 16) & 0x03 == 0x02  # unicast, local


def test_retune_follows_the_station_across_bands() -> None:
    p = plan_for(radio(freq=2412))
    cfg = retuned(p.cfg, 2462)
    moved = dataclasses.replace(p, cfg=cfg, channel=cfg.channel)  # as the follower does
    assert "channel=11\n" in hostapd_conf(moved)
    assert channel_of(2484) == ("2.4", 14) and channel_of(5745) == ("5", 149)
    with pytest.raises(ValueError):
        channel_of(5955)  # 6 GHz
