"""The Wi-Fi join QR code's text (pure): ``WIFI:T:WPA;S:...;P:...;;``, the
format phones' cameras read (ZXing's "WIFI:" scheme). ``T:`` is ``SAE`` for
a WPA3-Personal-only network (what Android's own generator and ZXing write:
a phone saves the network with the security type read, and a WPA2-PSK one
need not match an AP that offers SAE only), ``WPA`` for WPA2 and for the
WPA2+WPA3 transition mode."""

from __future__ import annotations

from dataclasses import dataclass, field

_SPECIAL = '\\;,:"'     # escaped with a backslash in S: and P:


@dataclass(frozen=True)
class Network:
    ssid: str
    passphrase: str = field(repr=False)
    hidden: bool = False
    sae_only: bool = False      # WPA3-Personal only (hostapd wpa_key_mgmt=SAE)


def escape(text: str) -> str:
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def wifi_payload(net: Network) -> str:
    hidden = "H:true;" if net.hidden else ""
    return f"WIFI:T:{'SAE' if net.sae_only else 'WPA'};S:{escape(net.ssid)};P:{escape(net.passphrase)};{hidden};"


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
    return Network(ssid, secret, conf.get("ignore_broadcast_ssid", "0") != "0",
                   sae_only=conf.get("wpa_key_mgmt", "").split() == ["SAE"])
