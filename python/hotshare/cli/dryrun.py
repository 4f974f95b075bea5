"""``hotshare up --dry-run``: print the whole plan, change nothing.

What is printed is ``Plan.to_dict()``, the same data the service journals
when it starts (``--json`` prints it as it is; the default is for people).
"""

from __future__ import annotations

import json
from typing import Any

from ..plan.plan import Plan


def print_plan(plan: Plan, as_json: bool = False) -> None:
    d = plan.to_dict()
    if as_json:
        print(json.dumps(d, indent=1))
        return
    for line in describe(d):
        print(line)


def describe(d: dict[str, Any]) -> list[str]:
    out = [f"# interface {d['iface']} ({'Wi-Fi AP' if d['wireless'] else 'wired'}), SHARE_METHOD={d['mode']}"]
    if d["bridge"]:
        br = d["bridge"]
        out.append(f"# bridge {br['name']} joins {d['iface']} and {br['uplink']}, which gives it its addresses "
                   f"({', '.join(br['moved_addresses']) or 'none'}) and {len(br['moved_routes'])} route(s); "
                   "clients get DHCP from the uplink's network")
    else:
        dhcp = f", DHCP {d['dhcp_range'][0]}-{d['dhcp_range'][1]}" if d["dhcp_range"] else ", no DHCP server"
        out.append(f"# subnet {d['subnet']}, gateway {d['gateway']}{dhcp}")
    if d["mode"] == "nat":
        out.append(f"# uplinks: {', '.join(d['uplinks']) or 'any with a default route (none now)'}; "
                   f"now via {d['best_uplink'] or 'none'}")
    out += [f"# link: {_op(op)}" for op in d["link_ops"]]
    out += [f"# sysctl {name.replace('/', '.')}={value}" for name, value in d["sysctls"].items()]
    out += [f"# run: {' '.join(c['argv'])}" for c in d["children"]]
    out += [f"# other firewall: {a['kind']} {a['table'] or a['zone']} {a['chain']}: {a['why']}" for a in d["firewall"]]
    out += [f"# note: {n}" for n in d["firewall_notes"]]
    for f in d["files"]:
        out += ["", f"# {f['path']} (mode {f['mode'][2:]})", f["text"].rstrip("\n")]
    if d["ruleset"]:
        out += ["", "# nft -f -", d["ruleset"].rstrip("\n")]
    return out


def _op(op: dict[str, Any]) -> str:
    args = [str(v) for k, v in op.items() if k not in ("op", "missing_ok")]
    return " ".join([op["op"], *args])
