"""The uplink health state machine (service/uplink_health.py) and its keys
(config/health.py): down and up counts, reliability, passive evidence, idle.
The probes and conntrack events themselves are tested in
tests/netns/test_uplink_health_live.py."""

from __future__ import annotations

import pytest

from hotshare.config import ConfigError, from_mapping
from hotshare.config.health import HealthConfig
from hotshare.service.uplink_health import ALIVE, DEAD, PROBING, UNKNOWN, UplinkHealth

CFG = HealthConfig(enabled=True, down=3, up=2, reliability=2, timeout=2, idle=60)


def machine(cfg: HealthConfig = CFG) -> UplinkHealth:
    h = UplinkHealth(cfg)
    h.track(("ppp0", "usb0"))
    return h


def state(h: UplinkHealth, name: str = "ppp0") -> str:
    return h.uplinks[name].state


def test_dead_after_down_bad_rounds_in_a_row_and_not_before() -> None:
    h = machine()
    h.round_done("ppp0", 2, 2, 1.0)
    assert state(h) == ALIVE
    assert not h.round_done("ppp0", 0, 2, 2.0) and state(h) == PROBING
    assert not h.round_done("ppp0", 0, 2, 3.0) and state(h) == PROBING
    assert h.round_done("ppp0", 0, 2, 4.0)           # the third: the failover must follow
    assert state(h) == DEAD and h.dead() == {"ppp0"} and state(h, "usb0") == UNKNOWN
    assert "3 probe rounds in a row" in h.uplinks["ppp0"].reason


def test_a_good_round_resets_the_down_count() -> None:
    h = machine()
    for t, answered in enumerate((0, 0, 2, 0, 0)):
        h.round_done("ppp0", answered, 2, float(t))
    assert state(h) == PROBING                        # never 3 bad in a row


def test_reliability_counts_answers_per_round() -> None:
    h = machine()
    for t in range(3):                                # one of two targets answers; two must
        h.round_done("ppp0", 1, 2, float(t))
    assert state(h) == DEAD
    one = machine(HealthConfig(enabled=True, down=3, reliability=1))
    for t in range(3):
        one.round_done("ppp0", 1, 2, float(t))
    assert state(one) == ALIVE


def test_back_only_after_up_good_rounds_in_a_row() -> None:
    h = machine()
    for t in range(3):
        h.round_done("ppp0", 0, 2, float(t))
    assert not h.round_done("ppp0", 2, 2, 10.0) and state(h) == DEAD
    assert "recovering: 1/2" in h.uplinks["ppp0"].reason
    h.round_done("ppp0", 0, 2, 11.0)                  # a relapse starts the count again
    assert not h.round_done("ppp0", 2, 2, 12.0) and state(h) == DEAD
    assert h.round_done("ppp0", 2, 2, 13.0) and state(h) == ALIVE and h.dead() == set()


def test_passive_replies_end_a_suspicion_but_do_not_revive_the_dead() -> None:
    h = machine()
    h.probe_started("ppp0", "no reply to traffic")
    assert state(h) == PROBING
    assert h.reply_seen("ppp0", 5.0) and state(h) == ALIVE
    for t in range(3):
        h.round_done("ppp0", 0, 2, 10.0 + t)
    assert not h.reply_seen("ppp0", 20.0) and state(h) == DEAD   # only the up count brings it back


def test_probe_only_when_traffic_goes_unanswered_or_after_a_long_idle() -> None:
    h = machine()
    h.reply_seen("ppp0", 100.0)
    assert h.needs_probe("ppp0", 101.0) == ""
    h.sent_unanswered("ppp0", 101.0)
    assert h.needs_probe("ppp0", 102.5) == ""             # the reply has its timeout to come
    assert "no reply" in h.needs_probe("ppp0", 103.0)
    h.reply_seen("ppp0", 103.5)                           # it came: nothing to probe
    assert h.needs_probe("ppp0", 104.0) == ""
    assert h.needs_probe("ppp0", 163.0) == ""
    assert "idle" in h.needs_probe("ppp0", 163.5)


def test_traffic_sent_before_the_last_reply_is_no_suspicion() -> None:
    h = machine()
    h.reply_seen("ppp0", 10.0)
    h.sent_unanswered("ppp0", 9.0)
    assert h.needs_probe("ppp0", 30.0) == ""


def test_the_report_names_state_reason_and_times() -> None:
    h = machine()
    for t in range(3):
        h.round_done("ppp0", 0, 2, 10.0 + t)
    r = h.report(now=20.0, wall=1000.0)
    assert r["ppp0"]["health"] == "dead" and r["ppp0"]["last_probe"] == 992.0
    assert r["ppp0"]["dead_since"] == 992.0 and r["usb0"]["health"] == "unknown"
    assert r["usb0"]["last_probe"] is None


BASE = {"WIFI_IFACE": "wlan0", "SSID": "x", "PASSPHRASE": "12345678"}


def health(**keys: str) -> HealthConfig:
    return from_mapping({**BASE, **keys}).health


def test_health_defaults_are_off_and_mwan3_like() -> None:
    h = health()
    assert not h.enabled and h.method == "icmp" and [str(ip) for ip, _ in h.targets] == ["1.1.1.1", "8.8.8.8"]
    assert (h.interval, h.timeout, h.reliability, h.down, h.up, h.idle) == (3, 2, 1, 3, 3, 50)
    on = health(HEALTH_CHECK="1", HEALTH_METHOD="tcp", HEALTH_TARGETS="9.9.9.9:853, 1.1.1.1",
                HEALTH_RECOVERY="/usr/sbin/ifup ppp0", HEALTH_RECOVERY_AFTER="120")
    assert on.enabled and [(str(ip), p) for ip, p in on.targets] == [("9.9.9.9", 853), ("1.1.1.1", 443)]
    assert on.recovery == ("/usr/sbin/ifup", "ppp0") and on.recovery_after == 120


@pytest.mark.parametrize(("keys", "key", "hint"), [
    ({"HEALTH_METHOD": "arp"}, "HEALTH_METHOD", "icmp, dns, tcp, http"),
    ({"HEALTH_TARGETS": "1.1.1"}, "HEALTH_TARGETS", "192.168.12.1"),
    ({"HEALTH_TARGETS": " , "}, "HEALTH_TARGETS", "1.1.1.1,8.8.8.8"),
    ({"HEALTH_TARGETS": "127.0.0.1"}, "HEALTH_TARGETS", "on the internet"),
    ({"HEALTH_TARGETS": "1.1.1.1:53"}, "HEALTH_TARGETS", "address alone"),
    ({"HEALTH_METHOD": "tcp", "HEALTH_TARGETS": "1.1.1.1:99999"}, "HEALTH_TARGETS", "IP:PORT"),
    ({"HEALTH_TIMEOUT": "0"}, "HEALTH_TIMEOUT", "1 to 30"),
    ({"HEALTH_INTERVAL": "1", "HEALTH_TIMEOUT": "2"}, "HEALTH_INTERVAL", "at least HEALTH_TIMEOUT"),
    ({"HEALTH_RELIABILITY": "3"}, "HEALTH_RELIABILITY", "from 1 to 2"),
    ({"HEALTH_DOWN": "x"}, "HEALTH_DOWN", "1 to 100"),
    ({"HEALTH_UP": "0"}, "HEALTH_UP", "1 to 100"),
    ({"HEALTH_IDLE": "1"}, "HEALTH_IDLE", "5 to 86400"),
    ({"HEALTH_CHECK": "maybe"}, "HEALTH_CHECK", "1 or 0"),
    ({"HEALTH_RECOVERY": "ifup ppp0"}, "HEALTH_RECOVERY", "in full"),
    ({"HEALTH_RECOVERY": "/sbin/ifup 'ppp0"}, "HEALTH_RECOVERY", "quotes"),
    ({"HEALTH_RECOVERY": "/bin/sh -c 'reboot;x'"}, "HEALTH_RECOVERY", "without a shell"),
    ({"HEALTH_RECOVERY_AFTER": "5"}, "HEALTH_RECOVERY_AFTER", "10 to 86400"),
])
def test_every_health_key_is_checked_with_a_one_line_fix(keys: dict[str, str], key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_mapping({**BASE, **keys})
    text = str(e.value)
    assert key in text and hint in text and "\n" not in text, text


def test_the_journal_undoes_only_steering_routes_hotshare_adds() -> None:
    from hotshare.service.journal import Journal, check

    ours = {"ifname": "usb0", "dst": "0.0.0.0/1", "gateway": "192.168.43.1", "metric": 300}
    check(Journal(iface="wlan0", steer_routes=[ours, {**ours, "dst": "128.0.0.0/1"}]), "wlan0")
    for bad in ({**ours, "dst": "10.0.0.0/8"}, {**ours, "ifname": "usb0;x"}, {**ours, "gateway": "nope"},
                {**ours, "metric": "1"}):
        with pytest.raises(ValueError):
            check(Journal(iface="wlan0", steer_routes=[bad]), "wlan0")


def test_every_health_key_is_documented_in_the_readme() -> None:
    from pathlib import Path

    from hotshare.config import KNOWN_KEYS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    keys = [k for k in KNOWN_KEYS if k.startswith("HEALTH_")]
    assert len(keys) == 11
    for key in keys:
        assert f"`{key}`" in readme.split("### What hotshare changes")[0], key
