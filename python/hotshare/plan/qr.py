"""The Wi-Fi join QR code's text (pure): ``WIFI:T:WPA;S:...;P:...;;``, the
format phones' cameras read (ZXing's "WIFI:" scheme)."""

from __future__ import annotations

from dataclasses import dataclass, field

_SPECIAL = '\\;,:"'     # escaped with a backslash in S: and P:


@dataclass(frozen=True)
class Network:
    ssid: str
    passphrase: str = field(repr=False)
    hidden: bool = False


def escape(text: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def wifi_payload(net: Network) -> str:
    """WPA covers WPA2, WPA3-SAE and both: the phone picks what the AP offers."""
    hidden = "H:true;" if net.hidden else ""
    return f"WIFI:T:WPA;S:{escape(net.ssid)};P:{escape(net.passphrase)};{hidden};"


def from_hostapd_conf(text: str) -> Network | None:
    """The network a running hostapd serves, from the hostapd.conf hotshare
    wrote (ssid2= hex, wpa_passphrase= or wpa_psk=); None if it has none."""
    conf = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        ssid = bytes.fromhex(conf.get("ssid2", "")).decode("utf-8")
    except ValueError:
        return None
    secret = conf.get("wpa_passphrase") or conf.get("wpa_psk") or ""
    if not ssid or not secret:
        return None
    return Network(ssid, secret, conf.get("ignore_broadcast_ssid", "0") != "0")
