"""CHANNEL=auto and COUNTRY with a real hostapd on mac80211_hwsim radios
(among neighbours' networks on other radios: a channel without them);
`hotshare qr` of the running hotspot, decoded; --hostapd-debug's output in
the log without the passphrase.

Named to run after the doctor's radio tests: a COUNTRY hint can leave the
kernel's regulatory domain changed for what follows (on vwifi an
intersection, "country 98", that `iw reg set 00` does not undo)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.hotspot import HotshareCLI, Hotspot, HotspotManager, leftovers, read_sysctls, sysctl_names
from lab.neighbours import NeighbourAPs
from lab.phone import Phone
from lab.proc import processes, wait_until
from lab.radios import Hwsim, Radio, RadioBackend
from lab.syslog import SyslogCollector

PASSPHRASE = "auto;chan,pass:1"


def _iw_reg() -> str:
    return subprocess.run(["iw", "reg", "get"], capture_output=True, text=True, check=False).stdout


@pytest.fixture(autouse=True)
def _world_domain_after() -> Iterator[None]:
    """hostapd's country_code=DE stays the kernel's regulatory domain after
    hostapd stops; later tests (the doctor's) expect the world domain."""
    yield
    subprocess.run(["iw", "reg", "set", "00"], check=False)
    for _ in range(50):
        if "country 00" in _iw_reg():
            return
        time.sleep(0.1)


def _flags(phy_info: str, channel: int) -> str:
    m = re.search(rf"^\s*\* [\d.]+ MHz \[{channel}\](.*)$", phy_info, re.M)
    assert m, f"the radio has no channel {channel}"
    return m.group(1)


def test_auto_comes_up_on_an_allowed_channel_and_a_phone_joins(
        hotshare: Callable[..., Hotspot], hotshare_cli: HotshareCLI, ap_radio: Radio, phone1: Phone,
        syslog: SyslogCollector, logdir: Path) -> None:
    since = len(syslog.lines())
    dry = hotshare_cli.run("up", "--dry-run", "--json", "--country", "DE", "-c", "auto", ap_radio.iface, "ppp0",
                           "x", PASSPHRASE)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    survey = subprocess.run(["iw", "dev", ap_radio.iface, "survey", "dump"], capture_output=True, text=True).stdout
    ap = hotshare(passphrase=PASSPHRASE, country="DE", extra=["-c", "auto", "--hostapd-debug", "1"])
    status = ap.status()
    channel = int(status["ap"]["channel"])
    phy = Path(f"/sys/class/net/{ap_radio.iface}/phy80211/name").read_text().strip()
    info = subprocess.run(["iw", "phy", phy, "info"], capture_output=True, text=True, check=True).stdout
    flags = _flags(info, channel)
    (logdir / "channel-auto.txt").write_text(f"channel {channel} {flags}; dry run: channel {plan['channel']} "
                                             f"chanlist {plan['chanlist']}\n{_iw_reg()}\nsurvey:\n{survey}")
    assert 1 <= channel <= 13 and "no IR" not in flags and "radar" not in flags and "disabled" not in flags
    assert phone1.connect(ap.ssid, PASSPHRASE, security="wpa2", timeout=90)["wpa_state"] == "COMPLETED"
    phone1.dhcp()
    phone1.disconnect()
    log = "\n".join(syslog.lines(since))
    assert re.search(r"hostapd: .*(nl80211|wpa_driver|hostapd_setup_bss)", log), "no hostapd -d output in the log"
    assert PASSPHRASE not in log and "auto;chan" not in log


@pytest.mark.parametrize(("networks", "at_most"), [({1: 1, 6: 1}, 0), ({1: 1, 6: 1, 11: 3}, 1)],
                         ids=["1-and-6-busy", "11-crowded"])
def test_auto_takes_the_channel_the_neighbours_leave_free_and_a_phone_joins(
        hotshare: Callable[..., Hotspot], radio_backend: RadioBackend, radios: list[Radio], ap_radio: Radio,
        phone1: Phone, workdir: Path, logdir: Path, networks: dict[int, int], at_most: int) -> None:
    """Neighbours' networks on channels 1 and 6 (and three on 11): the radio
    scans once it is up, and the hotspot starts on a channel none of them
    overlaps (2.4 GHz channels less than 4 apart do), else the one the
    fewest do, never a no-IR or radar channel; a phone joins it."""
    if not isinstance(radio_backend, Hwsim):
        pytest.skip("neighbours' APs need mac80211_hwsim radios (vwifi's scan is not this lab's)")
    neighbours = NeighbourAPs(radios[5:8], workdir, logdir).start(networks)
    try:
        ap = hotshare(passphrase=PASSPHRASE, extra=["-c", "auto"])
        channel = int(ap.status()["ap"]["channel"])
        info = subprocess.run(["iw", "phy", ap_radio.phy, "info"], capture_output=True, text=True,
                              check=True).stdout
        flags = _flags(info, channel)
        overlapped = sum(n for busy, n in networks.items() if abs(busy - channel) < 4)
        (logdir / f"channel-auto-neighbours-{len(networks)}.txt").write_text(
            f"neighbours {networks}: channel {channel} {flags}, overlapped by {overlapped}\n")
        assert overlapped <= at_most, f"channel {channel} overlaps {overlapped} of the neighbours {networks}"
        assert "no IR" not in flags and "radar" not in flags and "disabled" not in flags
        assert phone1.connect(ap.ssid, PASSPHRASE, security="wpa2", timeout=90)["wpa_state"] == "COMPLETED"
        phone1.dhcp()
        phone1.disconnect()
    finally:
        neighbours.stop()


def _is_up(iface: str) -> bool:
    return bool(int(Path(f"/sys/class/net/{iface}/flags").read_text(), 16) & 1)


def _hostapd_runs() -> bool:
    return any(os.path.basename(argv[0]) == "hostapd" for _pid, argv in processes())


def test_the_link_auto_brings_up_to_scan_is_down_again_after_stop_and_after_a_crash(
        hotspots: HotspotManager, hotshare: Callable[..., Hotspot], hotshare_cli: HotshareCLI,
        ap_radio: Radio) -> None:
    """CHANNEL=auto scans with the AP interface up: on one that was down (the
    board at boot) that is a change like the others, undone on stop, and
    after a SIGKILL in the middle of the scan by `down` (the journal)."""
    iface = ap_radio.iface
    subprocess.run(["ip", "link", "set", iface, "down"], check=True)
    hotshare(passphrase=PASSPHRASE, extra=["-c", "auto"])
    assert _is_up(iface)
    hotspots.down()
    assert not _is_up(iface), "stop left the interface up"

    baseline = read_sysctls(sysctl_names(iface, hotspots.uplink))
    pidfile = Path(os.environ["HOTSHARE_RUNDIR"]) / f"{iface}.pid"
    argv = [*hotshare_cli.argv_prefix, "up", "--daemon", "-c", "auto", iface, hotspots.uplink, "lab-crash",
            PASSPHRASE]
    starting = subprocess.Popen(argv, env=hotshare_cli.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _is_up(iface) and pidfile.exists(), 120.0, interval=0.01, what=f"{iface} up to scan")
        scanning = not _hostapd_runs()
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    finally:
        starting.wait(120)
    assert scanning, "hostapd ran already: the kill missed the scan (the test proves nothing)"
    assert _is_up(iface), "the crash should have left the interface up (or the test proves nothing)"
    down = hotshare_cli.down(iface)
    assert down.returncode == 0, down.stderr
    assert not _is_up(iface), "the crash's interface up was not undone"
    assert leftovers(iface, hotspots.uplink, baseline, hotshare_cli.argv_prefix) == []


@pytest.mark.skipif(not shutil.which("zbarimg"), reason="zbarimg missing (run support/setup)")
def test_qr_of_the_running_hotspot_decodes_to_its_network(
        hotshare: Callable[..., Hotspot], hotshare_cli: HotshareCLI, ap_radio: Radio, workdir: Path) -> None:
    hotshare(ssid="lab;qr", passphrase=PASSPHRASE, hidden=True)
    png = workdir / "label.png"
    proc = hotshare_cli.run("qr", ap_radio.iface, "--png", str(png))
    assert proc.returncode == 0, proc.stderr
    decoded = subprocess.run(["zbarimg", "--nodbus", "-Sbinary", "--raw", "-q", str(png)], capture_output=True,
                             check=True).stdout.decode()
    assert decoded == "WIFI:T:WPA;S:lab\\;qr;P:auto\\;chan\\,pass\\:1;H:true;;"
    term = hotshare_cli.run("qr", ap_radio.iface)
    assert term.returncode == 0 and "█" in term.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["-c", "13"], "CHANNEL: 13 (2.4 GHz) is not allowed for an access point by COUNTRY=US"),
    (["-c", "9", "--ieee80211n"], "CHANNEL: 9 (2.4 GHz) with HT_CAPAB=[HT40+]: its HT40+ secondary channel 13 "
                                  "is not allowed for an access point (COUNTRY=US)"),
], ids=["20mhz", "ht40-secondary"])
def test_a_channel_the_country_forbids_is_one_line_and_changes_nothing(
        hotspots: HotspotManager, hotshare_cli: HotshareCLI, ap_radio: Radio, args: list[str], message: str) -> None:
    reg, baseline = _iw_reg(), read_sysctls(sysctl_names(ap_radio.iface, hotspots.uplink))
    proc = hotshare_cli.run("up", "--daemon", *args, "--country", "US", ap_radio.iface, hotspots.uplink,
                            "lab-us", "lab-passphrase-1")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"hotshare: {message}")
    assert leftovers(ap_radio.iface, hotspots.uplink, baseline, hotshare_cli.argv_prefix) == []
    assert _iw_reg() == reg                        # the regulatory domain was not touched either
