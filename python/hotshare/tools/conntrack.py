"""``python -m hotshare.tools.conntrack``: the conntrack table through ctnetlink,
from a shell (dump, list, count, flush). Used by the tests; handy on the board."""

from __future__ import annotations

import argparse
import json
import socket
import sys

from ..netlink import ctacct as accounting
from ..netlink.ctnetlink import CtEntry, dump_raw, flush_nat_via, flush_subnet, get_acct, iter_entries, set_acct


def _entry_json(e: CtEntry) -> dict[str, object]:
    d = e._asdict()
    d["orig_tuple"] = e.orig_tuple.hex()
    return d


def _record_events(path: str, seconds: float, ready: str | None) -> None:
    import selectors
    import time

    from ..netlink.ctevents import DestroyEvents

    with DestroyEvents() as events, open(path, "wb") as out, selectors.DefaultSelector() as sel:
        sel.register(events, selectors.EVENT_READ)
        if ready:
            open(ready, "w").close()
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if sel.select(left):
                for batch in events.batches():
                    out.write(batch)


def main(argv: list[str] | None = None) -> int:
    families = {"4": socket.AF_INET, "6": socket.AF_INET6, "all": socket.AF_UNSPEC}
    p = argparse.ArgumentParser(
        prog="python -m hotshare.tools.conntrack", description="The conntrack table through ctnetlink."
    )
    p.add_argument("--family", choices=sorted(families), default="4")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="write the raw netlink dump")
    d.add_argument("-o", "--output", default="-", help="file, or - for stdout")
    ls = sub.add_parser("list", help="print the entries as JSON lines")
    ls.add_argument("-i", "--input", help="a raw dump file instead of the kernel")
    c = sub.add_parser("count", help="per-client counters as JSON")
    c.add_argument("subnet")
    c.add_argument("-i", "--input", help="a raw dump file instead of the kernel")
    c.add_argument("--backend", choices=["c", "python"])
    c.add_argument("--exclude", action="append", default=[], help="the router's address (repeatable)")
    f = sub.add_parser("flush-nat-via", help="delete entries NATed behind an address")
    f.add_argument("subnet")
    f.add_argument("nat_address")
    fs = sub.add_parser("flush-subnet", help="delete every entry touching a subnet")
    fs.add_argument("subnet")
    ev = sub.add_parser("events", help="record conntrack destroy events (raw netlink) for a while")
    ev.add_argument("-o", "--output", required=True, help="file to write them to")
    ev.add_argument("--seconds", type=float, default=5.0)
    ev.add_argument("--ready", help="a file to create once subscribed")
    a = sub.add_parser("acct", help="show or set nf_conntrack_acct")
    a.add_argument("value", nargs="?", choices=["0", "1"])
    args = p.parse_args(argv)
    family = families[args.family]

    def load(path: str | None) -> bytes:
        if path:
            with open(path, "rb") as fh:
                return fh.read()
        return dump_raw(family)

    if args.cmd == "dump":
        data = dump_raw(family)
        if args.output == "-":
            sys.stdout.buffer.write(data)
        else:
            with open(args.output, "wb") as fh:
                fh.write(data)
    elif args.cmd == "list":
        for e in iter_entries(load(args.input)):
            print(json.dumps(_entry_json(e)))
    elif args.cmd == "count":

        counts = accounting.count_by_client(load(args.input), args.subnet, exclude=args.exclude, backend=args.backend)
        print(json.dumps({k: v._asdict() for k, v in counts.items()}, indent=1))
    elif args.cmd == "flush-nat-via":
        print(flush_nat_via(args.subnet, args.nat_address))
    elif args.cmd == "flush-subnet":
        print(flush_subnet(args.subnet))
    elif args.cmd == "events":
        _record_events(args.output, args.seconds, args.ready)
    elif args.cmd == "acct":
        if args.value is None:
            print(get_acct())
        else:
            previous = get_acct()
            set_acct(int(args.value))
            print(previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
