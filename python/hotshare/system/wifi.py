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
