"""A phone behind a wired hotspot: DHCP, DNS, NAT, clients, clean stop.

Real dnsmasq, nftables and busybox udhcpc in network namespaces."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from pathlib import Path

from board import PPP0, WEB, Board, running
from lab.proc import wait_until


def test_phone_gets_a_lease_resolves_and_reaches_the_internet_through_nat(board: Board) -> None:
    before = board.sysctls()
    board.up()
    lease = board.dhcp()
    assert ipaddress.IPv4Address(lease["ip"]) in ipaddress.IPv4Network("192.168.12.0/24")
    assert lease["router"] == "192.168.12.1" and lease["dns"] == "192.168.12.1"

    # DNS through the hotspot's dnsmasq, forwarded upstream over ppp0
    assert board.resolve("www.example.test", "192.168.12.1") == [WEB]
    # the web server sees the board's uplink address: NAT at work
    assert board.fetch() == PPP0.board_ip

    clients = json.loads(board.hotshare("clients", "lan0", "--json").stdout)
    phone_mac = board.phone.ip_json("link", "show", "eth0")[0]["address"]
    assert [(c["mac"], c["ip"]) for c in clients] == [(phone_mac, lease["ip"])]

    status = board.status()
    assert status["running"] is True and status["subnet"] == "192.168.12.0/24"

    assert board.hotshare("down", "lan0").returncode == 0
    assert board.processes() == []
    assert not any("hotshare" in t for t in board.nft_tables())
    assert board.board.ipv4_addresses("lan0") == []
    assert board.sysctls() == before
    assert board.fetch(timeout=1.0) is None  # and the phone is offline again
    # nothing but, on a system without syslog (/dev/log), the daemon's log
    assert sorted(os.listdir(board.rundir)) in ([], ["lan0.log"])


def test_forwarding_is_enabled_only_on_the_interfaces_it_needs(board: Board) -> None:
    board.up()
    s = board.sysctls()
    assert s["net.ipv4.conf.lan0.forwarding"] == "1" and s["net.ipv4.conf.ppp0.forwarding"] == "1"
    assert s["net.ipv4.ip_forward"] == "0"


def test_dry_run_prints_the_plan_masks_the_secret_and_changes_nothing(board: Board) -> None:
    out = board.hotshare("up", "--dry-run", "lan0", "ppp0", "MyNet", "secret passphrase").stdout
    assert "subnet 192.168.12.0/24" in out and "masquerade" in out and "interface=lan0" in out
    assert "secret passphrase" not in out
    assert board.nft_tables() == [] and board.board.ipv4_addresses("lan0") == []
    assert not board.rundir.exists() or not any(board.rundir.iterdir())


def test_bad_input_is_one_line_naming_the_key_and_changes_nothing(board: Board) -> None:
    before = board.sysctls()
    proc = board.hotshare("up", "--daemon", "-g", "8.8.8.8", "lan0", "ppp0", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("hotshare: GATEWAY: 8.8.8.8 is not a private")
    proc = board.hotshare("up", "--daemon", "lan0;reboot", "ppp0", check=False)
    assert proc.returncode == 2 and "WIFI_IFACE" in proc.stderr
    assert board.nft_tables() == [] and board.board.ipv4_addresses("lan0") == []
    assert board.sysctls() == before and board.processes() == []


def test_a_colliding_gateway_is_refused_and_a_free_subnet_is_chosen(board: Board) -> None:
    # seed 004: the uplink already sits in 192.168.12.0/24
    board.board.ip("addr", "add", "192.168.12.50/24", "dev", "ppp0")
    proc = board.hotshare("up", "--daemon", "-g", "192.168.12.1", "lan0", "ppp0", check=False)
    assert proc.returncode == 2
    assert "GATEWAY: 192.168.12.0/24 overlaps the address 192.168.12.50/24 on ppp0" in proc.stderr
    assert board.nft_tables() == []
    board.up()
    lease = board.dhcp()
    assert ipaddress.IPv4Address(lease["ip"]) in ipaddress.IPv4Network("192.168.13.0/24")
    assert board.fetch() == PPP0.board_ip


def test_a_second_instance_on_the_same_interface_is_refused(board: Board) -> None:
    board.up()
    proc = board.hotshare("up", "--daemon", "lan0", "ppp0", check=False)
    assert proc.returncode == 1
    assert f"already running on lan0 (pid {board.pid()})" in proc.stderr
    assert board.status()["running"] is True


def test_sigkill_leaves_leftovers_that_the_next_start_removes(board: Board) -> None:
    board.up()
    old_pid, old_dnsmasq = board.pid(), board.children()["dnsmasq"]
    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: not running(old_pid), 5, what="hotshare to die")
    assert any("hotshare_lan0" in t for t in board.nft_tables())  # left behind
    assert board.hotshare("status", "lan0", check=False).returncode == 3
    board.up()
    assert board.nft_tables().count("table inet hotshare_lan0") == 1
    assert not running(old_dnsmasq)  # the orphan was stopped
    assert board.board.ipv4_addresses("lan0") == ["192.168.12.1/24"]
    board.dhcp()
    assert board.fetch() == PPP0.board_ip


def test_down_after_a_crash_cleans_up_without_a_restart(board: Board) -> None:
    before = board.sysctls()
    board.up()
    os.kill(board.pid(), signal.SIGKILL)
    time.sleep(0.2)
    assert board.hotshare("down", "lan0").returncode == 0
    assert board.nft_tables() == [] and board.board.ipv4_addresses("lan0") == []
    assert board.sysctls() == before and board.processes() == []
    assert board.hotshare("down", "lan0", check=False).returncode == 3


def test_killed_dnsmasq_is_restarted_and_the_phone_keeps_its_address(board: Board) -> None:
    board.up()
    first = board.dhcp()["ip"]
    old = board.children()["dnsmasq"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: board.children().get("dnsmasq") not in (None, old), 5, what="dnsmasq to be restarted")
    assert board.dhcp()["ip"] == first  # the lease file survived the restart
    assert board.fetch() == PPP0.board_ip


def test_nothing_answers_on_the_uplink(board: Board) -> None:
    """A scan from the internet side: no DNS, no DHCP, nothing of the hotspot."""
    board.up()
    inet = board.internets["ppp0"]
    # The upstream router learns the hotspot subnet (worst case) and aims at it.
    inet.ip("route", "add", "192.168.12.0/24", "via", PPP0.board_ip)
    probe = inet.run(["python3", "-c", PROBE, PPP0.board_ip, "192.168.12.1"], check=False, timeout=30)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == {"open": []}


# Probe DNS (UDP and TCP) and DHCP from the internet side; print what answered.
PROBE = r"""
import json, socket, sys
query = bytes.fromhex("abcd01000001000000000000037777770765786d706c6504746573740000010001")
found = []
for host in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
    try:
        s.sendto(query, (host, 53)); s.recvfrom(512); found.append(f"udp {host}:53")
    except OSError:
        pass
    t = socket.socket(); t.settimeout(1.0)
    if t.connect_ex((host, 53)) == 0:
        found.append(f"tcp {host}:53")
    d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.settimeout(1.0)
    d.bind(("0.0.0.0", 68)) if host == sys.argv[1] else None
    try:
        d.sendto(b"\x01\x01\x06\x00" + bytes(232) + b"\x63\x82\x53\x63\x35\x01\x01\xff", (host, 67))
        d.recvfrom(1024); found.append(f"udp {host}:67")
    except OSError:
        pass
    for c in (s, t, d):
        c.close()
print(json.dumps({"open": found}))
"""


def test_a_passphrase_given_as_an_argument_does_not_stay_in_the_process_list(board: Board) -> None:
    secret = "not for ps 12345"
    board.hotshare("up", "--daemon", "--dns-server", PPP0.gateway, "lan0", "ppp0", "MyNet", secret)
    cmdline = (Path(f"/proc/{board.pid()}/cmdline")).read_bytes().decode()
    assert secret not in cmdline and "MyNet" not in cmdline
    leftovers = [p for p in board.rundir.rglob("*") if p.is_file() and secret in p.read_text(errors="replace")]
    assert leftovers == []  # the hand-over file is gone once read
    assert board.status()["running"] is True


def test_clients_counts_each_phones_bytes_through_nat(board: Board) -> None:
    board.up()
    lease = board.dhcp()
    for _ in range(3):
        assert board.fetch() == PPP0.board_ip
    (client,) = json.loads(board.hotshare("clients", "lan0", "--json").stdout)
    assert client["ip"] == lease["ip"]
    net = client["internet"]
    assert net["connections"] >= 3 and net["tx_packets"] >= 3 * 5  # SYN, ACK, GET, ACK, FIN at least
    assert net["rx_bytes"] >= 3 * len(PPP0.board_ip)  # the three answers came back through NAT
