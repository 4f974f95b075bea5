"""Who may join and who may talk to whom, on one restricted hotspot:
hidden SSID, client isolation and a MAC deny list at once (one hotspot start
instead of three: each costs a minute or more under TCG).

phone1 and phone2 know the hidden SSID (scan_ssid=1) and join; phone3, the
stranger, scans without knowing it, and is on the deny list.  That phones
reach each other *without* isolation is checked on the WPA2 hotspot
(test_10_wpa2.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lab.hotspot import Hotspot, HotspotManager
from lab.phone import Phone, scan_results
from lab.topology import WEB_NAME, Internet

SSID = "hotshare-restricted"
PASSPHRASE = "access passphrase"


@pytest.fixture(scope="module")
def restricted(hotspots: HotspotManager, phone1: Phone, phone2: Phone, phone3: Phone) -> Iterator[Hotspot]:
    phone3.disconnect()
    hotspot = hotspots.up(ssid=SSID, passphrase=PASSPHRASE, hidden=True, isolate_clients=True, mac_deny=[phone3.mac])
    try:
        for phone in (phone1, phone2):
            phone.connect(SSID, PASSPHRASE, hidden=True, timeout=60)
            phone.dhcp()
        yield hotspot
    finally:
        for phone in (phone1, phone2, phone3):
            phone.disconnect()
        hotspots.down()


def test_hidden_ssid_joinable_with_scan_ssid(restricted: Hotspot, phone1: Phone, phone2: Phone) -> None:
    for phone in (phone1, phone2):
        status = phone.status()
        assert status["wpa_state"] == "COMPLETED" and status["ssid"] == SSID


def test_hidden_ssid_not_in_a_plain_scan(restricted: Hotspot, phone1: Phone, phone3: Phone) -> None:
    bssid = phone1.status()["bssid"]
    for _ in range(6):  # a scan under emulation can miss every beacon of a channel: scan again
        seen = scan_results(phone3.scan())
        if bssid in seen:
            break
        time.sleep(1.0)  # the phone's own wpa_supplicant may be scanning (it is denied and retries)
    assert bssid in seen, f"the AP {bssid} is not even beaconing: {seen}"
    assert SSID not in seen[bssid]
    assert all(SSID not in ssid for ssid in seen.values())


def test_isolated_phones_cannot_reach_each_other(
    restricted: Hotspot, phone1: Phone, phone2: Phone, internet: Internet
) -> None:
    assert phone1.lease is not None and phone2.lease is not None
    # Both are fine otherwise: the gateway answers, the internet works.
    assert phone1.ping(restricted.gateway) and phone2.ping(restricted.gateway)
    assert phone1.http_get(f"http://{WEB_NAME}/").strip() == internet.board_ip
    assert not phone1.ping(phone2.lease.ip, timeout=4)
    assert not phone2.ping(phone1.lease.ip, timeout=4)


def test_mac_deny_list_refuses_a_listed_phone(restricted: Hotspot, phone1: Phone, phone3: Phone) -> None:
    phone3.connect(SSID, PASSPHRASE, hidden=True, wait=False)
    event = phone3.wait_failure(timeout=20)  # a reject event, or nothing at all: never CONNECTED
    assert phone3.status()["wpa_state"] != "COMPLETED", event
    assert phone3.mac.lower() not in restricted.client_macs()
    assert phone1.status()["wpa_state"] == "COMPLETED"
