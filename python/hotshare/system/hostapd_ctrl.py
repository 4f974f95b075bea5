"""hostapd's control interface: a datagram Unix socket per AP interface."""

from __future__ import annotations

import itertools
import os
import socket

_serial = itertools.count()


class CtrlError(OSError):
    pass


class HostapdCtrl:
    """One connection to ``<ctrl_dir>/<iface>``. hostapd answers to the
    address we bind, so each connection binds a socket of its own."""

    def __init__(self, ctrl_dir: str, iface: str, timeout: float = 2.0) -> None:
        self.path = os.path.join(ctrl_dir, iface)
        # Our end lives beside hostapd's, in hotshare's root-only directory.
        self.local = os.path.join(ctrl_dir, f".client-{os.getpid()}-{next(_serial)}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(self.local)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except OSError as e:
            self.close()
            raise CtrlError(e.errno, f"hostapd control socket {self.path}: {e.strerror}") from None

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.local)
        except FileNotFoundError:
            pass

    def request(self, cmd: str) -> str:
        self.sock.send(cmd.encode())
        while True:
            reply = self.sock.recv(16384).decode("utf-8", "replace")
            if not reply.startswith("<"):  # skip unsolicited events on an attached socket
                return reply

    def attach(self) -> None:
        if self.request("ATTACH").strip() != "OK":
            raise CtrlError(0, "hostapd refused ATTACH")

    def read_event(self) -> str:
        """One unsolicited event, e.g. '<3>AP-STA-CONNECTED 02:..'; tag stripped."""
        msg = self.sock.recv(16384).decode("utf-8", "replace")
        return msg.split(">", 1)[1] if msg.startswith("<") and ">" in msg else msg

    def status(self) -> dict[str, str]:
        return parse_kv(self.request("STATUS"))

    def stations(self) -> list[dict[str, str]]:
        out = []
        reply = self.request("STA-FIRST")
        while reply and not reply.startswith("FAIL"):
            lines = reply.splitlines()
            if not lines:
                break
            sta = parse_kv("\n".join(lines[1:]))
            sta["mac"] = lines[0].strip()
            out.append(sta)
            reply = self.request(f"STA-NEXT {sta['mac']}")
        return out


def parse_kv(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out
