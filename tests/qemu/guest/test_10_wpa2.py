"""One WPA2 hotspot for the whole module; phone1 joins it once and stays.

What a user does with a phone: join with the passphrase, get an address,
resolve a name, open a page; and what the owner sees (`hotshare clients`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lab.hotspot import DEFAULT_GATEWAY, Hotspot, HotspotManager
from lab.phone import Lease, Phone
from lab.syslog import SyslogCollector
from lab.topology import WEB_ADDR, WEB_NAME, Internet

SSID = "hotshare-wpa2"
PASSPHRASE = "correct horse battery"


@pytest.fixture(scope="module")
def ap(hotspots: HotspotManager) -> Iterator[Hotspot]:
    hotspot = hotspots.up(ssid=SSID, passphrase=PASSPHRASE)
    yield hotspot
    hotspots.down()


@pytest.fixture(scope="module")
def joined(ap: Hotspot, phone1: Phone) -> Iterator[dict[str, str]]:
    """phone1 associated (wpa_supplicant status)."""
    status = phone1.connect(SSID, PASSPHRASE, security="wpa2", timeout=60)
    yield status
    phone1.disconnect()


@pytest.fixture(scope="module")
def lease(joined: dict[str, str], phone1: Phone) -> Lease:
    return phone1.dhcp()


def test_phone_associates_with_wpa2(ap: Hotspot, joined: dict[str, str], phone1: Phone) -> None:
    assert joined["wpa_state"] == "COMPLETED"
    assert joined["ssid"] == SSID
    assert joined["key_mgmt"] == "WPA2-PSK"
    assert joined["pairwise_cipher"] == "CCMP"


def test_dhcp_lease_inside_hotspot_subnet(ap: Hotspot, lease: Lease, phone1: Phone) -> None:
    status = ap.status()
    gateway = status.get("gateway", DEFAULT_GATEWAY)
    assert gateway == DEFAULT_GATEWAY  # the contract's default, nothing collides in the lab
    subnet = ipaddress.IPv4Network(f"{gateway}/{lease.prefixlen}", strict=False)
    assert subnet == ipaddress.IPv4Network("192.168.12.0/24")
    assert ipaddress.IPv4Address(lease.ip) in subnet and lease.ip != gateway
    assert lease.routers == [gateway]
    assert lease.dns == [gateway]
    assert phone1.ipv4() == [f"{lease.ip}/{lease.prefixlen}"]


def test_resolves_through_the_hotspot_dns(lease: Lease, phone1: Phone, internet: Internet) -> None:
    before = len(internet.dns_queries())
    assert phone1.resolve(WEB_NAME) == [WEB_ADDR]
    # The hotspot's DNS forwarded the question upstream over ppp0: the
    # internet's resolver saw it coming from the board's uplink address.
    assert (internet.board_ip, WEB_NAME) in internet.dns_queries()[before:]
    with pytest.raises(LookupError):
        phone1.resolve("nonexistent.example.test")


def test_fetches_page_through_nat(lease: Lease, phone1: Phone, internet: Internet) -> None:
    body = phone1.http_get(f"http://{WEB_NAME}/")
    # The web server saw the board's uplink address, not the phone's 192.168.12.x.
    assert body.strip() == internet.board_ip == "10.64.0.2"
    assert internet.http_clients()[-1] == "10.64.0.2"


def test_clients_json_lists_the_phone(ap: Hotspot, lease: Lease, phone1: Phone) -> None:
    entry = ap.client(phone1.mac, timeout=30)
    assert entry["ip"] == lease.ip
    for key in ("mac", "ip", "hostname", "signal", "connected_time"):
        assert key in entry, f"`clients --json` entry lacks {key!r}: {entry}"
    assert entry["hostname"] == "phone1"  # udhcpc sent it as option 12


def test_phones_reach_each_other_without_isolation(
    ap: Hotspot, lease: Lease, phone1: Phone, fresh_phone2: Phone
) -> None:
    phone2 = fresh_phone2
    phone2.connect(SSID, PASSPHRASE, timeout=60)
    lease2 = phone2.dhcp()
    assert lease2.ip != lease.ip
    assert phone1.ping(lease2.ip)
    assert phone2.ping(lease.ip)


@dataclass
class FailedJoin:
    event: str | None  # the supplicant's failure event
    state: str  # its wpa_state afterwards
    clients: set[str]  # `hotshare clients` MACs meanwhile
    log_line: str | None  # the board's syslog line about it (None: none came)
    log_active: bool


@pytest.fixture(scope="module")
def wrong_passphrase(
    ap: Hotspot, joined: dict[str, str], phone2: Phone, syslog: SyslogCollector
) -> Iterator[FailedJoin]:
    """phone2 tries the WPA2 hotspot with a wrong passphrase (once, for the tests below)."""
    phone2.disconnect()
    mark = syslog.mark()
    try:
        phone2.connect(SSID, "not the passphrase", wait=False)
        event = phone2.wait_failure(timeout=45)
        state = phone2.status()["wpa_state"]
        clients = ap.client_macs()
        line = None
        if syslog.active:
            # e.g. "hostapd: wlan0: AP-STA-POSSIBLE-PSK-MISMATCH 02:00:00:00:02:00"
            pattern = rf"(?i)(?=.*{phone2.mac})(?=.*(PSK-MISMATCH|4-Way Handshake failed|invalid MIC))"
            line = syslog.wait_for(pattern, 10, mark)
        yield FailedJoin(event, state, clients, line, syslog.active)
    finally:
        phone2.disconnect()


def test_wrong_passphrase_is_rejected(wrong_passphrase: FailedJoin, phone2: Phone) -> None:
    # What the phone's user sees: the network is disabled for a wrong key.
    event = wrong_passphrase.event
    assert event is not None, f"no failure reported; events: {phone2.events}"
    assert event.startswith("CTRL-EVENT-SSID-TEMP-DISABLED") and "reason=WRONG_KEY" in event, event
    assert wrong_passphrase.state != "COMPLETED"


def test_wrong_passphrase_in_the_board_log(wrong_passphrase: FailedJoin, syslog: SyslogCollector) -> None:
    # What the owner sees in the board's log (hostapd through hotshare's syslog).
    if not wrong_passphrase.log_active:
        pytest.skip("a syslog daemon other than the lab's owns /dev/log")
    assert wrong_passphrase.log_line is not None, (
        "the board's log does not tell about the failed handshake:\n" + "\n".join(syslog.lines()[-30:])
    )


def test_station_with_wrong_passphrase_is_not_a_client(wrong_passphrase: FailedJoin, phone2: Phone) -> None:
    """A station that failed the 4-way handshake is associated at most, never
    authorized: `hotshare clients` must not list it as connected."""
    assert phone2.mac.lower() not in wrong_passphrase.clients
