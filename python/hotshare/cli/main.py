"""Command line: create_ap's options and arguments, plus clear subcommands.

    hotshare [options] <wifi-iface> [<uplink-iface>] [<ssid> [<passphrase>]]
    hotshare up|down|status|clients|list|doctor ...

Exit codes: 0 success; 1 the operation failed; 2 bad usage or configuration
(nothing was changed); 3 not running (status, down, clients).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..config.cmdline import UNSUPPORTED
from ..errors import EXIT_FAIL, EXIT_OK, EXIT_USAGE, HotshareError, UsageError
from . import control
from .parsers import SUBCOMMANDS, legacy_parser, sub_parser
from .up import CREATE_AP, called_as_create_ap, cmd_up


def one_line(message: str) -> str:
    """Errors may quote what the user typed: keep them on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _take_create_aps_name() -> None:
    """The process name too (ps, `pkill create_ap` without -f, killall):
    a script's is its interpreter's. /proc/self/comm: no ctypes needed."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(CREATE_AP)
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and called_as_create_ap():
        _take_create_aps_name()
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()      # here, where a closed pipe can still be handled
        return code
    except BrokenPipeError:  # `hotshare clients wlan0 | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _main(args: list[str]) -> int:
    try:
        for opt in args:
            name = opt.split("=", 1)[0]
            if name in UNSUPPORTED:
                raise UsageError(f"{name} is not supported: {UNSUPPORTED[name]}")
        if args and args[0] in SUBCOMMANDS:
            ns = sub_parser().parse_args(args)
            if ns.command == "up":
                return cmd_up(ns)
            return control.dispatch(ns)
        ns = legacy_parser().parse_args(args)
        if ns.stop:
            return control.stop(ns.stop)
        if ns.list_running:
            return control.list_running(ns.json)
        if ns.list_clients:
            return control.clients(ns.list_clients, ns.json, create_ap_layout=True)
        if not ns.positionals and not ns.config and not ns.config_once and not ns.mkconfig:
            legacy_parser().print_usage(sys.stderr)
            return EXIT_USAGE
        return cmd_up(ns)
    except HotshareError as e:
        hint = " (see hotshare --help)" if isinstance(e, UsageError) else ""
        print(f"hotshare: {one_line(str(e))}{hint}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        raise
    except OSError as e:  # the kernel or a file refused: one line, not a traceback
        print(f"hotshare: {one_line(str(e))}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
