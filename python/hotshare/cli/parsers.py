"""The two command lines: create_ap's (options and positionals) and the subcommands."""

from __future__ import annotations

import argparse

from .. import __version__
from ..config.cmdline import ArgParser, add_up_options

SUBCOMMANDS = ("up", "down", "status", "clients", "usage", "events", "quota", "list", "doctor", "qr")


def legacy_parser() -> argparse.ArgumentParser:
    p = ArgParser(prog="hotshare", add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
                usage="hotshare [options] <wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]\n"
                      "       hotshare {up,down,status,clients,list,doctor,qr} ... (see hotshare up --help)",
                description="Share an uplink (4G modem, Ethernet, USB) over a Wi-Fi access point.\n"
                            "A drop-in for create_ap: same options, same config file, same positionals.",
                epilog="examples:\n"
                       "  hotshare wlan0 ppp0 MyHotspot 'a long passphrase'\n"
                       "  hotshare --daemon --config /etc/hotshare/hotshare.conf\n"
                       "  hotshare clients wlan0 --json\n"
                       "  hotshare --stop wlan0\n\n"
                       "exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 3 not running")
    p.add_argument("-h", "--help", action="help", help="show this help and exit")
    p.add_argument("--version", action="version", version=f"hotshare {__version__}")
    add_up_options(p)
    p.add_argument("--stop", metavar="IFACE|PID", help="stop the hotspot on IFACE (or with that pid)")
    p.add_argument("--list-running", "--list", action="store_true", help="list running hotspots")
    p.add_argument("--list-clients", metavar="IFACE", help="list the stations of the hotspot on IFACE")
    p.add_argument("--mkconfig", metavar="FILE", help="write the given options as a config file and exit")
    p.add_argument("--json", action="store_true", help="machine-readable output for --list-* ")
    return p


def sub_parser() -> argparse.ArgumentParser:
    p = ArgParser(prog="hotshare", description="Share an uplink over a Wi-Fi access point.")
    p.add_argument("--version", action="version", version=f"hotshare {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=ArgParser)
    up = sub.add_parser("up", help="start a hotspot (foreground unless --daemon)")
    add_up_options(up)
    up.add_argument("--mkconfig", metavar="FILE", help="write the given options as a config file and exit")
    up.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON, as the journal records it")
    for name, text in (("down", "stop a hotspot and undo everything it changed"),
                       ("status", "is it running, on which subnet and uplink"),
                       ("clients", "the stations: MAC, IP, hostname, signal, time connected"),
                       ("usage", "per-client traffic totals: session, today, billing month"),
                       ("events", "follow the hotspot's events (clients, leases, uplink, quotas) as they happen")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("iface", nargs="?", help="the hotspot interface (default: the only one running)")
        sp.add_argument("--config", metavar="FILE", help="take the interface from this config file")
        if name != "down":
            sp.add_argument("--json", action="store_true", help="machine-readable output")
    q = sub.add_parser("quota", help="quota reset [IFACE] [--mac MAC] [--period day|month]: lift a quota now")
    q.add_argument("action", choices=["reset"])
    q.add_argument("iface", nargs="?", help="the hotspot interface (default: the only one running)")
    q.add_argument("--config", metavar="FILE", help="take the interface from this config file")
    q.add_argument("--mac", help="one client (default: every client and the whole hotspot)")
    q.add_argument("--period", choices=["day", "month"], default="day")
    ls = sub.add_parser("list", help="list running hotspots")
    ls.add_argument("--json", action="store_true")
    qr = sub.add_parser("qr", help="the join QR code (WIFI:...): in the terminal, or --png/--svg for a label")
    qr.add_argument("iface", nargs="?", help="the running hotspot (root: it reads its passphrase)")
    qr.add_argument("--config", metavar="FILE", help="the network of this config file instead")
    qr.add_argument("--png", metavar="FILE", help="write a PNG (mode 0600: it holds the passphrase)")
    qr.add_argument("--svg", metavar="FILE", help="write an SVG (mode 0600)")
    doc = sub.add_parser("doctor", help="check the system and a hotspot for known problems")
    doc.add_argument("iface", nargs="?")
    doc.add_argument("--config", metavar="FILE")
    doc.add_argument("--json", action="store_true")
    return p
