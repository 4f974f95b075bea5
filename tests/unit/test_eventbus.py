"""The event socket's behaviour that the netns test cannot reach: a reader
that never reads is disconnected instead of blocking the service."""

from __future__ import annotations

import json
import selectors
import socket
import time
from pathlib import Path

from hotshare.service.eventbus import EventBus, message


def pump(sel: selectors.BaseSelector) -> None:
    for key, _ in sel.select(0.1):
        key.data()


def test_a_reader_gets_hello_then_events_and_a_stuck_one_is_dropped(tmp_path: Path) -> None:
    sel = selectors.DefaultSelector()
    bus = EventBus(str(tmp_path / "wlan0.events"), "wlan0", sel)
    bus.open(message("daemon_started", "wlan0", pid=1))
    reader = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    reader.connect(str(tmp_path / "wlan0.events"))
    pump(sel)
    bus.emit("uplink_changed", old="ppp0", new="usb0")
    got = [json.loads(x) for x in reader.recv(4096).decode().splitlines()]
    assert [(m["version"], m["event"]) for m in got] == [(1, "daemon_started"), (1, "uplink_changed")]
    assert (got[1]["old"], got[1]["new"]) == ("ppp0", "usb0")
    # it stops reading: the service goes on, the reader is let go
    t = time.monotonic()
    for i in range(100_000):
        bus.emit("dhcp_lease", mac="02:00:00:00:00:01", ip=f"10.0.{i % 250}.1", hostname="x" * 100)
        if not bus.readers:
            break
    assert not bus.readers and time.monotonic() - t < 5
    bus.close()
    assert not (tmp_path / "wlan0.events").exists()
