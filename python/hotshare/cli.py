"""Command line: create_ap's options and arguments, plus clear subcommands.

    hotshare [options] <wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]
    hotshare up|down|status|clients|list|doctor ...

Exit codes: 0 success; 1 the operation failed; 2 bad usage or configuration
(nothing was changed); 3 not running (status, down, clients).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .config import ConfigError, HotspotConfig, from_mapping, read_conf_file, require_ap_settings, to_conf_text
from .plan import Paths, Plan

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
SUBCOMMANDS = ("up", "down", "status", "clients", "list", "doctor")
log = logging.getLogger("hotshare")


def rundir() -> str:
    return os.environ.get("HOTSHARE_RUNDIR", "/run/hotshare")


def statedir() -> str:
    return os.environ.get("HOTSHARE_STATEDIR", "/var/lib/hotshare")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


# create_ap options hotshare does not implement: say so rather than ignore them.
UNSUPPORTED = {
    "--redirect-to-localhost": "hotshare's DNS already answers clients on the gateway",
    "--hostapd-debug": "use -v for hotshare's and hostapd's logs",
    "--virt-name": "hotshare never creates a virtual interface",
    "--fix-unmanaged": "hotshare keeps NetworkManager off the interface by itself",
    "--pidfile": f"the pid file is always {rundir()}/<iface>.pid",
    "--logfile": "hotshare logs to syslog (--daemon) or stderr",
    "-e": "additional hosts files are not supported yet",
}


def _up_options(p: argparse.ArgumentParser) -> None:
    """The options of `up` and of create_ap's command line, as KEY=VALUE."""
    a = p.add_argument
    a("-c", dest="CHANNEL", metavar="CHANNEL", help="channel number (default: 1 on 2.4 GHz, 36 on 5 GHz)")
    a("-w", "--wpa-version", dest="WPA_VERSION", metavar="2|3|2+3", help="WPA2, WPA3-SAE, or both (default 2)")
    a("-n", dest="no_internet", action="store_true", help="do not share an uplink (same as -m none)")
    a("-m", dest="SHARE_METHOD", metavar="nat|none", help="how to share the uplink (default nat)")
    a("--psk", dest="USE_PSK", action="store_const", const="1", help="the passphrase is a raw 64-hex-digit PSK")
    a("--hidden", dest="HIDDEN", action="store_const", const="1", help="do not broadcast the SSID")
    a("--mac-filter", dest="MAC_FILTER", action="store_const", const="1", help="accept only listed stations")
    a("--mac-filter-accept", dest="MAC_FILTER_ACCEPT", metavar="FILE", help="MACs to accept (one a line)")
    a("--mac-deny", dest="MAC_FILTER_DENY", metavar="FILE", help="MACs to refuse (one a line)")
    a("--isolate-clients", dest="ISOLATE_CLIENTS", action="store_const", const="1",
      help="stations cannot reach each other")
    a("--ieee80211n", dest="IEEE80211N", action="store_const", const="1", help="enable 802.11n")
    a("--ieee80211ac", dest="IEEE80211AC", action="store_const", const="1", help="enable 802.11ac (5 GHz)")
    a("--ht_capab", dest="HT_CAPAB", metavar="CAPS", help="802.11n capabilities (default [HT40+])")
    a("--vht_capab", dest="VHT_CAPAB", metavar="CAPS", help="802.11ac capabilities")
    a("--country", dest="COUNTRY", metavar="CC", help="regulatory country code, e.g. CN")
    a("--freq-band", dest="FREQ_BAND", metavar="2.4|5", help="frequency band (default 2.4)")
    a("--driver", dest="DRIVER", metavar="DRIVER", help="hostapd driver (nl80211)")
    a("--no-virt", dest="NO_VIRT", action="store_const", const="1", help="accepted for create_ap compatibility")
    a("--mac", dest="NEW_MACADDR", metavar="MAC", help="set the AP interface's MAC address")
    a("--dhcp-dns", dest="DHCP_DNS", metavar="IP[,IP]", help="DNS servers given to clients (default: gateway)")
    a("--dns-server", dest="upstream", action="append", metavar="IP",
      help="upstream DNS server (repeatable; default: /etc/dnsmasq.conf's servers, else resolv.conf)")
    a("-g", dest="GATEWAY", metavar="GATEWAY", help="gateway address (default: first free of 192.168.12.1, ...)")
    a("--no-dns", dest="NO_DNS", action="store_const", const="1", help="no DNS server on the hotspot")
    a("--no-dnsmasq", dest="NO_DNSMASQ", action="store_const", const="1", help="no DHCP or DNS at all")
    a("--no-haveged", dest="NO_HAVEGED", action="store_const", const="1", help="accepted for compatibility")
    a("--firewall", dest="FIREWALL", metavar="auto|insert|ignore",
      help="when another firewall drops hotspot traffic: fix Docker/iptables/firewalld and refuse "
           "otherwise (auto), also insert rules into other nftables tables (insert), or only warn (ignore)")
    a("--passphrase-file", dest="PASSPHRASE_FILE", metavar="FILE", help="read the passphrase from FILE")
    a("--config", metavar="FILE", help="read settings from a create_ap.conf-style file")
    a("--config-once", metavar="FILE", help=argparse.SUPPRESS)  # like --config, then deleted
    a("--daemon", action="store_true", help="run in the background; return once the hotspot is ready")
    a("--dry-run", action="store_true", help="print what would be done and change nothing")
    a("-v", "--verbose", action="store_true", help="debug logging")
    a("positionals", nargs="*", metavar="ARGS", help="<wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]")


def _legacy_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hotshare", add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
                usage="hotshare [options] <wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]\n"
                      "       hotshare {up,down,status,clients,list,doctor} ... (see hotshare up --help)",
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
    _up_options(p)
    p.add_argument("--stop", metavar="IFACE|PID", help="stop the hotspot on IFACE (or with that pid)")
    p.add_argument("--list-running", action="store_true", help="list running hotspots")
    p.add_argument("--list-clients", metavar="IFACE", help="list the stations of the hotspot on IFACE")
    p.add_argument("--mkconfig", metavar="FILE", help="write the given options as a config file and exit")
    p.add_argument("--json", action="store_true", help="machine-readable output for --list-* ")
    return p


def _sub_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hotshare", description="Share an uplink over a Wi-Fi access point.")
    p.add_argument("--version", action="version", version=f"hotshare {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    up = sub.add_parser("up", help="start a hotspot (foreground unless --daemon)")
    _up_options(up)
    up.add_argument("--mkconfig", metavar="FILE", help="write the given options as a config file and exit")
    for name, text in (("down", "stop a hotspot and undo everything it changed"),
                       ("status", "is it running, on which subnet and uplink"),
                       ("clients", "the stations: MAC, IP, hostname, signal, time connected")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("iface", nargs="?", help="the hotspot interface (default: the only one running)")
        sp.add_argument("--config", metavar="FILE", help="take the interface from this config file")
        if name != "down":
            sp.add_argument("--json", action="store_true", help="machine-readable output")
    ls = sub.add_parser("list", help="list running hotspots")
    ls.add_argument("--json", action="store_true")
    doc = sub.add_parser("doctor", help="check the system and a hotspot for known problems")
    doc.add_argument("iface", nargs="?")
    doc.add_argument("--config", metavar="FILE")
    doc.add_argument("--json", action="store_true")
    return p


# -- building the configuration --------------------------------------------------

def raw_settings(ns: argparse.Namespace) -> dict[str, str]:
    conf = ns.config or getattr(ns, "config_once", None)
    raw: dict[str, str] = read_conf_file(conf) if conf else {}
    for key, value in vars(ns).items():
        if key.isupper() and value is not None:
            raw[key] = value
    if ns.upstream:
        raw["UPSTREAM_DNS"] = ",".join(ns.upstream)
    if ns.no_internet:
        raw["SHARE_METHOD"] = "none"
    pos = list(ns.positionals)
    if len(pos) > 4:
        raise UsageError("too many arguments: expected <wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]")
    if pos:
        raw["WIFI_IFACE"] = pos.pop(0)
    sharing = raw.get("SHARE_METHOD", "nat") != "none"
    if pos and sharing:
        raw["INTERNET_IFACE"] = pos.pop(0)
    if pos:
        raw["SSID"] = pos.pop(0)
    if pos:
        raw["PASSPHRASE"] = pos.pop(0)
    if len(pos) > 0:
        raise UsageError("too many arguments")
    return raw


def setup_logging(verbose: bool, to_syslog: bool) -> None:
    root = logging.getLogger("hotshare")
    root.handlers.clear()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    handler: logging.Handler
    if to_syslog and os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler("/dev/log", facility=logging.handlers.SysLogHandler.LOG_DAEMON)
        handler.setFormatter(logging.Formatter(f"hotshare[{os.getpid()}]: %(message)s"))
    elif to_syslog:
        handler = logging.NullHandler()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("hotshare: %(message)s"))
    root.addHandler(handler)


def cmd_up(ns: argparse.Namespace) -> int:
    from . import service  # the service's imports are needed only here

    raw = raw_settings(ns)
    if getattr(ns, "mkconfig", None):
        from .fsutil import atomic_write
        atomic_write(ns.mkconfig, to_conf_text(raw), 0o600)  # it may hold the passphrase
        print(f"wrote {ns.mkconfig}")
        return EXIT_OK
    if ns.config_once:  # written by _hide_secret_argv below: read once, then gone
        os.unlink(ns.config_once)
    cfg = from_mapping(raw)
    daemon = ns.daemon or cfg.daemonize
    setup_logging(ns.verbose, to_syslog=False)
    if ns.dry_run:
        plan = service.plan_for(cfg, rundir(), statedir())
        if plan.wireless:
            require_ap_settings(cfg)
        print_plan(plan)
        return EXIT_OK
    if os.geteuid() != 0:
        raise UsageError("must run as root: it configures interfaces, nftables and daemons")
    if len(ns.positionals) == 4:
        _hide_secret_argv(raw, ns)  # does not return

    paths = Paths(rundir(), statedir(), cfg.wifi_iface)
    if daemon:
        return _daemonize(lambda notify: _serve(cfg, paths, notify))
    return _serve(cfg, paths, None)


def _hide_secret_argv(raw: dict[str, str], ns: argparse.Namespace) -> None:
    """create_ap takes the passphrase as an argument, where every user of
    `ps` can read it for as long as the hotspot runs. Hand the settings to
    a fresh process through a root-only file instead, and exec it."""
    from .fsutil import atomic_write, ensure_dir

    ensure_dir(rundir(), 0o755)
    path = os.path.join(rundir(), f".{raw['WIFI_IFACE']}.{os.getpid()}.conf")
    atomic_write(path, to_conf_text(raw), 0o600)
    argv = [sys.executable, "-m", "hotshare", "up", "--config-once", path]
    argv += ["--daemon"] * bool(ns.daemon) + ["-v"] * bool(ns.verbose)
    os.execv(sys.executable, argv)


def _serve(cfg: HotspotConfig, paths: Paths, notify: Callable[[], None] | None) -> int:
    from . import service

    lock = service.Lock(paths)
    try:
        service.clean_leftovers(paths)
        plan = service.plan_for(cfg, paths.rundir, paths.statedir)
        if plan.wireless:
            require_ap_settings(cfg)
        hs = service.Hotspot(cfg, plan)
        hs.start(on_ready=notify)
        try:
            hs.run()
        finally:
            hs.stop()
    finally:
        lock.release()
    return EXIT_OK


def _daemonize(body: Callable[[Callable[[], None]], int]) -> int:
    """Fork; the parent returns once the child reports ready or failed."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd) as r:
            msg = r.read()
        if msg.startswith("ready"):
            return EXIT_OK
        print(f"hotshare: {msg.strip() or 'the daemon died while starting'}", file=sys.stderr)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        return EXIT_USAGE if msg.startswith("config:") else EXIT_FAIL
    os.close(rfd)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    setup_logging(logging.getLogger("hotshare").level == logging.DEBUG, to_syslog=True)
    w = os.fdopen(wfd, "w")

    def notify() -> None:
        w.write("ready\n")
        w.close()

    code = EXIT_FAIL
    try:
        code = body(notify)
    except ConfigError as e:
        log.error("%s", e)
        if not w.closed:
            w.write(f"config: {e}\n")
    except Exception as e:  # the parent prints this one line
        log.error("%s", e)
        if not w.closed:
            w.write(f"{e}\n")
    finally:
        if not w.closed:
            w.close()
    os._exit(code)


def print_plan(plan: Plan) -> None:
    from . import render as r

    print(f"# interface {plan.cfg.wifi_iface} ({'Wi-Fi AP' if plan.wireless else 'wired'})")
    print(f"# subnet {plan.subnet}, gateway {plan.gateway.ip}, DHCP {plan.dhcp_range[0]}-{plan.dhcp_range[1]}")
    print(f"# uplinks: {', '.join(plan.uplinks) or 'none'}; now via {plan.best_uplink or 'none'}")
    for name, value in plan.sysctls.items():
        print(f"# sysctl {name.replace('/', '.')}={value}")
    if plan.wireless:
        print(f"\n# {plan.paths.hostapd_conf}\n{r.hostapd_conf(plan, mask_secret=True)}")
    if not plan.cfg.no_dnsmasq:
        print(f"# {plan.paths.dnsmasq_conf}\n{r.dnsmasq_conf(plan)}")
    if plan.cfg.share_method == "nat":
        print(f"# nft -f -\n{r.nft_ruleset(plan)}")


def one_line(message: str) -> str:
    """Errors may quote what the user typed: keep them on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def main(argv: Sequence[str] | None = None) -> int:
    from . import control

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        for opt in args:
            name = opt.split("=", 1)[0]
            if name in UNSUPPORTED:
                raise UsageError(f"{name} is not supported: {UNSUPPORTED[name]}")
        if args and args[0] in SUBCOMMANDS:
            ns = _sub_parser().parse_args(args)
            if ns.command == "up":
                return cmd_up(ns)
            return control.dispatch(ns)
        ns = _legacy_parser().parse_args(args)
        if ns.stop:
            return control.stop(ns.stop)
        if ns.list_running:
            return control.list_running(ns.json)
        if ns.list_clients:
            return control.clients(ns.list_clients, ns.json)
        if not ns.positionals and not ns.config and not ns.config_once and not ns.mkconfig:
            _legacy_parser().print_usage(sys.stderr)
            return EXIT_USAGE
        return cmd_up(ns)
    except UsageError as e:
        print(f"hotshare: {one_line(str(e))} (see hotshare --help)", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as e:
        print(f"hotshare: {one_line(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_FAIL
    except Exception as e:
        from .service import AlreadyRunning, StartError

        if isinstance(e, (StartError, AlreadyRunning, OSError)):
            print(f"hotshare: {e}", file=sys.stderr)
            return EXIT_FAIL
        raise


if __name__ == "__main__":
    sys.exit(main())
