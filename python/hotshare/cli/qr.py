"""``hotshare qr``: the join QR code, in the terminal (UTF-8 blocks, fine on a
serial console), or as PNG/SVG for a label. qrencode draws it; the text,
which holds the passphrase, reaches it on stdin, never in its arguments."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from ..config import from_mapping, read_conf_file, require_ap_settings
from ..errors import EXIT_FAIL, EXIT_NOT_RUNNING, EXIT_OK, UsageError
from ..plan.qr import Network, from_hostapd_conf, wifi_payload
from ..service.instances import paths_for, resolve_iface, running_pid
from ..system import files as fsutil
from ..system.run import ProgramError, run


def network_of(iface: str | None, config: str | None) -> Network:
    """The running hotspot's network (its hostapd.conf: root only), else the config file's."""
    if config and not iface:
        cfg = from_mapping(read_conf_file(config))
        require_ap_settings(cfg)
        return Network(cfg.ssid, cfg.passphrase, cfg.hidden, sae_only=cfg.wpa_version == "3")
    name = resolve_iface(iface, config)
    if not name or running_pid(name) is None:
        raise UsageError("no hotspot runs here: name its interface, or give --config FILE")
    try:
        with open(paths_for(name).hostapd_conf, encoding="utf-8") as f:
            net = from_hostapd_conf(f.read())
    except PermissionError:
        raise UsageError("reading the running hotspot's passphrase needs root (or give --config FILE)") from None
    except FileNotFoundError:
        net = None
    if net is None:
        raise UsageError(f"the hotspot on {name} has no access point (a wired downstream): no QR code")
    return net


def cmd_qr(ns: argparse.Namespace) -> int:
    try:
        payload = wifi_payload(network_of(ns.iface, ns.config))
    except UsageError as e:
        print(f"hotshare: {e}", file=sys.stderr)
        return EXIT_NOT_RUNNING if "no hotspot runs" in str(e) else e.exit_code
    try:
        for kind, path in (("PNG", ns.png), ("SVG", ns.svg)):
            if path:
                fsutil.atomic_write(path, _draw(payload, kind), 0o600)  # it holds the passphrase
                print(f"wrote {path}")
        if not (ns.png or ns.svg):
            sys.stdout.write(_draw(payload, "UTF8").decode("utf-8"))
    except ProgramError as e:
        print(f"hotshare: {e} (Buildroot: BR2_PACKAGE_LIBQRENCODE_TOOLS; Debian: qrencode)", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _draw(payload: str, kind: str) -> bytes:
    """qrencode's drawing of ``payload``, written into a private directory
    (PNG is binary, and the target path is ours to write, not qrencode's)."""
    with tempfile.TemporaryDirectory(prefix="hotshare-qr.") as tmp:   # 0700
        out = os.path.join(tmp, "qr")
        size = ["-s", "8"] if kind == "PNG" else []
        run("qrencode", "-t", kind, "-m", "2", *size, "-o", out, input=payload, check=True)
        with open(out, "rb") as f:
            return f.read()
