"""``hotshare up --dry-run``: print the plan, change nothing."""

from __future__ import annotations

from ..plan import dnsmasq, hostapd, ruleset
from ..plan.plan import Plan


def print_plan(plan: Plan) -> None:
    print(f"# interface {plan.cfg.wifi_iface} ({'Wi-Fi AP' if plan.wireless else 'wired'})")
    print(f"# subnet {plan.subnet}, gateway {plan.gateway.ip}, DHCP {plan.dhcp_range[0]}-{plan.dhcp_range[1]}")
    print(f"# uplinks: {', '.join(plan.uplinks) or 'none'}; now via {plan.best_uplink or 'none'}")
    for name, value in plan.sysctls.items():
        print(f"# sysctl {name.replace('/', '.')}={value}")
    if plan.wireless:
        print(f"\n# {plan.paths.hostapd_conf}\n{hostapd.hostapd_conf(plan, mask_secret=True)}")
    if not plan.cfg.no_dnsmasq:
        print(f"# {plan.paths.dnsmasq_conf}\n{dnsmasq.dnsmasq_conf(plan)}")
    if plan.cfg.share_method == "nat":
        print(f"# nft -f -\n{ruleset.nft_ruleset(plan)}")
