"""The event stream of a running hotspot: `hotshare events --json` reading
the service's root-only socket while a phone takes a lease and the service
stops.  Real dnsmasq, nftables and busybox udhcpc in network namespaces."""

from __future__ import annotations

import json
import os
import select
import stat
import subprocess
import sys
from typing import Any

from board import Board


def next_event(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> dict[str, Any]:
    """The reader's next line (its stdout unbuffered: select sees every line)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no event within the timeout"
    line = proc.stdout.readline()
    assert line, f"the stream ended (exit {proc.poll()})"
    return dict(json.loads(line))


def test_events_stream_a_lease_and_the_stop(board: Board) -> None:
    board.up()
    sock = board.rundir / "lan0.events"
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    reader = subprocess.Popen(["ip", "netns", "exec", "hs-board", sys.executable, "-m", "hotshare", "events",
                               "lan0", "--json"], env=board.env(), stdout=subprocess.PIPE, bufsize=0)
    try:
        hello = next_event(reader)
        assert (hello["version"], hello["event"], hello["iface"], hello["pid"]) == (1, "daemon_started", "lan0",
                                                                                   board.pid())
        lease = board.dhcp()
        mac = str(board.phone.ip_json("link", "show", "eth0")[0]["address"])
        ev = next_event(reader)
        assert (ev["event"], ev["mac"], ev["ip"]) == ("dhcp_lease", mac, lease["ip"])
        assert board.hotshare("down", "lan0").returncode == 0
        assert next_event(reader)["event"] == "daemon_stopping"
        assert reader.wait(timeout=10) == 0  # the stream ends with the service
    finally:
        reader.kill()
    assert not sock.exists()
