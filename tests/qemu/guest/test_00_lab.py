"""The lab itself, before any hotspot: radios split between board and phones,
the board reaches the internet over ppp0, BusyBox is there for the init script.

If these fail, the hotspot tests that follow cannot say anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab import dnsquery
from lab.netns import ROOT
from lab.phone import Phone
from lab.radios import Radio
from lab.topology import WEB_ADDR, WEB_NAME, Internet


def test_radios_split_between_board_and_phones(ap_radio: Radio, phone1: Phone, phone2: Phone) -> None:
    assert ROOT.link_exists(ap_radio.iface)
    for phone in (phone1, phone2):
        assert not ROOT.link_exists(phone.iface), f"{phone.iface} should have left the board"
        assert phone.ns.link_exists(phone.iface)
    macs = {ap_radio.mac, phone1.mac, phone2.mac}
    assert len(macs) == 3


def test_board_reaches_internet_over_ppp0(internet: Internet) -> None:
    routes = ROOT.ip_json("-4", "route", "show", "default")
    assert {"dev": "ppp0", "gateway": "10.64.0.1", "metric": 250}.items() <= routes[0].items()
    reply = dnsquery.query(internet.dns_server, WEB_NAME, timeout=5)
    assert reply.addresses() == [WEB_ADDR]
    body = ROOT.run(["curl", "-sS", "--noproxy", "*", "--max-time", "5", f"http://{WEB_ADDR}/"]).stdout
    assert body.strip() == internet.board_ip == "10.64.0.2"


def test_phone_has_no_way_out_without_hotspot(phone1: Phone) -> None:
    assert phone1.ipv4() == []
    assert not phone1.ping("10.64.0.1", timeout=2)


def test_second_uplink_usb0(internet: Internet, second_uplink: Internet) -> None:
    routes = {r["dev"]: r for r in ROOT.ip_json("-4", "route", "show", "default")}
    assert routes["ppp0"]["metric"] == 250
    assert routes["usb0"]["metric"] == 300 and routes["usb0"]["gateway"] == "192.168.43.1"
    body = ROOT.run(["curl", "-sS", "--noproxy", "*", "--max-time", "5", "--interface", "usb0", f"http://{WEB_ADDR}/"])
    assert body.stdout.strip() == "192.168.43.100"
    assert dnsquery.query(second_uplink.dns_server, WEB_NAME, timeout=5).addresses() == [WEB_ADDR]


def test_busybox_for_the_init_script(busybox_sh: Path, busybox_env: dict[str, str]) -> None:
    """BusyBox's sh and start-stop-daemon, as on the board (Debian's
    busybox-static runs its own applets first, whatever PATH says)."""
    proc = subprocess.run(
        [str(busybox_sh), "-c", "start-stop-daemon --help 2>&1 | head -n 1; echo $0"],
        env=busybox_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.startswith("BusyBox"), proc.stdout + proc.stderr
    assert Path(busybox_sh).resolve().name == "busybox"
