"""The 4G uplink as it behaves in the field, in the simulated cellular lab
(lab/cellular.py): a path MTU of 1400 with ICMP "fragmentation needed"
dropped, a hang-up and redial with a new address, a CGNAT address, and the
DNS of an uplink that dies."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from board import PPP0, USB0, WEB, Board, Uplink
from conftest import _skip_reason
from lab.cellular import create_ap_rules
from lab.proc import wait_until

CELLULAR = Uplink("ppp0", "10.64.0.2/24", "10.64.0.1", 250, "hs-inet", "isp0", path_mtu=1400)
CGNAT = Uplink("ppp0", "100.71.12.2/24", "100.71.12.1", 250, "hs-inet", "isp0")
STALL = 4.0     # seconds a 1 MB download may take before it counts as stalled (it takes ~0.1 s)


def lab(tmp_path: Path, *uplinks: Uplink) -> Board:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    return Board(tmp_path, uplinks=uplinks).start()


@pytest.fixture
def cellular(tmp_path: Path):  # type: ignore[no-untyped-def]
    b = lab(tmp_path, CELLULAR)
    try:
        yield b
    finally:
        b.stop()


def test_the_lab_is_a_black_hole_for_full_size_packets(cellular: Board) -> None:
    modem = cellular.modems["ppp0"].ns
    assert "frag-needed drop" in modem.run(["nft", "list", "ruleset"]).stdout
    mtu = {lk["ifname"]: lk["mtu"] for lk in cellular.board.ip_json("link", "show")}
    assert mtu["ppp0"] == 1400 and mtu["lan0"] == 1500
    # the board's own TCP knows its link's MTU and gets through; the phone's, next test, does not
    took = cellular.download(ns=cellular.board, timeout=10)
    assert took is not None


def test_a_download_completes_behind_the_black_hole_and_create_aps_rules_stall(cellular: Board) -> None:
    cellular.up()
    lease = cellular.dhcp()
    assert cellular.fetch() == PPP0.board_ip
    took = cellular.download(timeout=20)
    assert took is not None and took < STALL, took
    # the clients are told the link's MTU too (DHCP option 26), as create_ap does
    conf = (cellular.rundir / "lan0" / "dnsmasq.conf").read_text().splitlines()
    assert "dhcp-option=option:mtu,1400" in conf
    assert lease["ip"].startswith("192.168.12.")

    cellular.hotshare("down", "lan0")
    create_ap_rules(cellular.board, cellular.phone)
    assert cellular.fetch() == PPP0.board_ip          # small answers pass: NAT works
    assert cellular.download(timeout=STALL) is None   # full-size segments vanish: it stalls


def conntrack_to(b: Board, address: str) -> int:
    """Entries of the phone's connections NATed to ``address`` (their reply destination)."""
    out = b.board.run(["conntrack", "-L", "-f", "ipv4", "--reply-dst", address], check=False).stdout
    return sum(1 for ln in out.splitlines() if "192.168.12." in ln)


@pytest.mark.parametrize("recreate", [False, True], ids=["new-address", "link-recreated"])
def test_after_a_redial_new_connections_leave_with_the_new_address(board: Board, recreate: bool) -> None:
    board.up()
    dnsmasq = board.children()["dnsmasq"]
    board.dhcp()
    assert board.fetch() == PPP0.board_ip
    assert conntrack_to(board, PPP0.board_ip) >= 1     # the fetch's entry (TIME_WAIT: 2 minutes)

    board.redial("10.64.0.77/24", recreate=recreate)
    board.wait_fetch("10.64.0.77", timeout=5)
    assert conntrack_to(board, PPP0.board_ip) == 0     # nothing left NATed to the old address
    assert board.children()["dnsmasq"] == dnsmasq       # nothing restarted
    if recreate:
        tables = board.board.run(["nft", "list", "table", "inet", "hotshare_lan0"]).stdout
        assert '"ppp0"' in tables and "maxseg size set rt mtu" in tables


def test_a_cgnat_uplink_starts_and_works(tmp_path: Path) -> None:
    b = lab(tmp_path, CGNAT)
    try:
        b.hotshare("up", "--daemon", "--dns-server", CGNAT.gateway, "lan0", "ppp0")
        assert b.status()["running"] is True
        lease = b.dhcp()
        assert lease["ip"].startswith("192.168.12.")
        assert b.fetch() == CGNAT.board_ip
        assert b.resolve("www.example.test", "192.168.12.1") == [WEB]
    finally:
        b.stop()


def timed_resolve(b: Board) -> tuple[list[str], float]:
    t0 = time.monotonic()
    got = b.resolve("www.example.test", "192.168.12.1", timeout=5)
    return got, time.monotonic() - t0


@pytest.mark.parametrize("how", ["configured", "from-links"])
def test_dns_keeps_answering_when_the_preferred_uplink_dies(board2: Board, tmp_path: Path, how: str) -> None:
    if how == "configured":
        board2.hotshare("up", "--daemon", "--dns-server", f"{PPP0.gateway}@ppp0",
                        "--dns-server", f"{USB0.gateway}@usb0", "lan0")
    else:   # nothing configured: what pppd (usepeerdns) and udhcpc wrote
        (tmp_path / "ppp-resolv.conf").write_text(f"nameserver {PPP0.gateway}\n")
        (tmp_path / "resolv.conf").write_text(f"# udhcpc\nnameserver {USB0.gateway} # usb0\n")
        conf = tmp_path / "hotshare.conf"
        conf.write_text(f"LINK_DNS_FILES={tmp_path}/ppp-resolv.conf@ppp0,{tmp_path}/resolv.conf\n"
                        "DNS_SERVERS_FILE=\n")
        board2.hotshare("up", "--daemon", "--config", str(conf), "lan0")
    board2.dhcp()
    dnsmasq = board2.children()["dnsmasq"]
    servers = board2.rundir / "lan0.resolv"
    assert f"nameserver {PPP0.gateway} # ppp0" in servers.read_text().splitlines()
    assert timed_resolve(board2)[0] == [WEB]

    board2.board.ip("link", "set", "ppp0", "down")     # the modem drops
    wait_until(lambda: f"nameserver {USB0.gateway} # usb0" in servers.read_text(), 5, interval=0.05,
               what="dnsmasq's resolv-file to follow usb0")
    for _ in range(3):
        got, took = timed_resolve(board2)
        assert got == [WEB] and took < 1.0, (got, took)
    assert PPP0.gateway not in servers.read_text()
    assert board2.children()["dnsmasq"] == dnsmasq      # re-read on SIGHUP, not restarted
    log = "\n".join(p.read_text() for p in tmp_path.glob("hs-inet2-dns.log"))
    assert "www.example.test" in log                    # usb0's own server answered
