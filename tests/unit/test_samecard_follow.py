"""The AP following its station (service.samecard), on nl80211 events built as
the kernel sends them; the real radios are in the lab (test_60_samecard)."""

from __future__ import annotations

import struct
from pathlib import Path

from hotshare.config import from_mapping
from hotshare.netlink.core import pack_attr, pack_message
from hotshare.netlink.nl80211 import Event, parse_event
from hotshare.netlink.uapi import (
    GENLMSGHDR,
    NL80211_ATTR_CH_SWITCH_COUNT,
    NL80211_ATTR_IFINDEX,
    NL80211_ATTR_WIPHY_FREQ,
    NL80211_CMD_CH_SWITCH_STARTED_NOTIFY,
    NL80211_CMD_CONNECT,
    NL80211_CMD_DISCONNECT,
)
from hotshare.plan.facts import Facts, RadioFacts
from hotshare.plan.make import make_plan
from hotshare.service.samecard import StationFollower
from lab.snapshots import snap

INFO = (Path(__file__).parent / "data" / "hwsim-iw-phy-info.txt").read_text()


def u32(atype: int, v: int) -> bytes:
    return pack_attr(atype, struct.pack("=I", v))


def test_an_nl80211_event_is_read_as_the_kernel_frames_it() -> None:
    body = GENLMSGHDR.pack(NL80211_CMD_CH_SWITCH_STARTED_NOTIFY, 1, 0) + u32(NL80211_ATTR_IFINDEX, 7) \
        + pack_attr(99, b"\x01\x02\x03") + u32(NL80211_ATTR_WIPHY_FREQ, 2437) + u32(NL80211_ATTR_CH_SWITCH_COUNT, 4)
    assert parse_event(pack_message(30, 0, 0, body)) == Event(NL80211_CMD_CH_SWITCH_STARTED_NOTIFY, 7, 2437, 4)


def follower(tmp_path: Path, replies: list[str | None]) -> tuple[StationFollower, list[str]]:
    raw = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "wlan0", "SSID": "s", "PASSPHRASE": "12345678"}
    radio = RadioFacts("phy0", "02:00:00:00:00:00", INFO, "wlan0", 2412)
    plan = make_plan(from_mapping(raw), Facts(snapshot=snap({}, [], links=("lo", "wlan0")), wireless=True,
                                              card=radio, rundir=str(tmp_path)))
    (tmp_path / "ap0").mkdir()
    calls: list[str] = []

    def request(cmd: str) -> str | None:
        calls.append(cmd)
        return replies.pop(0) if replies else None

    assert plan.same_card
    f = StationFollower(plan, plan.same_card, request, lambda: calls.append("hold"), lambda: calls.append("resume"))
    f.station_index = 7
    return f, calls


def test_a_switch_announced_to_the_station_is_announced_by_the_ap(tmp_path: Path) -> None:
    f, calls = follower(tmp_path, ["OK\n"])
    f.on_station(Event(NL80211_CMD_CH_SWITCH_STARTED_NOTIFY, 7, 2437, 4))
    assert calls == ["CHAN_SWITCH 4 2437"]
    assert "channel=6\n" in (tmp_path / "ap0" / "hostapd.conf").read_text()  # what a restart would use


def test_without_a_channel_switch_hostapd_restarts_on_the_new_channel(tmp_path: Path) -> None:
    f, calls = follower(tmp_path, ["FAIL\n"])
    f.on_station(Event(NL80211_CMD_CONNECT, 7, 2462))
    assert calls == ["CHAN_SWITCH 5 2462", "resume"]
    assert "channel=11\n" in (tmp_path / "ap0" / "hostapd.conf").read_text()


def test_a_lost_station_frees_the_channel_until_it_connects_again(tmp_path: Path) -> None:
    f, calls = follower(tmp_path, [])
    f.on_station(Event(NL80211_CMD_DISCONNECT, 7))
    f.on_station(Event(NL80211_CMD_DISCONNECT, 7))
    assert calls == ["hold"]
    f.on_station(Event(NL80211_CMD_CONNECT, 7, 2412))   # back on the same channel: hostapd still restarts
    assert calls == ["hold", "resume"]
    f.on_station(Event(NL80211_CMD_CONNECT, 7, 2412))   # already there: nothing
    assert calls == ["hold", "resume"]
