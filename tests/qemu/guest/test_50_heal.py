"""hostapd killed with SIGKILL: hotshare restarts it, the phone re-associates
and keeps its address (the lease file survives dnsmasq's and hostapd's
restarts)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from lab.hotspot import Hotspot, HotspotManager
from lab.phone import Phone
from lab.proc import wait_until
from lab.topology import WEB_ADDR, Internet

SSID, PASSPHRASE = "hotshare-heal", "heal passphrase 1"


@pytest.fixture(scope="module")
def ap(hotspots: HotspotManager) -> Iterator[Hotspot]:
    yield hotspots.up(ssid=SSID, passphrase=PASSPHRASE)
    hotspots.down()


def test_killed_hostapd_is_restarted_and_the_phone_comes_back(ap: Hotspot, phone1: Phone,
                                                               internet: Internet) -> None:
    phone1.connect(SSID, PASSPHRASE, timeout=60)
    first = phone1.dhcp().ip
    old = int(ap.status()["children"]["hostapd"])
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    wait_until(lambda: int(ap.status().get("children", {}).get("hostapd", old)) != old, 60, interval=0.2,
               what="hotshare to restart hostapd")
    phone1.wait_connected(timeout=120)  # wpa_supplicant re-associates by itself
    print(f"heal: phone associated again {time.monotonic() - t0:.1f} s after SIGKILL (TCG)")
    assert phone1.dhcp().ip == first
    assert phone1.http_get(f"http://{WEB_ADDR}/").strip() == internet.board_ip
    phone1.disconnect()
