"""Configuration input that must not reach a generated file, the command line
or an error message, and files that must not be redirected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotshare.config import ConfigError, from_mapping, parse_conf_text, to_conf_text
from hotshare.errors import OperationError
from hotshare.system import files

BASE = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "ppp0", "SSID": "net", "PASSPHRASE": "a long passphrase"}


@pytest.mark.parametrize("sep", ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_only_newline_ends_a_line(sep: str) -> None:
    text = f"SSID=x{sep}DHCP_DNS=6.6.6.6\nWIFI_IFACE=wlan0\n"
    raw = parse_conf_text(text)
    assert "DHCP_DNS" not in raw and raw["SSID"] == f"x{sep}DHCP_DNS=6.6.6.6"
    with pytest.raises(ConfigError, match="^SSID: contains control characters"):
        from_mapping({**BASE, **raw})


@pytest.mark.parametrize("key", ["MAC_FILTER_DENY", "DNS_SERVERS_FILE", "PASSPHRASE_FILE", "COUNTRY", "DRIVER"])
def test_no_key_carries_a_separator(key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        from_mapping({**BASE, key: "/etc/x\u2028y"})


def test_what_create_aps_source_accepted_in_practice() -> None:
    text = ("\ufeff# made on Windows\r\nexport WIFI_IFACE=wlan0\r\n  SSID='My Net'  # the name\r\n"
            'PASSPHRASE="pass # word" # hash inside quotes\nCHANNEL=6 # six\n')
    assert parse_conf_text(text) == {"WIFI_IFACE": "wlan0", "SSID": "My Net", "PASSPHRASE": "pass # word",
                                     "CHANNEL": "6"}


def test_a_key_twice_is_an_error_naming_both_lines() -> None:
    with pytest.raises(ConfigError, match=r"^SSID: is set twice \(f:1 and f:3\)"):
        parse_conf_text("SSID=a\nCHANNEL=1\nSSID=b\n", source="f")


def test_mkconfig_round_trips_awkward_values() -> None:
    raw = {**BASE, "SSID": " spaced # and hashed ", "PASSPHRASE": 'it\'s "quoted"'}
    with pytest.raises(ConfigError, match="^PASSPHRASE: contains both kinds of quotes"):
        to_conf_text(raw)
    raw["PASSPHRASE"] = "it's a long one"
    assert parse_conf_text(to_conf_text(raw)) == raw


def test_atomic_write_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(OperationError, match="writable by group or others"):
        files.atomic_write(str(shared / "hotshare.conf"), "PASSPHRASE=x\n")
    assert list(shared.iterdir()) == []


def test_atomic_write_replaces_a_planted_link_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "hotshare.conf"
    link.symlink_to(victim)
    files.atomic_write(str(link), "PASSPHRASE=x\n", 0o600)
    assert victim.read_text() == "precious\n" and not link.is_symlink()
    assert oct(os.stat(link).st_mode & 0o777) == "0o600"
