"""What an nftables table *does* to a packet, for tests.

``load_json`` loads a ruleset text into a real nftables, in a throwaway
network namespace, and returns the kernel's own ``nft -j`` listing of one
table: what nft made of our text, not the text itself. ``verdict`` then
walks a model packet through that table's base chain for one hook with the
evaluator hotshare itself uses on foreign rulesets (coexist.evaluate.Walker).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from typing import Any

from hotshare.coexist import evaluate


def nft_available() -> str | None:
    """None when rulesets can be loaded here; else why not (a skip reason)."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    if shutil.which("nft") is None or shutil.which("ip") is None:
        return "needs nft and ip"
    return None


def load_json(ruleset: str, family: str, table: str) -> dict[str, Any]:
    """Load ``ruleset`` with ``nft -f -`` in a fresh namespace; ``nft -j list table``."""
    ns = f"hs-rstest-{os.getpid()}"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)  # an aborted run's
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
    try:
        def nft(*args: str, input: str | None = None) -> str:
            proc = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=input,
                                  capture_output=True, text=True, timeout=30, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"nft {' '.join(args)}: {proc.stderr.strip()}")
            return proc.stdout

        nft("-f", "-", input=ruleset)
        return dict(json.loads(nft("-j", "list", "table", family, table)))
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _net(addr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(addr if "/" in addr else f"{addr}/32")


def verdict(ruleset_json: dict[str, Any], hook: str, iif: str, oif: str | None, saddr: str, daddr: str,
            proto: str = "tcp", dport: int | None = None, ct: str = "new", sport: int | None = None,
            pkttype: str = "unicast") -> str:
    """"accept" or "drop": what the table's filter chain(s) on ``hook`` do to the packet.

    ``ct`` is its conntrack state ("new", "established"...); ``oif`` is None
    at the input hook. A rule the walker cannot decide counts as a drop when
    it drops and is passed over when it accepts, so "accept" is certain."""
    walker = evaluate.Walker.of(ruleset_json, skip_tag="\x00no-rule-has-this-comment")
    walker.within_limits = True  # a client under the per-client connection limit
    chains = sorted((c for c in walker.chains.values() if c.get("hook") == hook and c.get("type") == "filter"),
                    key=lambda c: int(c.get("prio", 0)))
    assert chains, f"the table has no filter chain on the {hook} hook"
    if proto != "icmp" and sport is None:
        sport = 40000
    p = evaluate.Packet(hook, "test", iif, oif, _net(saddr), _net(daddr), proto, sport, dport, ct, pkttype)
    for c in chains:
        out, _why = walker.base_verdict((c["family"], c["table"], c["name"]), p)
        if out != "accept":
            return out
    return "accept"
