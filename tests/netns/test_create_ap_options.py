"""create_ap's --pidfile, --logfile, -e and --redirect-to-localhost, with the
real daemon, dnsmasq and nftables of a wired hotspot (the radio-only
--hostapd-debug is in the QEMU lab)."""

from __future__ import annotations

import os
import signal
import stat

from board import WEB, Board, running
from lab.proc import wait_until


def _nothing_changed(board: Board) -> None:
    assert board.nft_tables() == [] and board.board.ipv4_addresses("lan0") == []
    assert board.processes() == []


def test_pidfile_holds_the_daemons_pid_the_logfile_its_output_and_sigterm_leaves_nothing(board: Board) -> None:
    pidfile, logfile = board.rundir / "create_ap.pid", board.rundir / "create_ap.log"
    board.up("--pidfile", str(pidfile), "--logfile", str(logfile))
    pid = int(pidfile.read_text())
    assert pid == board.pid() and running(pid)      # the daemon itself, as create_ap's $$
    assert stat.S_IMODE(pidfile.stat().st_mode) == 0o644
    assert stat.S_IMODE(logfile.stat().st_mode) == 0o600
    assert "hotspot ready on lan0" in logfile.read_text()
    assert "started, version" in logfile.read_text()   # dnsmasq's output too
    os.kill(pid, signal.SIGTERM)                    # what `pkill -f create_ap` sends
    wait_until(lambda: not running(pid), 15, what="the daemon to stop")
    assert not pidfile.exists()
    assert "everything it changed is restored" in logfile.read_text()
    _nothing_changed(board)
    assert sorted(os.listdir(board.rundir)) == ["create_ap.log"]


def test_pid_and_log_files_through_a_link_or_in_a_world_writable_directory_are_refused(board: Board) -> None:
    target = board.rundir / "victim"
    target.write_text("keep\n")
    link = board.rundir / "cap.pid"
    link.symlink_to(target)
    for opt, path, why in (("--pidfile", str(link), "DAEMON_PIDFILE: refusing"),
                           ("--logfile", str(link), "DAEMON_LOGFILE: refusing"),
                           ("--pidfile", "/tmp/cap.pid", "writable by others than root"),
                           ("--pidfile", "relative.pid", "not a plain absolute path")):
        proc = board.hotshare("up", "--daemon", opt, path, "lan0", "ppp0", check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and why in proc.stderr, proc.stderr
    assert target.read_text() == "keep\n" and link.is_symlink()
    assert not os.path.exists("/tmp/cap.pid")
    _nothing_changed(board)


def test_an_extra_hosts_file_answers_the_phone(board: Board, tmp_path: os.PathLike[str]) -> None:
    hosts = board.rundir / "extra.hosts"
    hosts.write_text("192.168.12.77 printer.lan\n")
    hosts.chmod(0o600)       # dnsmasq, no longer root, could not read it
    proc = board.hotshare("up", "--daemon", "-e", str(hosts), "lan0", "ppp0", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "ADDN_HOSTS" in proc.stderr
    _nothing_changed(board)
    hosts.chmod(0o644)
    board.up("-e", str(hosts))
    board.dhcp()
    assert board.resolve("printer.lan", "192.168.12.1") == ["192.168.12.77"]
    assert board.resolve("www.example.test", "192.168.12.1") == [WEB]   # the rest still upstream


def test_redirect_to_localhost_resolves_every_name_to_the_gateway_and_needs_n(board: Board) -> None:
    proc = board.hotshare("up", "--daemon", "--redirect-to-localhost", "lan0", "ppp0", check=False)
    assert proc.returncode == 2 and "REDIRECT_TO_LOCALHOST" in proc.stderr and proc.stderr.count("\n") == 1
    _nothing_changed(board)
    board.hotshare("up", "--daemon", "-n", "--redirect-to-localhost", "lan0")
    board.dhcp()
    assert board.resolve("www.example.test", "192.168.12.1") == ["192.168.12.1"]
    assert board.resolve("anything.else", "192.168.12.1") == ["192.168.12.1"]


def test_list_clients_prints_create_aps_table_and_clients_keeps_hotshares(board: Board) -> None:
    board.up()
    assert board.hotshare("--list-clients", "lan0").stdout == "No clients connected\n"
    lease = board.dhcp()
    mac = board.phone.ip_json("link", "show", "eth0")[0]["address"]
    out = board.hotshare("--list-clients", "lan0").stdout
    # create_ap: printf "%-20s %-18s %s\n" MAC IP Hostname, '*' for what is unknown (udhcpc sends no name)
    assert out == f"{'MAC':<20} {'IP':<18} Hostname\n{mac:<20} {lease['ip']:<18} *\n"
    rich = board.hotshare("clients", "lan0").stdout.splitlines()
    assert rich[0].split() == ["MAC", "IP", "HOSTNAME", "SIGNAL", "CONNECTED"] and rich[1].startswith(mac)
