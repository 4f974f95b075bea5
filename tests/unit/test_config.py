"""Parsing and validating create_ap-style configuration."""

from __future__ import annotations

import ipaddress

import pytest

from hotshare.config import (
    KNOWN_KEYS,
    ConfigError,
    from_mapping,
    parse_conf_text,
    require_ap_settings,
    to_conf_text,
)

SEED_000_CONF = """\
CHANNEL=default
GATEWAY=10.0.0.1
WPA_VERSION=2
ETC_HOSTS=0
DHCP_DNS=gateway
NO_DNS=0
NO_DNSMASQ=0
HIDDEN=0
MAC_FILTER=0
MAC_FILTER_ACCEPT=/etc/hostapd/hostapd.accept
ISOLATE_CLIENTS=0
SHARE_METHOD=nat
IEEE80211N=0
IEEE80211AC=0
HT_CAPAB=[HT40+]
VHT_CAPAB=
DRIVER=nl80211
NO_VIRT=0
COUNTRY=
FREQ_BAND=2.4
NEW_MACADDR=
DAEMONIZE=0
NO_HAVEGED=0
WIFI_IFACE=wlan0
INTERNET_IFACE=ppp0
SSID=WIF
PASSPHRASE=12345678
USE_PSK=0
"""


def base(**kw: str) -> dict[str, str]:
    raw = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "ppp0", "SSID": "hotshare", "PASSPHRASE": "correct horse"}
    raw.update(kw)
    return raw


def test_seed_000_create_ap_conf_is_accepted_as_is() -> None:
    cfg = from_mapping(parse_conf_text(SEED_000_CONF))
    assert cfg.wifi_iface == "wlan0"
    assert cfg.uplinks == ("ppp0",)
    assert cfg.ssid == "WIF" and cfg.passphrase == "12345678"
    assert cfg.gateway == ipaddress.IPv4Address("10.0.0.1")
    assert cfg.band_channel == 1 and cfg.wpa_version == "2" and cfg.share_method == "nat"


def test_every_create_ap_key_of_seed_000_is_known() -> None:
    for key in parse_conf_text(SEED_000_CONF):
        assert key in KNOWN_KEYS


def test_file_is_parsed_not_executed() -> None:
    raw = parse_conf_text('SSID="$(reboot)"\nPASSPHRASE=\'`id`xxxxxx\'\n# comment\n\nWIFI_IFACE=wlan0\n')
    assert raw == {"SSID": "$(reboot)", "PASSPHRASE": "`id`xxxxxx", "WIFI_IFACE": "wlan0"}


def test_unknown_key_is_reported_by_name() -> None:
    with pytest.raises(ConfigError, match=r"^FOO_BAR: is not a key hotshare knows"):
        from_mapping(base(FOO_BAR="1"))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("PASSPHRASE", "short", r"^PASSPHRASE: must be 8 to 63 characters \(got 5\)"),
    ("PASSPHRASE", "x" * 64, r"^PASSPHRASE: must be 8 to 63"),
    ("PASSPHRASE", "tab\there!", r"^PASSPHRASE: must be printable ASCII"),
    ("SSID", "a" * 33, r"^SSID: must be 1 to 32 bytes"),
    ("SSID", "evil\nwpa=0", r"^SSID: contains control characters"),
    ("WIFI_IFACE", "wlan0; rm -rf /", r"^WIFI_IFACE: .* is not an interface name"),
    ("INTERNET_IFACE", "ppp0\nx", r"^INTERNET_IFACE: .* is not an interface name"),
    ("CHANNEL", "15", r"^CHANNEL: 15 is not a 2.4 GHz channel"),
    ("CHANNEL", "six", r"^CHANNEL: 'six' is not a channel number"),
    ("WPA_VERSION", "1", r"^WPA_VERSION: 1 \(WPA1/TKIP\) is insecure"),
    ("WPA_VERSION", "4", r"^WPA_VERSION: '4' is not supported; use one of 2, 3, 2\+3"),
    ("GATEWAY", "8.8.8.8", r"^GATEWAY: 8.8.8.8 is not a private address"),
    ("GATEWAY", "192.168.12.255", r"^GATEWAY: .* broadcast"),
    ("GATEWAY", "300.1.1.1", r"^GATEWAY: '300.1.1.1' is not an IPv4 address"),
    ("HIDDEN", "maybe", r"^HIDDEN: 'maybe' is not a boolean; use 1 or 0"),
    ("COUNTRY", "CHN", r"^COUNTRY: 'CHN' is not an ISO 3166"),
    ("HT_CAPAB", "[HT40+]\nwpa=0", r"^HT_CAPAB: .* is not a list of \[FLAGS\]"),
    ("DRIVER", "wext", r"^DRIVER: 'wext' is not supported; use one of nl80211"),
    ("NEW_MACADDR", "zz:11:22:33:44:55", r"^NEW_MACADDR: .* is not a MAC address"),
    ("DHCP_DNS", "1.1.1.1,nope", r"^DHCP_DNS: 'nope' is not an IPv4 address"),
    ("SHARE_METHOD", "tunnel", r"^SHARE_METHOD: 'tunnel' is not supported"),
    ("IEEE80211AC", "1", r"^IEEE80211AC: 802.11ac needs the 5 GHz band"),
])
def test_bad_values_name_the_key_and_the_fix(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        from_mapping(base(**{key: value}))
    text = str(info.value)
    assert "\n" not in text and "; " in text  # one line: the problem, then the fix


def test_raw_psk_needs_64_hex_digits() -> None:
    assert from_mapping(base(USE_PSK="1", PASSPHRASE="ab" * 32)).use_psk
    with pytest.raises(ConfigError, match="^PASSPHRASE: with USE_PSK=1"):
        from_mapping(base(USE_PSK="1", PASSPHRASE="not hex at all"))


def test_wpa3_cannot_use_a_raw_psk() -> None:
    with pytest.raises(ConfigError, match="^USE_PSK:"):
        from_mapping(base(USE_PSK="1", PASSPHRASE="ab" * 32, WPA_VERSION="3"))


def test_uplink_list_and_auto() -> None:
    assert from_mapping(base(INTERNET_IFACE="ppp0,usb0")).uplinks == ("ppp0", "usb0")
    assert from_mapping(base(INTERNET_IFACE="auto")).uplinks == ()
    with pytest.raises(ConfigError, match="^INTERNET_IFACE: wlan0 is also the hotspot interface.*drop NO_VIRT"):
        from_mapping(base(INTERNET_IFACE="wlan0", NO_VIRT="1"))


def test_mac_lists_are_read_and_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "accept"
    good.write_text("# phones\n02:00:00:00:01:00\n02:00:00:00:02:00  # tablet\n")
    cfg = from_mapping(base(MAC_FILTER="1", MAC_FILTER_ACCEPT=str(good)))
    assert cfg.mac_accept == ("02:00:00:00:01:00", "02:00:00:00:02:00")
    bad = tmp_path / "deny"
    bad.write_text("02:00:00:00:01:00\nnot-a-mac\n")
    with pytest.raises(ConfigError, match=r"^MAC_FILTER_DENY: .*deny:2 is not a MAC") as info:
        from_mapping(base(MAC_FILTER_DENY=str(bad)))
    assert "not-a-mac" not in str(info.value)  # a file's contents are never echoed
    with pytest.raises(ConfigError, match="^MAC_FILTER_ACCEPT: cannot read"):
        from_mapping(base(MAC_FILTER="1", MAC_FILTER_ACCEPT=str(tmp_path / "missing")))


def test_passphrase_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "passphrase"
    f.write_text("from a file 123\n")
    raw = base(PASSPHRASE_FILE=str(f))
    del raw["PASSPHRASE"]
    assert from_mapping(raw).passphrase == "from a file 123"


def test_ap_settings_required_only_for_radios() -> None:
    cfg = from_mapping({"WIFI_IFACE": "eth1", "INTERNET_IFACE": "ppp0"})
    with pytest.raises(ConfigError, match="^SSID: is not set"):
        require_ap_settings(cfg)


def test_public_view_masks_the_passphrase() -> None:
    pub = from_mapping(base()).public()
    assert pub["passphrase"] == "********"
    assert "correct horse" not in repr(pub) and "correct horse" not in repr(from_mapping(base()))


def test_mkconfig_round_trip() -> None:
    raw = base(CHANNEL="6", HIDDEN="1")
    assert parse_conf_text(to_conf_text(raw)) == raw


# -- limits at the limit ----------------------------------------------------------

@pytest.mark.parametrize(("length", "ok"), [(7, False), (8, True), (63, True), (64, False)])
def test_passphrase_length_boundaries(length: int, ok: bool) -> None:
    phrase = "p" * length
    if ok:
        assert from_mapping(base(PASSPHRASE=phrase)).passphrase == phrase
    else:
        with pytest.raises(ConfigError, match=rf"^PASSPHRASE: must be 8 to 63 characters \(got {length}\)"):
            from_mapping(base(PASSPHRASE=phrase))


def test_64_characters_are_a_raw_psk_only_with_use_psk_and_hex() -> None:
    psk = "0123456789abcdefABCDEF" * 2 + "0123456789abcdefABCD"
    assert len(psk) == 64
    assert from_mapping(base(USE_PSK="1", PASSPHRASE=psk)).passphrase == psk
    with pytest.raises(ConfigError, match=r"^PASSPHRASE: must be 8 to 63"):
        from_mapping(base(PASSPHRASE=psk))                       # USE_PSK=0: 64 is one too many
    with pytest.raises(ConfigError, match=r"^PASSPHRASE: with USE_PSK=1 it must be a raw PSK of 64 hex"):
        from_mapping(base(USE_PSK="1", PASSPHRASE=psk[:-1] + "g"))  # 64, not all hex
    for n in (63, 65):
        with pytest.raises(ConfigError, match=r"^PASSPHRASE: with USE_PSK=1 it must be a raw PSK of 64 hex"):
            from_mapping(base(USE_PSK="1", PASSPHRASE="a" * n))


@pytest.mark.parametrize(("ssid", "nbytes", "ok"), [
    ("s" * 32, 32, True),
    ("s" * 33, 33, False),
    ("é" * 16, 32, True),       # 16 characters, 2 bytes each
    ("é" * 16 + "x", 33, False),
    ("€" * 10 + "xx", 32, True),
    ("€" * 11, 33, False),      # 11 characters, 3 bytes each
    ("s", 1, True),
])
def test_ssid_limit_is_32_bytes_of_utf8_not_32_characters(ssid: str, nbytes: int, ok: bool) -> None:
    assert len(ssid.encode("utf-8")) == nbytes
    if ok:
        assert from_mapping(base(SSID=ssid)).ssid == ssid
    else:
        with pytest.raises(ConfigError, match=rf"^SSID: must be 1 to 32 bytes \(got {nbytes}\)"):
            from_mapping(base(SSID=ssid))


@pytest.mark.parametrize(("band", "channel", "ok"), [
    ("2.4", 1, True), ("2.4", 14, True), ("2.4", 0, False), ("2.4", 15, False),
    ("5", 36, True), ("5", 165, True), ("5", 35, False), ("5", 37, False), ("5", 166, False),
    ("5", 1, False), ("2.4", 36, False),
])
def test_channel_boundaries_per_band(band: str, channel: int, ok: bool) -> None:
    raw = base(FREQ_BAND=band, CHANNEL=str(channel))
    if ok:
        cfg = from_mapping(raw)
        assert (cfg.channel, cfg.band_channel, cfg.freq_band) == (channel, channel, band)
    else:
        with pytest.raises(ConfigError, match=rf"^CHANNEL: {channel} is not a {band} GHz channel"):
            from_mapping(raw)


@pytest.mark.parametrize("gw", ["127.0.1.1", "169.254.1.1", "240.0.0.1", "0.0.0.1"])
def test_a_gateway_no_client_could_use_is_refused_with_the_fix(gw: str) -> None:
    with pytest.raises(ConfigError, match=f"^GATEWAY: {gw} is not a .*; use an address from 10/8"):
        from_mapping(base(GATEWAY=gw))


def test_a_raw_psk_without_use_psk_gets_the_hint() -> None:
    with pytest.raises(ConfigError, match="set USE_PSK=1"):
        from_mapping(base(PASSPHRASE="ab" * 32))
