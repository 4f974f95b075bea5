"""Atomic writes: a writer killed half-way never leaves a torn file."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from hotshare.service.journal import Journal
from hotshare.system import files as fsutil


def test_a_writer_killed_mid_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "wlan0.state"
    fsutil.atomic_write(str(target), "old\n")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "power cut": killed while writing 64 MB
        os.close(r)
        real_write = os.write

        def slow_write(fd: int, data: bytes) -> int:
            os.write = real_write
            n = real_write(fd, data[: 1 << 20])
            real_write(w, b"x")  # tell the parent we are half-way
            os.kill(os.getpid(), signal.SIGSTOP)
            return n

        os.write = slow_write  # type: ignore[assignment]
        fsutil.atomic_write(str(target), b"new" * (1 << 24))
        os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert target.read_text() == "old\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "wlan0.state"]
    assert leftovers and all(".tmp." in n for n in leftovers)  # a stray temp file, never the real one


def test_secrets_are_written_root_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        fsutil.atomic_write(str(tmp_path / "hostapd.conf"), "wpa_passphrase=x\n", 0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "hostapd.conf").stat().st_mode) == 0o600


def test_journal_round_trip_and_a_foreign_file_is_ignored(tmp_path: Path) -> None:
    path = str(tmp_path / "wlan0.state")
    j = Journal(iface="wlan0", pid=42, table="hotshare_wlan0", addresses=["192.168.12.1/24"], path=path)
    j.save()
    back = Journal.load(path)
    assert back is not None and (back.pid, back.table, back.addresses) == (42, "hotshare_wlan0", ["192.168.12.1/24"])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    Path(path).write_text("{not json")
    assert Journal.load(path) is None


def test_the_journal_takes_the_ipv6_relays_sysctls_and_no_other(tmp_path: Path) -> None:
    path = str(tmp_path / "wlan0.state")
    relay = {"net/ipv6/conf/all/forwarding": "0", "net/ipv6/conf/ppp0/accept_ra": "1",
             "net/ipv6/conf/ppp0/proxy_ndp": "0", "net/ipv6/neigh/ppp0/proxy_delay": "80"}
    Journal(iface="wlan0", pid=42, sysctls=relay, path=path).save()
    back = Journal.load(path)
    assert back is not None and back.sysctls == relay      # undone on the next start
    Journal(iface="wlan0", pid=42, sysctls={"net/ipv6/neigh/ppp0/gc_stale_time": "60"}, path=path).save()
    assert Journal.load(path) is None


def test_a_dead_childs_most_telling_line_is_reported() -> None:
    from hotshare.service.children import Child, why_it_died

    c = Child("hostapd", ["hostapd"])
    for line in ["wlan0: interface state UNINITIALIZED->COUNTRY_UPDATE",
                 "Could not set channel for kernel driver", "Interface initialization failed",
                 "wlan0: interface state COUNTRY_UPDATE->DISABLED",
                 "nl80211: deinit ifname=wlan0 disabled_11b_rates=0"]:
        c.last_lines.append(line)
    assert why_it_died(c) == "Interface initialization failed"
    assert why_it_died(Child("dnsmasq", ["dnsmasq"])) == "no output"


def test_the_monitor_interface_a_fullmac_radio_lacks_is_not_the_cause() -> None:
    """hostapd on a FullMAC radio (vwifi in the lab, brcmfmac) fails to create
    mon.IFACE at every start and goes on: a SIGKILL later is not its fault."""
    from hotshare.service.children import Child, telling_line, why_it_died

    c = Child("hostapd", ["hostapd"])
    for line in ["Failed to create interface mon.vw0: -95 (Operation not supported)",
                 "vw0: interface state UNINITIALIZED->ENABLED", "vw0: AP-ENABLED"]:
        c.last_lines.append(line)
    assert telling_line(c) == ""
    assert why_it_died(c) == "vw0: AP-ENABLED"


def test_a_child_that_rewrites_its_command_line_is_known_by_its_start_time(tmp_path: Path) -> None:
    """dhcpcd rewrites its command line (setproctitle): the journal's start time names it."""
    import subprocess
    import sys

    from hotshare.service.undo import stop_children
    from hotshare.system.host import alive, start_time

    path = str(tmp_path / "wlan0.state")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        j = Journal(iface="wlan0", children={"dhcpcd": child.pid}, started={"dhcpcd": start_time(child.pid)},
                    path=path)
        j.save()
        back = Journal.load(path)
        assert back is not None and back.started == {"dhcpcd": start_time(child.pid)}
        stop_children(back.children, "/run/hotshare/wlan0/", {"dhcpcd": back.started["dhcpcd"] + 1})
        assert alive(child.pid)                  # another start time: a recycled pid, left alone
        stop_children(back.children, "/run/hotshare/wlan0/", back.started)
        assert child.wait(5) is not None
    finally:
        child.kill()
        child.wait()
    Journal(iface="wlan0", started={"sshd": 1}, path=path).save()
    assert Journal.load(path) is None            # only hotshare's children are ever signalled
