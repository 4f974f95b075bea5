"""Every option of create_ap 0.4.6's usage text is implemented or refused by
name; the options ported here reach hostapd and dnsmasq as create_ap's do.
(The daemon's pid and log files, -e and --redirect-to-localhost with the
real dnsmasq: tests/netns/test_create_ap_options_live.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotshare.cli.main import main
from hotshare.cli.parsers import legacy_parser
from hotshare.config import ConfigError
from hotshare.config.cmdline import UNSUPPORTED
from hotshare.plan.dnsmasq import dnsmasq_conf
from lab.snapshots import SEED_000, cfg, plan_on

README = Path(__file__).resolve().parents[2] / "README.md"

# create_ap 0.4.6's getopt lists (`-o hc:w:g:de:nm:` and its -l list), its `--help` included
CREATE_AP_OPTIONS = (
    "-h", "-c", "-w", "-g", "-d", "-e", "-n", "-m", "--help", "--hidden", "--hostapd-debug",
    "--redirect-to-localhost", "--mac-filter", "--mac-filter-accept", "--isolate-clients", "--ieee80211n",
    "--ieee80211ac", "--ht_capab", "--vht_capab", "--driver", "--no-virt", "--fix-unmanaged", "--country",
    "--freq-band", "--mac", "--dhcp-dns", "--daemon", "--pidfile", "--logfile", "--stop", "--list",
    "--list-running", "--list-clients", "--version", "--psk", "--no-haveged", "--no-dns", "--no-dnsmasq",
    "--mkconfig", "--config",
)


def test_every_create_ap_option_is_parsed_or_refused_by_name_and_the_readme_says_which() -> None:
    known = {s for a in legacy_parser()._actions for s in a.option_strings}
    readme = README.read_text()
    section = readme[readme.index("### create_ap's command line"):readme.index("### Subcommands")]
    for opt in CREATE_AP_OPTIONS:
        assert opt in known or opt in UNSUPPORTED, opt
        assert re.search(rf"`{re.escape(opt)}[` ]", section), f"README's create_ap section lacks {opt}"


def test_hostapd_debug_adds_d_or_dd_and_nothing_else() -> None:
    argv = lambda **kw: plan_on(SEED_000, **kw).children[0].argv  # noqa: E731
    assert argv()[1:] == argv(HOSTAPD_DEBUG="0")[1:] and "-d" not in argv()
    assert argv(HOSTAPD_DEBUG="1")[1] == "-d" and argv(HOSTAPD_DEBUG="2")[1] == "-dd"
    assert not any(a.startswith("-K") for a in argv(HOSTAPD_DEBUG="2"))   # -K would print the keys
    with pytest.raises(ConfigError, match="HOSTAPD_DEBUG: '3' is not a debug level"):
        cfg(HOSTAPD_DEBUG="3")


def test_hosts_file_and_daemon_paths_are_plain_absolute_paths(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("192.168.12.9 nas\n")
    hosts.chmod(0o644)
    assert f"addn-hosts={hosts}\n" in dnsmasq_conf(plan_on(SEED_000, ADDN_HOSTS=str(hosts)))
    for bad in ("hosts", "/etc/ho,sts", "/etc/a b", "/etc/../shadow", "/etc/x#y", '/etc/"x"'):
        with pytest.raises(ConfigError, match="ADDN_HOSTS"):
            cfg(ADDN_HOSTS=bad)
        with pytest.raises(ConfigError, match="DAEMON_PIDFILE"):
            cfg(DAEMON_PIDFILE=bad)
    with pytest.raises(ConfigError, match="is not a regular file"):
        cfg(ADDN_HOSTS=str(tmp_path))
    with pytest.raises(ConfigError, match="cannot read"):
        cfg(ADDN_HOSTS=str(tmp_path / "none"))


def test_redirect_to_localhost_is_dnsmasqs_wildcard_to_the_gateway_only_with_n() -> None:
    conf = dnsmasq_conf(plan_on(SEED_000, SHARE_METHOD="none", REDIRECT_TO_LOCALHOST="1"))
    assert "address=/#/192.168.12.1\n" in conf
    assert "address=/#/" not in dnsmasq_conf(plan_on(SEED_000, SHARE_METHOD="none"))
    for kw in ({}, {"SHARE_METHOD": "none", "NO_DNS": "1"}):
        with pytest.raises(ConfigError, match="REDIRECT_TO_LOCALHOST: needs -n"):
            cfg(REDIRECT_TO_LOCALHOST="1", **kw)


def test_create_ap_conf_keys_of_the_daemon_are_accepted() -> None:
    # what `create_ap --mkconfig` writes by default
    c = cfg(DAEMON_PIDFILE="", DAEMON_LOGFILE="/dev/null")
    assert c.daemon_logfile == "" and c.daemon_pidfile == ""      # /dev/null: create_ap's "none"; syslog


def test_fix_unmanaged_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fix-unmanaged", "wlan0"]) == 2
    assert capsys.readouterr().err.startswith("hotshare: --fix-unmanaged is not supported: ")
