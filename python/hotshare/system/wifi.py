"""What the kernel and iw say about a Wi-Fi interface."""

from __future__ import annotations

import os

from .run import ProgramError, find_binary, run


def is_wireless(ifname: str) -> bool:
    """Has the interface a cfg80211 phy (a radio)?"""
    return os.path.exists(f"/sys/class/net/{ifname}/phy80211")


def wifi_mode(iface: str) -> tuple[str, bool]:
    """(interface type, 4-address mode) as `iw dev IFACE info` reports them."""
    if find_binary("iw") is None:
        return ("managed", False)  # what a client interface is unless told otherwise
    try:
        out = run("iw", "dev", iface, "info").stdout
    except ProgramError:
        return ("managed", False)
    iftype = next((ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("type ")), "managed")
    return iftype, "4addr: on" in out


REGDB = "/lib/firmware/regulatory.db"   # wireless-regdb's, as the kernel loads it


def phy_of(iface: str) -> str:
    try:
        with open(f"/sys/class/net/{iface}/phy80211/name") as f:
            return f.read().strip()
    except OSError:
        return ""


def iw_text(*args: str) -> str:
    """What `iw ARGS` prints, or "" when it cannot tell."""
    if find_binary("iw") is None:
        return ""
    try:
        result = run("iw", *args)
    except ProgramError:
        return ""
    return result.stdout if result.ok else ""


def read_regdb() -> bytes:
    try:
        with open(REGDB, "rb") as f:
            return f.read(1 << 20)
    except OSError:
        return b""


def hostapd_has_acs(path: str) -> bool:
    """Was hostapd built with CONFIG_ACS? Its ACS-only config keyword is in the binary
    (Buildroot: BR2_PACKAGE_HOSTAPD_ACS)."""
    try:
        with open(path, "rb") as f:
            return b"acs_num_scans" in f.read()
    except OSError:
        return False


def survey_works(iface: str) -> bool:
    """Does the driver report channel surveys (what hostapd's ACS measures)?"""
    return "channel active time" in iw_text("dev", iface, "survey", "dump")


def networks_per_freq(iface: str) -> dict[int, int]:
    """Networks a scan sees, per frequency (MHz); empty when the radio cannot scan now."""
    out: dict[int, int] = {}
    for line in iw_text("dev", iface, "scan").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "freq:":
            freq = int(float(parts[1]))
            out[freq] = out.get(freq, 0) + 1
    return out
