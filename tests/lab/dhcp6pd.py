"""A carrier's DHCPv6 prefix delegation, for the lab's internet side: Debian's
kea-dhcp6-server (dnsmasq cannot delegate prefixes) delegating a /56 from a
pool to the board, on one link, leases in memory only.

Kea installs no route for what it delegates (a carrier's router does):
:func:`route_pool` points the pool at the board.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from lab.netns import Netns
from lab.proc import Daemon, wait_until

KEA = "/usr/sbin/kea-dhcp6"


def kea_config(iface: str, subnet: str, pool: str, delegated_len: int = 56, renew: int = 3600) -> dict[str, object]:
    """``pool``: the prefix delegated from (e.g. 2001:db8:5600::/48); ``renew``: T1 in
    seconds (rebind 1.5x, preferred 3x, valid 4x)."""
    net = ipaddress.IPv6Network(pool)
    return {"Dhcp6": {
        "interfaces-config": {"interfaces": [iface]},
        "lease-database": {"type": "memfile", "persist": False},
        # not in /var/lib/kea (the machine's own server's): a fixed identifier, not written
        "server-id": {"type": "EN", "enterprise-id": 32473, "identifier": "686f747368617265", "persist": False},
        "renew-timer": renew, "rebind-timer": renew * 3 // 2,
        "preferred-lifetime": renew * 3, "valid-lifetime": renew * 4,
        "subnet6": [{"subnet": subnet, "interface": iface,
                     "pd-pools": [{"prefix": str(net.network_address), "prefix-len": net.prefixlen,
                                   "delegated-len": delegated_len}]}],
        "loggers": [{"name": "kea-dhcp6", "output_options": [{"output": "stdout"}], "severity": "INFO"}],
    }}


def start_kea(ns: Netns, workdir: Path, name: str, config: dict[str, object]) -> Daemon:
    """kea-dhcp6 in ``ns``, its pid and lock files in ``workdir``; returns once it serves."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"{name}.json"
    conf.write_text(json.dumps(config, indent=1))
    log = workdir / f"{name}.log"
    start = log.stat().st_size if log.exists() else 0
    env = {"KEA_PIDFILE_DIR": str(workdir), "KEA_LOCKFILE_DIR": str(workdir), "PATH": "/usr/sbin:/usr/bin:/bin"}
    d = Daemon(name, [KEA, "-c", str(conf)], netns=ns.name, log=log, env=env)
    wait_until(lambda: "DHCP6_STARTED" in log.read_text()[start:], 20, interval=0.1, what="kea-dhcp6 to start")
    return d


def route_pool(ns: Netns, pool: str, board_link_local: str, iface: str) -> None:
    """The delegated prefixes reach the board (as the carrier's router routes them)."""
    ns.ip("-6", "route", "replace", pool, "via", board_link_local, "dev", iface)
