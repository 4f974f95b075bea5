"""hotshare doctor's checks that need radios or a kernel we may change: they
run inside the QEMU lab guest (tests/qemu/run-lab), on mac80211_hwsim radios.

Each test makes its problem real (an rfkill block, a channel the regulatory
domain forbids, a netfilter module the kernel cannot load, a dead hostapd)
and checks what ``hotshare doctor --json`` says about it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.hotspot import HotshareCLI, Hotspot
from lab.proc import wait_until
from lab.radios import Radio

Finding = dict[str, Any]


def doctor(cli: HotshareCLI, *args: str) -> tuple[int, list[Finding]]:
    proc = cli.run("doctor", "--json", *args, timeout=300)   # TCG on a busy machine: tens of seconds
    assert proc.returncode in (0, 1), f"doctor exited {proc.returncode}: {proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


def one(findings: list[Finding], fid: str) -> Finding:
    found = [f for f in findings if f["id"] == fid]
    assert len(found) == 1, found
    return found[0]


def report(findings: list[Finding], fid: str, logdir: Path) -> None:
    with open(logdir / "doctor-findings.txt", "a") as out:
        for f in findings:
            if f["id"] == fid:
                out.write(f"[{fid}] {'ok' if f['ok'] else 'PROBLEM'}: {f['title']}\n  evidence: {f['evidence']}\n"
                          f"  fix: {f['fix']}\n")


def write_config(workdir: Path, **keys: str) -> str:
    path = workdir / "doctor.conf"
    path.write_text("".join(f"{k}={v}\n" for k, v in keys.items()))
    return str(path)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# -- 1. AP mode (and, on the same run, what this kernel offers) --------------------------------------

@pytest.fixture(scope="module")
def baseline(hotshare_cli: HotshareCLI, ap_radio: Radio, logdir: Path) -> list[Finding]:
    """One doctor run on the untouched board (each run costs seconds under TCG)."""
    _rc, fs = doctor(hotshare_cli, ap_radio.iface)
    for fid in ("interface", "rfkill", "channel", "netfilter", "flowtable"):
        report(fs, fid, logdir)
    return fs


def test_hwsim_radio_supports_ap_mode(baseline: list[Finding], ap_radio: Radio) -> None:
    f = one(baseline, "interface")
    assert f["ok"] and f["title"] == f"{ap_radio.iface} is Wi-Fi and its radio {ap_radio.phy} supports AP mode"
    assert one(baseline, "rfkill")["ok"] and one(baseline, "channel")["ok"]


def test_lab_kernel_has_nat_and_flowtables(baseline: list[Finding]) -> None:
    assert one(baseline, "netfilter")["ok"]
    f = one(baseline, "flowtable")
    assert f["ok"] and f["title"] == "the kernel supports nftables flowtables (forwarding offload)", f


# -- 2. rfkill ------------------------------------------------------------------------------------

def _rfkill_of(phy: str) -> Path:
    for dev in Path("/sys/class/rfkill").iterdir():
        try:  # a phone's radio moved to its namespace leaves an entry that cannot be read
            name = (dev / "name").read_text().strip()
        except OSError:
            continue
        if name == phy:
            return dev
    pytest.skip(f"no rfkill device for {phy}")


def test_soft_blocked_radio(hotshare_cli: HotshareCLI, ap_radio: Radio, logdir: Path) -> None:
    dev = _rfkill_of(ap_radio.phy)
    tool = shutil.which("rfkill")
    index = dev.name.removeprefix("rfkill")
    if tool:
        subprocess.run([tool, "block", index], check=True)
    else:
        (dev / "soft").write_text("1")
    try:
        assert (dev / "soft").read_text().strip() == "1"
        rc, fs = doctor(hotshare_cli, ap_radio.iface)
    finally:
        if tool:
            subprocess.run([tool, "unblock", index], check=True)
        else:
            (dev / "soft").write_text("0")
    report(fs, "rfkill", logdir)
    f = one(fs, "rfkill")
    assert rc == 1 and not f["ok"] and f["title"] == f"the radio of {ap_radio.iface} is soft-blocked (rfkill)"
    assert f["evidence"] == f"/sys/class/rfkill/{dev.name} ({ap_radio.phy}, type wlan): soft=1"
    assert f"/sys/class/rfkill/{dev.name}/soft" in f["fix"]
    assert (dev / "soft").read_text().strip() == "0"


# -- 3. regulatory domain -----------------------------------------------------------------------------

def test_channel_forbidden_by_the_regulatory_domain(hotshare_cli: HotshareCLI, ap_radio: Radio, workdir: Path,
                                                   logdir: Path) -> None:
    reg = subprocess.run(["iw", "reg", "get"], capture_output=True, text=True, check=True).stdout
    (logdir / "doctor-iw-reg.txt").write_text(reg + "\n" + ap_radio.phy_info())
    conf = write_config(workdir, WIFI_IFACE=ap_radio.iface, CHANNEL="13", SSID="doc", PASSPHRASE="doc-passphrase")
    rc, fs = doctor(hotshare_cli, "--config", conf)
    report(fs, "channel", logdir)
    f = one(fs, "channel")
    # mac80211_hwsim without a regulatory database: the world domain (00), where 12 and 13 are no-IR
    assert rc == 1 and not f["ok"], f
    assert f["title"] == "channel 13 (2472 MHz) may not be used to start a network (no IR)"
    assert "regulatory domain: country 00" in f["evidence"] and "CHANNEL=1" in f["fix"]
    # and the problem is real: hostapd cannot start an AP there
    try:
        proc = hotshare_cli.run("up", "--daemon", "-n", "-c", "13", ap_radio.iface, "doc", "doc-passphrase",
                                timeout=300)
    finally:
        hotshare_cli.run("down", ap_radio.iface, timeout=300)
    (logdir / "doctor-channel13-up.txt").write_text(f"exit {proc.returncode}\n{proc.stderr}")
    assert proc.returncode != 0


def test_disabled_channel_with_a_country(hotshare_cli: HotshareCLI, ap_radio: Radio, workdir: Path,
                                         logdir: Path) -> None:
    if not any(Path(p).exists() for p in ("/lib/firmware/regulatory.db", "/usr/lib/firmware/regulatory.db")):
        pytest.skip("no wireless-regdb regulatory.db: the kernel cannot switch to a country")
    subprocess.run(["iw", "reg", "set", "US"], check=True)
    try:
        wait_until(lambda: "country US" in subprocess.run(["iw", "reg", "get"], capture_output=True,
                                                          text=True).stdout, 5, what="regulatory domain US")
        conf = write_config(workdir, WIFI_IFACE=ap_radio.iface, CHANNEL="14")
        rc, fs = doctor(hotshare_cli, "--config", conf)
    finally:
        subprocess.run(["iw", "reg", "set", "00"], check=False)
    report(fs, "channel", logdir)
    f = one(fs, "channel")
    assert rc == 1 and not f["ok"] and "disabled" in f["title"] and "country US" in f["evidence"]


# -- 4. a netfilter feature the kernel cannot provide ---------------------------------------------------

@pytest.fixture(params=[("nft_masq",), ("nft_masq", "nft_chain_nat")], ids=["no-masq", "no-masq-no-nat"])
def kernel_without(request: pytest.FixtureRequest) -> Iterator[tuple[str, ...]]:
    """Unload netfilter modules and stop the kernel from loading modules: for
    the length of the test the kernel lacks what they provide, as a board
    kernel built without CONFIG_NFT_MASQ (and CONFIG_NFT_NAT)."""
    mods: tuple[str, ...] = request.param
    helper = Path("/proc/sys/kernel/modprobe")
    old = helper.read_text().strip()
    for mod in mods:
        if Path(f"/sys/module/{mod}").exists() and subprocess.run(["rmmod", mod], capture_output=True).returncode:
            pytest.skip(f"{mod} is in use or built in: it cannot be taken away")
    helper.write_text("/bin/false\n")
    try:
        yield mods
    finally:
        helper.write_text(old + "\n")
        for mod in mods:
            subprocess.run(["modprobe", mod], check=False)


def test_kernel_without_masquerade_or_nat(hotshare_cli: HotshareCLI, ap_radio: Radio, logdir: Path,
                                          kernel_without: tuple[str, ...]) -> None:
    from hotshare import doctor as doc

    raw = subprocess.run(["nft", "-c", "-f", "-"], input=doc.probe_text(doc.NAT_PROBE), capture_output=True,
                         text=True)
    with open(logdir / "doctor-nft-probe-stderr.txt", "a") as out:
        out.write(f"# without {' '.join(kernel_without)}: exit {raw.returncode}\n{raw.stderr!r}\n")
    assert raw.returncode != 0, "the probe loads although the modules are gone"
    rc, fs = doctor(hotshare_cli, ap_radio.iface)
    report(fs, "netfilter", logdir)
    f = one(fs, "netfilter")
    assert rc == 1 and not f["ok"] and "Could not process rule" in f["evidence"]
    if "nft_chain_nat" in kernel_without:   # the nat chain fails first, its rules with it
        assert "NAT chains" in f["title"] and "CONFIG_NFT_NAT" in f["fix"]
    else:
        assert f["title"] == "the kernel lacks netfilter features hotshare needs: masquerading"
        assert "CONFIG_NFT_MASQ" in f["fix"]


# -- 12. hostapd dead under a running hotspot ------------------------------------------------------------

def test_dead_hostapd_under_a_running_hotspot(hotshare: Callable[..., Hotspot], hotshare_cli: HotshareCLI,
                                              ap_radio: Radio, logdir: Path) -> None:
    hotshare()
    status = json.loads(hotshare_cli.run("status", ap_radio.iface, "--json").stdout)
    pid, hostapd = int(status["pid"]), int(status["children"]["hostapd"])

    rc, fs = doctor(hotshare_cli, ap_radio.iface)
    report(fs, "instance", logdir)
    assert one(fs, "instance")["ok"] and one(fs, "channel")["ok"]
    assert all(f["ok"] for f in fs if f["id"] == "ports")          # its own dnsmasq is not a conflict

    os.kill(pid, signal.SIGSTOP)   # hotshare restarts a dead child at once: hold it still
    try:
        os.kill(hostapd, signal.SIGKILL)
        wait_until(lambda: not alive(hostapd), 5, interval=0.05, what="hostapd to die")
        rc, fs = doctor(hotshare_cli, ap_radio.iface)
    finally:
        os.kill(pid, signal.SIGCONT)
    report(fs, "instance", logdir)
    f = one(fs, "instance")
    assert rc == 1 and not f["ok"] and f["title"] == f"hostapd is not running under hotshare on {ap_radio.iface}"
    assert f"hostapd was pid {hostapd}, now gone" in f["evidence"]
