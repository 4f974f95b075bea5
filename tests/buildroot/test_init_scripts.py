"""package/hotshare/firstboot and S95hotshare, run by BusyBox's sh with only
BusyBox applets on PATH (as on the board), against a fake hotshare."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "package" / "hotshare"
BUSYBOX = shutil.which("busybox")
APPLETS = [
    "sh",
    "sed",
    "tail",
    "tr",
    "head",
    "mkdir",
    "chmod",
    "mv",
    "rm",
    "sync",
    "cat",
    "grep",
    "sleep",
    "start-stop-daemon",
    "dirname",
    "echo",
]
ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")

pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="needs busybox (apt-get install busybox-static)")


@pytest.fixture
def bb(tmp_path: Path) -> Path:
    """A bin directory of BusyBox applets only."""
    bindir = tmp_path / "bb"
    bindir.mkdir()
    for applet in APPLETS:
        (bindir / applet).symlink_to(str(BUSYBOX))
    return bindir


def run(bb: Path, *argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bb / "sh"), *map(str, argv)],
        capture_output=True,
        text=True,
        env={"PATH": str(bb)},
        timeout=60,
    )


# --- firstboot ------------------------------------------------------------


def test_firstboot_writes_a_private_random_passphrase(bb: Path, tmp_path: Path) -> None:
    conf = tmp_path / "hotshare.conf"
    secret = tmp_path / "etc" / "passphrase"
    conf.write_text(f"SSID=x\nPASSPHRASE_FILE={secret}\n")
    result = run(bb, PKG / "firstboot", conf)
    assert result.returncode == 0, result.stderr
    text = secret.read_text()
    assert text.endswith("\n") and len(text) == 17
    assert set(text.strip()) <= ALPHABET
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    # kept on the next boots
    assert run(bb, PKG / "firstboot", conf).returncode == 0
    assert secret.read_text() == text
    # a different one on another board
    secret.unlink()
    assert run(bb, PKG / "firstboot", conf).returncode == 0
    assert secret.read_text() != text


@pytest.mark.parametrize(
    "conf_text",
    [
        "PASSPHRASE=12345678\nPASSPHRASE_FILE={secret}\n",  # given in the config
        'PASSPHRASE="two words"\nPASSPHRASE_FILE={secret}\n',
        "SSID=open\n",  # neither key: an open network on purpose
        "PASSPHRASE_FILE=\n",
    ],
)
def test_firstboot_leaves_alone(bb: Path, tmp_path: Path, conf_text: str) -> None:
    conf = tmp_path / "hotshare.conf"
    secret = tmp_path / "passphrase"
    conf.write_text(conf_text.format(secret=secret))
    result = run(bb, PKG / "firstboot", conf)
    assert result.returncode == 0, result.stderr
    assert not secret.exists()


def test_firstboot_keeps_existing_file_and_quotes(bb: Path, tmp_path: Path) -> None:
    conf = tmp_path / "hotshare.conf"
    secret = tmp_path / "pass phrase"
    secret.write_text("mine-already\n")
    conf.write_text(f'PASSPHRASE=""\nPASSPHRASE_FILE="{secret}"\n')
    assert run(bb, PKG / "firstboot", conf).returncode == 0
    assert secret.read_text() == "mine-already\n"


def test_firstboot_fails_when_it_cannot_write(bb: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    conf = tmp_path / "hotshare.conf"
    conf.write_text(f"PASSPHRASE_FILE={locked}/passphrase\n")
    result = run(bb, PKG / "firstboot", conf)
    assert result.returncode == 1
    assert "could not write" in result.stderr


# --- S95hotshare ----------------------------------------------------------

FAKE_HOTSHARE = """#!{sh}
# Fake hotshare: logs its calls; "running" while $STATE/running exists.
echo "$*" >> {state}/calls
case "$1" in
status)
	[ -f {state}/running ] && exit 0
	exit 3
	;;
up)
	[ -f {state}/fail-up ] && exit 1
	: > {state}/running
	;;
down)
	[ -f {state}/fail-down ] && exit 1
	rm -f {state}/running
	;;
daemon)
	while :; do sleep 1; done
	;;
esac
exit 0
"""


@pytest.fixture
def initscript(bb: Path, tmp_path: Path) -> tuple[Path, Path]:
    """S95hotshare with its paths moved under tmp_path, and the fake."""
    state = tmp_path / "state"
    state.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fake = tmp_path / "hotshare"
    fake.write_text(FAKE_HOTSHARE.format(sh=bb / "sh", state=state))
    fake.chmod(0o755)
    conf = tmp_path / "hotshare.conf"
    conf.write_text(f"WIFI_IFACE=wlan9\nPASSPHRASE_FILE={tmp_path}/passphrase\n")
    default = tmp_path / "default"
    default.write_text(f'HOTSHARE_CONF="{conf}"\nHOTSHARE_ARGS="--config {conf}"\n')

    # installed 0755 by hotshare.mk; 0644 in the tree, as Buildroot wants
    firstboot = tmp_path / "firstboot"
    shutil.copy(PKG / "firstboot", firstboot)
    firstboot.chmod(0o755)
    text = (PKG / "S95hotshare").read_text()
    for old, new in [
        ('EXEC="/usr/bin/$DAEMON"', f'EXEC="{fake}"'),
        ('FIRSTBOOT="/usr/libexec/hotshare/firstboot"', f'FIRSTBOOT="{firstboot}"'),
        ('"/etc/default/$DAEMON"', f'"{default}"'),
        ("/run/hotshare/", f"{run_dir}/"),
    ]:
        assert old in text, f"S95hotshare no longer has {old}: update this test"
        text = text.replace(old, new)
    script = tmp_path / "S95hotshare"
    script.write_text(text)
    return script, state


def test_start_stop_status(bb: Path, initscript: tuple[Path, Path], tmp_path: Path) -> None:
    script, state = initscript
    conf = tmp_path / "hotshare.conf"

    result = run(bb, script, "status")
    assert result.returncode == 3

    result = run(bb, script, "start")
    assert (result.returncode, result.stdout) == (0, "Starting hotshare: OK\n"), result.stderr
    assert f"up --daemon --config {conf}" in (state / "calls").read_text()
    assert (tmp_path / "passphrase").is_file(), "first boot passphrase not made"
    assert run(bb, script, "status").returncode == 0

    result = run(bb, script, "start")
    assert (result.returncode, result.stdout) == (0, "Starting hotshare: OK (already running)\n")

    result = run(bb, script, "stop")
    assert (result.returncode, result.stdout) == (0, "Stopping hotshare: OK\n"), result.stderr
    assert f"down --config {conf}" in (state / "calls").read_text()
    assert run(bb, script, "status").returncode == 3


def test_stop_when_stopped_is_ok(bb: Path, initscript: tuple[Path, Path]) -> None:
    script, state = initscript
    result = run(bb, script, "stop")
    assert (result.returncode, result.stdout) == (0, "Stopping hotshare: OK\n")
    assert "down" not in (state / "calls").read_text()


def test_failed_start_says_fail(bb: Path, initscript: tuple[Path, Path]) -> None:
    script, state = initscript
    (state / "fail-up").write_text("")
    result = run(bb, script, "start")
    assert (result.returncode, result.stdout) == (1, "Starting hotshare: FAIL\n")


def test_stop_falls_back_to_the_pid_file(bb: Path, initscript: tuple[Path, Path], tmp_path: Path) -> None:
    script, state = initscript
    (state / "running").write_text("")
    (state / "fail-down").write_text("")
    # the fake, as "sh <path of hotshare> daemon": its command line holds
    # the executable's path, like the real daemon's
    proc = subprocess.Popen([str(bb / "sh"), str(tmp_path / "hotshare"), "daemon"], env={"PATH": str(bb)})
    # reap it as init would, or it lingers as a zombie in /proc
    reaper = threading.Thread(target=proc.wait, daemon=True)
    reaper.start()
    try:
        (tmp_path / "run" / "wlan9.pid").write_text(f"{proc.pid}\n")
        result = run(bb, script, "stop")
        assert (result.returncode, result.stdout) == (0, "Stopping hotshare: OK\n"), result.stderr
        reaper.join(timeout=15)
        assert proc.returncode == -15, "not stopped by SIGTERM"
        assert not (tmp_path / "run" / "wlan9.pid").exists()
    finally:
        proc.kill()


def test_stale_pid_file_is_not_killed(bb: Path, initscript: tuple[Path, Path], tmp_path: Path) -> None:
    script, state = initscript
    (state / "running").write_text("")
    (state / "fail-down").write_text("")
    bystander = subprocess.Popen([str(bb / "sleep"), "30"])
    try:
        (tmp_path / "run" / "wlan9.pid").write_text(f"{bystander.pid}\n")
        result = run(bb, script, "stop")
        assert result.returncode == 0, result.stderr
        assert bystander.poll() is None, "killed a process that is not hotshare"
    finally:
        bystander.kill()


def test_usage(bb: Path, initscript: tuple[Path, Path]) -> None:
    script, _ = initscript
    result = run(bb, script, "bogus")
    assert result.returncode == 1
    assert result.stdout.startswith("Usage:")


def test_status_without_configuration_is_not_running(bb: Path, initscript: tuple[Path, Path], tmp_path: Path) -> None:
    """LSB: status answers 3 when there is nothing configured; start and stop
    have nothing to do and succeed."""
    script, state = initscript
    (tmp_path / "hotshare.conf").unlink()
    result = run(bb, script, "status")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "does not exist" in result.stdout
    for action in ("start", "stop"):
        result = run(bb, script, action)
        assert result.returncode == 0, (action, result.stdout, result.stderr)
    assert not (state / "calls").exists(), "hotshare was run without a configuration"


def start_stop_daemon_calls(text: str) -> list[str]:
    """Each start-stop-daemon command line of a script, continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("start-stop-daemon")]


def test_start_stop_daemon_long_options() -> None:
    """Long options only (Buildroot's BusyBox has them: see
    test_real_buildroot.py); the start is matched by this interface's pid
    file, not by any hotshare process (another interface's hotspot)."""
    calls = start_stop_daemon_calls((PKG / "S95hotshare").read_text())
    assert len(calls) == 3, calls
    for call in calls:
        options = call.split(" -- ")[0].split()[1:]
        short = [o for o in options if re.fullmatch(r"-[A-Za-z]+", o)]
        assert not short, call
    start = next(c for c in calls if "--start" in c)
    assert {"--quiet", "--pidfile", "--exec"} <= set(start.split())
    assert all("--pidfile" in c for c in calls)

