"""Rate limit keys (RATE_LIMIT_DOWN/UP, CLIENT_RATE_LIMITS) and the rules they
make: checked values, a table the kernel loads, limited clients' flows kept
off the flowtable. What the limits do to real traffic: tests/netns/test_rate_limit_live.py."""

from __future__ import annotations

import pytest

from hotshare.config import from_mapping
from hotshare.config.model import HotspotConfig
from hotshare.errors import ConfigError
from hotshare.plan.facts import Facts
from hotshare.plan.make import make_plan
from hotshare.plan.ratelimit import offload_match
from hotshare.plan.ruleset import nft_ruleset
from lab.ruleset import load_json, nft_available
from lab.snapshots import SEED_000

PHONE, TABLET = "6a:02:71:2d:90:f6", "6a:02:71:2d:90:f7"


def cfg(**kw: str) -> HotspotConfig:
    return from_mapping({"WIFI_IFACE": "wlan0", "SSID": "x", "PASSPHRASE": "12345678", **kw})


def test_rate_keys_parse() -> None:
    c = cfg(RATE_LIMIT_DOWN="2mbit", RATE_LIMIT_UP="500KBIT",
            CLIENT_RATE_LIMITS=f"{PHONE.upper()}=1mbit/256kbit, {TABLET}=none/none")
    assert (c.rate_limit_down, c.rate_limit_up) == (2_000_000, 500_000)
    assert c.client_rate_limits == ((PHONE, 1_000_000, 256_000), (TABLET, 0, 0))
    assert (cfg().rate_limit_down, cfg().rate_limit_up, cfg().client_rate_limits) == (0, 0, ())


@pytest.mark.parametrize("key,value", [("RATE_LIMIT_DOWN", "2M"), ("RATE_LIMIT_DOWN", "0kbit"),
                                       ("RATE_LIMIT_UP", "8kbit"), ("RATE_LIMIT_UP", "20gbit"),
                                       ("RATE_LIMIT_UP", "1.5mbit"), ("RATE_LIMIT_DOWN", "2mbit; drop"),
                                       ("CLIENT_RATE_LIMITS", f"{PHONE}=1mbit"),
                                       ("CLIENT_RATE_LIMITS", "phone=1mbit/1mbit"),
                                       ("CLIENT_RATE_LIMITS", f"{PHONE}=1mbit/fast")])
def test_bad_rate_refused_in_one_line_naming_the_key_and_the_fix(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: ") as info:
        cfg(**{key: value})
    assert "\n" not in str(info.value) and ("e.g. 2mbit" in str(info.value) or "like" in str(info.value))


def plan(**kw: str):  # type: ignore[no-untyped-def]
    return make_plan(cfg(**kw), Facts(snapshot=SEED_000, wireless=True))


def test_no_limits_no_rules() -> None:
    assert "rate_" not in nft_ruleset(plan(), fastpath=("wlan0", "ppp0"))


def test_limited_clients_stay_off_the_flowtable() -> None:
    # every client limited but the tablet: only the tablet's flows are offloaded
    assert offload_match(cfg(RATE_LIMIT_DOWN="2mbit", CLIENT_RATE_LIMITS=f"{TABLET}=none/none")) == \
        f"ether saddr {{ {TABLET} }} "
    assert offload_match(cfg(RATE_LIMIT_UP="2mbit")) is None
    rs = nft_ruleset(plan(RATE_LIMIT_UP="2mbit"), fastpath=("wlan0", "ppp0"))
    assert "flow add" not in rs
    # only the phone limited: everyone else's flows are offloaded
    rs = nft_ruleset(plan(CLIENT_RATE_LIMITS=f"{PHONE}=1mbit/none"), fastpath=("wlan0", "ppp0"))
    assert f"ether saddr != {{ {PHONE} }} meta l4proto {{ tcp, udp }} ct state established flow add" in rs


def test_the_kernel_loads_the_limits() -> None:
    reason = nft_available()
    if reason:
        pytest.skip(reason)
    p = plan(RATE_LIMIT_DOWN="2mbit", RATE_LIMIT_UP="500kbit",
             CLIENT_RATE_LIMITS=f"{PHONE}=1mbit/256kbit,{TABLET}=none/none")
    table = load_json(nft_ruleset(p), "inet", p.table)
    names = {x[k]["name"] for x in table["nftables"] for k in ("set", "limit") if k in x}
    assert {"rate_up", "rate_down4", "rate_down6", "rate_0_4", "rate_0_6", "rate_0_down"} <= names
    limits = [x["limit"] for x in table["nftables"] if "limit" in x]
    assert [(lim["rate"], lim["per"], lim.get("inv")) for lim in limits] == [(125000, "second", True)]
