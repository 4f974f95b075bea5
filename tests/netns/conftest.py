"""Host tests in network namespaces: real dnsmasq, nftables, conntrack, dhcpcd."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from board import PPP0, USB0, Board

NEEDED = ("ip", "nft", "dnsmasq", "busybox", "curl")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    missing = [t for t in NEEDED if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    return f"missing tools: {', '.join(missing)} (run support/setup)" if missing else None


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path).start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def board2(tmp_path: Path) -> Iterator[Board]:
    """A board with two uplinks: ppp0 (metric 250) and usb0 (metric 300), as in seed 000."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(PPP0, USB0)).start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def board2_usb_first(tmp_path: Path) -> Iterator[Board]:
    """The same two uplinks, but usb0 (metric 300) is created first and gets
    the lower ifindex; ppp0 (metric 250), the better one, comes second."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(USB0, PPP0)).start()
    try:
        yield b
    finally:
        b.stop()
