"""MQTT for fleets against a real mosquitto: the broker in the internet
namespace (beyond ppp0, at the web server's address), TLS with a test CA
made by openssl, a password file; mosquitto_sub as the fleet's side, with a
persistent session so that nothing it is owed is lost while the broker
restarts. hotshare publishes the event stream and the usage totals; while
the broker is down the events wait in its bounded queue and arrive, in
order, once it is back; over the limit the oldest are dropped and counted;
a wrong password is one clear log line and the hotspot runs on.

A wired phone joining shows as its ``dhcp_lease`` (``client_joined`` is
hostapd's station event: the QEMU lab's radio)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import UDHCPC_SCRIPT, WEB, Board
from conftest import _skip_reason
from lab.mqtt import Broker
from lab.proc import run, wait_until

TOPIC = "fleet/board-17"
PASSWORD = "s3cret-board-password"
RECONNECT = 45.0        # the reconnect backoff doubles up to 60 s: after a short outage, well under this


@pytest.fixture
def broker(board: Board, tmp_path: Path) -> Iterator[Broker]:
    if _skip_reason() is None and not all(os.path.exists(f"/usr/sbin/{p}") or os.path.exists(f"/usr/bin/{p}")
                                          for p in ("mosquitto", "mosquitto_sub")):
        pytest.skip("missing mosquitto, mosquitto-clients (run support/setup)")
    b = Broker(tmp_path / "broker", WEB, "hs-inet", {"board-17": PASSWORD})
    b.start()
    b.subscribe(f"{TOPIC}/#")
    try:
        yield b
    finally:
        b.close()


def config(tmp_path: Path, broker: Broker, password: str = PASSWORD, mode: int = 0o600, **keys: str) -> Path:
    pw = tmp_path / "mqtt-password"
    pw.write_text(password + "\n")
    pw.chmod(mode)
    conf = tmp_path / "hotshare.conf"
    settings = {"MQTT_BROKER": f"{WEB}:8883", "MQTT_TLS": str(broker.ca), "MQTT_TOPIC": TOPIC,
                "MQTT_USERNAME": "board-17", "MQTT_PASSWORD_FILE": str(pw), **keys}
    conf.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return conf


def received(broker: Broker, topic: str = "events") -> list[dict[str, object]]:
    out = []
    for line in broker.lines():
        t, _, payload = line.partition(" ")
        if t == f"{TOPIC}/{topic}":
            out.append(json.loads(payload) if payload.startswith("{") else {"payload": payload})
    return out


def leases(broker: Broker) -> list[str]:
    """The hostnames of the dhcp_lease events received, in order."""
    return [str(e["hostname"]) for e in received(broker) if e.get("event") == "dhcp_lease"]


def lease(board: Board, hostname: str) -> None:
    """The phone takes (or renews) its lease, naming itself: one DHCPACK, one event."""
    board.phone.run(["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "10", "-T", "1",
                     "-x", f"hostname:{hostname}", "-s", str(UDHCPC_SCRIPT)],
                    env={**os.environ, "LAB_LEASE_FILE": str(board.workdir / "phone.lease")}, timeout=20)


def mqtt_status(board: Board) -> str:
    return str(board.status().get("mqtt", ""))


def test_events_and_usage_reach_the_broker_and_nothing_is_lost_while_it_is_down(
        board: Board, broker: Broker, tmp_path: Path) -> None:
    log = board.rundir / "hotshare.log"
    board.up("--config", str(config(tmp_path, broker, MQTT_USAGE_INTERVAL="10")), "--logfile", str(log))
    wait_until(lambda: [e.get("event") for e in received(broker)][:1] == ["daemon_started"], 15, interval=0.1,
               what="daemon_started at the broker")
    assert received(broker, "status")[-1] == {"payload": "online"}
    mac = str(board.phone.ip_json("link", "show", "eth0")[0]["address"])
    lease(board, "phone-0")
    wait_until(lambda: leases(broker) == ["phone-0"], 10, interval=0.1, what="the phone's lease at the broker")
    assert next(e for e in received(broker) if e.get("event") == "dhcp_lease")["mac"] == mac
    assert board.download(200_000) is not None

    def phone_usage() -> int:
        usage = received(broker, "usage")
        clients = usage[-1].get("clients", {}) if usage else {}
        return int(clients.get(mac, {}).get("day", {}).get("rx_bytes", 0))  # type: ignore[union-attr]

    wait_until(lambda: phone_usage() > 200_000, 25, interval=0.2, what="the phone's usage at the broker")
    assert "connected to" in mqtt_status(board)

    broker.stop()
    wait_until(lambda: "waiting for" in mqtt_status(board), 10, interval=0.1, what="hotshare to see the broker go")
    for n in (1, 2, 3):
        lease(board, f"phone-{n}")
    status = mqtt_status(board)
    assert "waiting for" in status and " 0 dropped" in status, status
    assert int(status.split(", ")[1].split()[0]) >= 3, status     # the three leases (and maybe a usage) wait
    broker.start()
    wait_until(lambda: "phone-3" in leases(broker), RECONNECT, interval=0.2, what="the queued events")
    assert leases(broker) == ["phone-0", "phone-1", "phone-2", "phone-3"]   # all, in order, once
    wait_until(lambda: ", 0 queued, 0 dropped" in mqtt_status(board), 5, interval=0.1, what="the queue to drain")

    board.hotshare("down", "lan0")
    wait_until(lambda: received(broker)[-1].get("event") == "daemon_stopping", 5, interval=0.1,
               what="daemon_stopping at the broker")
    text = log.read_text()
    assert "MQTT: connected to" in text and "MQTT: connection to" in text
    assert PASSWORD not in text                 # never logged


def test_over_the_queue_limit_the_oldest_are_dropped_and_counted(board: Board, broker: Broker,
                                                                 tmp_path: Path) -> None:
    log = board.rundir / "hotshare.log"
    board.up("--config", str(config(tmp_path, broker, MQTT_QUEUE_LIMIT="3", MQTT_USAGE_INTERVAL="0")),
             "--logfile", str(log))
    wait_until(lambda: "connected to" in mqtt_status(board), 15, interval=0.1, what="hotshare connected")
    broker.stop()
    wait_until(lambda: "waiting for" in mqtt_status(board), 10, interval=0.1, what="hotshare to see the broker go")
    for n in range(1, 6):
        lease(board, f"phone-{n}")
    assert mqtt_status(board).endswith("3 queued, 2 dropped"), mqtt_status(board)
    assert "MQTT: queue full (MQTT_QUEUE_LIMIT=3): oldest message dropped" in log.read_text()
    broker.start()
    wait_until(lambda: "phone-5" in leases(broker), RECONNECT, interval=0.2, what="the queued events")
    assert leases(broker) == ["phone-3", "phone-4", "phone-5"]      # the two oldest dropped


def test_a_wrong_password_is_one_clear_log_line_and_the_hotspot_runs_on(board: Board, broker: Broker,
                                                                       tmp_path: Path) -> None:
    # a password file others can read is refused before anything changes
    up = board.hotshare("up", "--daemon", "--config", str(config(tmp_path, broker, mode=0o640)), "lan0", "ppp0",
                        check=False)
    assert up.returncode == 2 and len(up.stderr.strip().splitlines()) == 1, up.stderr
    assert "MQTT_PASSWORD_FILE" in up.stderr and "chmod 600" in up.stderr, up.stderr
    assert not board.nft_tables()

    log = board.rundir / "hotshare.log"
    board.up("--config", str(config(tmp_path, broker, password="wrong-pass-7c1")), "--logfile", str(log))
    wait_until(lambda: "refused the connection" in log.read_text(), 15, interval=0.1, what="the refusal logged")
    line = next(ln for ln in log.read_text().splitlines() if "refused the connection" in ln)
    assert "MQTT: the broker 198.18.0.10:8883 refused the connection: Not authorized" in line, line
    assert "check MQTT_USERNAME and MQTT_PASSWORD_FILE" in line, line
    assert board.status()["running"]
    lease(board, "phone-1")                     # the hotspot serves on
    assert board.fetch() is not None
    assert "waiting for" in mqtt_status(board)
    assert received(broker) == []
    assert "wrong-pass-7c1" not in log.read_text()


def test_a_broker_whose_certificate_the_ca_did_not_sign_gets_nothing(board: Board, broker: Broker,
                                                                     tmp_path: Path) -> None:
    other = tmp_path / "other-ca"
    other.mkdir()
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(other / "ca.key"), "-out", str(other / "ca.crt"), "-days", "2", "-subj", "/CN=another CA"])
    log = board.rundir / "hotshare.log"
    board.up("--config", str(config(tmp_path, broker, MQTT_TLS=str(other / "ca.crt"))), "--logfile", str(log))
    wait_until(lambda: "MQTT: broker" in log.read_text(), 15, interval=0.1, what="the TLS failure logged")
    line = next(ln for ln in log.read_text().splitlines() if "MQTT: broker" in ln)
    assert "TLS: its certificate is not trusted (self-signed certificate in certificate chain; check MQTT_TLS)" \
        in line, line
    lease(board, "phone-1")
    assert board.status()["running"] and "waiting for" in mqtt_status(board)
    assert received(broker) == []
