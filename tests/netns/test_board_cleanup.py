"""The harness itself: a Board leaves no namespace behind, however a test ends.

The namespace names are fixed and shared by everyone running these tests on
the machine; one left over by an aborted run must neither linger after a
failure nor break the next run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import board as board_module
from board import PPP0, USB0, Board
from lab.netns import Netns


@pytest.fixture(autouse=True)
def _root_only() -> None:
    from conftest import _skip_reason
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


def names(b: Board) -> list[str]:
    return [ns.name or "" for ns in (b.board, b.phone, *b.internets.values())]


def gone(b: Board) -> bool:
    return not any(Path("/run/netns", n).exists() for n in names(b))


def test_stop_deletes_the_namespaces_when_hotshare_down_times_out(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    b = Board(tmp_path, uplinks=(PPP0, USB0)).start()
    try:
        assert all(Path("/run/netns", n).exists() for n in names(b))

        def hangs(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
            raise subprocess.TimeoutExpired(["hotshare", *args], 30.0)

        monkeypatch.setattr(Board, "hotshare", hangs)
        b.stop()  # a hotshare that does not answer is not the harness's failure
        assert gone(b)
        assert all(not d.alive() for d in b.daemons)
    finally:
        monkeypatch.undo()
        b.stop()


def test_stop_deletes_the_namespaces_even_when_a_step_raises(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    b = Board(tmp_path).start()
    try:
        def broken(self: object, timeout: float = 5.0) -> None:
            raise RuntimeError("a daemon that cannot be stopped")

        monkeypatch.setattr(board_module.Daemon, "stop", broken)
        with pytest.raises(RuntimeError, match="cannot be stopped"):
            b.stop()  # the error is reported, after everything else was done
        assert gone(b)
    finally:
        monkeypatch.undo()
        b.stop()


def test_a_start_that_fails_half_way_removes_what_it_made(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = board_module.add_veth
    calls: list[str] = []

    def fail_on_usb0(name: str, *args: object, **kw: object) -> None:
        calls.append(name)
        if name == "usb0":
            raise subprocess.CalledProcessError(2, ["ip", "link", "add", name])
        real(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(board_module, "add_veth", fail_on_usb0)
    b = Board(tmp_path, uplinks=(PPP0, USB0))
    with pytest.raises(subprocess.CalledProcessError):
        b.start()
    assert calls == ["lan0", "ppp0", "usb0"]  # it did get half way
    assert gone(b)


def test_a_leftover_namespace_from_an_aborted_run_does_not_break_the_next(tmp_path: Path) -> None:
    # an aborted run: the board namespace is still there, with its links
    stale = Netns("hs-board").create()
    stale.ip("link", "add", "lan0", "type", "veth", "peer", "name", "ppp0")
    Netns("hs-phone").create()
    b = Board(tmp_path)
    try:
        b.start()
        assert b.board.link_exists("lan0") and b.board.ipv4_addresses("ppp0") == [PPP0.board_addr]
    finally:
        b.stop()
    assert gone(b)
