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
        span = 20 if c.freq < 3000 else 10
        seen = sum(n for f, n in busy.items() if abs(f - c.freq) < span)
        return (seen, 0 if c.freq >= 3000 or c.number in (1, 6, 11) else 1, c.number)
    return min(candidates, key=load)


@dataclass(frozen=True)
class Radio:
    """The AP radio's channels and what may choose among them."""

    channels: dict[int, Channel]                # `iw phy PHY info`: freq -> channel, current domain applied
    country_rules: tuple[Rule, ...] | None = None  # COUNTRY's in regulatory.db; None: no COUNTRY, or no db
    acs: bool = False                           # hostapd has ACS and the driver reports surveys
    busy: dict[int, int] = field(default_factory=dict)  # CHANNEL=auto without ACS: networks seen per MHz


def choose_channel(cfg: HotspotConfig, radio: Radio | None) -> tuple[int, tuple[int, ...]]:
    """(channel, chanlist): the channel hostapd.conf names (0: hostapd's ACS
    picks one of chanlist). A channel COUNTRY (or, without one, the current
    regulatory domain) forbids is a ConfigError before anything starts;
    CHANNEL=auto never takes a DFS or no-IR channel."""
    band = cfg.freq_band
    if radio is None:           # iw could not tell: hostapd decides, as before
        return (0 if cfg.auto_channel else cfg.band_channel), ()
    allowed = allowed_channels(band, radio.channels, radio.country_rules)
    where = f"COUNTRY={cfg.country}" if radio.country_rules is not None else "the current regulatory domain"
    quiet = tuple(a for a in allowed if not a.dfs)
    listed = ",".join(str(a.number) for a in quiet) or "none"
    if cfg.auto_channel:
        if not quiet:
            raise ConfigError("CHANNEL", f"auto: {where} allows no {band} GHz channel without radar detection "
                              "on this radio", f"set FREQ_BAND={'5' if band == '2.4' else '2.4'} or a channel")
        if radio.acs:
            return 0, tuple(a.number for a in quiet)
        return least_busy(quiet, radio.busy).number, ()
    channel = cfg.band_channel
    if channel not in {a.number for a in allowed}:
        raise ConfigError("CHANNEL", f"{channel} ({band} GHz) is not allowed for an access point by {where}",
                          f"use one of {listed} (or CHANNEL=auto)")
    return channel, ()
