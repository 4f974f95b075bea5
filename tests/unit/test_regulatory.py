"""CHANNEL=auto and COUNTRY against the real wireless-regdb regulatory.db
(what the kernel loads) and an `iw phy info` channel list. (With a real
radio and hostapd: tests/qemu/guest/test_regulatory_channel.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotshare.config import ConfigError
from hotshare.plan.facts import Facts
from hotshare.plan.hostapd import hostapd_conf
from hotshare.plan.make import make_plan
from hotshare.plan.regulatory import Allowed, Radio, least_busy, parse_channels, regdb_rules
from lab.snapshots import SEED_000, cfg

REGDB = Path("/lib/firmware/regulatory.db")
needs_regdb = pytest.mark.skipif(not REGDB.exists(), reason="wireless-regdb missing (run support/setup)")

# mac80211_hwsim's channels as `iw phy` prints them in the world domain (00)
PHY_INFO = "".join(
    f"\t\t\t* {2407 + 5 * n if n < 14 else 2484}.0 MHz [{n}] (20.0 dBm){' (no IR)' if n in (12, 13) else ''}"
    f"{' (disabled)' if n == 14 else ''}\n" for n in range(1, 15)) + "".join(
    f"\t\t\t* {5000 + 5 * n}.0 MHz [{n}] (20.0 dBm) (no IR{', radar detection' if 52 <= n <= 144 else ''})\n"
    for n in (36, 40, 44, 48, 52, 56, 60, 64, 100, 104, 149))


def _plan(radio: Radio | None, **kw: str):  # type: ignore[no-untyped-def]
    return make_plan(cfg(**kw), Facts(snapshot=SEED_000, wireless=True, radio=radio))


def _radio(country: str = "", **kw: object) -> Radio:
    rules = regdb_rules(REGDB.read_bytes(), country) if country else None
    return Radio(parse_channels(PHY_INFO), rules, **kw)  # type: ignore[arg-type]


@needs_regdb
def test_a_channel_the_country_forbids_is_one_line_before_anything_starts() -> None:
    with pytest.raises(ConfigError) as e:
        _plan(_radio("US"), CHANNEL="13", COUNTRY="US")
    assert str(e.value).startswith("CHANNEL: 13 (2.4 GHz) is not allowed for an access point by COUNTRY=US")
    assert "use one of 1,2,3,4,5,6,7,8,9,10,11" in str(e.value) and "\n" not in str(e.value)
    assert _plan(_radio("DE"), CHANNEL="13", COUNTRY="DE").channel == 13      # Europe allows it
    with pytest.raises(ConfigError, match="CHANNEL: 13 .* by the current regulatory domain"):
        _plan(_radio(), CHANNEL="13")                                         # 00: no IR there


@needs_regdb
def test_auto_never_takes_dfs_or_no_ir_and_uses_acs_where_it_works() -> None:
    plan = _plan(_radio("DE", acs=True), CHANNEL="auto", COUNTRY="DE", FREQ_BAND="5")
    assert plan.channel == 0 and plan.chanlist == (36, 40, 44, 48, 149)       # no 52..144 (DFS)
    conf = hostapd_conf(plan)
    assert "channel=acs_survey\n" in conf and "chanlist=36 40 44 48 149\n" in conf and "acs_exclude_dfs=1" in conf
    with pytest.raises(ConfigError, match="CHANNEL: auto: the current regulatory domain allows no 5 GHz"):
        _plan(_radio(), CHANNEL="auto", FREQ_BAND="5")                        # 00: all no IR
    busy = {2412: 3, 2437: 1, 2462: 2}
    assert _plan(_radio(busy=busy), CHANNEL="auto").channel == 6              # scan: the least busy
    assert "channel=6\n" in hostapd_conf(_plan(_radio(busy=busy), CHANNEL="auto"))


def test_least_busy_counts_overlapping_24_ghz_neighbours_and_prefers_1_6_11() -> None:
    chans = tuple(Allowed(n, 2407 + 5 * n, False) for n in range(1, 12))
    assert least_busy(chans, {}).number == 1
    assert least_busy(chans, {2412: 1, 2417: 1}).number == 6
    assert least_busy(chans, {2412: 2, 2437: 1, 2462: 1}).number == 6   # ties: the lower of 6 and 11


def test_without_iw_hostapd_decides_as_before() -> None:
    assert "channel=1\n" in hostapd_conf(_plan(None))
