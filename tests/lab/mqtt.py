"""A real mosquitto broker for the lab: TLS with a test CA made by openssl,
a password file, persistence (a subscriber's session and its queued
messages survive the broker's restart), and mosquitto_sub as the fleet's
side, its lines collected in a file.
"""

from __future__ import annotations

import time
from pathlib import Path

from lab.proc import Daemon, run, wait_until

SUBSCRIBER = ("fleet", "fleet-password")
PLAIN_PORT = 1883       # without TLS, the same users


class Broker:
    def __init__(self, workdir: Path, address: str, netns: str | None, users: dict[str, str],
                 port: int = 8883) -> None:
        self.dir, self.address, self.netns, self.port = workdir, address, netns, port
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = self.dir / "ca.crt"
        self.log = self.dir / "mosquitto.log"
        self.daemon: Daemon | None = None
        self.subscriber: Daemon | None = None
        self.received = self.dir / "received.txt"
        self._make_certificates()
        passwd = self.dir / "passwd"
        passwd.write_text("")
        passwd.chmod(0o600)
        for user, password in {**users, SUBSCRIBER[0]: SUBSCRIBER[1]}.items():
            run(["mosquitto_passwd", "-b", str(passwd), user, password])
        (self.dir / "db").mkdir(exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(f"""user root
allow_anonymous false
password_file {passwd}
persistence true
persistence_location {self.dir / "db"}/
log_dest stderr
log_type all
listener {port} {address}
cafile {self.ca}
certfile {self.dir / "server.crt"}
keyfile {self.dir / "server.key"}
listener {PLAIN_PORT} {address}
""")

    def _make_certificates(self) -> None:
        d = self.dir
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run(["openssl", "req", "-x509", *ec, "-keyout", str(d / "ca.key"), "-out", str(self.ca), "-days", "2",
             "-subj", "/CN=hotshare test CA"])
        run(["openssl", "req", *ec, "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"),
             "-subj", f"/CN={self.address}"])
        (d / "san.ext").write_text(f"subjectAltName=IP:{self.address}\n")
        run(["openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(self.ca), "-CAkey", str(d / "ca.key"),
             "-CAcreateserial", "-out", str(d / "server.crt"), "-days", "2", "-extfile", str(d / "san.ext")])

    def start(self) -> None:
        mark = self.log.stat().st_size if self.log.exists() else 0
        self.daemon = Daemon("mosquitto", ["mosquitto", "-c", str(self.conf)], netns=self.netns, log=self.log)
        daemon = self.daemon
        wait_until(lambda: "Opening ipv4 listen socket" in self.log.read_text()[mark:], 10, interval=0.05,
                   what="mosquitto to listen")
        time.sleep(0.1)
        if not daemon.alive() or "Error" in self.log.read_text()[mark:]:
            raise RuntimeError(f"mosquitto did not start: see {self.log}")

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its sessions (persistence) and exits."""
        if self.daemon:
            self.daemon.stop()
            self.daemon = None

    def subscribe(self, topic: str) -> None:
        """mosquitto_sub with a persistent session (QoS 1, clean session off):
        what arrives while it reconnects after a restart is kept for it."""
        self.subscriber = Daemon("mosquitto_sub", [
            "stdbuf", "-oL", "mosquitto_sub", "-h", self.address, "-p", str(self.port), "--cafile", str(self.ca),
            "-u", SUBSCRIBER[0], "-P", SUBSCRIBER[1], "-i", "fleet-sub", "-c", "-q", "1", "-v", "-t", topic],
            netns=self.netns, log=self.received)
        wait_until(lambda: "as fleet-sub" in self.log.read_text(), 10, interval=0.05, what="the subscriber")

    def lines(self) -> list[str]:
        """What the subscriber received: 'topic payload' lines."""
        if not self.received.exists():
            return []
        return [ln for ln in self.received.read_text().splitlines() if ln and not ln.startswith("#")]

    def close(self) -> None:
        if self.subscriber:
            self.subscriber.stop()
        self.stop()
