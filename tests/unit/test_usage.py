"""The usage ledger: periods, clients by MAC across address changes, and
what it saves and reads back."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from hotshare.config import from_mapping
from hotshare.errors import ConfigError
from hotshare.netlink.ctacct import ClientCounters
from hotshare.service.usage import Ledger, month_key

D = dt.date
PHONE = "02:00:00:00:00:01"


def c(rx: int, tx: int = 0) -> ClientCounters:
    return ClientCounters(tx, 1 if tx else 0, rx, 1 if rx else 0, 1)


@pytest.mark.parametrize("today,day,want", [
    (D(2026, 12, 1), 1, "2026-12-01"),
    (D(2026, 12, 14), 15, "2026-11-15"),
    (D(2026, 12, 15), 15, "2026-12-15"),
    (D(2026, 1, 3), 28, "2025-12-28"),
    (D(2026, 3, 1), 28, "2026-02-28"),
])
def test_billing_month_starts_on_billing_day(today: dt.date, day: int, want: str) -> None:
    assert month_key(today, day) == want


def test_a_client_keeps_its_totals_when_its_address_changes() -> None:
    ledger = Ledger()
    ledger.add({"10.0.0.5": c(1000, 100)}, {"10.0.0.5": PHONE}, D(2026, 12, 1))
    ledger.add({"10.0.0.9": c(500, 50)}, {"10.0.0.9": PHONE}, D(2026, 12, 1))
    client = ledger.clients[PHONE]
    assert client.addresses == ["10.0.0.9", "10.0.0.5"]
    assert (client.periods["month"].rx_bytes, client.periods["month"].tx_bytes) == (1500, 150)
    assert ledger.hotspot["day"].total_bytes == 1650


def test_day_and_month_start_again_session_goes_on() -> None:
    ledger = Ledger(billing_day=15)
    ledger.add({"10.0.0.5": c(1000)}, {"10.0.0.5": PHONE}, D(2026, 12, 14))
    ledger.add({"10.0.0.5": c(10)}, {"10.0.0.5": PHONE}, D(2026, 12, 15))
    p = ledger.clients[PHONE].periods
    assert (p["day"].rx_bytes, p["month"].rx_bytes, p["session"].rx_bytes) == (10, 10, 1010)
    assert (p["day"].key, p["month"].key) == ("2026-12-15", "2026-12-15")
    ledger.new_session(PHONE)
    assert ledger.clients[PHONE].periods["session"].rx_bytes == 0


def test_unknown_address_kept_apart_and_idle_counts_ignored() -> None:
    ledger = Ledger()
    assert ledger.add({"10.0.0.7": c(5), "10.0.0.8": c(0)}, {}, D(2026, 12, 1)) == 5
    assert list(ledger.clients) == ["unknown-10.0.0.7"]


def test_saved_totals_read_back_the_same(tmp_path: Path) -> None:
    path = str(tmp_path / "wlan0.usage")
    ledger = Ledger(billing_day=3)
    ledger.add({"10.0.0.5": c(1000, 7)}, {"10.0.0.5": PHONE}, D(2026, 12, 1))
    assert ledger.unsaved_bytes == 1007
    ledger.save(path)
    assert ledger.unsaved_bytes == 0
    assert os.stat(path).st_mode & 0o777 == 0o600  # it names clients
    again = Ledger.load(path, 3)
    assert again.to_dict() == ledger.to_dict()
    assert json.loads(Path(path).read_text())["version"] == 1
    # another billing day: this month's figures were cut elsewhere, they start again
    moved = Ledger.load(path, 20)
    moved.roll(D(2026, 12, 1))
    assert moved.clients[PHONE].periods["month"].rx_bytes == 0
    assert moved.clients[PHONE].periods["session"].rx_bytes == 1000


def test_unreadable_totals_start_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "wlan0.usage"
    path.write_text("{not json")
    assert Ledger.load(str(path), 1).clients == {}


def test_reset_one_client_or_all() -> None:
    ledger = Ledger()
    other = "02:00:00:00:00:02"
    ledger.add({"10.0.0.5": c(10), "10.0.0.6": c(20)}, {"10.0.0.5": PHONE, "10.0.0.6": other}, D(2026, 12, 1))
    ledger.reset(PHONE, "day", D(2026, 12, 1))
    assert ledger.clients[PHONE].periods["day"].rx_bytes == 0
    assert ledger.clients[other].periods["day"].rx_bytes == 20
    ledger.reset(None, "month", D(2026, 12, 1))
    assert ledger.hotspot["month"].rx_bytes == 0 and ledger.clients[other].periods["month"].rx_bytes == 0


@pytest.mark.parametrize("value", ["0", "29", "x", "-1"])
def test_billing_day_checked(value: str) -> None:
    with pytest.raises(ConfigError, match="BILLING_DAY"):
        from_mapping({"WIFI_IFACE": "wlan0", "SSID": "x", "PASSPHRASE": "12345678", "BILLING_DAY": value})


def cfg(**kw: str) -> object:
    return from_mapping({"WIFI_IFACE": "wlan0", "SSID": "x", "PASSPHRASE": "12345678", **kw})


def test_quota_keys_parse() -> None:
    c = cfg(QUOTA_DAY="500M", QUOTA_MONTH="2g", CLIENT_QUOTAS="6A:02:71:2d:90:f6=1G/month, 6a:02:71:2d:90:f7=100M/day")
    assert (c.quota_day, c.quota_month) == (500_000_000, 2_000_000_000)  # type: ignore[attr-defined]
    assert c.client_quotas == (("6a:02:71:2d:90:f6", 10**9, "month"),  # type: ignore[attr-defined]
                               ("6a:02:71:2d:90:f7", 10**8, "day"))


@pytest.mark.parametrize("key,value", [("QUOTA_DAY", "0"), ("QUOTA_DAY", "5X"), ("QUOTA_MONTH", "-1G"),
                                       ("CLIENT_QUOTAS", "6a:02:71:2d:90:f6=1G"),
                                       ("CLIENT_QUOTAS", "6a:02:71:2d:90:f6=1G/week"),
                                       ("CLIENT_QUOTAS", "phone=1G/day"), ("CLIENT_QUOTAS", "6a:02:71:2d:90:f6=/day")])
def test_bad_quota_refused_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        cfg(**{key: value})
