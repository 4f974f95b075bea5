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
