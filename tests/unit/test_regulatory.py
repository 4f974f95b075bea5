"""CHANNEL=auto and COUNTRY against the real wireless-regdb regulatory.db
(what the kernel loads) and an `iw phy info` channel list. (With a real
radio and hostapd: tests/qemu/guest/test_regulatory_channel.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotshare.config import ConfigError
from hotshare.plan.facts import Facts
from hotshare.plan.hostapd import hostapd_conf
from hotshare.plan.make import make_plan, with_scan
from hotshare.plan.regulatory import Allowed, Radio, Scan, least_busy, parse_channels, regdb_rules
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
    plan = _plan(_radio("DE", hostapd_acs=True, scanned=Scan(surveys=True)), CHANNEL="auto", COUNTRY="DE",
                 FREQ_BAND="5")
    assert plan.channel == 0 and plan.chanlist == (36, 40, 44, 48, 149)       # no 52..144 (DFS)
    conf = hostapd_conf(plan)
    assert "channel=acs_survey\n" in conf and "chanlist=36 40 44 48 149\n" in conf and "acs_exclude_dfs=1" in conf
    with pytest.raises(ConfigError, match="CHANNEL: auto: the current regulatory domain allows no 5 GHz"):
        _plan(_radio(), CHANNEL="auto", FREQ_BAND="5")                        # 00: all no IR
    busy = {2412: 3, 2437: 1, 2462: 2}
    assert _plan(_radio(scanned=Scan(busy)), CHANNEL="auto").channel == 6   # scan: the least busy
    assert "channel=6\n" in hostapd_conf(_plan(_radio(scanned=Scan(busy)), CHANNEL="auto"))
    # ACS, but the driver reports no survey: the scan decides
    assert _plan(_radio(hostapd_acs=True, scanned=Scan(busy)), CHANNEL="auto").channel == 6


def test_acs_measures_only_the_channels_the_scan_found_fewest_networks_on() -> None:
    """hostapd's ACS measures airtime, not networks (mac80211_hwsim's surveys
    are the same on every channel): it picks among the channels the scan
    found emptiest, and among all of them when the scan saw none."""
    both = {2412: 1, 2437: 1}                                   # networks on 1 and 6
    acs = _plan(_radio(hostapd_acs=True, scanned=Scan(both, surveys=True)), CHANNEL="auto")
    assert acs.channel == 0 and acs.chanlist == (10, 11)        # 12, 13: no IR in the world domain
    quiet = _plan(_radio(hostapd_acs=True, scanned=Scan({}, surveys=True)), CHANNEL="auto")
    assert quiet.chanlist == tuple(range(1, 12))


def test_the_channel_is_chosen_at_start_once_the_radio_has_scanned() -> None:
    """gather_facts runs while the radio may be down (no scan, no survey):
    the plan says so, and with_scan (what the service calls once the link is
    up and has scanned) rewrites hostapd.conf with the choice."""
    before = _plan(_radio(), CHANNEL="auto")
    assert before.scan_first and before.to_dict()["channel_from_scan"] is True
    after = with_scan(before, Scan({2412: 2, 2437: 1}))
    assert not after.scan_first and after.channel == 11 and after.to_dict()["channel_from_scan"] is False
    conf = next(f for f in after.files if f.path == after.paths.hostapd_conf)
    assert "channel=11\n" in conf.text and "channel=11\n" in conf.shown and "********" in conf.shown
    assert not _plan(_radio(), CHANNEL="6").scan_first


@needs_regdb
def test_a_40_mhz_channel_needs_its_secondary_channel_allowed_too() -> None:
    """IEEE80211N with HT_CAPAB [HT40+] (the default) or [HT40-]: hostapd
    uses channel+4 (or -4) too, which COUNTRY must also allow."""
    with pytest.raises(ConfigError) as e:
        _plan(_radio("US"), CHANNEL="9", COUNTRY="US", IEEE80211N="1")
    assert str(e.value) == ("CHANNEL: 9 (2.4 GHz) with HT_CAPAB=[HT40+]: its HT40+ secondary channel 13 is not "
                            "allowed for an access point (COUNTRY=US); use one of 1,2,3,4,5,6,7, or HT_CAPAB "
                            "without [HT40+]")
    assert _plan(_radio("US"), CHANNEL="9", COUNTRY="US").channel == 9         # 20 MHz: fine
    assert _plan(_radio("DE"), CHANNEL="9", COUNTRY="DE", IEEE80211N="1").channel == 9
    assert _plan(_radio("US"), CHANNEL="9", COUNTRY="US", IEEE80211N="1", HT_CAPAB="[HT40-]").channel == 9
    with pytest.raises(ConfigError, match=r"CHANNEL: 3 .* HT40- secondary channel -1 is not allowed"):
        _plan(_radio("US"), CHANNEL="3", COUNTRY="US", IEEE80211N="1", HT_CAPAB="[HT40-]")
    with pytest.raises(ConfigError, match="CHANNEL: 40 .* channel 40 is not an HT40[+] primary channel"):
        _plan(_radio("DE"), CHANNEL="40", COUNTRY="DE", FREQ_BAND="5", IEEE80211N="1")
    assert _plan(_radio("DE"), CHANNEL="52", COUNTRY="DE", FREQ_BAND="5", IEEE80211N="1").channel == 52  # DFS asked
    # auto: only primaries whose secondary is allowed; ACS measures both
    assert _plan(_radio("US", scanned=Scan({2412: 1})), CHANNEL="auto", COUNTRY="US", IEEE80211N="1").channel == 6
    acs = _plan(_radio("DE", hostapd_acs=True, scanned=Scan(surveys=True)), CHANNEL="auto", COUNTRY="DE",
                FREQ_BAND="5", IEEE80211N="1")
    assert acs.chanlist == (36, 40, 44, 48)                 # 36+40, 44+48; 149: this radio has no 153


def test_least_busy_counts_overlapping_24_ghz_neighbours_and_prefers_1_6_11() -> None:
    chans = tuple(Allowed(n, 2407 + 5 * n, False) for n in range(1, 12))
    assert least_busy(chans, {}).number == 1
    assert least_busy(chans, {2412: 1, 2417: 1}).number == 6
    assert least_busy(chans, {2412: 2, 2437: 1, 2462: 1}).number == 6   # ties: the lower of 6 and 11


def test_without_iw_hostapd_decides_as_before() -> None:
    assert "channel=1\n" in hostapd_conf(_plan(None))
