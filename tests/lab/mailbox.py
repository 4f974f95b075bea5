"""The two-guest lab's protocol: requests and replies as files in a shared directory.

The board guest (pytest) asks, the phone guest (lab.pairphone) answers; the
only thing the guests share besides their virtio radios is the results
directory, mounted in both over 9p (no cache: a file one writes, the other
sees at its next look).  Every file is written whole and renamed into place.

    phone-ready.json   phone: {"iface", "mac"} once its radio is up
    req-NNNN.json      board: {"op", "args", "timeout"}
    rep-NNNN.json      phone: {"ok", "result"} or {"ok": false, "error"}
    phone-gone.json    the host (tests/qemu/run-pair): the phone guest ended, {"rc"}
    board-done         board: no more requests, the phone agent exits

Every wait has a deadline: a hung or dead phone fails the board's test with
a message naming the phone's console log, it never hangs it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

POLL = 0.2  # seconds between looks at the directory (the 9p mount has no change notification)
READY, GONE, DONE = "phone-ready.json", "phone-gone.json", "board-done"


class PhoneUnreachable(AssertionError):
    """The phone guest did not answer in time, or is gone."""


class PhoneError(AssertionError):
    """The phone ran the request and it failed (its error text is the message)."""


def write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The file's JSON, or None while it is not there."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


class Mailbox:
    def __init__(self, root: Path, phone_console: str = "the phone's console.log") -> None:
        self.root = root
        self.phone_console = phone_console
        self.seq = 0

    def _wait_for(self, name: str, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            data = read_json(self.root / name)
            if data is not None:
                return data
            gone = read_json(self.root / GONE)
            if gone is not None:
                raise PhoneUnreachable(f"the phone guest ended (exit {gone.get('rc')}) before {what}; "
                                       f"see {self.phone_console}")
            if time.monotonic() >= deadline:
                raise PhoneUnreachable(f"the phone guest did not {what} within {timeout:.0f} s; "
                                       f"see {self.phone_console}")
            time.sleep(POLL)

    # -- the board's side ------------------------------------------------------------

    def wait_ready(self, timeout: float) -> dict[str, str]:
        ready: dict[str, str] = self._wait_for(READY, timeout, "come up (phone-ready)")
        return ready

    def call(self, op: str, timeout: float = 60.0, **args: Any) -> Any:
        """Ask the phone to run ``op``; its result, PhoneError if it failed there."""
        self.seq += 1
        write_json(self.root / f"req-{self.seq:04d}.json", {"op": op, "args": args, "timeout": timeout})
        # The phone's own deadline is ``timeout``; the margin covers a slow 9p round trip.
        reply = self._wait_for(f"rep-{self.seq:04d}.json", timeout + 30, f"answer {op} {args}")
        if not reply.get("ok"):
            raise PhoneError(f"phone: {op} {args} failed: {reply.get('error')}")
        return reply.get("result")

    def done(self) -> None:
        (self.root / DONE).touch()

    # -- the phone's side -----------------------------------------------------------

    def next_request(self, idle_timeout: float) -> dict[str, Any] | None:
        """The next request in order; None once the board is done or has been
        silent for ``idle_timeout`` s (the board guest is gone)."""
        name = f"req-{self.seq + 1:04d}.json"
        deadline = time.monotonic() + idle_timeout
        while time.monotonic() < deadline:
            request = read_json(self.root / name)
            if request is not None:
                self.seq += 1
                return dict(request)
            if (self.root / DONE).exists():
                return None
            time.sleep(POLL)
        return None

    def reply(self, data: dict[str, Any]) -> None:
        write_json(self.root / f"rep-{self.seq:04d}.json", data)


class RemotePhone:
    """The phone guest's station, seen from the board: ``phone.dhcp(timeout=60)``
    is one request (an operation of lab.pairphone), its result the reply."""

    def __init__(self, mailbox: Mailbox, ready: dict[str, str]) -> None:
        self.mailbox = mailbox
        self.iface, self.mac = ready["iface"], ready["mac"]

    def __getattr__(self, op: str) -> Any:
        if op.startswith("_"):
            raise AttributeError(op)
        return lambda timeout=60.0, **args: self.mailbox.call(op, timeout, **args)
