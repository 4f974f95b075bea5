#!/usr/bin/env python3
"""Record the real conntrack dump the unit tests replay.

Builds the namespace lab of tests/lab/ctlab.py (a router
masquerading two stations out of two uplinks, a port forward into a station,
IPv6 on the LAN), runs its standard traffic with nf_conntrack_acct=1, then
writes, from inside the router namespace:

* conntrack-dump.bin   hotshare.netlink.ctnetlink.dump_raw(AF_UNSPEC): the kernel's
                       netlink messages verbatim (IPv4 and IPv6 entries,
                       NLMSG_DONE at the end);
* conntrack-dump.txt   ``conntrack -L -o extended,id`` taken right after;
* conntrack-dump.json  the subnet, the router's address, the kernel release
                       and what the traffic generator sent.

Run as root from the repository root:  .venv/bin/python tests/data/record_conntrack_dump.py
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1] / "python"))

from hotshare.netlink import ctnetlink as conntrack  # noqa: E402
from lab.ctlab import LAN, R_LAN, CtLab, parse_conntrack_text  # noqa: E402


def main() -> int:
    for _attempt in range(5):
        with CtLab(track_igmp=True) as lab:
            flows = lab.standard_traffic()
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "dump.bin")
                lab.hotshare("--family", "all", "dump", "-o", out)
                text = lab.conntrack_text()
                raw = Path(out).read_bytes()
        ids_dump = sorted(e.id for e in conntrack.iter_entries(raw) if e.id is not None)
        ids_text = sorted(r["id"] for r in parse_conntrack_text(text))
        if ids_dump == ids_text:  # the router's IGMP report may land in between
            break
    else:
        print("the dump and conntrack -L kept disagreeing", file=sys.stderr)
        return 1
    (HERE / "conntrack-dump.bin").write_bytes(raw)
    (HERE / "conntrack-dump.txt").write_text(text)
    meta = {
        "subnet": LAN,
        "router": R_LAN,
        "kernel": platform.release(),
        "entries": len(ids_dump),
        "flows": flows,
    }
    (HERE / "conntrack-dump.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{len(raw)} bytes, {len(ids_dump)} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
