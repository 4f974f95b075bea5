"""The lab library's Phone (tests/lab/phone.py) on the board's own tools.

The image has no curl: pages are fetched with BusyBox wget (without -T,
which segfaults in Debian's BusyBox 1.35), resolving through the phone's
resolv.conf as a phone's browser would.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.phone import Phone
from lab.proc import CommandError
from lab.radios import Radio


class BoardPhone(Phone):
    def http_get(self, url: str, timeout: float = 5.0) -> str:
        proc = self.ns.run(["busybox", "wget", "-q", "-O", "-", url], check=False, timeout=timeout)
        if proc.returncode != 0:
            raise CommandError(["wget", url], proc.returncode, proc.stdout, proc.stderr)
        return proc.stdout


def radio(index: int) -> Radio:
    """The ``index``-th mac80211_hwsim radio (0: the hotspot's wlan0), in the root namespace."""
    iface = f"wlan{index}"
    phy = os.path.basename(os.readlink(f"/sys/class/net/{iface}/phy80211"))
    mac = Path(f"/sys/class/net/{iface}/address").read_text().strip()
    return Radio(phy=phy, iface=iface, mac=mac)
