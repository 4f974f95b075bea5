"""create_ap's --pidfile, --logfile, -e and --redirect-to-localhost, with the
real daemon, dnsmasq and nftables of a wired hotspot (the radio-only
--hostapd-debug is in the QEMU lab)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from board import TESTS, WEB, Board, running
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


def _install_as_the_package_does(bindir: Path) -> Path:
    """/usr/bin/hotshare as tests/board/hotshare_pkg.py writes it (the wheel's
    console script), and BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME's link beside it."""
    sys.path.insert(0, str(TESTS / "board"))
    import hotshare_pkg

    bindir.mkdir()
    script = bindir / "hotshare"
    text = hotshare_pkg.CONSOLE_SCRIPT.format(module="hotshare.cli.main", func="main")
    script.write_text(text.replace("#!/usr/bin/python3", f"#!{sys.executable}", 1))
    script.chmod(0o755)
    path, target = hotshare_pkg.CREATE_AP_LINK
    link = bindir / Path(path).name
    link.symlink_to(target)
    return link


def test_a_create_ap_board_app_starts_it_by_that_name_and_pkill_f_create_ap_stops_it_cleanly(
        board: Board, tmp_path: Path) -> None:
    before = board.sysctls()
    create_ap = _install_as_the_package_does(tmp_path / "bin")
    env = {**board.env(), "PATH": f"{create_ap.parent}:{os.environ['PATH']}"}
    # the board application, as seed 000's: BusyBox sh, the passphrase as an argument
    app = ["ip", "netns", "exec", board.board.name or "", "busybox", "sh", "-c",
           "create_ap --daemon --dns-server 10.64.0.1 lan0 ppp0 MyNet 'a secret phrase'"]
    proc = subprocess.run(app, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    pid = board.pid()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert any(a.endswith(b"/create_ap") for a in argv), argv   # what `pkill -f create_ap` reads
    assert b"a secret phrase" not in b" ".join(argv)
    assert Path(f"/proc/{pid}/comm").read_text() == "create_ap\n"  # ps, killall create_ap
    board.dhcp()
    assert board.hotshare("--list-clients", "lan0").stdout.startswith("MAC ")
    # the board application stops it; only this namespace's processes are looked at
    # (Debian's and Buildroot's default BusyBox have no pkill applet: procps' matches the same way)
    ns_pid = str(board.board.pids()[0])
    killed = subprocess.run(["pkill", "--ns", ns_pid, "--nslist", "net", "-f", "create_ap"], check=False)
    assert killed.returncode == 0
    wait_until(lambda: not running(pid), 15, what="the daemon to stop")
    _nothing_changed(board)
    assert board.sysctls() == before
    assert sorted(os.listdir(board.rundir)) in ([], ["lan0.log"])
