"""hostapd.conf for the access point (pure).

Every value reaching the file was validated by ``config``; the SSID is
written hex-encoded (``ssid2=``) so no byte of it can end a line.
"""

from __future__ import annotations

from .plan import Plan

MASK = "********"


def hostapd_conf(plan: Plan, mask_secret: bool = False) -> str:
    cfg = plan.cfg
    five = cfg.freq_band == "5"
    lines = [
        f"interface={cfg.wifi_iface}",
        f"driver={cfg.driver}",
        f"ctrl_interface={plan.paths.hostapd_ctrl}",
        "ctrl_interface_group=0",
        "logger_syslog=0",  # its stdout reaches syslog through hotshare already
        f"ssid2={cfg.ssid.encode('utf-8').hex()}",
        "utf8_ssid=1",
        f"hw_mode={'a' if five else 'g'}",
        f"channel={plan.channel if plan.channel or not plan.chanlist else 'acs_survey'}",
        "beacon_int=100",
        f"wmm_enabled={1 if cfg.wmm else 0}",
        f"ignore_broadcast_ssid={1 if cfg.hidden else 0}",
        f"ap_isolate={1 if cfg.isolate_clients else 0}",
    ]
    if plan.chanlist:   # CHANNEL=auto: hostapd's ACS measures these and takes the least busy
        lines += [f"chanlist={' '.join(map(str, plan.chanlist))}", "acs_exclude_dfs=1"]
    if plan.bridge:  # hostapd adds the interface to the bridge once it is in AP mode
        lines.append(f"bridge={plan.bridge}")
    if cfg.max_stations:
        lines.append(f"max_num_sta={cfg.max_stations}")
    if cfg.country:
        lines += [f"country_code={cfg.country}", "ieee80211d=1"]
    if cfg.ieee80211n or cfg.ieee80211ac:
        lines += ["ieee80211n=1", f"ht_capab={cfg.ht_capab}"]
    if cfg.ieee80211ac:
        lines += ["ieee80211ac=1", f"vht_capab={cfg.vht_capab}"]
    if cfg.mac_filter:
        lines += ["macaddr_acl=1", f"accept_mac_file={plan.paths.accept_file}"]
    else:
        lines += ["macaddr_acl=0"]
    if cfg.mac_deny:
        lines += [f"deny_mac_file={plan.paths.deny_file}"]

    secret = MASK if mask_secret else cfg.passphrase
    key_mgmt = {"2": "WPA-PSK", "3": "SAE", "2+3": "WPA-PSK SAE"}[cfg.wpa_version]
    lines += ["auth_algs=1", "wpa=2", f"wpa_key_mgmt={key_mgmt}", "rsn_pairwise=CCMP"]
    if cfg.use_psk:
        lines.append(f"wpa_psk={secret}")
    else:
        lines.append(f"wpa_passphrase={secret}")
    if cfg.wpa_version == "3":
        lines += ["ieee80211w=2", "sae_pwe=2"]
    elif cfg.wpa_version == "2+3":
        lines += ["ieee80211w=1", "sae_require_mfp=1", "sae_pwe=2"]
    return "\n".join(lines) + "\n"


def mac_list(macs: tuple[str, ...]) -> str:
    return "".join(f"{m}\n" for m in macs)
