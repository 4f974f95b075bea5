"""Publishing the event stream and periodic usage to a fleet's MQTT broker
(MQTT_BROKER; paho-mqtt, imported only then).

In the supervisor's selectors loop, like everything else: the connection
(TCP, then TLS) is made without blocking (only a broker given by name is
looked up with the system's resolver, which may wait), then handed to paho,
whose socket the loop watches (``loop_read``/``loop_write``); keepalive
(``loop_misc``) is a timer every ``MISC_INTERVAL``. No thread, no polling.

Topics, under MQTT_TOPIC (default ``hotshare/<hostname>``):

* ``<topic>/events``: each event of the stream (eventbus.py), the same
  JSON object, QoS 1, in order;
* ``<topic>/usage``: the usage totals (as ``hotshare usage --json``) every
  MQTT_USAGE_INTERVAL seconds when they changed, QoS 1, retained;
* ``<topic>/status``: ``online`` / ``offline``, retained (``offline`` also
  as the will, if the board vanishes).

Every message waits in a bounded queue (MQTT_QUEUE_LIMIT) until the
broker's PUBACK: while the broker is unreachable nothing is lost until the
queue is full; then the oldest is dropped first and counted (log, status).
Only a newer usage message replaces an older one still waiting. The queue
is in memory: what is still in it when the service stops is lost.
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config.mqtt import MqttConfig
from .eventbus import message

log = logging.getLogger("hotshare")

KEEPALIVE = 120             # seconds; pings every MISC_INTERVAL at most, cellular NATs keep the flow
MISC_INTERVAL = 40.0
CONNECT_TIMEOUT = 20.0      # TCP, TLS and the broker's CONNACK
BACKOFF_MIN, BACKOFF_MAX = 1.0, 60.0
WINDOW = 20                 # messages handed to paho before their PUBACK
STOP_FLUSH = 2.0            # seconds the stop waits for the queue to go


@dataclass(eq=False)
class _Message:
    topic: str
    payload: bytes
    retain: bool = False
    mid: int | None = None  # handed to paho, waiting for the PUBACK


class MqttPublisher:
    def __init__(self, cfg: MqttConfig, client_id: str, iface: str, sel: selectors.BaseSelector,
                 call_at: Callable[[str, float, Callable[[], None]], None], cancel: Callable[[str], None],
                 usage: Callable[[], dict[str, Any] | None], report: Callable[[str], None]) -> None:
        self.cfg, self.client_id, self.sel, self.call_at, self.cancel = cfg, client_id, sel, call_at, cancel
        self.usage, self.report, self.iface = usage, report, iface
        self.queue: deque[_Message] = deque()
        self.inflight: dict[int, _Message] = {}
        self.dropped = 0
        self.client: Any = None         # paho's, for one connection
        self.sock: Any = None           # ours while connecting, then paho's
        self.connected = False
        self.backoff = BACKOFF_MIN
        self.failures = 0
        self.last_usage: dict[str, Any] | None = None
        self.closing = False
        self.reported = ""

    @property
    def where(self) -> str:
        return f"{self.cfg.broker}:{self.cfg.port}"

    # -- life ----------------------------------------------------------------

    def open(self) -> None:
        self._connect()
        if self.cfg.usage_interval:
            self.call_at("mqtt-usage", time.monotonic() + self.cfg.usage_interval, self._on_usage_timer)

    def close(self) -> None:
        """Send what waits (for up to STOP_FLUSH s) and ``offline``, then disconnect."""
        self.closing = True
        for name in ("mqtt-usage", "mqtt-misc", "mqtt-connect", "mqtt-reconnect"):
            self.cancel(name)
        if self.connected and self.client is not None:
            self.client.publish(f"{self.cfg.topic}/status", b"offline", qos=1, retain=True)
            deadline = time.monotonic() + STOP_FLUSH
            with selectors.DefaultSelector() as flush:
                flush.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
                while self.connected and (self.queue or self.client.want_write()) and time.monotonic() < deadline:
                    flush.modify(self.sock, selectors.EVENT_READ |
                                 (selectors.EVENT_WRITE if self.client.want_write() else 0))
                    if flush.select(deadline - time.monotonic()):
                        self._on_io()
            client = self.client
            if client is not None:
                client.disconnect()     # queues DISCONNECT (paho's on_disconnect may drop the client)
                client.loop_write()
        if self.queue:
            log.warning("MQTT: %d message(s) not delivered at stop", len(self.queue))
        self._drop_connection()

    # -- the queue -----------------------------------------------------------

    def publish_event(self, data: bytes) -> None:
        """An event of the stream (one JSON line, as eventbus.message makes it)."""
        self._enqueue(_Message(f"{self.cfg.topic}/events", data.rstrip(b"\n")))

    def _enqueue(self, msg: _Message) -> None:
        if msg.retain:     # usage: a newer one replaces one still waiting
            for old in [m for m in self.queue if m.topic == msg.topic and m.mid is None]:
                self.queue.remove(old)
        while len(self.queue) >= self.cfg.queue_limit:
            oldest = self.queue.popleft()
            if oldest.mid is not None:
                self.inflight.pop(oldest.mid, None)
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("MQTT: queue full (MQTT_QUEUE_LIMIT=%d): oldest message dropped, %d so far",
                            self.cfg.queue_limit, self.dropped)
                self._report()
        self.queue.append(msg)
        if not self.connected:
            self._report()
        self._pump()

    def _pump(self) -> None:
        """Hand the oldest waiting messages to paho, WINDOW at a time, in order."""
        if not self.connected or self.client is None:
            return
        for msg in self.queue:
            if len(self.inflight) >= WINDOW:
                break
            if msg.mid is None:
                info = self.client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain)
                if info.rc:
                    break       # the connection went: on_disconnect follows
                msg.mid = info.mid
                self.inflight[info.mid] = msg
        self._watch()

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, *_: Any) -> None:
        msg = self.inflight.pop(mid, None)
        if msg is not None:
            try:
                self.queue.remove(msg)
            except ValueError:
                pass
            if not self.queue:
                self._report()
        self._pump()

    # -- usage ---------------------------------------------------------------

    def _on_usage_timer(self) -> None:
        self.call_at("mqtt-usage", time.monotonic() + self.cfg.usage_interval, self._on_usage_timer)
        data = self.usage()
        if data is None or data == self.last_usage:
            return          # unchanged: no bytes spent on the SIM to say so
        self.last_usage = data
        self._enqueue(_Message(f"{self.cfg.topic}/usage", message("usage", self.iface, **data).rstrip(b"\n"),
                               retain=True))

    # -- the connection ------------------------------------------------------

    def _connect(self) -> None:
        """Start a TCP connection without blocking (a name is looked up first)."""
        self.cancel("mqtt-reconnect")
        try:
            family, kind, proto, _, addr = socket.getaddrinfo(self.cfg.broker, self.cfg.port,
                                                              type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, proto)
            err = sock.connect_ex(addr)
            if err not in (0, errno.EINPROGRESS):
                sock.close()
                raise OSError(err, os.strerror(err))
        except OSError as e:
            self._failed(f"cannot connect: {e.strerror or e}")
            return
        self.sock = sock
        self.sel.register(sock, selectors.EVENT_WRITE, self._on_tcp)
        self.call_at("mqtt-connect", time.monotonic() + CONNECT_TIMEOUT,
                     lambda: self._failed(f"no answer within {CONNECT_TIMEOUT:.0f} s"))

    def _on_tcp(self) -> None:
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._failed(f"cannot connect: {os.strerror(err)}")
            return
        if not self.cfg.ca_file:
            self._start_mqtt()
            return
        import ssl
        self.sel.unregister(self.sock)
        try:
            ctx = ssl.create_default_context(cafile=self.cfg.ca_file)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=self.cfg.broker, do_handshake_on_connect=False)
        except (ssl.SSLError, OSError) as e:
            self._failed(f"TLS: {e}")
            return
        self.sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self._on_tls)
        self._on_tls()

    def _on_tls(self) -> None:
        import ssl
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.sel.modify(self.sock, selectors.EVENT_READ, self._on_tls)
            return
        except ssl.SSLWantWriteError:
            self.sel.modify(self.sock, selectors.EVENT_WRITE, self._on_tls)
            return
        except ssl.SSLCertVerificationError as e:
            self._failed(f"TLS: its certificate is not trusted ({e.verify_message}; check MQTT_TLS)")
            return
        except (ssl.SSLError, OSError) as e:
            self._failed(f"TLS: {e}")
            return
        self._start_mqtt()

    def _start_mqtt(self) -> None:
        """The connection is made: paho takes it and sends CONNECT."""
        self.sel.unregister(self.sock)
        client = paho_client(self.client_id, self.sock)
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, self.cfg.password or None)
        client.will_set(f"{self.cfg.topic}/status", b"offline", qos=1, retain=True)
        client.on_connect = self._on_connack
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_socket_close = lambda *_: self._unwatch()
        client.connect_async(self.cfg.broker, self.cfg.port, keepalive=KEEPALIVE)
        self.client = client
        try:
            client.reconnect()      # takes self.sock (paho_client), queues CONNECT
        except OSError as e:
            self._failed(f"cannot connect: {e}")
            return
        self.sel.register(self.sock, selectors.EVENT_READ, self._on_io)
        self._watch()

    def _on_connack(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, *_: Any) -> None:
        if reason.is_failure:
            hint = " (check MQTT_USERNAME and MQTT_PASSWORD_FILE)" if reason.value in (0x04, 0x05, 0x86, 0x87) else ""
            log.error("MQTT: the broker %s refused the connection: %s%s", self.where, reason, hint)
            self.failures = max(self.failures, 1)   # logged: the retries are not
            return                                  # paho closes it: on_disconnect retries
        self.cancel("mqtt-connect")
        self.connected, self.backoff = True, BACKOFF_MIN
        log.info("MQTT: connected to %s as %s%s", self.where, self.client_id,
                 f" after {self.failures} failed attempt(s)" if self.failures else "")
        self.failures = 0
        self._report()
        assert self.client is not None
        self.client.publish(f"{self.cfg.topic}/status", b"online", qos=1, retain=True)
        self.call_at("mqtt-misc", time.monotonic() + MISC_INTERVAL, self._on_misc)
        self._pump()

    def _on_disconnect(self, *_: Any) -> None:
        was = self.connected
        self._drop_connection()
        if self.closing:
            return
        if was:
            log.warning("MQTT: connection to %s lost; %d message(s) queued", self.where, len(self.queue))
        elif not self.failures:
            log.warning("MQTT: broker %s closed the connection before accepting it; retrying", self.where)
        self._retry()

    def _on_io(self) -> None:
        client = self.client
        if client is None:
            return
        client.loop_read()
        while self.client is client and getattr(self.sock, "pending", lambda: 0)():
            client.loop_read()     # TLS: whole records already decrypted wake no select
        if self.client is client and client.want_write():
            client.loop_write()
        self._watch()

    def _on_misc(self) -> None:
        if self.client is not None:
            self.client.loop_misc()     # keepalive: a PINGREQ, or the broker's silence ends it
            self._watch()
        if self.connected:
            self.call_at("mqtt-misc", time.monotonic() + MISC_INTERVAL, self._on_misc)

    def _watch(self) -> None:
        if self.client is not None and self.sock is not None and self.sock.fileno() >= 0:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.client.want_write() else 0)
            try:
                self.sel.modify(self.sock, events, self._on_io)
            except (KeyError, ValueError):
                pass

    def _unwatch(self) -> None:
        if self.sock is not None:
            try:
                self.sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass

    # -- failures ------------------------------------------------------------

    def _drop_connection(self) -> None:
        self.cancel("mqtt-connect")
        self.cancel("mqtt-misc")
        self._unwatch()
        if self.sock is not None:
            self.sock.close()
        self.client = self.sock = None
        if self.connected:
            self.connected = False
            self._report()
        for msg in self.queue:      # sent again, in order, on the next connection
            msg.mid = None
        self.inflight.clear()

    def _failed(self, why: str) -> None:
        self._drop_connection()
        if not self.failures:
            log.warning("MQTT: broker %s: %s; retrying (%d message(s) queued)", self.where, why, len(self.queue))
        else:
            log.debug("MQTT: broker %s: %s", self.where, why)
        self._retry()

    def _retry(self) -> None:
        if self.closing:
            return
        self.failures += 1
        self.call_at("mqtt-reconnect", time.monotonic() + self.backoff, self._connect)
        self.backoff = min(BACKOFF_MAX, self.backoff * 2)

    def _report(self) -> None:
        text = (f"{'connected to' if self.connected else 'waiting for'} {self.where}, "
                f"{len(self.queue)} queued, {self.dropped} dropped")
        if text != self.reported:
            self.reported = text
            self.report(text)


def paho_client(client_id: str, sock: socket.socket) -> Any:
    """A paho client (MQTT 3.1.1, clean session: the queue above is the
    session) that takes the connection made by the loop instead of making
    one itself (blocking)."""
    import paho.mqtt.client as paho

    class Client(paho.Client):
        def _create_socket(self) -> Any:
            return sock

    return Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                  protocol=paho.MQTTv311)
