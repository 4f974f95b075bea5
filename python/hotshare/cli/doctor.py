"""``hotshare doctor``: gather the facts, run every check, print the report."""

from __future__ import annotations

import argparse
import errno
import os
import sys

from ..config import HotspotConfig, from_mapping, read_conf_file
from ..doctor import diagnose
from ..doctor.gather import gather
from ..doctor.report import exit_code, render_human, render_json
from ..errors import EXIT_USAGE, ConfigError
from ..service.instances import resolve_iface


def load_config(iface: str | None, config_path: str | None) -> tuple[str | None, HotspotConfig | None]:
    """The interface to look at and its configuration; ConfigError for a bad one."""
    raw: dict[str, str] = read_conf_file(config_path) if config_path else {}
    if iface:
        raw["WIFI_IFACE"] = iface
    elif not raw.get("WIFI_IFACE") and not config_path:
        iface = resolve_iface(None, None)   # the only running hotspot, if any
        if iface is None:
            return None, None
        raw["WIFI_IFACE"] = iface
    cfg = from_mapping(raw)
    return cfg.wifi_iface, cfg


def run_doctor(ns: argparse.Namespace) -> int:
    """Entry point for ``hotshare doctor``: ns has ``iface``, ``config``, ``json``."""
    try:
        iface, cfg = load_config(getattr(ns, "iface", None), getattr(ns, "config", None))
    except ConfigError as e:
        print(f"hotshare doctor: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        ctx = gather(iface, cfg, getattr(ns, "config", None))
    except OSError as e:
        if e.errno in (errno.EPERM, errno.EACCES):
            print(f"hotshare doctor: {e}", file=sys.stderr)
            return EXIT_USAGE
        raise
    findings = diagnose(ctx)
    if getattr(ns, "json", False):
        sys.stdout.write(render_json(findings))
    else:
        what = f"{iface}" if iface else "the system (no interface named: interface checks skipped)"
        state = (f", hotspot running (pid {ctx.status.get('pid')})" if ctx.running else
                 ", hotspot not running") if iface else ""
        cfgtext = f", config {ctx.config_path}" if ctx.config_path else ""
        cfgtext += " (not root: some checks cannot run)" if os.geteuid() != 0 else ""
        sys.stdout.write(render_human(findings, f"hotshare doctor: {what}{cfgtext}{state}"))
    return exit_code(findings)
