"""IPv6 as a user sees it on a namespace: addresses, NDP proxy entries,
routes, sysctls (to compare before a hotspot and after its ``down``), and
the usable global addresses of an interface."""

from __future__ import annotations

from collections.abc import Sequence

from lab.netns import Netns
from lab.proc import wait_until


def ipv6_state(ns: Netns, sysctls: Sequence[str]) -> dict[str, list[str]]:
    """Addresses, proxy (NDP) entries, routes (without their ticking
    lifetimes) and those of ``sysctls`` that exist."""
    addrs = sorted(f"{a['local']}/{a['prefixlen']} {link['ifname']}"
                   for link in ns.ip_json("-6", "addr", "show") for a in link.get("addr_info", []) if "local" in a)
    proxies = sorted(ln.strip() for ln in ns.ip("-6", "neigh", "show", "proxy").splitlines())
    routes = sorted(" ".join(w for i, w in enumerate(ws) if not (w == "expires" or (i and ws[i - 1] == "expires")))
                    for ws in (ln.split() for ln in ns.ip("-6", "route", "show", "table", "all").splitlines()))
    names = [n for n in sysctls if ns.run(["sysctl", "-n", n], check=False).returncode == 0]
    values = ns.run(["sysctl", "-n", *names]).stdout.split() if names else []
    return {"addresses": addrs, "proxies": proxies, "routes": routes,
            "sysctls": [f"{n}={v}" for n, v in zip(names, values)]}


def global6(ns: Netns, ifname: str) -> list[str]:
    """The usable (not tentative, not deprecated) global IPv6 addresses of ``ifname``."""
    return [a["local"] for link in ns.ip_json("-6", "addr", "show", "dev", ifname)
            for a in link.get("addr_info", []) if a.get("scope") == "global" and "local" in a
            and not a.get("tentative") and not a.get("deprecated")]


def wait_global6(ns: Netns, ifname: str, timeout: float = 15.0) -> str:
    return wait_until(lambda: global6(ns, ifname), timeout, interval=0.2,
                      what=f"a global IPv6 address on {ifname}")[0]
