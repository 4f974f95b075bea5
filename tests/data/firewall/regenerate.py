#!/usr/bin/env python3
"""Record the rule dumps tests/unit/test_firewall.py reads: each case's
sources (``*.iptables`` through iptables-nft-restore, ``*.nft`` through
``nft -f``) are loaded for real into a scratch network namespace and
``nft -j list ruleset`` is written to ``<case>.json``. Run as root:

    .venv/bin/python tests/data/firewall/regenerate.py
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from hotshare.config import from_mapping  # noqa: E402
from hotshare.plan.facts import Facts  # noqa: E402
from hotshare.plan.make import make_plan  # noqa: E402
from hotshare.plan.model import IFF_LOWER_UP, IFF_UP, Link, Route, Snapshot  # noqa: E402
from hotshare.plan.ruleset import nft_ruleset  # noqa: E402

NS = "fw-regen"
OWN = "<hotshare_wlan0>"        # our own table, as render.nft_ruleset writes it
CASES = {
    "docker": ["docker.iptables"],
    "nm_filter": ["nm-shared.nft", "filter-drop.nft"],
    "harmless": ["harmless.nft", "harmless.iptables", "nm-shared.nft", OWN],
    "firewalld": ["firewalld.nft"],
    "ufw": ["ufw.iptables"],
    "workstation": ["workstation.nft"],
}


def own_table() -> str:
    up = IFF_UP | IFF_LOWER_UP
    snap = Snapshot((Link(1, "lo", up, 0), Link(2, "wlan0", up, 6), Link(3, "ppp0", up, 0)), (),
                    (Route(ipaddress.IPv4Network("0.0.0.0/0"), 3, "ppp0", None, 0, 254),))
    cfg = from_mapping({"WIFI_IFACE": "wlan0", "SSID": "s", "PASSPHRASE": "12345678"})
    return nft_ruleset(make_plan(cfg, Facts(snapshot=snap, wireless=True)))


def sh(*argv: str, input: str | None = None) -> str:
    return subprocess.run(["ip", "netns", "exec", NS, *argv], input=input, text=True,
                          capture_output=True, check=True).stdout


def main() -> None:
    for case, sources in CASES.items():
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "add", NS], check=True)
        try:
            for src in sources:
                if src == OWN:
                    sh("nft", "-f", "-", input=own_table())
                    continue
                with open(os.path.join(HERE, src), encoding="utf-8") as f:
                    text = f.read()
                if src.endswith(".iptables"):
                    sh("iptables-nft-restore", "--noflush", input=text)
                else:
                    sh("nft", "-f", "-", input=text)
            data = json.loads(sh("nft", "-j", "list", "ruleset"))
        finally:
            subprocess.run(["ip", "netns", "del", NS], check=False)
        with open(os.path.join(HERE, f"{case}.json"), "w", encoding="utf-8") as f:
            f.write("{\"nftables\": [\n" + ",\n".join(json.dumps(i) for i in data["nftables"]) + "\n]}\n")
        print(f"{case}.json: {len(data['nftables'])} items")


if __name__ == "__main__":
    main()
