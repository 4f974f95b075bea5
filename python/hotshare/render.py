"""Render a plan into the files hostapd, dnsmasq and nft read (pure).

Every value reaching these files was validated by ``config``; the SSID is
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
        f"channel={cfg.band_channel}",
        "beacon_int=100",
        "wmm_enabled=1",
        f"ignore_broadcast_ssid={1 if cfg.hidden else 0}",
        f"ap_isolate={1 if cfg.isolate_clients else 0}",
    ]
    if plan.bridge:  # hostapd adds the interface to the bridge once it is in AP mode
        lines.append(f"bridge={plan.bridge}")
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


def dnsmasq_conf(plan: Plan) -> str:
    cfg = plan.cfg
    start, end = plan.dhcp_range
    gw = plan.gateway
    lines = [
        # Serve the hotspot interface only: with bind-interfaces and a single
        # interface dnsmasq binds DHCP to that device and DNS to its address,
        # so nothing listens on the uplink.
        f"interface={cfg.wifi_iface}",
        "bind-interfaces",
        f"dhcp-range={start},{end},{gw.netmask},12h",
        f"dhcp-option=option:router,{gw.ip}",
        f"dhcp-leasefile={plan.paths.leases}",
        "dhcp-authoritative",
        "domain-needed",
        "bogus-priv",
    ]
    dns_for_clients = [str(a) for a in cfg.dhcp_dns] or ([] if cfg.no_dns else [str(gw.ip)])
    if dns_for_clients:
        lines.append("dhcp-option=option:dns-server," + ",".join(dns_for_clients))
    if cfg.no_dns:
        lines.append("port=0")
    if not cfg.etc_hosts:
        lines.append("no-hosts")
    if plan.upstream_dns:
        lines.append("no-resolv")
        lines += [f"server={s}" for s in plan.upstream_dns]
    # Log to stderr, which hotshare reads into its own log (stderr or syslog):
    # its "started" line is how hotshare knows the sockets are bound.
    lines.append("log-facility=-")
    return "\n".join(lines) + "\n"


def _set_elements(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def nft_ruleset(plan: Plan, uplinks: tuple[str, ...] | None = None, fastpath: tuple[str, ...] = ()) -> str:
    """One table of our own, replaced atomically by ``nft -f``: the leading
    ``table``/``delete table`` pair makes the load idempotent.

    ``uplinks`` overrides the plan's (they change as routes come and go).
    ``fastpath`` lists the devices of a software flowtable: established
    connections between them skip the forward path (kernels with
    CONFIG_NFT_FLOW_OFFLOAD; the caller falls back when the load fails)."""
    ap, t = plan.cfg.wifi_iface, plan.table
    net, gw = plan.subnet, plan.gateway.ip
    uplinks = plan.uplinks if uplinks is None else uplinks
    uplink_set = "\t\ttype ifname\n"
    if uplinks:
        uplink_set += f"\t\telements = {{ {_set_elements(uplinks)} }}\n"
    flowtable = offload = ""
    if fastpath:
        # counter: offloaded flows keep updating conntrack's byte counts,
        # which `hotshare clients` reports
        flowtable = (f"\tflowtable fastpath {{\n\t\thook ingress priority filter\n"
                     f"\t\tdevices = {{ {_set_elements(fastpath)} }}\n\t\tcounter\n\t}}\n\n")
        offload = (f'\t\tiifname "{ap}" oifname @uplinks ip saddr {net} meta l4proto {{ tcp, udp }} '
                   f"ct state established flow add @fastpath\n")
    return f"""table inet {t}
delete table inet {t}
table inet {t} {{
\tset uplinks {{
{uplink_set}\t}}

{flowtable}\tchain input {{
\t\ttype filter hook input priority filter - 10; policy accept;
\t\t# the hotspot's DHCP, DNS and address answer its clients, never the uplink
\t\tiifname @uplinks ip daddr {gw} drop
\t\tiifname @uplinks udp dport 67 drop
\t}}

\tchain forward {{
\t\ttype filter hook forward priority filter - 10; policy accept;
{offload}\t\tiifname "{ap}" oifname @uplinks ip saddr {net} accept
\t\tiifname @uplinks oifname "{ap}" ip daddr {net} ct state established,related accept
\t\tiifname "{ap}" drop
\t\toifname "{ap}" drop
\t}}

\tchain postrouting {{
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname @uplinks ip saddr {net} masquerade
\t}}
}}
"""
