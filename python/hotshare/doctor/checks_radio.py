"""The radio checks: the interface can be an access point, no rfkill switch
blocks it, and the regulatory domain allows the configured channel."""

from __future__ import annotations

import re

from .checks_shared import need_iface
from .facts import Context
from .findings import Finding, bad, good, info, skip
from .parsers import Channel, band_of, channel_freq, parse_channels, parse_modes, reg_country


def check_interface_can_be_an_ap(ctx: Context) -> list[Finding]:
    """1. The interface exists; if it is Wi-Fi, its radio supports AP mode."""
    fid = "interface"
    if (s := need_iface(ctx, fid, "interface")) is not None:
        return [s]
    iface = ctx.iface
    if ctx.snap.link(iface or "") is None:
        names = [lk.name + (" (Wi-Fi)" if lk.name in ctx.wireless_ifaces else "") for lk in ctx.snap.links
                 if lk.name != "lo"]
        return [bad(fid, f"there is no interface {iface}",
                    "interfaces here: " + (", ".join(names) or "none but lo"),
                    "name an existing interface (see `ip link`); for a Wi-Fi dongle plug it in and check that "
                    "its driver and firmware loaded (`dmesg | grep -i -e wlan -e firmware`)")]
    if not ctx.wireless:
        return [info(fid, f"{iface} is not a Wi-Fi interface: hotshare serves it as a wired network "
                          "(DHCP and DNS, no hostapd)")]
    if ctx.phy_info is None:
        return [skip(fid, f"{iface} is Wi-Fi ({ctx.phy or 'phy ?'}); its AP support was not checked "
                          f"({ctx.iw_error or 'iw gave nothing'})")]
    modes = parse_modes(ctx.phy_info)
    if "AP" not in modes:
        return [bad(fid, f"the radio of {iface} ({ctx.phy}) cannot be an access point",
                    f"`iw phy {ctx.phy} info`, Supported interface modes: {', '.join(modes) or 'none listed'}",
                    "use a radio whose driver lists '* AP' in `iw list`; some drivers need an AP firmware or "
                    "a module option to offer it, see the vendor's documentation")]
    return [good(fid, f"{iface} is Wi-Fi and its radio {ctx.phy} supports AP mode")]


def check_radio_not_blocked(ctx: Context) -> list[Finding]:
    """2. rfkill: neither a soft nor a hard block on the radio."""
    fid = "rfkill"
    if (s := need_iface(ctx, fid, "rfkill")) is not None:
        return [s]
    if not ctx.wireless:
        return [skip(fid, "rfkill: not a Wi-Fi interface")]
    mine = [r for r in ctx.rfkill
            if r.name == ctx.phy or (r.type in ("wlan", "all") and not re.fullmatch(r"phy\d+", r.name))]
    found = []
    for r in mine:
        if r.hard:
            found.append(bad(fid, f"the radio of {ctx.iface} is hard-blocked (rfkill)",
                             f"/sys/class/rfkill/{r.dev} ({r.name}, type {r.type}): hard=1",
                             "a hardware switch, a BIOS/firmware setting or the board's Wi-Fi enable GPIO "
                             "blocks it: flip the switch, or fix the power/enable line in the device tree"))
        if r.soft:
            found.append(bad(fid, f"the radio of {ctx.iface} is soft-blocked (rfkill)",
                             f"/sys/class/rfkill/{r.dev} ({r.name}, type {r.type}): soft=1",
                             f"`rfkill unblock wifi`, or `echo 0 > /sys/class/rfkill/{r.dev}/soft`; if it comes "
                             "back at boot, something restores it (systemd-rfkill's saved state, a script)"))
    if found:
        return found
    if not mine:
        return [good(fid, f"no rfkill switch blocks {ctx.phy}")]
    return [good(fid, f"the radio {ctx.phy} is not blocked (rfkill: " + ", ".join(r.dev for r in mine) + ")")]


def _allowed(channels: dict[int, Channel], band: str) -> str:
    ok = [c.number for c in sorted(channels.values(), key=lambda c: c.freq) if band_of(c.freq) == band and c.usable]
    return ", ".join(map(str, ok)) or "none"


def check_channel_allowed(ctx: Context) -> list[Finding]:
    """3. The regulatory domain lets an AP start on the configured channel."""
    fid = "channel"
    if (s := need_iface(ctx, fid, "channel")) is not None:
        return [s]
    if not ctx.wireless:
        return [skip(fid, "channel: not a Wi-Fi interface")]
    if ctx.phy_info is None:
        return [skip(fid, f"channel: not checked ({ctx.iw_error or 'no iw output'})")]
    cfg = ctx.config
    channel, band = cfg.band_channel, cfg.freq_band
    ap = ctx.status.get("ap") or {}
    if ctx.running and str(ap.get("channel") or "").isdigit() and str(ap.get("freq") or "").isdigit():
        channel, band = int(ap["channel"]), band_of(int(ap["freq"]))
    freq = channel_freq(channel, band)
    channels = parse_channels(ctx.phy_info)
    country = reg_country(ctx.reg or "")
    where = f"regulatory domain: country {country}" + (" (the world domain)" if country == "00" else "")
    if cfg.country and cfg.country != country:
        where += f"; COUNTRY={cfg.country} in the config: hostapd switches to it at start"
    allowed = _allowed(channels, band)
    fix = (f"use a channel allowed here ({band} GHz: {allowed}), e.g. CHANNEL={allowed.split(',')[0]}"
           if allowed != "none" else f"use the other band (FREQ_BAND={'5' if band == '2.4' else '2.4'})")
    fix += "; if you are in a country that allows this channel, set COUNTRY=<its code> (the kernel needs " \
           "wireless-regdb's regulatory.db to apply a country)"
    ch = channels.get(freq)
    if ch is None:
        return [bad(fid, f"{ctx.phy} has no channel {channel} in the {band} GHz band",
                    f"`iw phy {ctx.phy} info` lists no {freq} MHz; {where}", fix)]
    line = f"`iw phy {ctx.phy} info`: * {freq} MHz [{channel}] {ch.flags}".rstrip()
    if ch.disabled:
        return [bad(fid, f"channel {channel} ({freq} MHz) is disabled by the regulatory domain",
                    f"{line}; {where}", fix)]
    if ch.no_ir:
        return [bad(fid, f"channel {channel} ({freq} MHz) may not be used to start a network (no IR)",
                    f"{line}; {where}", fix)]
    if ch.radar:
        return [info(fid, f"channel {channel} ({freq} MHz) needs radar detection (DFS): the AP starts only "
                          "after a 60 s channel check, and not at all if the driver lacks DFS",
                     f"{line}; {where}", f"for a quick start use a channel without DFS ({allowed})")]
    return [good(fid, f"channel {channel} ({freq} MHz) is allowed ({where})")]
