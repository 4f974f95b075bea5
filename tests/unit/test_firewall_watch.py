"""Following other firewalls: the nftables events, the timers, the reaction.

The reaction with the real components (iptables-restore of Docker's rules
while a phone is online) is tests/netns/test_firewall_later.py; here its
parts, without a kernel: messages built byte by byte, the firewall calls
replaced by fakes."""

from __future__ import annotations

import copy
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest

from hotshare.coexist.analysis import Action, tag
from hotshare.netlink import nftables
from hotshare.netlink.core import pack_attr, pack_message
from hotshare.netlink.uapi import (
    NFGENMSG,
    NFNL_SUBSYS_CTNETLINK,
    NFNL_SUBSYS_NFTABLES,
    NFPROTO_INET,
    NFPROTO_IPV4,
    NFT_MSG_DELRULE,
    NFT_MSG_NEWGEN,
    NFT_MSG_NEWRULE,
    NFT_MSG_NEWSETELEM,
    NFTA_RULE_TABLE,
)
from hotshare.service import firewall_watch
from hotshare.service.journal import Journal
from hotshare.service.supervisor import Supervisor
from hotshare.system import firewalls

DATA = Path(__file__).resolve().parent.parent / "data" / "firewall"
NET = ipaddress.IPv4Network("192.168.12.0/24")


def message(msg: int, family: int, table: str | None, subsys: int = NFNL_SUBSYS_NFTABLES) -> bytes:
    body = NFGENMSG.pack(family, 0, 0)
    if table is not None:
        body += pack_attr(NFTA_RULE_TABLE, table.encode() + b"\0")
    return pack_message(subsys << 8 | msg, 0, 0, body)


# -- netlink/nftables ----------------------------------------------------------

def test_the_table_of_a_change() -> None:
    assert nftables.table_of(message(NFT_MSG_NEWRULE, NFPROTO_IPV4, "filter")) == ("ip", "filter")
    assert nftables.table_of(message(NFT_MSG_NEWSETELEM, NFPROTO_INET, "fw")) == ("inet", "fw")
    assert nftables.table_of(message(NFT_MSG_NEWGEN, 0, None)) is None              # a batch's end
    assert nftables.table_of(message(0, NFPROTO_IPV4, "x", NFNL_SUBSYS_CTNETLINK)) is None
    assert nftables.table_of(message(NFT_MSG_DELRULE, NFPROTO_IPV4, None)) == nftables.UNKNOWN
    assert nftables.table_of(message(NFT_MSG_DELRULE, NFPROTO_IPV4, "filter")[:18]) == nftables.UNKNOWN


def test_our_own_table_is_ignored_and_lost_events_count() -> None:
    own = message(NFT_MSG_NEWRULE, NFPROTO_INET, "hotshare_lan0")
    gen = message(NFT_MSG_NEWGEN, 0, None)
    docker = message(NFT_MSG_DELRULE, NFPROTO_IPV4, "filter")
    ignore = {("inet", "hotshare_lan0")}
    assert nftables.touched([(0, own), (0, gen)], ignore) == set()
    assert nftables.touched([(0, own), (0, docker), (0, gen)], ignore) == {("ip", "filter")}
    assert nftables.touched([(-1, b"")], ignore) == {nftables.UNKNOWN}


# -- the supervisor's timers ---------------------------------------------------

def test_a_timer_wakes_the_loop_and_a_replaced_one_does_not_fire(tmp_path: Path) -> None:
    sup = Supervisor(Journal(iface="lan0", path=str(tmp_path / "j")), {}, str(tmp_path), "lan0")
    fired: list[str] = []
    t0 = time.monotonic()
    sup.call_at("a", t0 + 0.05, lambda: fired.append("old"))
    sup.call_at("a", t0 + 0.1, lambda: fired.append("a"))
    sup.call_at("b", t0 + 0.15, lambda: (fired.append("b"), setattr(sup, "stopping", True)))
    sup.run()
    assert fired == ["a", "b"] and 0.14 < time.monotonic() - t0 < 1.0
    assert sup.timers == {}


# -- system/firewalls: which of our rules are there ------------------------------

def with_ours(ruleset: dict[str, Any], ap: str, n: int, chain: str = "DOCKER-USER") -> dict[str, Any]:
    out = copy.deepcopy(ruleset)
    ours = [{"rule": {"family": "ip", "table": "filter", "chain": chain, "handle": 900 + i,
                      "expr": [{"xt": {"type": "match", "name": "comment"}}, {"accept": None}]}} for i in range(n)]
    items = out["nftables"]
    first = next(i for i, it in enumerate(items) if "rule" in it and it["rule"]["chain"] == chain) \
        if any("rule" in it and it["rule"]["chain"] == chain for it in items) else len(items)
    out["nftables"] = items[:first] + ours + items[first:]
    return out


def test_our_iptables_rules_are_found_by_their_place_in_iptables_save(monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = with_ours(json.loads((DATA / "docker.json").read_text()), "lan0", 2)
    spec = ["-i", "lan0", "-m", "comment", "--comment", tag("lan0"), "-j", "ACCEPT"]
    monkeypatch.setattr(firewalls, "_xt_rules", lambda table=None: [
        ("filter", "FORWARD", 0, ["-j", "DOCKER-USER"]),
        ("filter", "DOCKER-USER", 0, spec), ("filter", "DOCKER-USER", 1, spec)])
    assert firewalls.mark_ours(ruleset, "lan0") == 2
    marked = [i["rule"]["handle"] for i in ruleset["nftables"] if i.get("rule", {}).get("comment") == tag("lan0")]
    assert marked == [900, 901]
    act = Action("iptables", "lan0", "ip", "filter", "DOCKER-USER", ("a", "b"))
    assert firewalls.present(act, ruleset)
    assert not firewalls.present(Action("iptables", "lan0", "ip", "filter", "DOCKER-USER", ("a", "b", "c")), ruleset)
    assert not firewalls.present(act, json.loads((DATA / "docker.json").read_text()))


# -- the reaction ----------------------------------------------------------------

class Fake:
    """The firewall as the watch sees it: a ruleset, and our rules in it or not."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
        self.ruleset = json.loads((DATA / f"{case}.json").read_text())
        self.applied: list[Action] = []
        self.in_force = True
        monkeypatch.setattr(firewalls, "current_ruleset", lambda ap=None: self.ruleset)
        monkeypatch.setattr(firewalls, "available_tools", lambda: frozenset({"iptables"}))
        monkeypatch.setattr(firewalls, "present", lambda act, rs: self.in_force)
        monkeypatch.setattr(firewalls, "apply", self.apply)

    def apply(self, act: Action) -> dict[str, Any]:
        self.applied.append(act)
        self.in_force = True
        return act.to_dict()


def watch(tmp_path: Path, mode: str = "auto") -> firewall_watch.FirewallWatch:
    j = Journal(iface="lan0", path=str(tmp_path / "lan0.state"))
    return firewall_watch.FirewallWatch(j, "lan0", mode, NET, "hotshare_lan0", lambda: ("ppp0",),
                                        lambda *a: None, lambda name: None)


def test_docker_later_is_passed_once_and_again_when_its_restart_flushed_us(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = Fake(monkeypatch, "docker")
    w = watch(tmp_path)
    caplog.set_level("INFO", "hotshare")
    w.reconcile("another firewall changed")
    assert [a.chain for a in fake.applied] == ["DOCKER-USER"]
    assert "another firewall changed: made hotspot traffic pass table ip filter chain FORWARD" in caplog.text
    assert [r["chain"] for r in w.journal.firewall] == ["DOCKER-USER"]
    w.reconcile("another firewall changed")             # our own insertions' events: nothing to do
    assert len(fake.applied) == 1
    fake.in_force = False                               # Docker restarted: its chains rebuilt without ours
    w.reconcile("another firewall changed")
    assert len(fake.applied) == 2 and len(w.journal.firewall) == 1
    w.uplinks = lambda: ("usb0",)                       # other uplinks: other rules, same chain
    w.reconcile("uplinks changed")
    assert len(fake.applied) == 3 and len(w.journal.firewall) == 1
    assert all("usb0" in r for r in w.journal.firewall[0]["rules"])  # type: ignore[attr-defined]


def test_a_native_drop_in_mode_auto_is_reported_blocked_then_cleared(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = Fake(monkeypatch, "workstation")
    w = watch(tmp_path)
    w.reconcile("another firewall changed")
    assert fake.applied == []
    assert "table inet filter chain forward" in w.journal.extra["blocked"]
    assert "hotspot traffic is blocked: table inet filter chain input drops DHCP" in caplog.text
    assert "table inet filter chain forward drops forwarded traffic" in caplog.text
    caplog.clear()
    w.reconcile("another firewall changed")             # said once, not at every event
    assert "blocked" not in caplog.text
    fake.ruleset = {"nftables": []}
    w.reconcile("another firewall changed")
    assert "blocked" not in w.journal.extra


def test_a_native_drop_with_firewall_insert_is_passed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = Fake(monkeypatch, "workstation")
    w = watch(tmp_path, "insert")
    w.reconcile("another firewall changed")
    assert sorted((a.kind, a.table, a.chain) for a in fake.applied) == [("nft", "filter", "forward"),
                                                                          ("nft", "filter", "input")]
    assert "blocked" not in w.journal.extra


def test_a_firewall_that_keeps_removing_our_rules_is_not_chased_forever(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fake = Fake(monkeypatch, "docker")
    w = watch(tmp_path)
    for _ in range(firewall_watch.MAX_CHANGES):
        fake.in_force = False
        w.reconcile("another firewall changed")
    assert w.paused_until > time.monotonic() + firewall_watch.WINDOW / 2
    assert "keeps removing hotspot rules" in caplog.text
