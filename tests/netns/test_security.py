"""Security: each attack an independent review found, performed with the real
components, and shown to fail (the README's "Security" section is the threat model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from board import PPP0, WEB, Board
from lab.netns import Netns, add_veth
from lab.proc import Daemon
from lab.tcp import LISTENER, SINK, connect_from, connections_opened


def listen(board: Board, ns: Netns, port: int, name: str) -> None:
    board.daemons.append(Daemon(f"{ns.name}-{name}", [sys.executable, "-c", LISTENER, str(port), name],
                                netns=ns.name, log=board.log(str(ns.name), name), ready_line="READY"))


def rundir_files(board: Board) -> list[str]:
    return sorted(p.name for p in board.rundir.iterdir()) if board.rundir.exists() else []


# -- 1. configuration injection ------------------------------------------------------------

def test_a_unicode_line_break_cannot_smuggle_another_key(board: Board, tmp_path: Path) -> None:
    for ssid in ("x\u0085DHCP_DNS=6.6.6.6", "x\u2028DHCP_DNS=6.6.6.6", "x\x1eDHCP_DNS=6.6.6.6", "x\vGATEWAY=10.0.0.1"):
        # on the command line, with the passphrase there too (the re-exec path) ...
        proc = board.hotshare("up", "--daemon", "lan0", "ppp0", ssid, "a long passphrase", check=False)
        assert proc.returncode == 2 and proc.stderr.startswith("hotshare: SSID: contains control characters")
        # ... and in a configuration file a board application wrote from a user's SSID
        conf = tmp_path / "app.conf"
        conf.write_text(f"WIFI_IFACE=lan0\nINTERNET_IFACE=ppp0\nSSID={ssid}\nPASSPHRASE=a long passphrase\n")
        proc = board.hotshare("up", "--daemon", "--config", str(conf), check=False)
        assert proc.returncode == 2 and "SSID: contains control characters" in proc.stderr
    assert board.nft_tables() == [] and board.processes() == [] and rundir_files(board) == []


def test_a_file_named_in_the_configuration_is_never_echoed(board: Board, tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$very-secret-hash:19000:0:99999:7:::\n")
    secret.chmod(0o600)
    for opt in ("--mac-deny", "--mac-filter-accept"):
        extra = ["--mac-filter"] if opt == "--mac-filter-accept" else []
        proc = board.hotshare("up", "--daemon", *extra, opt, str(secret), "lan0", "ppp0", check=False)
        assert proc.returncode == 2 and f"{secret}:1 is not a MAC address" in proc.stderr
        assert "very-secret" not in proc.stderr and "root:" not in proc.stderr


def test_a_failing_re_exec_leaves_no_settings_file_behind(board: Board) -> None:
    board.board.ip("addr", "add", "192.168.77.9/24", "dev", "ppp0")  # GATEWAY=192.168.77.1 collides
    proc = board.hotshare("up", "--daemon", "-g", "192.168.77.1", "lan0", "ppp0", "MyNet", "a long passphrase",
                          check=False)
    assert proc.returncode == 2 and "GATEWAY" in proc.stderr
    assert rundir_files(board) == []   # neither the one-shot settings (with the passphrase) nor a lock


def test_config_once_takes_only_hotshares_own_file(board: Board, tmp_path: Path) -> None:
    fake = tmp_path / ".lan0.1.once.json"
    fake.write_text(json.dumps({"WIFI_IFACE": "lan0", "DHCP_DNS": "6.6.6.6"}))
    fake.chmod(0o600)
    proc = board.hotshare("up", "--config-once", str(fake), check=False)
    assert proc.returncode == 2 and "--config-once takes only hotshare's own one-shot file" in proc.stderr


# -- 2. the uplink cannot send into the board's other networks -----------------------------------

def test_the_uplink_cannot_reach_a_second_lan_or_a_docker_bridge(board: Board) -> None:
    lan2, container = Netns("hs-lan2").create(), Netns("hs-ctr").create()
    board.internets["lan2"], board.internets["ctr"] = lan2, container   # deleted with the board
    add_veth("eth1", board.board, "eth0", lan2, addr="10.99.0.1/24", peer_addr="10.99.0.2/24")
    board.board.ip("link", "add", "docker0", "type", "bridge")
    board.board.ip("addr", "add", "172.17.0.1/16", "dev", "docker0")
    board.board.ip("link", "set", "docker0", "up")
    add_veth("vethc", board.board, "eth0", container, peer_addr="172.17.0.2/16")
    board.board.ip("link", "set", "vethc", "master", "docker0")
    container.ip("route", "add", "default", "via", "172.17.0.1")
    lan2.ip("route", "add", "default", "via", "10.99.0.1")
    for ns, name in ((lan2, "lan2"), (container, "container")):
        listen(board, ns, 8080, name)
    # Docker's own NAT and forwarding for its containers, as dockerd sets them
    board.board.run(["nft", "-f", "-"], input="table ip dockernat {\n chain post {\n"
                    "  type nat hook postrouting priority srcnat; policy accept;\n"
                    '  ip saddr 172.17.0.0/16 oifname "ppp0" masquerade\n }\n}\n')
    board.board.sysctl_write("net.ipv4.conf.docker0.forwarding", "1")
    board.board.sysctl_write("net.ipv4.conf.eth1.forwarding", "1")      # the board routes its LAN
    inet = board.internets["ppp0"]
    for net in ("10.99.0.0/24", "172.17.0.0/16"):     # an attacker on the uplink side who guessed them
        inet.ip("route", "add", net, "via", PPP0.board_ip, "dev", PPP0.peer_if)

    board.up()
    assert connect_from(inet, "10.99.0.2", 8080) == "closed TimeoutError"
    assert connect_from(inet, "172.17.0.2", 8080) == "closed TimeoutError"
    assert board.fetch(ns=container) == PPP0.board_ip   # the container still reaches the internet
    # the test is sound: our table, nothing else, stops it
    board.board.run(["nft", "flush", "chain", "inet", "hotshare_lan0", "forward"])
    assert connect_from(inet, "10.99.0.2", 8080) == "open lan2"


# -- 3. clients reach DHCP, DNS and what CLIENT_SERVICES lists, nothing else of the board --------------

def test_clients_reach_only_dhcp_dns_and_the_listed_services(board: Board) -> None:
    listen(board, board.board, 2222, "board-ssh")
    board.up()
    board.dhcp()
    assert connect_from(board.phone, "192.168.12.1", 2222) == "closed TimeoutError"
    assert connect_from(board.phone, PPP0.board_ip, 2222) == "closed TimeoutError"  # any address of the board
    assert board.resolve("www.example.test", "192.168.12.1") == [WEB]                # DNS answers
    assert board.fetch() == PPP0.board_ip                                            # and the internet
    assert board.phone.run(["busybox", "ping", "-c1", "-W2", "192.168.12.1"], check=False).returncode == 0
    board.hotshare("down", "lan0")
    board.up("--config", str(write(board, CLIENT_SERVICES="2222")))
    board.dhcp()
    assert connect_from(board.phone, "192.168.12.1", 2222) == "open board-ssh"


def write(board: Board, **keys: str) -> Path:
    path = board.workdir / "extra.conf"
    path.write_text("".join(f"{k}={v}\n" for k, v in keys.items()))
    return path


def test_block_private_uplink_keeps_clients_off_the_modems_network(board: Board) -> None:
    listen(board, board.internets["ppp0"], 8081, "modem-ui")   # the modem's web interface, 10.64.0.1
    board.up()
    board.dhcp()
    assert connect_from(board.phone, PPP0.gateway, 8081) == "open modem-ui"
    board.hotshare("down", "lan0")
    board.up("--config", str(write(board, BLOCK_PRIVATE_UPLINK="1")))
    board.dhcp()
    assert connect_from(board.phone, PPP0.gateway, 8081) == "closed TimeoutError"
    assert board.fetch() == PPP0.board_ip     # the internet is not private


# -- 4. interface names and the journal are not trusted -----------------------------------------------

def test_an_interface_name_with_a_path_is_refused(board: Board) -> None:
    for args in (("down", "../x/y"), ("status", "../../etc/passwd"), ("clients", "a/b"), ("--stop", "../x")):
        proc = board.hotshare(*args, check=False)
        assert proc.returncode == 2 and "IFACE" in proc.stderr, args


def test_a_forged_journal_is_not_undone(board: Board, tmp_path: Path) -> None:
    target = tmp_path / "evil"
    board.rundir.mkdir(parents=True, exist_ok=True)
    forged = {"iface": "lan0", "pid": 1, "table": "x; flush ruleset", "children": {"dnsmasq": 1},
              "sysctls": {f"../../..{target}": "pwned"}, "addresses": []}
    state = board.rundir / "lan0.state"
    state.write_text(json.dumps(forged))
    state.chmod(0o600)
    sleeper = subprocess.Popen(["sleep", "60"])
    (board.rundir / "lan0.pid").write_text(f"{sleeper.pid}\n")   # a pid file naming someone else
    try:
        proc = board.hotshare("down", "lan0", check=False)
        assert sleeper.poll() is None                 # nobody was signalled
        assert not target.exists()                    # no sysctl path outside net/ipv4/conf
        assert proc.returncode == 0                   # the stale journal was ignored and removed
        assert not state.exists()
        # a journal only root can write, in any case: a world-writable one is ignored too
        forged["table"] = "hotshare_lan0"
        state.write_text(json.dumps(forged))
        state.chmod(0o666)
        assert board.status()["running"] is False
    finally:
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait()


# -- 6. one client cannot exhaust the board's connections -----------------------------------------------

def test_one_client_cannot_open_more_than_its_connection_limit(board: Board) -> None:
    inet = board.internets["ppp0"]
    board.daemons.append(Daemon("sink", [sys.executable, "-c", SINK, "9000"], netns=inet.name,
                                log=board.log(str(inet.name), "sink"), ready_line="READY"))
    board.up("--config", str(write(board, MAX_CLIENT_CONNECTIONS="20")))
    board.dhcp()
    assert connections_opened(board.phone, WEB, 9000, 30) == 20
    conf = (board.rundir / "lan0" / "dnsmasq.conf").read_text().splitlines()
    assert "dhcp-lease-max=128" in conf and any(ln.endswith(",1h") for ln in conf if ln.startswith("dhcp-range="))
