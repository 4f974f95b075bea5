"""The same-card lab: an upstream Wi-Fi AP (its own radio and namespace, DHCP
and an HTTP server answering the client address) and the board's own station
to it, for the one-radio-two-roles tests (tests/qemu/guest/test_60_samecard.py)
and bench (bench/samecard_bench.py).

    wup (ns): upstream AP "upstream-lab" (hostapd), 10.77.0.1/24, dnsmasq DHCP,
              HTTP on 10.77.0.1:80
    board:    its radio's wlan0 a station to it (wpa_supplicant, udhcpc)
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from lab.httpserver import WebServer
from lab.netns import ROOT, Netns
from lab.phone import Phone
from lab.proc import Daemon, kill_pidfile, wait_until
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


def freq_of(iface: str) -> int:
    out = subprocess.run(["iw", "dev", iface, "info"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.strip().startswith("channel "):
            return int(line.split("(")[1].split()[0])
    return 0


def online(phone: Phone, deadline: float) -> float:
    """Seconds until the phone's HTTP request to the upstream server succeeds."""
    start = time.monotonic()
    while True:
        try:
            if phone.http_get(f"http://{UP_ADDR}/", timeout=3).strip():
                return time.monotonic() - start
        except Exception:
            if time.monotonic() - start > deadline:
                raise
        time.sleep(0.2)
