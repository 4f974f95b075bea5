"""The undo journal: every change hotshare makes, recorded before it is made.

The journal is a small JSON file in the run directory, rewritten atomically
after each step; ``service.undo`` reverses whatever it lists. Reading it
(``status``, ``clients``) needs nothing of the apply layer.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import stat
from dataclasses import asdict, dataclass, field

from ..coexist.analysis import NAME_RE
from ..config.values import IFNAME_RE, MAC_RE, PLAIN_PATH_RE
from ..plan.network import ACCT_SYSCTL, bridge_name, table_name
from ..system import files

log = logging.getLogger("hotshare")


@dataclass
class Journal:
    iface: str
    pid: int = 0
    table: str = ""
    addresses: list[str] = field(default_factory=list)      # CIDRs added to iface
    sysctls: dict[str, str] = field(default_factory=dict)   # name -> value before
    children: dict[str, int] = field(default_factory=dict)  # name -> pid
    started: dict[str, int] = field(default_factory=dict)   # name -> start time (host.start_time)
    released: list[str] = field(default_factory=list)       # managers told to let go
    firewall: list[dict[str, object]] = field(default_factory=list)  # rules put in other firewalls
    bridge: str = ""                                         # bridge mode: our bridge
    uplink: str = ""                                         # the uplink joined to it
    moved_addresses: list[str] = field(default_factory=list)  # the uplink's, moved to the bridge
    moved_routes: list[dict[str, object]] = field(default_factory=list)
    steer_routes: list[dict[str, object]] = field(default_factory=list)  # off a dead uplink (service.steer)
    addresses6: list[str] = field(default_factory=list)     # IPv6 CIDRs added to iface (a relayed prefix)
    proxies: list[list[str]] = field(default_factory=list)  # [uplink, IPv6 address]: NDP proxy entries
    link_was_down: bool = False
    orig_mac: str = ""
    virt: str = ""                                           # the virtual AP interface we made (iface itself)
    pidfile: str = ""                                        # --pidfile: holds "<pid>\n" while we run
    extra: dict[str, str] = field(default_factory=dict)      # public facts for status
    plan: dict[str, object] = field(default_factory=dict)   # the whole plan (secrets masked), as --dry-run prints it
    health: dict[str, dict[str, object]] = field(default_factory=dict)  # per uplink, for status (HEALTH_CHECK)
    path: str = field(default="", repr=False)

    def save(self) -> None:
        data = asdict(self)
        data.pop("path")
        files.atomic_write(self.path, json.dumps(data, indent=1) + "\n", 0o600)

    @classmethod
    def load(cls, path: str) -> Journal | None:
        """The journal at ``path``, or None when there is none or it cannot be
        trusted: only a regular root-owned 0600 file (no link) whose every
        entry is one hotshare itself would have written is undone."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as e:
            log.warning("ignoring journal %s: %s", path, e.strerror)
            return None
        try:
            st = os.fstat(fd)
            with os.fdopen(fd) as f:
                fd = -1
                data = json.load(f) if stat.S_ISREG(st.st_mode) else None
            if data is None or st.st_uid != 0 or stat.S_IMODE(st.st_mode) != 0o600:
                raise ValueError("not a root-only regular file")
            j = cls(path=path, **{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"})
            check(j, os.path.basename(path).removesuffix(".state"))
            return j
        except (OSError, ValueError, TypeError, AttributeError) as e:
            # An atomic writer never leaves half a file, but a hand-edited or
            # foreign one is neither undone nor allowed to stop the hotspot.
            log.warning("ignoring journal %s: %s", path, e)
            return None
        finally:
            if fd >= 0:
                os.close(fd)


CHILDREN = ("hostapd", "dnsmasq", "dhcpcd")
_SYSCTL = re.compile(r"^net/ipv4/conf/([A-Za-z0-9_][A-Za-z0-9_.-]{0,14})/forwarding$"
                     r"|^net/ipv6/conf/([A-Za-z0-9_][A-Za-z0-9_.-]{0,14})/(forwarding|accept_ra|proxy_ndp)$"
                     r"|^net/ipv6/neigh/([A-Za-z0-9_][A-Za-z0-9_.-]{0,14})/proxy_delay$")


def check(j: Journal, iface: str) -> None:
    """ValueError unless every entry is one hotshare would have written for
    ``iface``: undo turns these into sysctl paths, nft and netlink requests
    and signals, so nothing in them is taken on trust."""
    def need(ok: object, what: str) -> None:
        if not ok:
            raise ValueError(what)

    need(j.iface == iface and IFNAME_RE.match(iface), "it names another interface")
    need(isinstance(j.pid, int) and j.pid >= 0, "bad pid")
    need(j.table in ("", table_name(iface)), "a table that is not hotshare's")
    need(j.bridge in ("", bridge_name(iface)), "a bridge that is not hotshare's")
    need(j.uplink == "" or IFNAME_RE.match(j.uplink), "a bad uplink name")
    for cidr in [*j.addresses, *j.moved_addresses]:
        ipaddress.IPv4Interface(cidr)
    for cidr in j.addresses6:
        ipaddress.IPv6Interface(cidr)
    for entry in j.proxies:
        need(isinstance(entry, list) and len(entry) == 2 and IFNAME_RE.match(str(entry[0])), "a bad proxy entry")
        ipaddress.IPv6Address(str(entry[1]))
    for r in j.moved_routes:
        ipaddress.IPv4Network(str(r["dst"]))
        need(isinstance(r.get("metric", 0), int), "a bad route metric")
        if r.get("gateway") not in (None, "None"):
            ipaddress.IPv4Address(str(r["gateway"]))
    for r in j.steer_routes:
        need(str(r.get("dst")) in ("0.0.0.0/1", "128.0.0.0/1") and IFNAME_RE.match(str(r.get("ifname"))),
             "a route hotshare does not add")
        need(isinstance(r.get("metric", 0), int), "a bad route metric")
        if r.get("gateway") not in (None, "None"):
            ipaddress.IPv4Address(str(r["gateway"]))
    for name, value in j.sysctls.items():
        m = _SYSCTL.match(name)
        digits = str(value).isascii() and str(value).isdigit()
        need((m or name == ACCT_SYSCTL) and digits, f"a sysctl hotshare does not change: {name!r}")
    need(all(n in CHILDREN and isinstance(p, int) and p > 0 for n, p in j.children.items()),
         "children that are not hotshare's")
    need(all(n in CHILDREN and isinstance(t, int) for n, t in j.started.items()), "children that are not hotshare's")
    need(set(j.released) <= {"dhcpcd", "NetworkManager"}, "an unknown network manager")
    need(j.orig_mac == "" or MAC_RE.match(j.orig_mac), "a bad MAC address")
    need(j.virt in ("", iface), "a virtual interface that is not the hotspot's")
    need(j.pidfile == "" or PLAIN_PATH_RE.match(j.pidfile), "a bad pid file path")
    for rec in j.firewall:
        need(rec.get("kind") in ("iptables", "nft", "firewalld") and rec.get("ap") == iface,
             "a foreign firewall record")
        names = [str(rec.get(k, "")) for k in ("family", "table", "chain", "zone")]
        need(all(n == "" or NAME_RE.match(n) for n in names), "a bad firewall name")
        rules = rec.get("rules") or []
        need(isinstance(rules, list) and all("\n" not in str(r) for r in rules), "a rule with a line break")
