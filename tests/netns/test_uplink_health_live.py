"""Up but dead: ppp0's data session dies while its link, address and route
stay up (the carrier drops everything in the modem namespace). With
HEALTH_CHECK on, hotshare declares it dead, the phone's new connections
leave by usb0 (as the web server sees them), ``status --json`` says why,
and ppp0 comes back after its up count once data flows again. Replies that
conntrack already sees spare the probes: with traffic flowing none is sent
(counted at the target). The event stream says when ppp0 went dead and
came back (`uplink_dead`, `uplink_back` with how long it was dead)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import USB0, WEB, Board, Uplink
from conftest import _skip_reason
from lab.proc import wait_until
from test_events import next_event

# ppp0 through a modem namespace (lab/cellular.py), usb0 a tethered phone's link
CELLULAR = Uplink("ppp0", "10.64.0.2/24", "10.64.0.1", 250, "hs-inet", "isp0", path_mtu=1400)
DETECT_LIMIT = 20.0     # the target is 15 s (bench prints the figure); 5 s of slack for a loaded CI machine
# Counts the echo requests that reach the target through ppp0's internet.
PROBE_COUNTER = """
table inet probes {
	counter echo { }
	chain input { type filter hook input priority -10; policy accept; icmp type echo-request counter name echo; }
}
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Board]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(CELLULAR, USB0)).start()
    try:
        yield b
    finally:
        b.stop()


def up_with_health(b: Board, tmp_path: Path, **keys: str) -> None:
    conf = tmp_path / "hotshare.conf"
    settings = {"HEALTH_CHECK": "1", "HEALTH_TARGETS": WEB, **keys}
    conf.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    b.hotshare("up", "--daemon", "--config", str(conf), "--dns-server", CELLULAR.gateway, "lan0")


def health(b: Board, uplink: str) -> dict[str, object]:
    return dict((b.status().get("uplinks") or {}).get(uplink) or {})  # type: ignore[attr-defined]


def events_reader(b: Board) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["ip", "netns", "exec", "hs-board", sys.executable, "-m", "hotshare", "events",
                             "lan0", "--json"], env=b.env(), stdout=subprocess.PIPE, bufsize=0)


def next_of(reader: subprocess.Popen[bytes], kinds: tuple[str, ...], timeout: float = 15.0) -> dict[str, object]:
    """The reader's next event of one of ``kinds`` (others skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        ev = next_event(reader, max(0.1, deadline - time.monotonic()))
        if ev["event"] in kinds:
            return ev


def echo_requests(b: Board) -> int:
    out = b.internets["ppp0"].run(["nft", "list", "counter", "inet", "probes", "echo"]).stdout
    return int(re.search(r"packets (\d+)", out).group(1))  # type: ignore[union-attr]


def test_an_uplink_whose_data_dies_is_left_out_and_comes_back(lab: Board, tmp_path: Path) -> None:
    redialled = tmp_path / "redialled"
    up_with_health(lab, tmp_path, HEALTH_RECOVERY=f"/usr/bin/touch {redialled}", HEALTH_RECOVERY_AFTER="10")
    lab.dhcp()
    assert lab.fetch() == CELLULAR.board_ip
    wait_until(lambda: health(lab, "ppp0").get("health") == "alive", 10, interval=0.2, what="ppp0 alive")
    reader = events_reader(lab)
    assert next_event(reader)["event"] == "daemon_started"

    lab.modems["ppp0"].data(False)                  # the session dies; link, address, route stay
    t0 = time.monotonic()
    # the phone keeps trying (traffic flows), each try given 0.3 s so the figure is not a curl timeout's
    wait_until(lambda: lab.fetch(timeout=0.3) == USB0.board_ip, 30, interval=0.05, what="a connection by usb0")
    took = time.monotonic() - t0
    h = health(lab, "ppp0")
    assert h["health"] == "dead" and "probe rounds in a row" in str(h["reason"]), h
    assert took < DETECT_LIMIT, f"detection and failover took {took:.1f} s"
    print(f"detection and failover: {took:.1f} s")
    routes = lab.board.ip("route", "show")
    assert "default via 10.64.0.1 dev ppp0" in routes            # nothing of the link was touched
    assert "0.0.0.0/1 via 192.168.43.1 dev usb0" in routes
    out = lab.board.run(["conntrack", "-L", "-f", "ipv4", "--reply-dst", CELLULAR.board_ip], check=False).stdout
    assert "192.168.12." not in out                 # the phone's flows pinned to ppp0 were flushed
    dead = next_of(reader, ("uplink_dead", "uplink_back"), timeout=5)
    assert (dead["event"], dead["uplink"]) == ("uplink_dead", "ppp0") and "probe rounds in a row" in str(
        dead["reason"]), dead
    # dead for HEALTH_RECOVERY_AFTER: the recovery command runs (once; logged)
    wait_until(redialled.exists, 15, interval=0.2, what="the recovery command")
    ran_after = redialled.stat().st_mtime - float(health(lab, "ppp0")["dead_since"])  # type: ignore[arg-type]
    assert 9.5 <= ran_after < 14, ran_after

    lab.modems["ppp0"].data(True)
    t1 = time.monotonic()
    wait_until(lambda: health(lab, "ppp0").get("health") == "alive", 30, interval=0.2, what="ppp0 back")
    back = time.monotonic() - t1
    print(f"back after {back:.1f} s")
    came = next_of(reader, ("uplink_dead", "uplink_back"), timeout=5)
    assert (came["event"], came["uplink"]) == ("uplink_back", "ppp0"), came
    dead_for = time.monotonic() - t0      # from the session's death: detection (< DETECT_LIMIT) to back
    assert dead_for - DETECT_LIMIT - 1 < float(came["dead_seconds"]) <= dead_for, (came, dead_for)  # type: ignore[arg-type]
    reader.kill()
    assert back >= 2 * 3, f"back after {back:.1f} s: before its up count of 3 good rounds"
    lab.wait_fetch(CELLULAR.board_ip, timeout=5)
    assert "0.0.0.0/1" not in lab.board.ip("route", "show")
    assert "uplink ppp0: alive" in lab.hotshare("status", "lan0").stdout

    lab.modems["ppp0"].data(False)
    lab.wait_fetch(USB0.board_ip, timeout=30)
    assert "0.0.0.0/1" in lab.board.ip("route", "show")
    os.kill(lab.pid(), signal.SIGKILL)              # a crash: the next start or `down` undoes the steering
    lab.hotshare("down", "lan0")
    assert "0.0.0.0/1" not in lab.board.ip("route", "show")


def test_replies_seen_spare_the_probes_while_traffic_flows(lab: Board, tmp_path: Path) -> None:
    lab.internets["ppp0"].run(["nft", "-f", "-"], input=PROBE_COUNTER)
    up_with_health(lab, tmp_path, HEALTH_IDLE="5")
    lab.dhcp()
    wait_until(lambda: health(lab, "ppp0").get("health") == "alive", 10, interval=0.2, what="ppp0 alive")
    before = echo_requests(lab)
    deadline = time.monotonic() + 12             # more than two idle periods
    while time.monotonic() < deadline:
        assert lab.fetch(timeout=2) == CELLULAR.board_ip
        time.sleep(0.5)
    assert echo_requests(lab) == before          # the replies conntrack saw were the evidence
    time.sleep(6)                                # idle now: one probe proves the link
    assert echo_requests(lab) - before == 1


# Each probe method from the board through one uplink, as the service runs them.
PROBE = r"""
import json, selectors, sys, time
from ipaddress import IPv4Address
from hotshare.system.probe import Probe
out = {}
for item in sys.argv[2:]:
    method, ip, port = item.split(":")
    try:
        probe = Probe(sys.argv[1], method, IPv4Address(ip), int(port))
    except OSError as e:
        out[item] = f"error {e.errno}"
        continue
    sel = selectors.DefaultSelector()
    sel.register(probe, selectors.EVENT_WRITE if probe.want_write else selectors.EVENT_READ)
    got, deadline = None, time.monotonic() + 2
    while got is None and time.monotonic() < deadline:
        if sel.select(deadline - time.monotonic()):
            writing = probe.want_write
            got = probe.handle()
            if got is None and writing and not probe.want_write:
                sel.modify(probe, selectors.EVENT_READ)
    out[item] = got
    probe.close()
print(json.dumps(out))
"""
METHODS = [f"icmp:{WEB}:0", f"dns:{CELLULAR.gateway}:53", f"tcp:{WEB}:80", f"tcp:{WEB}:81", f"http:{WEB}:80"]


def probe(b: Board, uplink: str) -> dict[str, object]:
    proc = b.board.run([sys.executable, "-c", PROBE, uplink, *METHODS], env=b.env(), timeout=30)
    return dict(json.loads(proc.stdout))


def test_every_probe_method_answers_through_a_live_uplink_and_not_through_a_dead_one(lab: Board) -> None:
    # tcp:81: nothing listens; the RST proves the path. http: only a 204 counts.
    assert probe(lab, "ppp0") == dict.fromkeys(METHODS, True)      # ICMP by a raw socket: ping sockets
    lab.board.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 0"])   # are off by default ("1 0")
    assert probe(lab, "ppp0") == dict.fromkeys(METHODS, True)      # ICMP by a ping socket
    lab.modems["ppp0"].data(False)
    assert probe(lab, "ppp0") == dict.fromkeys(METHODS, None)     # nothing came back within the timeout
    got = probe(lab, "usb0")           # bound to usb0: not ppp0's route, and usb0's DNS is not ppp0's
    assert got[f"icmp:{WEB}:0"] is True and got[f"http:{WEB}:80"] is True and got[f"tcp:{WEB}:81"] is True


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_lone_uplink_that_dies_is_reported_and_the_service_stays_idle(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(CELLULAR,)).start()
    try:
        up_with_health(b, tmp_path)
        b.dhcp()
        wait_until(lambda: health(b, "ppp0").get("health") == "alive", 10, interval=0.2, what="ppp0 alive")
        b.modems["ppp0"].data(False)
        wait_until(lambda: b.fetch(timeout=0.3) is None and health(b, "ppp0").get("health") == "dead", 30,
                   interval=0.1, what="ppp0 dead")
        assert "0.0.0.0/1" not in b.board.ip("route", "show")     # nowhere better to send anyone
        pid = b.pid()
        before = cpu_seconds(pid)
        time.sleep(3)                                # probing a dead uplink is a few packets, not a busy loop
        assert cpu_seconds(pid) - before < 0.1
        assert "uplink ppp0: dead" in b.hotshare("status", "lan0").stdout
    finally:
        b.stop()
