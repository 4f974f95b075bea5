"""Which channels an access point may start on (pure): the radio's channel
list (``iw phy PHY info``, the current regulatory domain applied) and the
rules of the configured COUNTRY from wireless-regdb's regulatory.db (the
file the kernel itself loads), read before anything starts."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from ..config import ConfigError, HotspotConfig

# regulatory.db's rule flags (the kernel's net/wireless/reg.c, FWDB_FLAG_*)
FWDB_NO_OFDM, FWDB_NO_OUTDOOR, FWDB_DFS, FWDB_NO_IR = 1, 2, 4, 8
REGDB_MAGIC, REGDB_VERSION = 0x52474442, 20
CHANNEL_HALF_WIDTH = 10    # MHz each side of a 20 MHz channel's centre


@dataclass(frozen=True)
class Channel:
    freq: int
    number: int
    flags: str        # what iw prints after the power: "(no IR, radar detection)", "(disabled)"

    @property
    def disabled(self) -> bool:
        return "disabled" in self.flags

    @property
    def no_ir(self) -> bool:
        return "no IR" in self.flags or "passive scan" in self.flags or "no IBSS" in self.flags

    @property
    def radar(self) -> bool:
        return "radar detection" in self.flags

    @property
    def usable(self) -> bool:
        return not (self.disabled or self.no_ir)


@dataclass(frozen=True)
class Rule:
    """One frequency range of a country in regulatory.db (MHz)."""

    start: int
    end: int
    flags: int

    def covers(self, freq: int) -> bool:
        return self.start <= freq - CHANNEL_HALF_WIDTH and freq + CHANNEL_HALF_WIDTH <= self.end


def parse_channels(phy_info: str) -> dict[int, Channel]:
    """Frequency -> channel, from the "Frequencies:" lists of ``iw phy PHY info``."""
    out: dict[int, Channel] = {}
    for m in re.finditer(r"^\s*\* (\d+)(?:\.\d+)? MHz \[(\d+)\](.*)$", phy_info, re.M):
        freq = int(m.group(1))
        out[freq] = Channel(freq, int(m.group(2)), m.group(3).strip())
    return out


def channel_freq(channel: int, band: str) -> int:
    if band == "5":
        return 5000 + 5 * channel
    return 2484 if channel == 14 else 2407 + 5 * channel


def band_of(freq: int) -> str:
    return "5" if 4900 <= freq < 5950 else "6" if freq >= 5950 else "2.4"


def regdb_rules(db: bytes, country: str) -> tuple[Rule, ...] | None:
    """The rules of ``country`` in a regulatory.db; None when the file is not
    one or has no such country. Offsets are 16-bit words times 4."""
    try:
        magic, version = struct.unpack_from(">II", db, 0)
        if (magic, version) != (REGDB_MAGIC, REGDB_VERSION):
            return None
        offset = 8
        while True:
            alpha2, coll = struct.unpack_from(">2sH", db, offset)
            offset += 4
            if coll == 0:
                return None
            if alpha2 == country.encode("ascii"):
                break
        coll <<= 2
        length, count = struct.unpack_from(">BB", db, coll)
        pointers = coll + ((length + 1) & ~1)
        rules = []
        for i in range(count):
            at = struct.unpack_from(">H", db, pointers + 2 * i)[0] << 2
            _len, flags, _eirp, start, end = struct.unpack_from(">BBHII", db, at)
            rules.append(Rule(start // 1000, end // 1000, flags))
        return tuple(rules)
    except struct.error:
        return None


@dataclass(frozen=True)
class Allowed:
    """A channel the AP may use, and whether it needs radar detection."""

    number: int
    freq: int
    dfs: bool


def allowed_channels(band: str, channels: dict[int, Channel], rules: tuple[Rule, ...] | None) -> tuple[Allowed, ...]:
    """The band's channels of the radio an AP may start on: with ``rules``
    (COUNTRY's, which hostapd applies at start), a rule must cover the
    channel without NO_IR; without, the radio's current flags decide."""
    out = []
    for ch in sorted(channels.values(), key=lambda c: c.freq):
        if band_of(ch.freq) != band or (ch.disabled and rules is None):
            continue
        if rules is None:
            if ch.usable:
                out.append(Allowed(ch.number, ch.freq, ch.radar))
            continue
        rule = next((r for r in rules if r.covers(ch.freq)), None)
        if rule is not None and not rule.flags & FWDB_NO_IR:
            out.append(Allowed(ch.number, ch.freq, bool(rule.flags & FWDB_DFS)))
    return tuple(out)


def least_busy(candidates: tuple[Allowed, ...], busy: dict[int, int]) -> Allowed:
    """The candidate the fewest networks overlap (``busy``: networks seen per
    frequency): 2.4 GHz channels 5 MHz apart overlap over ±20 MHz. Ties go
    to the lower channel (1, 6, 11 first on 2.4 GHz: they do not overlap)."""
    def load(c: Allowed) -> tuple[int, int, int]:
        return (overlapping(c, busy), 0 if c.freq >= 3000 or c.number in (1, 6, 11) else 1, c.number)
    return min(candidates, key=load)


def overlapping(c: Allowed, busy: dict[int, int]) -> int:
    """Networks whose 20 MHz overlap the channel's (``busy``: seen per MHz)."""
    span = 20 if c.freq < 3000 else 10
    return sum(n for f, n in busy.items() if abs(f - c.freq) < span)


@dataclass(frozen=True)
class Scan:
    """What the AP's radio saw once it was up (CHANNEL=auto, at start)."""

    busy: dict[int, int] = field(default_factory=dict)   # networks seen per frequency (MHz)
    surveys: bool = False       # the driver reported channel surveys: what hostapd's ACS measures


@dataclass(frozen=True)
class Radio:
    """The AP radio's channels and what may choose among them."""

    channels: dict[int, Channel]                # `iw phy PHY info`: freq -> channel, current domain applied
    country_rules: tuple[Rule, ...] | None = None  # COUNTRY's in regulatory.db; None: no COUNTRY, or no db
    hostapd_acs: bool = False                   # hostapd was built with ACS (CONFIG_ACS)
    scanned: Scan | None = None                 # CHANNEL=auto: None until the radio is up and has scanned


def fewest_networks(candidates: tuple[Allowed, ...], busy: dict[int, int]) -> tuple[Allowed, ...]:
    """The candidates the fewest networks overlap (all of them when the scan saw none)."""
    loads = {c: overlapping(c, busy) for c in candidates}
    low = min(loads.values(), default=0)
    return tuple(c for c in candidates if loads[c] == low)


# 5 GHz HT40+ primaries hostapd accepts (IEEE 802.11 Table E-4); an HT40- primary is one of these + 4
HT40_PLUS_5GHZ = (36, 44, 52, 60, 100, 108, 116, 124, 132, 140, 149, 157, 165, 173, 184, 192)


def secondary_offset(cfg: HotspotConfig) -> int:
    """MHz from the primary to the secondary 20 MHz channel of the 40 MHz one
    hostapd.conf asks for (ht_capab [HT40+]/[HT40-] with IEEE80211N or AC);
    0 for 20 MHz. (VHT's 80 MHz needs vht_oper_chwidth, never written.)"""
    if not (cfg.ieee80211n or cfg.ieee80211ac):
        return 0
    return 20 if "[HT40+]" in cfg.ht_capab else -20 if "[HT40-]" in cfg.ht_capab else 0


def wide_problem(a: Allowed, offset: int, allowed: tuple[Allowed, ...]) -> str:
    """Why ``a`` cannot be the primary of the 40 MHz channel ("" if it can):
    its secondary channel must be allowed too, without radar detection
    unless the primary needs it as well, and on 5 GHz form a valid pair."""
    if not offset:
        return ""
    sign, number = "+" if offset > 0 else "-", a.number + offset // 5
    second = next((b for b in allowed if b.freq == a.freq + offset), None)
    if a.freq >= 5000 and (a.number if offset > 0 else a.number - 4) not in HT40_PLUS_5GHZ:
        return f"channel {a.number} is not an HT40{sign} primary channel"
    if second is None:
        return f"its HT40{sign} secondary channel {number} is not allowed for an access point"
    if second.dfs and not a.dfs:
        return f"its HT40{sign} secondary channel {number} needs radar detection (DFS)"
    return ""


def choose_channel(cfg: HotspotConfig, radio: Radio | None) -> tuple[int, tuple[int, ...]]:
    """(channel, chanlist): the channel hostapd.conf names (0: hostapd's ACS
    picks one of chanlist). A channel COUNTRY (or, without one, the current
    regulatory domain) forbids, itself or as the secondary of the 40 MHz
    channel HT_CAPAB asks for, is a ConfigError before anything starts;
    CHANNEL=auto never takes a DFS or no-IR channel. CHANNEL=auto takes the
    channels the radio's scan found the fewest networks on; hostapd's ACS
    picks among them by the airtime it measures where it can (built with ACS,
    the driver reports surveys), else the least busy of them is taken. Before
    the scan (``radio.scanned`` None) the choice is as if it had seen nothing."""
    band = cfg.freq_band
    if radio is None:           # iw could not tell: hostapd decides, as before
        return (0 if cfg.auto_channel else cfg.band_channel), ()
    allowed = allowed_channels(band, radio.channels, radio.country_rules)
    where = f"COUNTRY={cfg.country}" if radio.country_rules is not None else "the current regulatory domain"
    offset = secondary_offset(cfg)
    quiet = tuple(a for a in allowed if not a.dfs)
    wide = tuple(a for a in allowed if not wide_problem(a, offset, allowed))
    listed = ",".join(str(a.number) for a in quiet if a in wide) or "none"
    if cfg.auto_channel:
        quiet = tuple(a for a in quiet if a in wide)
        if not quiet:
            width = f" (HT40{'+' if offset > 0 else '-'}: with its secondary channel)" if offset else ""
            raise ConfigError("CHANNEL", f"auto: {where} allows no {band} GHz channel without radar detection "
                              f"on this radio{width}", f"set FREQ_BAND={'5' if band == '2.4' else '2.4'} or a channel")
        scan = radio.scanned or Scan(surveys=True)
        if radio.hostapd_acs and scan.surveys:   # ACS measures the secondaries too
            picked = fewest_networks(quiet, scan.busy)
            seconds = {a.number + offset // 5 for a in picked} if offset else set()
            return 0, tuple(sorted({a.number for a in picked} | seconds))
        return least_busy(quiet, scan.busy).number, ()
    channel = cfg.band_channel
    primary = next((a for a in allowed if a.number == channel), None)
    if primary is None:
        raise ConfigError("CHANNEL", f"{channel} ({band} GHz) is not allowed for an access point by {where}",
                          f"use one of {listed} (or CHANNEL=auto)")
    why = wide_problem(primary, offset, allowed)
    if why:
        raise ConfigError("CHANNEL", f"{channel} ({band} GHz) with HT_CAPAB={cfg.ht_capab}: {why} ({where})",
                          f"use one of {listed}, or HT_CAPAB without [HT40{'+' if offset > 0 else '-'}]")
    return channel, ()
