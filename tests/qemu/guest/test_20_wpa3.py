"""WPA3-SAE (`--wpa-version 3`): a phone joins with SAE, a wrong password is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.hotspot import Hotspot, HotspotManager
from lab.phone import Phone

SSID = "hotshare-wpa3"
PASSPHRASE = "sae passphrase 3"


@pytest.fixture(scope="module")
def sae_ap(hotspots: HotspotManager, sae_capable: bool) -> Iterator[Hotspot]:
    if not sae_capable:
        pytest.skip("the radio driver cannot do SAE (no station-side SME)")
    hotspot = hotspots.up(ssid=SSID, passphrase=PASSPHRASE, wpa_version="3")
    yield hotspot
    hotspots.down()


def test_phone_associates_with_sae(sae_ap: Hotspot, phone1: Phone) -> None:
    try:
        status = phone1.connect(SSID, PASSPHRASE, security="sae", timeout=60)
        # The phone requires PMF (ieee80211w=2): associated means PMF is on.
        assert status["key_mgmt"] == "SAE"
        assert status["pairwise_cipher"] == "CCMP"
        lease = phone1.dhcp()
        assert phone1.ping(lease.routers[0])
    finally:
        phone1.disconnect()


def test_wrong_sae_password_is_rejected(sae_ap: Hotspot, fresh_phone2: Phone) -> None:
    fresh_phone2.connect(SSID, "wrong sae password", security="sae", wait=False)
    event = fresh_phone2.wait_failure(timeout=45)
    assert event is not None, f"no failure reported; events: {fresh_phone2.events}"
    assert fresh_phone2.status()["wpa_state"] != "COMPLETED"
