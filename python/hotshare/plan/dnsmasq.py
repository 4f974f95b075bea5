"""dnsmasq.conf for the hotspot's DHCP and DNS (pure)."""

from __future__ import annotations

from .plan import Plan

LEASE_TIME = "1h"
LEASE_MAX = 128         # at most this many leases at once: about twice the stations a radio serves


def dnsmasq_conf(plan: Plan) -> str:
    cfg = plan.cfg
    start, end = plan.dhcp_range
    gw = plan.gateway
    lines = [
        # Serve the hotspot interface only: with bind-interfaces and a single
        # interface dnsmasq binds DHCP to that device and DNS to its address,
        # so nothing listens on the uplink.
        f"interface={cfg.wifi_iface}",
        # dnsmasq adds the loopback to an interface list by itself: a second
        # hotspot, or the board's own resolver on 127.0.0.1:53, would then
        # find the port taken
        "except-interface=lo",
        # with IPv6, bind-dynamic: the AP's IPv6 addresses come and go with the relayed
        # prefix (and its link-local one is tentative at start); still only this interface
        "bind-dynamic" if plan.cfg.ipv6 != "off" else "bind-interfaces",
        # An hour, not create_ap's 12 h: a client that takes every address
        # (random MACs) blocks the pool for an hour at most, across restarts too.
        f"dhcp-range={start},{end},{gw.netmask},{LEASE_TIME}",
        f"dhcp-lease-max={LEASE_MAX}",
        f"dhcp-option=option:router,{gw.ip}",
        f"dhcp-leasefile={plan.paths.leases}",
        "dhcp-authoritative",
        # no ping before an offer (3 s per new client, one after another):
        # hotshare owns this subnet, so an address in use means a lease lost
        # with a reboot, which the client's own ARP probe (RFC 5227) catches
        "no-ping",
        "domain-needed",
        "bogus-priv",
        # answers from upstream that point into private ranges are dropped:
        # a web page cannot turn a client's browser against the board or the modem
        "stop-dns-rebind",
    ]
    dns_for_clients = [str(a) for a in cfg.dhcp_dns] or ([] if cfg.no_dns else [str(gw.ip)])
    if dns_for_clients:
        lines.append("dhcp-option=option:dns-server," + ",".join(dns_for_clients))
    if cfg.no_dns:
        lines.append("port=0")
    if not cfg.etc_hosts:
        lines.append("no-hosts")
    if cfg.addn_hosts and not cfg.no_dns:
        lines.append(f"addn-hosts={cfg.addn_hosts}")
    if cfg.redirect_to_localhost:   # create_ap's --redirect-to-localhost (with -n): every name is the board
        lines.append(f"address=/#/{gw.ip}")
    if cfg.no_dns:
        pass
    elif plan.dns_follows:
        # the servers of the uplink in use, in a resolv-file hotshare rewrites as the
        # uplink changes; dnsmasq re-reads it on SIGHUP (and when its mtime changes).
        # Not a servers-file: dnsmasq 2.90 (measured) answers REFUSED after a SIGHUP
        # re-read one, unless an unrelated server= line happens to exist.
        lines.append(f"resolv-file={plan.paths.dnsmasq_resolv}")
    elif plan.upstream_dns:
        lines.append("no-resolv")
        lines += [f"server={s}" for s in plan.upstream_dns]
    if 0 < plan.uplink_mtu < 1500:
        # create_ap's option 26: clients send no packet larger than the 4G link carries
        lines.append(f"dhcp-option=option:mtu,{plan.uplink_mtu}")
    lines += _router_advertisements(plan)
    # Log to stderr, which hotshare reads into its own log (stderr or syslog):
    # its "started" line is how hotshare knows the sockets are bound.
    lines.append("log-facility=-")
    # queue log lines rather than block DHCP while hotshare reads the pipe
    # (a burst of joins on a slow board)
    lines.append("log-async")
    return "\n".join(lines) + "\n"


def _router_advertisements(plan: Plan) -> list[str]:
    """IPv6 (plan/ipv6.py): router advertisements built from the AP's
    address in the relayed prefix ("constructor"), SLAAC only. While the AP
    has no such address, nothing is advertised (no IPv6 uplink: clients must
    not wait on a path that does not exist); when it goes (the uplink changed),
    dnsmasq advertises the old prefix once more with lifetime 0, so clients
    drop it at once. dnsmasq puts itself (the AP) in the RDNSS option."""
    cfg = plan.cfg
    if cfg.ipv6 == "off" or cfg.share_method != "nat":
        return []
    mtu = f"mtu:{plan.uplink_mtu}," if 0 < plan.uplink_mtu < 1500 else ""
    # A relayed prefix is advertised off-link (no L bit): the rest of the uplink's /64
    # (its router's global address, a LAN's hosts) lies beyond the board, so the
    # clients send everything to it; client to client it forwards (ISOLATE_CLIENTS=0)
    # or drops. NAT66's ULA prefix is the AP's own: on-link.
    off_link = ",off-link" if cfg.ipv6 == "auto" else ""
    return ["enable-ra",
            f"dhcp-range=::,constructor:{cfg.wifi_iface},ra-only{off_link},64,{LEASE_TIME}",
            # an advertisement every 60 s at most (dnsmasq's own backoff), router lifetime 30 min
            f"ra-param={cfg.wifi_iface},{mtu}60,1800"]
