"""The event stream: what happens to the hotspot, as JSON lines on a
root-only UNIX socket, for the board's application.

``<rundir>/<iface>.events`` (a stream socket, mode 0600, owner root): a
reader connects and receives one JSON object per line, as things happen --
no polling, no syslog parsing (``hotshare events --json`` prints them).
Every message has::

    {"version": 1, "event": "<kind>", "time": "<ISO 8601 UTC>", "iface": "<ap>", ...}

Kinds and their fields (more may be added; readers ignore unknown fields
and kinds; ``version`` changes only when a field changes meaning):

* ``daemon_started`` ``pid``, ``started`` (its time): sent to each new reader
  first, so a reader that reconnects sees whether the daemon restarted;
* ``daemon_stopping`` ``pid``;
* ``client_joined`` / ``client_left`` ``mac`` (hostapd's station events);
* ``dhcp_lease`` ``mac``, ``ip``, ``hostname`` (dnsmasq's DHCPACK);
* ``uplink_changed`` ``old``, ``new`` (interface names, "" for none);
* ``uplink_dead`` ``uplink``, ``reason`` (HEALTH_CHECK declared its data
  dead); ``uplink_back`` ``uplink``, ``reason``, ``dead_seconds`` (alive
  again after its up count, and how long it was dead);
* ``quota_reached`` ``scope`` ("hotspot" or a MAC), ``period``, ``bytes``,
  ``limit``.

A reader too slow to keep up (its socket buffer full) is disconnected rather
than waited for: the service never blocks on a reader.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import selectors
import socket
from collections.abc import Callable
from typing import Any

from .watched import unwatch

log = logging.getLogger("hotshare")

FORMAT_VERSION = 1
MAX_READERS = 8


def events_path(rundir: str, iface: str) -> str:
    return os.path.join(rundir, f"{iface}.events")


def message(kind: str, iface: str, **fields: Any) -> bytes:
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return (json.dumps({"version": FORMAT_VERSION, "event": kind, "time": now, "iface": iface, **fields})
            + "\n").encode()


class EventBus:
    def __init__(self, path: str, iface: str, sel: selectors.BaseSelector) -> None:
        self.path, self.iface, self._sel = path, iface, sel
        self.on_command: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.listeners: list[Callable[[bytes], None]] = []  # each message, as sent (MQTT)
        self.server: socket.socket | None = None
        self.readers: list[socket.socket] = []
        self.hello = b""

    def open(self, hello: bytes) -> None:
        self.hello = hello
        try:
            os.unlink(self.path)  # a crashed run's
        except FileNotFoundError:
            pass
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        old = os.umask(0o177)  # 0600 from the first moment it exists
        try:
            srv.bind(self.path)
        finally:
            os.umask(old)
        srv.listen(MAX_READERS)
        self.server = srv
        self._sel.register(srv, selectors.EVENT_READ, self._accept)

    def _accept(self) -> None:
        assert self.server
        try:
            conn, _ = self.server.accept()
        except BlockingIOError:
            return
        if len(self.readers) >= MAX_READERS:
            conn.close()
            return
        conn.setblocking(False)
        self.readers.append(conn)
        self._sel.register(conn, selectors.EVENT_READ, lambda: self._on_reader(conn))
        self._send(conn, self.hello)

    def _on_reader(self, conn: socket.socket) -> None:
        """Readable: the reader went, or sent a command (one JSON line, e.g.
        ``{"command": "quota_reset", "mac": null, "period": "day"}``), whose
        answer goes to it alone."""
        try:
            data = conn.recv(1024)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        try:
            cmd = json.loads(data)
            if not isinstance(cmd, dict) or self.on_command is None:
                raise ValueError("not a command")
            answer = self.on_command(cmd)
        except ValueError as e:
            answer = {"error": str(e)}
        self._send(conn, message("answer", self.iface, **answer))

    def _drop(self, conn: socket.socket) -> None:
        if conn in self.readers:
            self.readers.remove(conn)
            unwatch(self._sel, conn)

    def _send(self, conn: socket.socket, data: bytes) -> None:
        try:
            if conn.send(data) == len(data):
                return
        except OSError:
            pass
        log.info("event reader disconnected (gone, or too slow to keep up)")
        self._drop(conn)

    def emit(self, kind: str, **fields: Any) -> None:
        data = message(kind, self.iface, **fields)
        for listener in self.listeners:
            listener(data)
        for conn in list(self.readers):
            self._send(conn, data)

    def close(self) -> None:
        for conn in list(self.readers):
            self._drop(conn)
        if self.server is not None:
            unwatch(self._sel, self.server)
            self.server = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
