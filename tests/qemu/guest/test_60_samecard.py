"""One radio, two roles: the board's radio is a station to an upstream AP
(its uplink) and serves the hotspot from a virtual interface (ap0) of the
same phy; the AP follows the station when the upstream AP changes channel.

    wup (ns): radio 4 = upstream AP "upstream-lab" (hostapd), 10.77.0.1/24,
              DHCP (dnsmasq), HTTP on 10.77.0.1:80 answering the client address
    board:    radio 0 wlan0 = station to it (wpa_supplicant, udhcpc);
              hotshare wlan0 wlan0 -> ap0 on the same phy
    phone1:   joins ap0, reaches 10.77.0.1 through the station uplink

The lab's parts are in tests/lab/upstream.py. The figures (join to online,
channel-change recovery) are measured by `make bench` (bench/samecard_bench.py);
this run also writes them to the results' logs/samecard-figures.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.hotspot import HotshareCLI, HotspotConfig, hotshare_nft_tables, hotshare_processes, read_sysctls, sysctl_names
from lab.netns import ROOT
from lab.phone import Phone
from lab.proc import wait_until
from lab.radios import Hwsim, Radio, RadioBackend
from lab.upstream import UP_ADDR, UP_PASS, UP_SSID, BoardStation, UpstreamAP, freq_of, online


@pytest.fixture(scope="module")
def upstream(radio_backend: RadioBackend, radios: list[Radio], workdir: Path, logdir: Path) -> Iterator[UpstreamAP]:
    if not isinstance(radio_backend, Hwsim):  # vwifi: no virtual interfaces beside a station, no channel switch
        pytest.skip(f"the same-card tests need mac80211_hwsim, not {radio_backend.name}")
    ap = UpstreamAP(radios[4], workdir, logdir).start(channel=1)
    yield ap
    ap.stop()


@pytest.fixture(scope="module")
def board_station(ap_radio: Radio, upstream: UpstreamAP, workdir: Path, logdir: Path) -> Iterator[BoardStation]:
    sta = BoardStation(ap_radio, workdir, logdir).setup()
    sta.connect(UP_SSID, UP_PASS, timeout=60)
    sta.dhcp()
    yield sta
    sta.teardown()


def test_samecard_iw_phy_info_captured(radio_backend: RadioBackend, ap_radio: Radio, logdir: Path) -> None:
    """The hwsim radio's `iw phy info` (the unit tests parse a copy): AP with managed, one channel."""
    if not isinstance(radio_backend, Hwsim):
        pytest.skip(f"captures mac80211_hwsim's, not {radio_backend.name}'s")
    info = ap_radio.phy_info()
    (logdir / "hwsim-iw-phy-info.txt").write_text(info)
    assert "valid interface combinations:" in info


def test_samecard_one_radio_two_roles(hotshare_cli: HotshareCLI, board_station: BoardStation, phone1: Phone,
                                      upstream: UpstreamAP, ap_radio: Radio, logdir: Path) -> None:
    iface = ap_radio.iface
    station_ip = board_station.lease.ip if board_station.lease else ""
    station_mac = Path(f"/sys/class/net/{iface}/address").read_text().strip()
    config = HotspotConfig(ssid="hotshare-samecard")
    figures: dict[str, float] = {}
    dry = hotshare_cli.run("up", "--dry-run", "--json", iface, iface, config.ssid, config.passphrase)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["link_ops"][0]["op"] == "virt_add" and plan["link_ops"][0]["ifname"] == "ap0"
    assert not ROOT.link_exists("ap0"), "the dry run made the virtual interface"
    try:
        t0 = time.monotonic()
        up = hotshare_cli.run("up", "--daemon", *config.options(hotshare_cli.files_dir), iface, iface,
                              config.ssid, config.passphrase, timeout=240)
        assert up.returncode == 0, up.stderr
        figures["up_s"] = time.monotonic() - t0
        assert ROOT.link_exists("ap0")
        ap_mac = Path("/sys/class/net/ap0/address").read_text().strip()
        assert ap_mac != station_mac
        assert freq_of("ap0") == freq_of(iface) == 2412
        t0 = time.monotonic()
        phone1.connect(config.ssid, config.passphrase, timeout=90)
        phone1.dhcp()
        figures["join_to_online_s"] = time.monotonic() - t0 + online(phone1, 30)
        # The server sees the board's station address: the phone went out through the station uplink.
        assert phone1.http_get(f"http://{UP_ADDR}/").strip() == station_ip

        # The upstream AP moves to channel 6 (a channel switch announcement).
        t0 = time.monotonic()
        upstream.cli("chan_switch", "5", "2437")
        wait_until(lambda: freq_of(iface) == 2437, 60.0, interval=0.2, what="the station to follow to 2437 MHz")
        wait_until(lambda: freq_of("ap0") == 2437, 60.0, interval=0.2, what="the AP to follow to 2437 MHz")
        online(phone1, 90)
        figures["csa_recovery_s"] = time.monotonic() - t0

        # The upstream AP restarts on channel 11: the station reconnects there, the AP follows.
        t0 = time.monotonic()
        upstream.stop_hostapd()
        upstream.start_hostapd(11)
        wait_until(lambda: freq_of(iface) == 2462 and freq_of("ap0") == 2462, 120.0, interval=0.2,
                   what="the station and the AP on 2462 MHz")
        phone1.wait_connected(90)
        online(phone1, 90)
        figures["restart_recovery_s"] = time.monotonic() - t0
        assert phone1.http_get(f"http://{UP_ADDR}/").strip() == station_ip
    finally:
        (logdir / "samecard-figures.json").write_text(json.dumps(figures, indent=1))
        print("same-card figures:", figures)
        phone1.disconnect()
        down = hotshare_cli.down(iface)   # the station's name finds the hotspot made beside it
    assert down.returncode == 0, down.stderr
    assert not ROOT.link_exists("ap0"), "down left the virtual interface"
    assert board_station.status().get("wpa_state") == "COMPLETED", "down disturbed the station uplink"
    assert ROOT.ipv4_addresses(iface) == [f"{station_ip}/24"]


def test_samecard_crash_then_start_then_down_leave_nothing(hotshare_cli: HotshareCLI, board_station: BoardStation,
                                                           upstream: UpstreamAP, ap_radio: Radio) -> None:
    """A crash (SIGKILL) leaves ap0 and hostapd; the next start undoes them
    first (its journal) and makes ap0 afresh; down removes it, the station stays."""
    iface = ap_radio.iface
    baseline = read_sysctls(sysctl_names("ap0", iface))
    config = HotspotConfig(ssid="hotshare-samecard-crash")
    args = ("up", "--daemon", *config.options(hotshare_cli.files_dir), iface, iface, config.ssid, config.passphrase)
    up = hotshare_cli.run(*args, timeout=240)
    assert up.returncode == 0, up.stderr
    pidfile = Path(os.environ["HOTSHARE_RUNDIR"]) / "ap0.pid"
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    time.sleep(0.5)
    assert ROOT.link_exists("ap0"), "a crash should have left ap0 (or the test proves nothing)"
    try:
        again = hotshare_cli.run(*args, timeout=240)
        assert again.returncode == 0, again.stderr
        assert ROOT.link_exists("ap0") and freq_of("ap0") == freq_of(iface)
    finally:
        down = hotshare_cli.down(iface)
    assert down.returncode == 0, down.stderr
    problems = [f"process {pid}: {argv}" for pid, argv in hotshare_processes(hotshare_cli.argv_prefix)
                if not any(str(upstream.dir) in a for a in argv)]  # not the upstream AP's own
    problems += [f"table {f} {n}" for f, n in hotshare_nft_tables()]
    problems += ["ap0 is still there"] * ROOT.link_exists("ap0")
    problems += [f"sysctl {k}" for k, v in read_sysctls(list(baseline)).items() if v != baseline[k]]
    if ROOT.link_exists("ap0"):
        subprocess.run(["iw", "dev", "ap0", "del"], check=False)
    assert problems == []
    assert board_station.status().get("wpa_state") == "COMPLETED", "the station uplink was disturbed"
