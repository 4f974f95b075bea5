"""hotshare qr: the WIFI: text escaped per the scheme, drawn by the real
qrencode, read back by a real decoder (zbarimg), the passphrase never in
an argument. (From the running hotspot: tests/qemu/guest/test_regulatory_channel.py.)"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from hotshare.cli.main import main
from hotshare.plan.qr import Network, from_hostapd_conf, wifi_payload
from hotshare.system.run import find_binary

SSID = 'Café;AP,"x":\\'
PASSPHRASE = 'p@ss;w,o:r"d\\ 1'
EXPECTED = 'WIFI:T:WPA;S:Café\\;AP\\,\\"x\\"\\:\\\\;P:p@ss\\;w\\,o\\:r\\"d\\\\ 1;;'

needs_tools = pytest.mark.skipif(not (shutil.which("qrencode") and shutil.which("zbarimg")),
                                 reason="qrencode and zbarimg missing (run support/setup)")


def test_payload_escapes_backslash_semicolon_comma_colon_and_quote() -> None:
    assert wifi_payload(Network(SSID, PASSPHRASE)) == EXPECTED
    assert wifi_payload(Network("a", "12345678", hidden=True)) == "WIFI:T:WPA;S:a;P:12345678;H:true;;"


def test_the_running_hostapd_conf_gives_the_network() -> None:
    conf = f"interface=wlan0\nssid2={SSID.encode().hex()}\nignore_broadcast_ssid=1\nwpa_passphrase={PASSPHRASE}\n"
    assert from_hostapd_conf(conf) == Network(SSID, PASSPHRASE, hidden=True)
    assert from_hostapd_conf("interface=eth0\n") is None
    assert from_hostapd_conf(conf + "wpa_key_mgmt=SAE\n") == Network(SSID, PASSPHRASE, hidden=True, sae_only=True)
    assert from_hostapd_conf(conf + "wpa_key_mgmt=WPA-PSK SAE\n") == Network(SSID, PASSPHRASE, hidden=True)


@needs_tools
@pytest.mark.parametrize(("wpa", "kind"), [("3", "SAE"), ("2+3", "WPA"), ("2", "WPA")])
def test_wpa3_only_is_t_sae_and_transition_mode_stays_t_wpa(tmp_path: Path, wpa: str, kind: str) -> None:
    """Android's generator and ZXing: T:SAE for WPA3-Personal only; a
    transition-mode AP (WPA2+WPA3) is T:WPA, which every phone joins."""
    os.chmod(tmp_path, 0o700)
    png = tmp_path / "label.png"
    assert main(["qr", "--config", str(_conf(tmp_path, wpa=wpa)), "--png", str(png)]) == 0
    assert _decode(png) == EXPECTED.replace("T:WPA;", f"T:{kind};")


def _conf(tmp_path: Path, hidden: str = "0", wpa: str = "2") -> Path:
    conf = tmp_path / "hotshare.conf"
    conf.write_text(f"WIFI_IFACE=wlan0\nSSID='{SSID}'\nPASSPHRASE='{PASSPHRASE}'\nHIDDEN={hidden}\n"
                    f"WPA_VERSION={wpa}\n")
    return conf


def _decode(png: Path) -> str:
    out = subprocess.run(["zbarimg", "--nodbus", "-Sbinary", "--raw", "-q", str(png)], capture_output=True,
                         check=True).stdout
    return out.decode("utf-8")


@needs_tools
def test_png_and_svg_decode_to_the_payload_and_are_private(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o700)
    png, svg = tmp_path / "label.png", tmp_path / "label.svg"
    assert main(["qr", "--config", str(_conf(tmp_path)), "--png", str(png), "--svg", str(svg)]) == 0
    assert _decode(png) == EXPECTED
    assert "<svg" in svg.read_text()
    assert stat.S_IMODE(png.stat().st_mode) == stat.S_IMODE(svg.stat().st_mode) == 0o600
    assert main(["qr", "--config", str(_conf(tmp_path, hidden="1")), "--png", str(png)]) == 0
    assert _decode(png) == EXPECTED.removesuffix(";") + "H:true;;"


@needs_tools
def test_terminal_code_is_utf8_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qr", "--config", str(_conf(tmp_path))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 10 and len({len(line) for line in lines}) == 1
    assert set("".join(lines)) <= set(" █▀▄")


@needs_tools
def test_the_passphrase_reaches_qrencode_on_stdin_never_in_an_argument(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A qrencode in front of the real one records every process's argv
    while it runs, then draws: none may hold the passphrase."""
    os.chmod(tmp_path, 0o700)
    seen = tmp_path / "cmdlines"
    spy = tmp_path / "bin" / "qrencode"
    spy.parent.mkdir()
    real = shutil.which("qrencode")
    spy.write_text(f"#!/bin/sh\ncat /proc/[0-9]*/cmdline > {seen} 2>/dev/null\nexec {real} \"$@\"\n")
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{spy.parent}:{os.environ['PATH']}")
    find_binary.cache_clear()
    try:
        png = tmp_path / "x.png"
        assert main(["qr", "--config", str(_conf(tmp_path)), "--png", str(png)]) == 0
    finally:
        find_binary.cache_clear()
    assert _decode(png) == EXPECTED                      # it did draw the passphrase...
    argvs = seen.read_bytes()
    assert b"qrencode" in argvs and b"-t\0PNG" in argvs  # ...while the spy saw its arguments...
    assert PASSPHRASE.encode() not in argvs and b"p@ss" not in argvs   # ...and never the secret
