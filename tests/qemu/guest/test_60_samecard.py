"""One radio, two roles: the board's radio is a station to an upstream AP
(its uplink) and serves the hotspot from a virtual interface (ap0) of the
same phy; the AP follows the station when the upstream AP changes channel.

    wup (ns): radio 4 = upstream AP "upstream-lab" (hostapd), 10.77.0.1/24,
              DHCP (dnsmasq), HTTP on 10.77.0.1:80 answering the client address
    board:    radio 0 wlan0 = station to it (wpa_supplicant, udhcpc);
              hotshare wlan0 wlan0 -> ap0 on the same phy
    phone1:   joins ap0, reaches 10.77.0.1 through the station uplink

Figures (join-to-online, channel-change recovery) go to the results'
samecard-figures.json (the bench cannot run radios on the host).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.hotspot import HotshareCLI, HotspotConfig
from lab.httpserver import WebServer
from lab.netns import ROOT, Netns
from lab.phone import Phone
from lab.proc import Daemon, wait_until
from lab.radios import Radio

UP_SSID, UP_PASS = "upstream-lab", "upstream-pass-1"
UP_ADDR, UP_NET = "10.77.0.1", "10.77.0.1/24"


class BoardStation(Phone):
    """The board's own station: wpa_supplicant and udhcpc in the root namespace."""

    def __init__(self, radio: Radio, workdir: Path, logdir: Path) -> None:
        super().__init__("boardsta", radio, workdir=workdir / "phones", logdir=logdir)
        self.ns = ROOT

    def setup(self) -> BoardStation:
        self.dir.mkdir(parents=True, exist_ok=True)
        ROOT.ip("link", "set", self.iface, "up")
        return self

    def teardown(self) -> None:
        self.disconnect()


class UpstreamAP:
    def __init__(self, radio: Radio, workdir: Path, logdir: Path) -> None:
        self.radio, self.ns = radio, Netns("wup")
        self.dir = workdir / "wup"
        self.logdir = logdir
        self.daemons: list[Daemon] = []
        self.web: WebServer | None = None

    @property
    def ctrl(self) -> Path:
        return self.dir / "ctrl"

    def start(self, channel: int = 1) -> UpstreamAP:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ns.create()
        self.radio.move_to(self.ns)
        self.ns.ip("addr", "add", UP_NET, "dev", self.radio.iface)
        self.start_hostapd(channel)
        self.daemons.append(Daemon("wup-dnsmasq", [
            "dnsmasq", "-k", "--conf-file=/dev/null", "--port=0", f"--interface={self.radio.iface}",
            "--bind-interfaces", "--dhcp-range=10.77.0.10,10.77.0.50,12h", f"--dhcp-option=3,{UP_ADDR}",
            f"--dhcp-leasefile={self.dir}/leases"], netns=self.ns.name, log=self.logdir / "wup-dnsmasq.log"))
        self.web = WebServer(UP_ADDR, self.logdir / "wup-http.log", self.ns)
        return self

    def start_hostapd(self, channel: int) -> None:
        conf = self.dir / "hostapd.conf"
        conf.write_text("\n".join([
            f"interface={self.radio.iface}", "driver=nl80211", f"ctrl_interface={self.ctrl}",
            f"ssid={UP_SSID}", "hw_mode=g", f"channel={channel}", "wpa=2", "wpa_key_mgmt=WPA-PSK",
            "rsn_pairwise=CCMP", f"wpa_passphrase={UP_PASS}", ""]))
        self.ns.run(["hostapd", "-B", "-P", str(self.dir / "hostapd.pid"), "-f",
                     str(self.logdir / "wup-hostapd.log"), "-t", str(conf)], timeout=30)
        wait_until(lambda: "state=ENABLED" in self.cli("status"), 30.0, interval=0.1, what="the upstream AP")

    def stop_hostapd(self) -> None:
        from lab.proc import kill_pidfile
        kill_pidfile(self.dir / "hostapd.pid")

    def cli(self, *args: str) -> str:
        proc = self.ns.run(["hostapd_cli", "-p", str(self.ctrl), "-i", self.radio.iface, *args], check=False)
        return proc.stdout

    def stop(self) -> None:
        self.stop_hostapd()
        for d in self.daemons:
            d.stop()
        if self.web:
            self.web.stop()
        self.radio.move_home()
        self.ns.delete()


@pytest.fixture(scope="module")
def upstream(radios: list[Radio], workdir: Path, logdir: Path) -> Iterator[UpstreamAP]:
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


def freq_of(iface: str) -> int:
    out = subprocess.run(["iw", "dev", iface, "info"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.strip().startswith("channel "):
            return int(line.split("(")[1].split()[0])
    return 0


def online(phone: Phone, deadline: float) -> float:
    """Seconds until the phone's HTTP request through the hotspot succeeds."""
    start = time.monotonic()
    while True:
        try:
            if phone.http_get(f"http://{UP_ADDR}/", timeout=3).strip():
                return time.monotonic() - start
        except Exception:
            if time.monotonic() - start > deadline:
                raise
        time.sleep(0.2)


def test_samecard_iw_phy_info_captured(ap_radio: Radio, logdir: Path) -> None:
    """The hwsim radio's `iw phy info` (the unit tests parse a copy): AP with managed, one channel."""
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
        down = hotshare_cli.down("ap0")
    assert down.returncode == 0, down.stderr
    assert not ROOT.link_exists("ap0"), "down left the virtual interface"
    assert board_station.status().get("wpa_state") == "COMPLETED", "down disturbed the station uplink"
    assert ROOT.ipv4_addresses(iface) == [f"{station_ip}/24"]
