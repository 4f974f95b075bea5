"""What the kernel and iw say about a Wi-Fi interface."""

from __future__ import annotations

import errno
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


def phy_of(ifname: str) -> str:
    """The wiphy (``phy0``) of a Wi-Fi interface; "" for any other."""
    try:
        return os.path.basename(os.readlink(f"/sys/class/net/{ifname}/phy80211"))
    except OSError:
        return ""


def phy_mac(phy: str) -> str:
    try:
        with open(f"/sys/class/ieee80211/{phy}/macaddress") as f:
            return f.read().strip()
    except OSError:
        return ""


def phy_info(phy: str) -> str:
    """`iw phy PHY info`: what the driver can do (its interface combinations)."""
    try:
        return run("iw", "phy", phy, "info", check=True).stdout
    except ProgramError:
        return ""


def station_freq(iface: str) -> int:
    """The frequency (MHz) a station interface is connected on; 0 if it is not."""
    try:
        out = run("iw", "dev", iface, "link").stdout
    except ProgramError:
        return 0
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "freq:":
            try:
                return int(float(words[1]))
            except ValueError:
                return 0
    return 0


def add_ap_interface(phy: str, name: str) -> None:
    """A virtual AP interface on ``phy``; OSError(EEXIST) if the name is taken."""
    if os.path.exists(f"/sys/class/net/{name}"):
        raise OSError(errno.EEXIST, f"{name} exists")
    try:
        run("iw", "phy", phy, "interface", "add", name, "type", "__ap", check=True)
    except ProgramError as e:
        raise OSError(errno.EIO, str(e)) from None


def del_interface(name: str) -> None:
    """Remove a (virtual) Wi-Fi interface; OSError(ENODEV) if there is none."""
    if not os.path.exists(f"/sys/class/net/{name}"):
        raise OSError(errno.ENODEV, f"{name}: no such interface")
    try:
        run("iw", "dev", name, "del", check=True)
    except ProgramError as e:
        raise OSError(errno.EIO, str(e)) from None


def iw_text(*args: str, timeout: float | None = None) -> str:
    """What `iw ARGS` prints, or "" when it cannot tell."""
    if find_binary("iw") is None:
        return ""
    try:
        result = run("iw", *args, timeout=timeout)
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


SCAN_TIMEOUT = 30.0     # a full scan of both bands: seconds on a real radio, more under emulation


def networks_per_freq(iface: str) -> dict[int, int]:
    """Networks a scan sees, per frequency (MHz); empty when the radio cannot
    scan now (it must be up)."""
    out: dict[int, int] = {}
    for line in iw_text("dev", iface, "scan", timeout=SCAN_TIMEOUT).splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "freq:":
            freq = int(float(parts[1]))
            out[freq] = out.get(freq, 0) + 1
    return out
