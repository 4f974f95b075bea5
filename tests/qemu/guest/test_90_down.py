"""`hotshare down` undoes everything `up` did, and says so when nothing runs."""

from __future__ import annotations

import subprocess

from lab.hotspot import (
    EXIT_NOT_RUNNING,
    HotshareCLI,
    HotspotConfig,
    HotspotManager,
    force_cleanup,
    hotshare_nft_tables,
    leftovers,
    read_sysctls,
    sysctl_names,
)
from lab.netns import ROOT
from lab.phone import Phone
from lab.radios import Radio
from lab.topology import WEB_NAME, Internet


def test_down_leaves_nothing_behind(
    hotshare_cli: HotshareCLI, hotspots: HotspotManager, ap_radio: Radio, internet: Internet, phone1: Phone
) -> None:
    iface, uplink = ap_radio.iface, internet.uplink
    hotspots.down()  # whatever ran before (normally nothing)
    before = read_sysctls(sysctl_names(iface, uplink))
    config = HotspotConfig(ssid="hotshare-down", dns_servers=[internet.dns_server])
    argv = [*hotshare_cli.argv_prefix, "up", "--daemon", *config.options(hotshare_cli.files_dir),
            iface, uplink, config.ssid, config.passphrase]  # fmt: skip
    try:
        # With pipes, as `out=$(hotshare up --daemon ...)` in a script: the
        # daemon must not keep the caller's stdout/stderr open.
        try:
            up = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=hotshare_cli.env, check=False)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                "`hotshare up --daemon` did not return: it keeps the caller's stdout/stderr open, or never got ready"
            ) from None
        assert up.returncode == 0, up.stderr
        # Use it, so there are a station, a lease, conntrack entries.
        phone1.connect(config.ssid, config.passphrase, timeout=60)
        phone1.dhcp()
        assert phone1.http_get(f"http://{WEB_NAME}/").strip() == internet.board_ip
        assert hotshare_nft_tables(), "no hotshare nftables table while it runs?"
        assert ROOT.ipv4_addresses(iface)
    finally:
        phone1.disconnect()
        down = hotshare_cli.down(iface)
    # No hostapd/dnsmasq/hotshare process, no `hotshare*` nftables table, no
    # IPv4 address on the AP interface, the forwarding sysctls as before.
    problems = leftovers(iface, uplink, before, hotshare_cli.argv_prefix)
    if problems:
        force_cleanup(iface, before, hotshare_cli.argv_prefix)
    assert down.returncode == 0, down.stderr
    assert problems == []


def test_down_when_not_running_exits_3(hotshare_cli: HotshareCLI, hotspots: HotspotManager, ap_radio: Radio) -> None:
    assert hotspots.current is None
    proc = hotshare_cli.down(ap_radio.iface)
    assert proc.returncode == EXIT_NOT_RUNNING, (proc.returncode, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
