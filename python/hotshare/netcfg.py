"""Interface changes through pyroute2, in a short-lived child process.

Importing pyroute2 costs about 32 MB of RSS (its package imports every
module it has). The resident service forks, lets the child import pyroute2,
make the changes over netlink and exit, so that memory is returned at once.
Each operation is plain data, so the service can journal it before it runs.
"""

from __future__ import annotations

import json
import os
from typing import Any

Op = dict[str, Any]


class NetcfgError(RuntimeError):
    pass


def _run_ops(ops: list[Op]) -> list[Any]:
    from pyroute2 import IPRoute  # only ever imported in the child
    from pyroute2.netlink.exceptions import NetlinkError

    results: list[Any] = []
    with IPRoute() as ipr:
        for op in ops:
            kind, ifname = op["op"], op["ifname"]
            if kind == "bridge_add":
                if not ipr.link_lookup(ifname=ifname):
                    ipr.link("add", ifname=ifname, kind="bridge")
                results.append(True)
                continue
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                if op.get("missing_ok"):
                    results.append(None)
                    continue
                raise NetcfgError(f"{ifname}: no such interface")
            index = found[0]
            try:
                if kind == "addr_add":
                    addr, plen = op["address"].split("/")
                    ipr.addr("add", index=index, address=addr, prefixlen=int(plen))
                elif kind == "addr_del":
                    addr, plen = op["address"].split("/")
                    ipr.addr("del", index=index, address=addr, prefixlen=int(plen))
                elif kind == "route_del":
                    # scope and metric must match: the kernel does not
                    # treat pyroute2's defaults as wildcards here
                    ipr.route("del", dst=op["dst"], oif=index, scope=op.get("scope", 0),
                              priority=op.get("metric", 0))
                elif kind == "route_add":
                    kw = {"dst": op["dst"], "oif": index, "priority": op.get("metric", 0)}
                    if op.get("gateway"):
                        kw["gateway"] = op["gateway"]
                    ipr.route("add", **kw)
                elif kind == "set_master":
                    master = ipr.link_lookup(ifname=op["master"])
                    if not master:
                        raise NetcfgError(f"{op['master']}: no such interface")
                    ipr.link("set", index=index, master=master[0])
                elif kind == "link_del":
                    ipr.link("del", index=index)
                elif kind == "link_up":
                    ipr.link("set", index=index, state="up")
                elif kind == "link_down":
                    ipr.link("set", index=index, state="down")
                elif kind == "set_mac":
                    ipr.link("set", index=index, address=op["mac"])
                elif kind == "get_mac":
                    link = ipr.get_links(index)[0]
                    results.append(link.get_attr("IFLA_ADDRESS"))
                    continue
                else:
                    raise NetcfgError(f"unknown operation {kind}")
            except NetlinkError as e:
                # EEXIST on add and ESRCH/EADDRNOTAVAIL/ENODEV on delete mean the
                # system is already as asked: undo must be idempotent.
                if not (op.get("missing_ok") and e.code in (3, 17, 19, 99)):
                    raise NetcfgError(f"{kind} on {ifname}: {os.strerror(e.code)}") from None
            results.append(True)
    return results


def run(ops: list[Op]) -> list[Any]:
    """Apply ``ops`` in a forked child; raise NetcfgError with its message."""
    if not ops:
        return []
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        code = 0
        reply: dict[str, Any]
        try:
            reply = {"ok": _run_ops(ops)}
        except Exception as e:  # report any failure to the parent, in one line
            reply = {"error": str(e) or e.__class__.__name__}
            code = 1
        with os.fdopen(wfd, "w") as w:
            w.write(json.dumps(reply))
        os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd) as r:
        data = r.read()
    os.waitpid(pid, 0)
    try:
        reply = json.loads(data)
    except ValueError:
        raise NetcfgError("interface configuration helper died") from None
    if "error" in reply:
        raise NetcfgError(reply["error"])
    return list(reply["ok"])
