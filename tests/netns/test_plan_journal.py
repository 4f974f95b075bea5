"""The dry run prints the plan the service applies: `hotshare up --dry-run --json`
equals the plan a real start journals, in each SHARE_METHOD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from board import PPP0, Board, Uplink

ETH1 = Uplink("eth1", "192.168.50.2/24", "192.168.50.1", 100, "hs-lan", "lanport")


def journal_plan(board: Board) -> dict[str, Any]:
    return dict(json.loads((board.rundir / "lan0.state").read_text())["plan"])


def dry_run(board: Board, *args: str) -> dict[str, Any]:
    return dict(json.loads(board.hotshare("up", "--dry-run", "--json", *args).stdout))


@pytest.mark.parametrize("method", ["nat", "none"])
def test_dry_run_is_the_plan_the_service_journals(board: Board, method: str) -> None:
    args = ("-m", method, "--dns-server", PPP0.gateway, "lan0", *(("ppp0",) if method == "nat" else ()))
    planned = dry_run(board, *args)
    board.hotshare("up", "--daemon", *args)
    try:
        assert journal_plan(board) == planned
    finally:
        board.hotshare("down", "lan0")
    assert planned["mode"] == method
    if method == "nat":
        assert planned["uplinks"] == ["ppp0"] and "masquerade" in planned["ruleset"]
        assert [c["name"] for c in planned["children"]] == ["dnsmasq"]
    else:
        assert planned["uplinks"] == [] and planned["ruleset"] is None and planned["sysctls"] == {}


def test_dry_run_in_bridge_mode_shows_the_bridge_and_no_dhcp_server(tmp_path: Path) -> None:
    from conftest import _skip_reason

    if reason := _skip_reason():
        pytest.skip(reason)
    b = Board(tmp_path, uplinks=(ETH1,)).start()
    try:
        planned = dry_run(b, "-m", "bridge", "lan0", "eth1")
        human = b.hotshare("up", "--dry-run", "-m", "bridge", "lan0", "eth1").stdout
        b.hotshare("up", "--daemon", "-m", "bridge", "lan0", "eth1")
        assert journal_plan(b) == planned
        b.hotshare("down", "lan0")
    finally:
        b.stop()
    assert planned["bridge"]["name"] == "hs-lan0" and planned["bridge"]["uplink"] == "eth1"
    assert planned["bridge"]["moved_addresses"] == ["192.168.50.2/24"]
    assert planned["children"] == [] and not any(f["path"].endswith("dnsmasq.conf") for f in planned["files"])
    assert "bridge hs-lan0 joins lan0 and eth1" in human and "dnsmasq.conf" not in human
