"""The nftables ruleset of one hotspot, rendered from ``ruleset.nft`` (pure).

The template is the ruleset as nft reads it, with ``$names`` for the values
of this hotspot; every value was validated by ``config`` (interface names)
or computed here (addresses), so nothing unchecked reaches nft.
"""

from __future__ import annotations

from importlib import resources
from string import Template

from .ipv6 import ula_prefix
from .plan import Plan
from .ratelimit import offload_match
from .ratelimit import rules as rate_rules
from .ratelimit import sets as rate_sets

# A software flowtable: established connections between these devices skip
# the forward path (kernels with CONFIG_NFT_FLOW_OFFLOAD). `counter` keeps
# conntrack's byte counts going for offloaded flows (`hotshare clients`).
FLOWTABLE = Template("""
	flowtable fastpath {
		hook ingress priority filter
		devices = { $devices }
		counter
	}
""")
OFFLOAD = Template("""\t\tiifname "$ap" oifname @uplinks ip saddr $subnet ${clients}meta l4proto { tcp, udp } \
ct state established flow add @fastpath
""")


# IPv6 forwarding (IPV6=auto|nat66): out from the clients; in, only replies and
# what RFC 4890 section 4.3.1 says must never be dropped: destination
# unreachable, packet too big (path MTU discovery: IPv6 routers never
# fragment), time exceeded (code 0), parameter problem (codes 1 and 2), echo.
# Replies to the AP from the uplinks, client to client: dropped below.
FORWARD6 = Template("""\t\tiifname "$ap" oifname @uplinks ip6 saddr != { fe80::/10, ::/128 } accept
\t\ticmpv6 type packet-too-big iifname @uplinks oifname "$ap" accept
\t\ticmpv6 type { destination-unreachable, echo-request, echo-reply } iifname @uplinks oifname "$ap" accept
\t\ticmpv6 type time-exceeded icmpv6 code 0 iifname @uplinks oifname "$ap" accept
\t\ticmpv6 type parameter-problem icmpv6 code { 1, 2 } iifname @uplinks oifname "$ap" accept
\t\tiifname @uplinks oifname "$ap" meta nfproto ipv6 ct state established,related accept
""")


# A relayed prefix is advertised off-link: clients reach each other through the
# board, which passes that unless ISOLATE_CLIENTS (then the forward chain's
# `iifname "$ap" drop` holds, as hostapd's ap_isolate does on the radio).
CLIENT_TO_CLIENT6 = Template("""\t\tiifname "$ap" oifname "$ap" meta nfproto ipv6 accept
""")


def _template() -> Template:
    text = resources.files(__package__).joinpath("ruleset.nft").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):  # the template's own header, not the ruleset's
        lines.pop(0)
    return Template("".join(lines))


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# Clients' traffic to these, out of an uplink, stays on the hotspot's side
# (BLOCK_PRIVATE_UPLINK=1): the modem's web interface, the uplink's LAN.
PRIVATE = "{ 10.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, 172.16.0.0/12, 192.168.0.0/16 }"


def _services(plan: Plan) -> str:
    ap = plan.cfg.wifi_iface
    out = []
    for proto in ("tcp", "udp"):
        ports = [str(port) for p, port in plan.cfg.client_services if p == proto]
        if ports:
            out.append(f'\t\tiifname "{ap}" {proto} dport {{ {", ".join(ports)} }} accept  # CLIENT_SERVICES\n')
    return "".join(out)


def nft_ruleset(plan: Plan, uplinks: tuple[str, ...] | None = None, fastpath: tuple[str, ...] = ()) -> str:
    """Our table for ``plan``. ``uplinks`` overrides the plan's (they change
    as routes come and go); ``fastpath`` lists the devices of a flowtable
    (the caller falls back to none when the kernel refuses it)."""
    ap, net = plan.cfg.wifi_iface, plan.subnet
    uplinks = plan.uplinks if uplinks is None else uplinks
    offload_clients = offload_match(plan.cfg)  # None: rate limits keep every client's flows off it
    values = {"ap": ap, "table": plan.table, "subnet": str(net), "gateway": str(plan.gateway.ip),
              "uplink_elements": f"\t\telements = {{ {_names(uplinks)} }}\n" if uplinks else "",
              "flowtable": FLOWTABLE.substitute(devices=_names(fastpath)) if fastpath else "",
              "offload": (OFFLOAD.substitute(ap=ap, subnet=net, clients=offload_clients)
                          if fastpath and offload_clients is not None else ""),
              "rate_sets": rate_sets(plan.cfg), "rate_limits": rate_rules(plan.cfg),
              "client_services": _services(plan),
              "forward6": (FORWARD6.substitute(ap=ap) + (CLIENT_TO_CLIENT6.substitute(ap=ap)
                                                          if not plan.cfg.isolate_clients else "")
                           if plan.cfg.ipv6 != "off" else ""),
              "nat66": (f"\t\toifname @uplinks ip6 saddr {ula_prefix(ap)} masquerade  # IPV6=nat66\n"
                        if plan.cfg.ipv6 == "nat66" else ""),
              "max_conns": plan.cfg.max_client_connections,
              "private_uplink": (f'\t\tiifname "{ap}" oifname @uplinks ip daddr {PRIVATE} drop\n'
                                 if plan.cfg.block_private_uplink else "")}
    return _template().substitute(values)
