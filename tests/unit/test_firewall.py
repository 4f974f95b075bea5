"""Other firewalls: analysis and planning (pure), on rule dumps recorded for real.

The dumps in tests/data/firewall/*.json are ``nft -j list ruleset`` of rule
sets loaded with iptables-nft-restore and nft in a scratch namespace
(tests/data/firewall/regenerate.py). Applying the plans is tested for real in
tests/netns/test_firewall_coexist.py."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotshare.coexist import analysis as fw
from hotshare.config import ConfigError
from hotshare.config.values import firewall_mode
from hotshare.system import firewalls
from hotshare.system.run import find_binary

DATA = Path(__file__).resolve().parent.parent / "data" / "firewall"
NET = ipaddress.IPv4Network("192.168.12.0/24")
ALL_TOOLS = frozenset({"iptables", "firewall-cmd"})


def dump(case: str) -> dict[str, Any]:
    return json.loads((DATA / f"{case}.json").read_text())


def analyse(ruleset: dict[str, Any], ap: str = "wlan0", uplinks: tuple[str, ...] = ("ppp0",),
            subnet: ipaddress.IPv4Network = NET, tools: frozenset[str] = ALL_TOOLS) -> fw.Analysis:
    return fw.analyse(ruleset, ap, uplinks, subnet, f"hotshare_{ap}", tools=tools)


def where(a: fw.Analysis) -> list[tuple[str, str, str, str]]:
    return [(b.family, b.table, b.chain, b.why) for b in a.blockers]


# -- recorded rule sets --------------------------------------------------------------

def test_docker_forward_policy_drop_is_fixed_in_docker_user() -> None:
    a = analyse(dump("docker"))
    assert where(a) == [("ip", "filter", "FORWARD", "policy drop")]
    b = a.blockers[0]
    assert (b.hook, b.owner, b.traffic, b.safe) == ("forward", "docker", "forwarded traffic", True)
    for mode in ("auto", "insert"):
        actions, refusals = fw.plan_actions(a, mode)
        assert refusals == []
        assert [x.to_dict() for x in actions] == [{
            "kind": "iptables", "ap": "wlan0", "family": "ip", "table": "filter", "chain": "DOCKER-USER",
            "rules": ["-i wlan0 -o ppp0 -m comment --comment hotshare:wlan0 -j ACCEPT",
                      "-i ppp0 -o wlan0 -m conntrack --ctstate RELATED,ESTABLISHED "
                      "-m comment --comment hotshare:wlan0 -j ACCEPT"],
            "zone": "", "why": "table ip filter chain FORWARD: policy drop"}]
    assert fw.plan_actions(a, "ignore") == ([], [])
    assert fw.notes(a, "ignore") == ["FIREWALL=ignore: table ip filter chain FORWARD drops forwarded traffic "
                                     "(policy drop)"]


def test_docker_interface_names_of_docker0_do_not_count() -> None:
    # Every drop in Docker's chains names docker0: only the policy blocks us.
    a = analyse(dump("docker"), ap="docker1", uplinks=("eth0",))
    assert where(a) == [("ip", "filter", "FORWARD", "policy drop")]


def test_docker_without_iptables_nft_is_a_refusal_naming_the_commands() -> None:
    a = analyse(dump("docker"), tools=frozenset())
    actions, refusals = fw.plan_actions(a, "auto")
    assert actions == []
    assert refusals == ["table ip filter chain FORWARD drops forwarded traffic (policy drop); hotshare cannot run "
                        "iptables-nft here: run `iptables -I DOCKER-USER -i wlan0 -o ppp0 -j ACCEPT` and "
                        "`iptables -I DOCKER-USER -i ppp0 -o wlan0 -m conntrack --ctstate RELATED,ESTABLISHED "
                        "-j ACCEPT`, or set FIREWALL=ignore"]


def test_several_uplinks_and_none() -> None:
    act = analyse(dump("docker"), uplinks=("ppp0", "usb0")).blockers[0].remedy
    assert act is not None and len(act.rules) == 4
    assert act.rules[1] == "-i wlan0 -o usb0 -m comment --comment hotshare:wlan0 -j ACCEPT"
    act = analyse(dump("docker"), uplinks=()).blockers[0].remedy
    assert act is not None and act.rules == (
        "-i wlan0 -m comment --comment hotshare:wlan0 -j ACCEPT",
        "-o wlan0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment hotshare:wlan0 -j ACCEPT")


def test_actions_and_their_records_are_json() -> None:
    for case in ("docker", "nm_filter", "firewalld", "ufw", "workstation"):
        for mode in fw.MODES:
            for act in fw.plan_actions(analyse(dump(case)), mode)[0]:
                again = fw.Action.from_dict(json.loads(json.dumps(act.to_dict())))
                assert again == act


def test_networkmanager_for_another_interface_passes_but_a_native_filter_table_blocks() -> None:
    a = analyse(dump("nm_filter"))
    assert where(a) == [("inet", "filter", "forward", "policy drop")]
    assert a.blockers[0].owner == "nftables" and not a.blockers[0].safe
    actions, refusals = fw.plan_actions(a, "auto")
    assert actions == []
    assert refusals == [
        'table inet filter chain forward drops forwarded traffic (policy drop); add '
        '`iifname "wlan0" oifname "ppp0" accept` and '
        '`iifname "ppp0" oifname "wlan0" ct state established,related accept` at its top, '
        'or set FIREWALL=insert to let hotshare insert them (removed again on stop), or set FIREWALL=ignore']
    actions, refusals = fw.plan_actions(a, "insert")
    assert refusals == []
    assert [x.to_dict() for x in actions] == [{
        "kind": "nft", "ap": "wlan0", "family": "inet", "table": "filter", "chain": "forward",
        "rules": ['iifname "wlan0" oifname "ppp0" accept comment "hotshare:wlan0"',
                  'iifname "ppp0" oifname "wlan0" ct state established,related accept comment "hotshare:wlan0"'],
        "zone": "", "why": "table inet filter chain forward: policy drop"}]
    assert fw.plan_actions(a, "ignore") == ([], [])


def test_networkmanager_on_the_same_interface_rejects_another_subnet_only() -> None:
    # A NetworkManager hotspot table left on our interface accepts 10.42.0.0/24 and rejects the rest.
    a = analyse(dump("nm_filter"), ap="wlp3s0", uplinks=("enp0s31f6",))
    assert where(a) == [
        ("ip", "nm-shared-wlp3s0", "filter_forward",
         'rule `iifname "wlp3s0" reject with icmp port-unreachable` (handle 8)'),
        ("inet", "filter", "forward", "policy drop")]
    a = analyse(dump("nm_filter"), ap="wlp3s0", uplinks=("enp0s31f6",),
                subnet=ipaddress.IPv4Network("10.42.0.0/24"))
    assert where(a) == [("inet", "filter", "forward", "policy drop")]


def test_harmless_rule_set_has_no_blockers() -> None:
    # Drops for docker0, eth1, eth2, guest*, wg0, IPv6, invalid state and SMTP from
    # outside 192.168.0.0/16; an ip6 table with policy drop; NetworkManager's
    # table for wlp3s0; iptables-nft rules for docker0 and eth1; our own table.
    a = analyse(dump("harmless"))
    assert a.blockers == ()
    assert fw.plan_actions(a, "auto") == ([], [])


def test_harmless_rule_set_seen_from_the_interfaces_it_names() -> None:
    assert where(analyse(dump("harmless"), ap="eth1")) == [
        ("inet", "filter", "input", 'rule `iifname "eth1" udp dport 67 drop` (handle 8)')]
    assert analyse(dump("harmless"), ap="eth1").blockers[0].traffic == "DHCP from eth1"
    assert where(analyse(dump("harmless"), uplinks=("guest0",)))[0] == (
        "inet", "filter", "forward", 'rule `oifname "guest*" drop` (handle 13)')
    assert where(analyse(dump("harmless"), ap="eth2"))[0][3] == "rule `iifname @untrusted drop` (handle 12)"


def test_our_own_table_is_skipped_by_name() -> None:
    other = ipaddress.IPv4Network("10.9.0.0/24")   # our table there accepts 192.168.12.0/24 only
    a = fw.analyse(dump("harmless"), "wlan0", ("ppp0",), other, "hotshare_wlan0", tools=ALL_TOOLS)
    assert a.blockers == ()
    a = fw.analyse(dump("harmless"), "wlan0", ("ppp0",), other, "hotshare_elsewhere", tools=ALL_TOOLS)
    assert where(a) == [("inet", "hotshare_wlan0", "forward", 'rule `iifname "wlan0" drop` (handle 9)')]


def test_firewalld_gets_the_trusted_zone_once() -> None:
    a = analyse(dump("firewalld"))
    assert where(a) == [
        ("inet", "firewalld", "filter_INPUT", "rule `reject with icmpx admin-prohibited` (handle 15)"),
        ("inet", "firewalld", "filter_FORWARD", "policy drop")]
    assert a.blockers[0].traffic == "DHCP and DNS from wlan0"
    actions, refusals = fw.plan_actions(a, "auto")
    assert refusals == []
    assert [(x.kind, x.zone, x.ap) for x in actions] == [("firewalld", "trusted", "wlan0")]
    assert "filter_INPUT" in actions[0].why and "filter_FORWARD" in actions[0].why


def test_firewalld_without_firewall_cmd_is_refused_even_in_insert_mode() -> None:
    a = analyse(dump("firewalld"), tools=frozenset({"iptables"}))
    for mode in ("auto", "insert"):
        actions, refusals = fw.plan_actions(a, mode)
        assert actions == [] and len(refusals) == 2
        assert all("firewall-cmd --zone=trusted --add-interface=wlan0" in m for m in refusals)
        assert refusals[1].startswith("table inet firewalld chain filter_FORWARD drops forwarded traffic")


def test_ufw_like_input_and_forward_drop() -> None:
    a = analyse(dump("ufw"))
    # The possible INVALID drop (an opaque xt conntrack match) is not what gets named.
    assert where(a) == [("ip", "filter", "INPUT", "policy drop"), ("ip", "filter", "FORWARD", "policy drop")]
    actions, refusals = fw.plan_actions(a, "auto")
    assert refusals == []
    assert [(x.chain, x.rules) for x in actions] == [
        ("INPUT", ("-i wlan0 -p udp -m udp --dport 67 -m comment --comment hotshare:wlan0 -j ACCEPT",
                   "-i wlan0 -p udp -m udp --dport 53 -m comment --comment hotshare:wlan0 -j ACCEPT",
                   "-i wlan0 -p tcp -m tcp --dport 53 -m comment --comment hotshare:wlan0 -j ACCEPT")),
        ("FORWARD", ("-i wlan0 -o ppp0 -m comment --comment hotshare:wlan0 -j ACCEPT",
                     "-i ppp0 -o wlan0 -m conntrack --ctstate RELATED,ESTABLISHED "
                     "-m comment --comment hotshare:wlan0 -j ACCEPT"))]


def test_workstation_input_drop_names_dhcp_and_dns() -> None:
    a = analyse(dump("workstation"))
    assert [b.message.split(";")[0] for b in a.blockers] == [
        "table inet filter chain input drops DHCP and DNS from wlan0 (policy drop)",
        "table inet filter chain forward drops forwarded traffic (policy drop)"]
    actions, _ = fw.plan_actions(a, "insert")
    assert actions[0].rules == ('iifname "wlan0" udp dport { 53, 67 } accept comment "hotshare:wlan0"',
                                'iifname "wlan0" tcp dport 53 accept comment "hotshare:wlan0"')


# -- the walk, on small hand-made rule sets -------------------------------------------

IIF = {"meta": {"key": "iifname"}}
OIF = {"meta": {"key": "oifname"}}
MARK = {"meta": {"key": "mark"}}


def m(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def ruleset(chains: Mapping[str, tuple[str | None, str]], rules: Mapping[str, list[list[Any]]],
            family: str = "inet", table: str = "t", **rule_extra: Any) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"table": {"family": family, "name": table}}]
    for name, (hook, policy) in chains.items():
        c: dict[str, Any] = {"family": family, "table": table, "name": name}
        if hook:
            c.update(type="filter", hook=hook, prio=0, policy=policy)
        items.append({"chain": c})
    handle = 100
    for name, exprs in rules.items():
        for expr in exprs:
            handle += 1
            items.append({"rule": {"family": family, "table": table, "chain": name, "handle": handle,
                                   "expr": expr, **rule_extra}})
    return {"nftables": items}


FWD = {"fwd": ("forward", "accept"), "sub": (None, "")}


def test_jump_to_a_chain_that_drops() -> None:
    a = analyse(ruleset(FWD, {"fwd": [[{"jump": {"target": "sub"}}]], "sub": [[{"counter": None}, {"drop": None}]]}))
    assert where(a) == [("inet", "t", "fwd", "rule `drop` in chain sub (handle 102)")]


def test_return_and_other_interfaces_in_the_jumped_chain() -> None:
    rules = {"fwd": [[{"jump": {"target": "sub"}}]],
             "sub": [[m(IIF, "eth9"), {"drop": None}], [{"return": None}], [{"drop": None}]]}
    assert analyse(ruleset(FWD, rules)).blockers == ()


def test_goto_does_not_come_back() -> None:
    drop_fwd = {"fwd": ("forward", "drop"), "sub": (None, "")}
    accept_after = [m(IIF, {"set": ["wlan0", "ppp0"]}), {"accept": None}]
    with_goto = {"fwd": [[{"goto": {"target": "sub"}}], accept_after], "sub": []}
    with_jump = {"fwd": [[{"jump": {"target": "sub"}}], accept_after], "sub": []}
    assert where(analyse(ruleset(drop_fwd, with_goto))) == [("inet", "t", "fwd", "policy drop")]
    assert analyse(ruleset(drop_fwd, with_jump)).blockers == ()


def test_a_drop_that_may_match_counts_an_accept_that_may_match_does_not() -> None:
    limit = {"limit": {"rate": 10, "per": "second", "inv": True}}
    a = analyse(ruleset(FWD, {"fwd": [[m(IIF, "wlan0"), limit, {"drop": None}]]}))
    assert where(a) == [("inet", "t", "fwd", 'rule `iifname "wlan0" limit drop` (handle 101), which may match')]
    drop_fwd = {"fwd": ("forward", "drop")}
    a = analyse(ruleset(drop_fwd, {"fwd": [[m(MARK, 1), {"accept": None}]]}))
    assert where(a) == [("inet", "t", "fwd", "policy drop")]


def test_addresses_states_ports_and_wildcards() -> None:
    drop_fwd = {"fwd": ("forward", "drop")}
    ct = {"ct": {"key": "state"}}
    saddr = {"payload": {"protocol": "ip", "field": "saddr"}}
    accept_all = [
        [m(IIF, "wl*"), m(saddr, {"prefix": {"addr": "192.168.0.0", "len": 16}}), {"accept": None}],
        [m(ct, ["established", "related"], "in"), {"accept": None}],
    ]
    assert analyse(ruleset(drop_fwd, {"fwd": accept_all})).blockers == ()
    # A prefix that covers only part of the subnet cannot be counted on.
    part = [[m(IIF, "wlan0"), m(saddr, {"prefix": {"addr": "192.168.12.0", "len": 25}}), {"accept": None}],
            accept_all[1]]
    assert where(analyse(ruleset(drop_fwd, {"fwd": part}))) == [("inet", "t", "fwd", "policy drop")]
    tcp_only = [[m({"payload": {"protocol": "tcp", "field": "dport"}}, {"range": [1, 65535]}), {"accept": None}],
                accept_all[1]]
    assert where(analyse(ruleset(drop_fwd, {"fwd": tcp_only}))) == [("inet", "t", "fwd", "policy drop")]


def test_verdict_maps_and_xt_targets() -> None:
    vmap = {"vmap": {"key": IIF, "data": {"set": [["eth0", {"accept": None}], ["wlan0", {"drop": None}]]}}}
    assert where(analyse(ruleset(FWD, {"fwd": [[vmap]]})))[0][3] == "rule `iifname vmap { ... }` (handle 101)"
    assert analyse(ruleset(FWD, {"fwd": [[vmap]]}), ap="wlan1").blockers == ()
    reject = [[{"counter": None}, {"xt": {"type": "target", "name": "REJECT"}}]]
    assert where(analyse(ruleset(FWD, {"fwd": reject}, family="ip", table="filter"))) == [
        ("ip", "filter", "fwd", 'rule `xt target "REJECT"` (handle 101)')]


def test_other_families_and_hooks_are_not_ours() -> None:
    drop = {"c": ("forward", "drop")}
    assert analyse(ruleset(drop, {}, family="ip6")).blockers == ()
    assert analyse(ruleset(drop, {}, family="netdev")).blockers == ()
    assert analyse(ruleset({"c": ("output", "drop")}, {})).blockers == ()
    assert analyse(ruleset({"c": ("prerouting", "drop")}, {})).blockers == ()


def test_our_own_tagged_rules_are_ignored() -> None:
    drop_fwd = {"fwd": ("forward", "drop")}
    rules = {"fwd": [[m(IIF, {"set": ["wlan0", "ppp0"]}), {"accept": None}]]}
    assert analyse(ruleset(drop_fwd, rules)).blockers == ()
    assert where(analyse(ruleset(drop_fwd, rules, comment="hotshare:wlan0"))) == [("inet", "t", "fwd", "policy drop")]


def test_a_drop_before_docker_user_moves_the_remedy_to_forward() -> None:
    chains = {"FORWARD": ("forward", "drop"), "DOCKER-USER": (None, "")}
    rules = {"FORWARD": [[m(IIF, "wlan0"), {"drop": None}], [{"jump": {"target": "DOCKER-USER"}}]]}
    b = analyse(ruleset(chains, rules, family="ip", table="filter")).blockers[0]
    assert b.owner == "docker" and b.remedy is not None and b.remedy.chain == "FORWARD"


def test_jump_loops_end() -> None:
    rules = {"fwd": [[{"jump": {"target": "sub"}}]], "sub": [[{"jump": {"target": "sub"}}]]}
    assert analyse(ruleset(FWD, rules)).blockers == ()


def test_odd_names_get_no_remedy() -> None:
    a = analyse(ruleset({"fwd": ("forward", "drop")}, {}, table="my table"))
    assert a.blockers[0].remedy is None
    _, refusals = fw.plan_actions(a, "insert")
    assert len(refusals) == 1 and refusals[0].startswith("table inet my table chain fwd drops")


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=8),
                  st.sampled_from(["wlan0", "ppp0", "@s", "wl*", "192.168.12.7", "::1", "established"]))
_json = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["match", "op", "left", "right", "meta", "key", "payload", "protocol",
                                     "field", "set", "prefix", "addr", "len", "range", "ct", "jump", "goto",
                                     "target", "vmap", "data", "xt", "type", "name", "drop", "accept"]),
                    inner, max_size=3)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_json, max_size=4), max_size=4))
def test_any_json_in_rules_is_survived(exprs: list[list[Any]]) -> None:
    a = analyse(ruleset({"fwd": ("forward", "accept"), "sub": (None, "")}, {"fwd": exprs, "sub": exprs}))
    for b in a.blockers:
        assert b.message


# -- the FIREWALL key ---------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "mode"), [("", "auto"), ("auto", "auto"), ("INSERT", "insert"),
                                           (" ignore ", "ignore")])
def test_parse_mode(raw: str, mode: str) -> None:
    assert firewall_mode("FIREWALL", raw) == mode


def test_parse_mode_rejects_others() -> None:
    with pytest.raises(ConfigError) as e:
        firewall_mode("FIREWALL", "off")
    assert e.value.key == "FIREWALL" and "auto" in str(e.value) and "'off'" in str(e.value)
    with pytest.raises(ValueError):
        fw.plan_actions(analyse(dump("docker")), "off")


# -- firewalld, through a stand-in firewall-cmd -------------------------------------------

FAKE_FIREWALL_CMD = r"""#!/bin/sh
# Keeps one interface's runtime zone in $STATE; logs every call to $LOG.
echo "$*" >> "$LOG"
zone=$(cat "$STATE" 2>/dev/null)
case "$*" in
  --get-zone-of-interface=*) [ -n "$zone" ] || { echo "no zone"; exit 2; }; echo "$zone" ;;
  --zone=*" --add-interface="*) [ -z "$zone" ] || { echo "Error: ZONE_CONFLICT" >&2; exit 14; }
                                z=${1#--zone=}; echo "$z" > "$STATE" ;;
  --zone=*" --change-interface="*) z=${1#--zone=}; echo "$z" > "$STATE" ;;
  --zone=*" --remove-interface="*) : > "$STATE" ;;
  --get-zones) echo "$ZONES" ;;
  *) exit 1 ;;
esac
"""


@pytest.fixture
def firewall_cmd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    exe = tmp_path / "bin" / "firewall-cmd"
    exe.parent.mkdir()
    exe.write_text(FAKE_FIREWALL_CMD)
    exe.chmod(0o755)
    state, log = tmp_path / "zone", tmp_path / "log"
    monkeypatch.setenv("PATH", f"{exe.parent}:{os.environ.get('PATH', '')}")
    monkeypatch.setenv("STATE", str(state))
    monkeypatch.setenv("LOG", str(log))
    monkeypatch.setenv("ZONES", "block dmz drop external home internal public trusted work")
    find_binary.cache_clear()   # programs are looked up once: forget the real ones
    return state, log


def test_firewalld_apply_and_undo_from_no_zone(firewall_cmd: tuple[Path, Path]) -> None:
    state, log = firewall_cmd
    assert "firewall-cmd" in firewalls.available_tools()
    act = fw.plan_actions(analyse(dump("firewalld")), "auto")[0][0]
    record = firewalls.apply(json.loads(json.dumps(act.to_dict())))
    assert json.loads(json.dumps(record))["previous_zone"] is None and record["changed"] is True
    assert state.read_text().strip() == "trusted"
    firewalls.undo(record)
    firewalls.undo(record)
    assert state.read_text() == ""
    assert "--zone=trusted --add-interface=wlan0" in log.read_text()
    assert log.read_text().count("--remove-interface=wlan0") == 1


def test_firewalld_apply_and_undo_restore_the_previous_zone(firewall_cmd: tuple[Path, Path]) -> None:
    state, _ = firewall_cmd
    state.write_text("public\n")
    act = fw.Action("firewalld", "wlan0", zone="trusted")
    record = firewalls.apply(act)
    assert (record["previous_zone"], state.read_text().strip()) == ("public", "trusted")
    firewalls.undo(record)
    assert state.read_text().strip() == "public"
    state.write_text("trusted\n")                   # already trusted: nothing to do, nothing to undo
    record = firewalls.apply(act)
    assert record["changed"] is False
    firewalls.undo(record)
    assert state.read_text().strip() == "trusted"


def test_firewalld_with_its_shared_zone_uses_it_not_trusted(firewall_cmd: tuple[Path, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """nm-shared (firewalld >= 0.9) serves DHCP and DNS and forwards; trusted accepts everything."""
    state, log = firewall_cmd
    assert fw.FIREWALLD_SHARED_ZONE not in firewalls.available_tools()
    monkeypatch.setenv("ZONES", "block dmz drop external home internal nm-shared public trusted work")
    tools = firewalls.available_tools()
    assert fw.FIREWALLD_SHARED_ZONE in tools
    act = fw.plan_actions(analyse(dump("firewalld"), tools=tools), "auto")[0][0]
    assert (act.kind, act.zone) == ("firewalld", "nm-shared")
    record = firewalls.apply(act)
    assert state.read_text().strip() == "nm-shared"
    firewalls.undo(record)
    assert state.read_text() == "" and "--zone=nm-shared --remove-interface=wlan0" in log.read_text()
