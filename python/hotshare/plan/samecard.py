"""One radio, two roles: the AP beside a station uplink on the same phy (pure).

create_ap's headline case, ``create_ap wlan0 wlan0 SSID PASS``: wlan0 stays
the station that carries the uplink and the AP is a virtual interface (ap0)
of the same radio. What the driver allows is in its interface combinations
(``iw phy PHY info``): whether AP and station may run together at all, and
on how many channels at once. With one channel (most chips, mac80211_hwsim
by default) the AP must be on the station's channel, and must follow it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ..config import ConfigError, HotspotConfig
from .facts import RadioFacts


@dataclass(frozen=True)
class Combination:
    """One "valid interface combination": (interface types, at most) limits,
    the total of interfaces and how many different channels at once."""

    limits: tuple[tuple[frozenset[str], int], ...]
    total: int
    channels: int

    def allows_ap_and_station(self) -> bool:
        """One managed and one AP interface fit (cfg80211 puts each type in
        at most one limit group of a combination)."""
        sta = next((i for i, (types, _) in enumerate(self.limits) if "managed" in types), None)
        ap = next((i for i, (types, _) in enumerate(self.limits) if "AP" in types), None)
        if sta is None or ap is None or self.total < 2:
            return False
        return sta != ap or self.limits[sta][1] >= 2


_LIMIT = re.compile(r"#\{\s*([^}]*?)\s*\}\s*<=\s*(\d+)")
_TOTAL = re.compile(r"total\s*<=\s*(\d+)")
_CHANNELS = re.compile(r"#channels\s*<=\s*(\d+)")


def parse_combinations(info: str) -> tuple[Combination, ...]:
    """The "valid interface combinations" of ``iw phy PHY info``; () when the
    driver has none (one interface at a time)."""
    lines = info.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "valid interface combinations:"), None)
    if start is None:
        return ()
    depth = len(lines[start]) - len(lines[start].lstrip())
    entries: list[str] = []
    for ln in lines[start + 1:]:
        if not ln.strip() or len(ln) - len(ln.lstrip()) <= depth:
            break
        text = ln.strip()
        if text.startswith("* "):
            entries.append(text[2:])
        elif entries:
            entries[-1] += " " + text
    out = []
    for e in entries:
        limits = tuple((frozenset(t.strip() for t in types.split(",")), int(n)) for types, n in _LIMIT.findall(e))
        total, chans = _TOTAL.search(e), _CHANNELS.search(e)
        out.append(Combination(limits, int(total.group(1)) if total else 0, int(chans.group(1)) if chans else 1))
    return tuple(out)


def ap_station_channels(combos: tuple[Combination, ...]) -> int:
    """How many channels an AP and a station of this radio may use at once
    (the best combination allowing both); 0: not both at once."""
    return max((c.channels for c in combos if c.allows_ap_and_station()), default=0)


def channel_of(freq: int) -> tuple[str, int]:
    """(band, channel) of a frequency in MHz; ValueError outside 2.4 and 5 GHz."""
    if freq == 2484:
        return "2.4", 14
    if 2412 <= freq <= 2472:
        return "2.4", (freq - 2407) // 5
    if 5160 <= freq <= 5885:
        return "5", (freq - 5000) // 5
    raise ValueError(f"{freq} MHz is neither a 2.4 GHz nor a 5 GHz channel")


def frequency_of(band: str, channel: int) -> int:
    if band == "2.4":
        return 2484 if channel == 14 else 2407 + 5 * channel
    return 5000 + 5 * channel


def virtual_mac(phy_mac: str) -> str:
    """The virtual interface's own address: the radio's with the locally
    administered bit set and the last byte one up (a radio whose address is
    already locally administered, like mac80211_hwsim's, still differs)."""
    b = bytearray(int(x, 16) for x in phy_mac.split(":"))
    b[0] = (b[0] | 0x02) & 0xFE
    b[5] = (b[5] + 1) & 0xFF
    return ":".join(f"{x:02x}" for x in b)


@dataclass(frozen=True)
class SameCard:
    """The AP and the station uplink on one radio, as decided at start."""

    phy: str
    station: str            # the station interface carrying the uplink
    ap: str                 # the AP interface
    channels: int           # channels AP and station may use at once (#channels)
    freq: int               # the station's frequency at start; 0: it was not connected
    virt_mac: str = ""      # the virtual AP interface's MAC; "": the AP interface exists already

    @property
    def virtual(self) -> bool:
        return bool(self.virt_mac)

    @property
    def follows(self) -> bool:
        """One channel at a time: the AP goes where the station goes."""
        return self.channels == 1

    def to_dict(self) -> dict[str, object]:
        return {"phy": self.phy, "station": self.station, "ap": self.ap, "channels": self.channels,
                "station_freq": self.freq or None, "virtual": self.virtual, "follows_station": self.follows}


def same_card(cfg: HotspotConfig, radio: RadioFacts | None) -> tuple[HotspotConfig, SameCard | None]:
    """Whether the AP shares its radio with a station uplink and, if so, the
    configuration with the AP on the station's channel. ConfigError (nothing
    changed yet) when the driver cannot do both, or not on the channel asked."""
    if radio is None:
        return cfg, None
    where = f"the radio {radio.phy} of {radio.station}"
    channels = ap_station_channels(parse_combinations(radio.info))
    if channels == 0:
        raise ConfigError("WIFI_IFACE", f"{where} cannot be an AP and a station at once (no valid interface "
                          "combination of AP with managed in `iw phy " + radio.phy + " info`)",
                          "use a second radio (or a wired uplink) for the hotspot")
    card = SameCard(radio.phy, radio.station, cfg.wifi_iface, channels, radio.station_freq,
                    virtual_mac(radio.phy_mac) if cfg.virt_of else "")
    if not radio.station_freq or channels > 1:
        return cfg, card
    try:
        band, channel = channel_of(radio.station_freq)
    except ValueError as e:
        raise ConfigError("FREQ_BAND", f"{radio.station} is on {radio.station_freq} MHz: {e}",
                          "connect the station on 2.4 or 5 GHz, or use a second radio") from None
    asked = cfg.channel and (cfg.channel, cfg.freq_band) != (channel, band)
    if asked or (cfg.freq_band == "5" and band != "5") or (cfg.ieee80211ac and band != "5"):
        key = "CHANNEL" if asked else "FREQ_BAND"
        raise ConfigError(key, f"{where} uses one channel at a time (#channels <= 1) and {radio.station} is on "
                          f"channel {channel} ({band} GHz)",
                          f"leave CHANNEL and FREQ_BAND unset (the AP follows the station) or set CHANNEL={channel} "
                          f"FREQ_BAND={band}")
    return dataclasses.replace(cfg, channel=channel, freq_band=band, auto_channel=False), card


def retuned(cfg: HotspotConfig, freq: int) -> HotspotConfig:
    """The configuration with the AP on ``freq`` (the station moved there)."""
    band, channel = channel_of(freq)
    return dataclasses.replace(cfg, channel=channel, freq_band=band, ieee80211ac=cfg.ieee80211ac and band == "5")
