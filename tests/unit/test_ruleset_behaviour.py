"""What our nftables table does to packets, not how its text reads.

The ruleset nft_ruleset() writes is loaded into a real nftables (in a
throwaway network namespace) and the kernel's JSON listing of it is walked
with model packets (lab.ruleset.verdict). Renaming a set, reordering or
rewording rules keeps these passing; dropping a rule that protects the
hotspot, or loosening one, does not."""

from __future__ import annotations

from typing import Any

import pytest

from hotshare.config import from_mapping
from hotshare.plan.facts import Facts
from hotshare.plan.make import make_plan
from hotshare.plan.model import Snapshot
from hotshare.plan.ruleset import nft_ruleset
from lab.ruleset import load_json, nft_available, verdict
from lab.snapshots import snap

AP = "wlan0"
UPLINKS = ("ppp0", "usb0")
CLIENT = "192.168.12.57"
GATEWAY = "192.168.12.1"
INTERNET = "93.184.215.14"
UPLINK_PEER = "10.64.0.1"     # a host on the uplink side (the ISP's router, a neighbour on the LAN)


def _snapshot() -> Snapshot:
    return snap({"ppp0": ["10.64.0.2/24"], "usb0": ["192.168.43.100/24"]},
                [("0.0.0.0/0", "ppp0", 250), ("0.0.0.0/0", "usb0", 300)], links=("lo", AP, "ppp0", "usb0", "eth1"))


@pytest.fixture(scope="module", params=[(), UPLINKS], ids=["plain", "fastpath"])
def table(request: pytest.FixtureRequest) -> dict[str, Any]:
    reason = nft_available()
    if reason:
        pytest.skip(reason)
    cfg = from_mapping({"WIFI_IFACE": AP, "SSID": "s", "PASSPHRASE": "12345678"})
    plan = make_plan(cfg, Facts(snapshot=_snapshot(), wireless=True))
    assert plan.uplinks == UPLINKS and str(plan.gateway.ip) == GATEWAY
    fastpath = (AP, *UPLINKS) if request.param else ()
    try:
        return load_json(nft_ruleset(plan, fastpath=fastpath), "inet", plan.table)
    except RuntimeError as e:
        if fastpath:  # the service falls back to the plain table when this load fails
            pytest.skip(f"this kernel cannot load a flowtable: {e}")
        raise


# -- from an uplink, the board's own services are closed ---------------------------

@pytest.mark.parametrize("uplink", UPLINKS)
def test_dhcp_from_an_uplink_is_dropped(table: dict[str, Any], uplink: str) -> None:
    # a DHCP discover broadcast on the uplink's segment must not reach our dnsmasq
    assert verdict(table, "input", uplink, None, "0.0.0.0", "255.255.255.255", "udp", 67,
                   sport=68, pkttype="broadcast") == "drop"
    assert verdict(table, "input", uplink, None, UPLINK_PEER, "10.64.0.2", "udp", 67, sport=68) == "drop"


@pytest.mark.parametrize("uplink", UPLINKS)
@pytest.mark.parametrize(("proto", "dport"), [("udp", 53), ("tcp", 53), ("tcp", 22), ("tcp", 80), ("icmp", None)])
def test_anything_to_the_gateway_address_from_an_uplink_is_dropped(table: dict[str, Any], uplink: str,
                                                                   proto: str, dport: int | None) -> None:
    assert verdict(table, "input", uplink, None, UPLINK_PEER, GATEWAY, proto, dport) == "drop"


def test_the_hotspot_side_still_reaches_dhcp_and_dns(table: dict[str, Any]) -> None:
    # the same table must not close the services to the clients they are for
    assert verdict(table, "input", AP, None, "0.0.0.0", "255.255.255.255", "udp", 67,
                   sport=68, pkttype="broadcast") == "accept"
    assert verdict(table, "input", AP, None, CLIENT, GATEWAY, "udp", 53) == "accept"
    assert verdict(table, "input", AP, None, CLIENT, GATEWAY, "tcp", 53) == "accept"


# -- forwarding ---------------------------------------------------------------------

@pytest.mark.parametrize("uplink", UPLINKS)
@pytest.mark.parametrize(("proto", "dport"), [("tcp", 443), ("udp", 53), ("icmp", None)])
def test_client_to_an_uplink_is_accepted(table: dict[str, Any], uplink: str, proto: str, dport: int | None) -> None:
    for ct in ("new", "established"):
        assert verdict(table, "forward", AP, uplink, CLIENT, INTERNET, proto, dport, ct) == "accept"


@pytest.mark.parametrize("uplink", UPLINKS)
@pytest.mark.parametrize(("proto", "dport"), [("tcp", 22), ("tcp", 8080), ("udp", 5353), ("icmp", None)])
def test_a_new_connection_from_an_uplink_to_a_client_is_dropped(table: dict[str, Any], uplink: str,
                                                                proto: str, dport: int | None) -> None:
    assert verdict(table, "forward", uplink, AP, INTERNET, CLIENT, proto, dport, "new") == "drop"
    assert verdict(table, "forward", uplink, AP, UPLINK_PEER, CLIENT, proto, dport, "invalid") == "drop"


@pytest.mark.parametrize("uplink", UPLINKS)
@pytest.mark.parametrize("ct", ["established", "related"])
def test_replies_from_an_uplink_to_a_client_are_accepted(table: dict[str, Any], uplink: str, ct: str) -> None:
    assert verdict(table, "forward", uplink, AP, INTERNET, CLIENT, "tcp", 40000, ct, sport=443) == "accept"
    assert verdict(table, "forward", uplink, AP, INTERNET, CLIENT, "udp", 40000, ct, sport=53) == "accept"


@pytest.mark.parametrize("ct", ["new", "established"])
def test_the_hotspot_reaches_only_the_uplinks(table: dict[str, Any], ct: str) -> None:
    # eth1 is a LAN of the board's that is not an uplink: clients stay off it
    assert verdict(table, "forward", AP, "eth1", CLIENT, "192.168.1.10", "tcp", 22, ct) == "drop"
    assert verdict(table, "forward", "eth1", AP, "192.168.1.10", CLIENT, "tcp", 22, ct) == "drop"


def test_a_client_address_spoofed_from_outside_the_subnet_is_not_forwarded(table: dict[str, Any]) -> None:
    assert verdict(table, "forward", AP, "ppp0", "10.9.9.9", INTERNET, "tcp", 443) == "drop"
