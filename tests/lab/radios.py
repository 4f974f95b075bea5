"""Virtual radios: mac80211_hwsim (default) or vwifi, behind one interface.

A :class:`RadioBackend` loads its driver with N radios and hands back one
:class:`Radio` per wiphy: the wiphy name (``phy3``), its netdev (``wlan0``) and
MAC.  Moving a radio into a namespace moves the whole wiphy (``iw phy PHY set
netns name NS``); its interface follows.

Pick the backend with :func:`backend_from_env`: ``HOTSHARE_VWIFI_KO=/path/vwifi.ko``
selects vwifi, anything else mac80211_hwsim.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lab.netns import ROOT, Netns
from lab.proc import run, wait_until


@dataclass
class Radio:
    """One wiphy and its (single) interface."""

    phy: str
    iface: str
    mac: str
    netns: Netns = field(default_factory=lambda: ROOT)

    def move_to(self, ns: Netns) -> None:
        """Move the wiphy (and so its interface) into ``ns``."""
        target = ["1"] if ns.name is None else ["name", ns.name]
        self.netns.run(["iw", "phy", self.phy, "set", "netns", *target])
        wait_until(lambda: ns.link_exists(self.iface), 5.0, interval=0.05, what=f"{self.iface} to appear in {ns.name}")
        self.netns = ns

    def move_home(self) -> None:
        """Back to the root namespace (no-op if it is there already)."""
        if self.netns.is_root or not self.netns.exists():
            self.netns = ROOT
            return
        # "iw phy X set netns 1" moves it to the namespace of PID 1, the root one.
        self.netns.run(["iw", "phy", self.phy, "set", "netns", "1"], check=False)
        self.netns = ROOT

    def phy_info(self) -> str:
        return self.netns.run(["iw", "phy", self.phy, "info"]).stdout

    def supports_sae(self) -> bool:
        """SAE needs the station side to run its own authentication (SME in
        wpa_supplicant: the ``authenticate`` command) or SAE offload."""
        info = self.phy_info()
        return bool(re.search(r"^\s*\* authenticate\s*$", info, re.M)) or "SAE_OFFLOAD" in info


def _wiphys() -> dict[str, str]:
    """``{phy_name: iface}`` for the wiphys visible in the root namespace."""
    result: dict[str, str] = {}
    for net in sorted(Path("/sys/class/net").iterdir()):
        link = net / "phy80211"
        if link.exists():
            result.setdefault(os.path.basename(os.readlink(link)), net.name)
    return result


def _mac(iface: str) -> str:
    return Path(f"/sys/class/net/{iface}/address").read_text().strip()


def _phy_index(phy: str) -> int:
    try:
        return int(Path(f"/sys/class/ieee80211/{phy}/index").read_text())
    except (OSError, ValueError):
        return 1 << 30


class RadioBackend:
    """Base: load the driver, find the radios it created, unload."""

    name = "abstract"
    module = ""

    def __init__(self) -> None:
        self.radios: list[Radio] = []

    def _load(self, count: int) -> None:
        raise NotImplementedError

    def load(self, count: int, timeout: float = 10.0) -> list[Radio]:
        before = set(_wiphys())
        self._load(count)

        def new_phys() -> list[str]:
            phys = [p for p in _wiphys() if p not in before]
            return phys if len(phys) >= count else []

        phys = wait_until(new_phys, timeout, interval=0.05, what=f"{count} {self.name} radios")
        phys.sort(key=_phy_index)
        ifaces = _wiphys()
        self.radios = [Radio(phy=p, iface=ifaces[p], mac=_mac(ifaces[p])) for p in phys[:count]]
        return self.radios

    def unload(self) -> None:
        for radio in self.radios:
            radio.move_home()
        run(["rmmod", self.module], check=False)
        self.radios = []


class Hwsim(RadioBackend):
    """mac80211_hwsim: full mac80211 stack, shared medium across namespaces."""

    name = "mac80211_hwsim"
    module = "mac80211_hwsim"

    def _load(self, count: int) -> None:
        if Path("/sys/module/mac80211_hwsim").exists():
            run(["rmmod", "mac80211_hwsim"])
        run(["modprobe", "mac80211_hwsim", f"radios={count}"])


class Vwifi(RadioBackend):
    """vwifi (sysprog21/vwifi): a cfg80211 FullMAC driver, ``insmod vwifi.ko station=N``."""

    name = "vwifi"
    module = "vwifi"

    def __init__(self, ko: Path) -> None:
        super().__init__()
        self.ko = ko

    def _load(self, count: int) -> None:
        if not self.ko.is_file():
            raise FileNotFoundError(f"HOTSHARE_VWIFI_KO: no such file {self.ko}")
        run(["modprobe", "cfg80211"])
        if Path("/sys/module/vwifi").exists():
            run(["rmmod", "vwifi"])
        run(["insmod", str(self.ko), f"station={count}"])


def backend_from_env(environ: dict[str, str] | None = None) -> RadioBackend:
    env = os.environ if environ is None else environ
    ko = env.get("HOTSHARE_VWIFI_KO")
    return Vwifi(Path(ko)) if ko else Hwsim()
