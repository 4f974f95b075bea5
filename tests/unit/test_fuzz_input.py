"""Fuzzing what users type: create_ap.conf files and command lines.

No input may crash hotshare with a traceback, and nothing that is accepted
may reach a generated file unchecked: every generated line stays one line
of the form its program expects."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotshare.cli import main as cli
from hotshare.config import KNOWN_KEYS, ConfigError, from_mapping, parse_conf_text
from hotshare.plan.dnsmasq import dnsmasq_conf
from hotshare.plan.facts import Facts
from hotshare.plan.hostapd import hostapd_conf
from hotshare.plan.make import make_plan
from hotshare.plan.ruleset import nft_ruleset
from lab.snapshots import SEED_000

CONF_LINE = re.compile(r"^[a-z0-9_-]+(=[^\n\r]*)?$")
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
values = st.one_of(text, st.sampled_from(["", "0", "1", "2+3", "wlan0", "ppp0,usb0", "192.168.12.1", "default",
                                          "12345678", "[HT40+]", "5", "nat", "bridge", "CN", "auto"]))


@given(st.text(max_size=400))
def test_any_file_text_parses_or_is_refused_with_one_line(t: str) -> None:
    try:
        raw = parse_conf_text(t)
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    assert all(k.isupper() or k[0].isupper() for k in raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KNOWN_KEYS), values, max_size=12))
def test_accepted_values_render_to_well_formed_files(raw: dict[str, str]) -> None:
    raw = {"WIFI_IFACE": "wlan0", "SSID": "x", "PASSPHRASE": "12345678", **raw}
    raw.pop("MAC_FILTER_ACCEPT", None), raw.pop("MAC_FILTER_DENY", None), raw.pop("PASSPHRASE_FILE", None)
    try:
        cfg = from_mapping(raw)
        plan = make_plan(cfg, Facts(snapshot=SEED_000, wireless=True))
    except ConfigError as e:
        assert "\n" not in str(e) and e.key
        return
    for conf in (hostapd_conf(plan), dnsmasq_conf(plan)):
        for line in conf.splitlines():
            assert CONF_LINE.match(line), line
    ruleset = nft_ruleset(plan)
    names = re.findall(r'"([^"]*)"', ruleset)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", n) for n in names), names
    assert ipaddress.IPv4Network(str(plan.subnet)).is_private


OPTIONS = ["-c", "-w", "-m", "-g", "--country", "--freq-band", "--driver", "--mac", "--dhcp-dns", "--dns-server",
           "--ht_capab", "--vht_capab", "--firewall", "--hidden", "--isolate-clients", "--psk", "-n",
           "--ieee80211n", "--ieee80211ac", "--no-dns", "--no-dnsmasq", "--bogus", "--pidfile", "-e"]
FLAGS = {"--hidden", "--isolate-clients", "--psk", "-n", "--ieee80211n", "--ieee80211ac", "--no-dns", "--no-dnsmasq"}
word = st.text(alphabet=string.printable, max_size=20)


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    argv: list[str] = []
    for opt in draw(st.lists(st.sampled_from(OPTIONS), max_size=5)):
        argv += [opt] if opt in FLAGS else [opt, draw(word)]
    argv += draw(st.lists(word, max_size=5))
    return ["up", "--dry-run", *argv] if draw(st.booleans()) else ["--dry-run", *argv]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_lines())
def test_no_command_line_crashes(argv: list[str]) -> None:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = cli.main(argv)
        except SystemExit as e:  # argparse's --help/--version
            code = int(e.code or 0)
    assert code in (0, 1, 2, 3)
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert err.getvalue().count("\n") <= 1 or "usage:" in err.getvalue()
