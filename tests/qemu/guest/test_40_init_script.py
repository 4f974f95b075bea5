"""The board's init script, package/hotshare/S95hotshare, under BusyBox sh
and BusyBox start-stop-daemon, driving the real hotshare on the lab radio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.hotspot import hotshare_nft_tables
from lab.radios import Radio
from lab.topology import Internet

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "package" / "hotshare" / "S95hotshare"


@pytest.fixture(scope="module")
def board_files(ap_radio: Radio, internet: Internet) -> Iterator[dict[str, str]]:
    """/etc/hotshare/hotshare.conf and /usr/bin/hotshare as the package
    installs them (/etc and /usr are tmpfs overlays in the guest)."""
    conf = Path("/etc/hotshare/hotshare.conf")
    conf.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf.write_text(f"WIFI_IFACE={ap_radio.iface}\nINTERNET_IFACE={internet.uplink}\nSSID=hotshare-init\n"
                    f"PASSPHRASE_FILE=/etc/hotshare/passphrase\nUPSTREAM_DNS={internet.dns_server}\n")
    exe = Path("/usr/bin/hotshare")
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={REPO / 'python'} exec {sys.executable} -m hotshare \"$@\"\n")
    exe.chmod(0o755)
    firstboot = Path("/usr/libexec/hotshare/firstboot")  # as hotshare.mk installs it
    firstboot.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "package" / "hotshare" / "firstboot", firstboot)
    firstboot.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("HOTSHARE_RUNDIR", "HOTSHARE_STATEDIR")}
    yield env
    subprocess.run(["/usr/bin/hotshare", "down", ap_radio.iface], env=env, check=False, timeout=180)
    for p in (conf, Path("/etc/hotshare/passphrase"), exe, firstboot):
        p.unlink(missing_ok=True)


def init(action: str, busybox_sh: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(busybox_sh), str(SCRIPT), action], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_start_status_restart_stop(board_files: dict[str, str], busybox_sh: Path, busybox_env: dict[str, str],
                                   ap_radio: Radio) -> None:
    env = {**busybox_env, **{k: v for k, v in board_files.items() if k != "PATH"}}
    iface = ap_radio.iface

    def status() -> dict[str, object]:
        out = subprocess.run(["/usr/bin/hotshare", "status", iface, "--json"], env=env, capture_output=True,
                             text=True, timeout=120, check=False).stdout
        return json.loads(out)

    started = init("start", busybox_sh, env)
    assert started.returncode == 0 and "OK" in started.stdout, started.stdout + started.stderr
    assert Path("/etc/hotshare/passphrase").stat().st_mode & 0o777 == 0o600  # first boot made one
    first = status()
    assert first["running"] is True and first.get("ap", {}).get("state") == "ENABLED"  # type: ignore[union-attr]
    assert init("status", busybox_sh, env).returncode == 0

    assert init("restart", busybox_sh, env).returncode == 0
    second = status()
    assert second["running"] is True and second["pid"] != first["pid"]

    stopped = init("stop", busybox_sh, env)
    assert stopped.returncode == 0 and "OK" in stopped.stdout
    assert status()["running"] is False
    assert not [t for t in hotshare_nft_tables()]
    assert init("status", busybox_sh, env).returncode == 3
    again = init("stop", busybox_sh, env)  # stop when already stopped
    assert again.returncode == 0 and "OK" in again.stdout
