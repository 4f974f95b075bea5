"""package/hotshare/firstboot and S95hotshare, run by BusyBox's sh with only
BusyBox applets on PATH (as on the board), against a fake hotshare."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import threading
import time
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
    "basename",
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



# --- S45modem (board/t113/rootfs_overlay/etc/init.d) ------------------------

OVERLAY = REPO / "board" / "t113" / "rootfs_overlay"
S45MODEM = OVERLAY / "etc" / "init.d" / "S45modem"
UDHCPC_SCRIPT = OVERLAY / "usr/share/udhcpc/hotshare.script"


def udhcpc(iface: str, metric: int) -> str:
    """A stand-in udhcpc's line: S45modem's argv, HOTSHARE_METRIC."""
    return f"udhcpc -f -R -s {UDHCPC_SCRIPT} -i {iface} metric={metric}"

# Stand-ins for the tools S45modem runs, each logging its argv to
# state/calls ("name argv..."). pppd and udhcpc stay in the foreground as
# the real ones do (nodetach, -f) until they are signalled.
STANDINS = {
    "pppd": 'echo "pppd $*" >> {state}/calls\nexec sleep 60\n',
    "udhcpc": 'echo "udhcpc $* metric=$HOTSHARE_METRIC" >> {state}/calls\nexec sleep 60\n',
    "uqmi": (
        'echo "uqmi $* raw_ip=$(cat {sys}/wwan0/qmi/raw_ip 2>/dev/null)" >> {state}/calls\n'
        'case "$*" in *--verify-pin1*) [ -f {state}/pin-fails ] && exit 1 ;; esac\n'
        'case "$*" in *--get-client-id*) echo 7 ;; esac\n'
        "exit 0\n"
    ),
    "ip": 'echo "ip $*" >> {state}/calls\n',
    "stty": 'echo "stty $*" >> {state}/calls\n',
    # the SIM unlock: keeps a copy of the script it was given
    "chat": 'echo "chat $*" >> {state}/calls\ncat "$2" > {state}/pin-script\n[ ! -f {state}/chat-fails ]\n',
    "logger": 'echo "$*" >> {state}/log\n',
}
MODEM_VARS = {
    "MODEM_CONF": "/etc/hotshare/modem.conf",
    "HOTSHARE_CONF": "/etc/hotshare/hotshare.conf",
    "PPP_DIR": "/etc/ppp",
    "RUN_DIR": "/run/hotshare-modem",
    "SYS_NET": "/sys/class/net",
    "DEV_DIR": "/dev",
    "RESOLV_CONF": "/etc/resolv.conf",
    "DNSMASQ_CONF": "/etc/dnsmasq.conf",
    "CHAT": "/usr/sbin/chat",
    "PPPD": "pppd",
    "UQMI": "uqmi",
    "UDHCPC": "udhcpc",
    "UDHCPC_SCRIPT": "/usr/share/udhcpc/hotshare.script",
    "IP": "ip",
    "STTY": "stty",
    "LOGGER": "logger",
}


class Modem:
    """S45modem with its paths and tools moved under tmp_path."""

    def __init__(self, bb: Path, tmp: Path) -> None:
        self.bb, self.tmp = bb, tmp
        self.state = tmp / "state"
        self.sys = tmp / "sys"
        self.dev = tmp / "dev"
        self.ppp = tmp / "ppp"
        self.run_dir = tmp / "run"
        for d in (self.state, self.sys, self.dev):
            d.mkdir()
        self.conf = tmp / "modem.conf"
        self.hotshare_conf = tmp / "hotshare.conf"
        self.hotshare_conf.write_text("WIFI_IFACE=ap0\nINTERNET_IFACE=ppp0,usb0\n")
        self.resolv = tmp / "resolv.conf"
        tools = tmp / "tools"
        tools.mkdir()
        values = {
            "MODEM_CONF": self.conf,
            "HOTSHARE_CONF": self.hotshare_conf,
            "PPP_DIR": self.ppp,
            "RUN_DIR": self.run_dir,
            "SYS_NET": self.sys,
            "DEV_DIR": self.dev,
            "RESOLV_CONF": self.resolv,
            "DNSMASQ_CONF": OVERLAY / "etc/dnsmasq.conf",
            "UDHCPC_SCRIPT": UDHCPC_SCRIPT,
        }
        for name, body in STANDINS.items():
            path = tools / name
            path.write_text(f"#!{bb / 'sh'}\n" + body.format(state=self.state, sys=self.sys))
            path.chmod(0o755)
            values[name.upper()] = path
        text = S45MODEM.read_text()
        for var, default in MODEM_VARS.items():
            line = f'{var}="{default}"\n'
            assert line in text, f"S45modem no longer has {line!r}: update this test"
            text = text.replace(line, f'{var}="{values[var]}"\n', 1)
        self.script = tmp / "S45modem"
        self.script.write_text(text)

    def __call__(self, action: str) -> subprocess.CompletedProcess[str]:
        return run(self.bb, self.script, action)

    def iface(self, name: str, index: int) -> None:
        d = self.sys / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "ifindex").write_text(f"{index}\n")

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def log(self) -> str:
        path = self.state / "log"
        return path.read_text() if path.exists() else ""

    def wait_calls(self, pred, timeout: float = 15) -> list[str]:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls()
            if pred(calls):
                return calls
            time.sleep(0.1)
        raise AssertionError(f"timed out; calls: {self.calls()}, log: {self.log()}")

    def pids(self) -> dict[str, int]:
        if not self.run_dir.is_dir():
            return {}
        return {p.stem: int(p.read_text()) for p in self.run_dir.glob("*.pid")}


@pytest.fixture
def modem(bb: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    m = Modem(bb, tmp_path)
    yield m
    pids = m.pids()
    m("stop")
    for pid in pids.values():
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def test_shipped_modem_conf_dials_nothing_until_an_apn_is_set(modem: Modem) -> None:
    """The image as shipped: no APN, so the modem is left alone (and the
    shipped file passes the checks); the DHCP client waits for usb0."""
    shutil.copy(OVERLAY / "etc/hotshare/modem.conf", modem.conf)
    result = modem("start")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Starting modem: OK (no APN set in {modem.conf}: not dialling)\n"
    assert "no APN" in modem.log()
    assert set(modem.pids()) == {"dhcp-usb0"}
    assert not modem.ppp.exists()
    time.sleep(1)
    assert modem.calls() == [], "udhcpc started on an interface that is not there"


BAD_VALUES = [
    ("APN", 'cmnet"; reboot'),
    ("APN", "$(reboot)"),
    ("APN", "cm net"),
    ("APN", "cm'net"),
    ("APN", "-cmnet"),
    ("APN", "cmnet\\"),
    ("APN", "互联网"),
    ("APN", "a" * 101),
    ("PIN", "12a4"),
    ("PIN", "123"),
    ("PIN", "1234; reboot"),
    ("PROTOCOL", "pp"),
    ("DEVICE", "/tmp/ttyUSB2"),
    ("DEVICE", "{dev}/../etc/passwd"),
    ("DEVICE", "{dev}/tty USB2"),
    ("DEVICE", "{dev}/"),
    ("DHCP_IFACES", "usb0,wlan0"),
    ("DHCP_IFACES", "ap0"),  # WIFI_IFACE in hotshare.conf
    ("DHCP_IFACES", "lo"),
    ("DHCP_IFACES", "usb0,$(reboot)"),
    ("DHCP_IFACES", "averyveryverylongname"),
    ("QMI_IFACE", "wlan0"),
    ("MODEM_METRIC", "x"),
    ("MODEM_METRIC", "-1"),
    ("MODEM_METRIC", "0100"),  # octal in shell arithmetic
    ("MODEM_METRIC", "65536"),
    ("DHCP_METRIC", "2e3"),
    ("DHCP_METRIC", "65535"),  # usb0 gets 65535, ok; eth0 65536: refused, see below
    ("DHCP_IFACES", "usb0:1x"),
    ("DHCP_IFACES", "usb0:100"),  # the modem's metric: pppd would add no default route
    ("DHCP_IFACES", "usb0:300,eth0:300"),
    ("DHCP_IFACES", "eth0,usb0:200"),  # eth0 has 200 already (DHCP_METRIC)
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_modem_refuses_a_bad_value_in_one_line(modem: Modem, key: str, value: str) -> None:
    settings = {"APN": "cmnet", "PROTOCOL": "qmi" if key == "QMI_IFACE" else "ppp", "DHCP_IFACES": "usb0"}
    settings[key] = value.format(dev=modem.dev)
    if key == "DHCP_METRIC":
        settings["DHCP_IFACES"] = "usb0,eth0"
    modem.conf.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    (modem.dev / "ttyUSB2").write_text("")
    modem.iface("usb0", 7)
    result = modem("start")
    assert (result.returncode, result.stdout) == (1, "Starting modem: FAIL\n")
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("S45modem: "), result.stderr
    assert key.split("_")[-1] in result.stderr, result.stderr
    time.sleep(0.5)
    assert modem.calls() == [] and modem.pids() == {}, "started something"
    assert not modem.ppp.exists(), "generated files from a bad configuration"


CHAT_SCRIPT = """\
# Generated by /etc/init.d/S45modem from {conf}: edit that file.
ABORT 'BUSY'
ABORT 'NO CARRIER'
ABORT 'NO DIALTONE'
ABORT 'NO ANSWER'
ABORT 'ERROR'
ABORT 'SIM PIN'
ABORT 'SIM PUK'
TIMEOUT 10
'' 'AT'
OK 'ATE0'
OK 'AT+CPIN?'
READY '\\c'
OK 'AT+CGDCONT=1,"IP","{apn}"'
OK 'ATD*99#'
TIMEOUT 60
CONNECT ''
"""
PEER = """\
# Generated by /etc/init.d/S45modem from {conf}: edit that file.
{device}
115200
connect "{chat} -v -f {ppp}/hotshare-modem.chat"
linkname hotshare-modem
unit 0
noauth
persist
maxfail 0
holdoff 10
lcp-echo-interval 30
lcp-echo-failure 4
usepeerdns
defaultroute
defaultroute-metric 100
noipdefault
ipcp-accept-local
ipcp-accept-remote
novj
nobsdcomp
nodeflate
"""


def test_modem_ppp_generates_the_peer_and_dials(modem: Modem) -> None:
    device = modem.dev / "ttyUSB2"
    device.write_text("")
    modem.iface("usb0", 7)
    modem.iface("wlan0", 8)
    modem.conf.write_text('APN="3gnet"\nPIN=\nPROTOCOL=ppp\nDEVICE=\nDHCP_IFACES=usb0\n')
    result = modem("start")
    assert (result.returncode, result.stdout) == (0, "Starting modem: OK\n"), result.stderr
    chat = modem.ppp / "hotshare-modem.chat"
    peer = modem.ppp / "peers" / "hotshare-modem"
    assert chat.read_text() == CHAT_SCRIPT.format(conf=modem.conf, apn="3gnet")
    assert peer.read_text() == PEER.format(conf=modem.conf, device=device, chat=modem.tmp / "tools/chat",
                                           ppp=modem.ppp)  # fmt: skip
    assert stat.S_IMODE(chat.stat().st_mode) == stat.S_IMODE(peer.stat().st_mode) == 0o644
    calls = modem.wait_calls(lambda c: any(x.startswith("pppd") for x in c) and any("udhcpc" in x for x in c))
    assert "pppd call hotshare-modem nodetach" in calls
    assert [c for c in calls if c.startswith("udhcpc")] == [udhcpc("usb0", 200)]
    assert not [c for c in calls if c.startswith(("chat", "stty"))], "no PIN, no unlock"
    assert set(modem.pids()) == {"modem", "dhcp-usb0"}
    # the board's own lookups go to its dnsmasq on the loopback
    assert modem.resolv.read_text() == "nameserver 127.0.0.1\n"

    result = modem("status")
    assert result.returncode == 0 and "modem: running" in result.stdout, result.stdout
    # started again: nothing is rewritten, nothing started twice
    inode = peer.stat().st_ino
    assert modem("start").returncode == 0
    assert peer.stat().st_ino == inode
    time.sleep(0.5)
    assert len([c for c in modem.calls() if c.startswith("pppd")]) == 1
    assert modem.resolv.read_text() == "nameserver 127.0.0.1\n"

    pids = modem.pids()
    result = modem("stop")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Stopping modem: OK\n", "")
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    assert modem("status").returncode == 3
    assert not any("wlan" in c for c in modem.calls())


def test_modem_unlocks_the_sim_once(modem: Modem) -> None:
    device = modem.dev / "ttyUSB3"
    device.write_text("")
    modem.conf.write_text(f"APN=cmnet\nPIN=1234\nDEVICE={device}\nDHCP_IFACES=\n")
    assert modem("start").returncode == 0
    calls = modem.wait_calls(lambda c: any(x.startswith("pppd") for x in c))
    assert calls[0] == f"stty -F {device} 115200 raw -echo"
    assert calls[1] == f"chat -f {modem.run_dir}/pin.chat"
    assert calls[2] == "pppd call hotshare-modem nodetach"
    script = (modem.state / "pin-script").read_text()
    assert "'READY-AT+CPIN=\"1234\"-OK'" in script
    assert not (modem.run_dir / "pin.chat").exists(), "the PIN left on disk"
    assert "1234" not in (modem.ppp / "peers/hotshare-modem").read_text()
    assert "1234" not in (modem.ppp / "hotshare-modem.chat").read_text()


def test_modem_does_not_dial_after_a_wrong_pin(modem: Modem) -> None:
    (modem.dev / "ttyUSB2").write_text("")
    (modem.state / "chat-fails").write_text("")
    modem.conf.write_text("APN=cmnet\nPIN=0000\nDHCP_IFACES=\n")
    assert modem("start").returncode == 0
    modem.wait_calls(lambda c: any(x.startswith("chat") for x in c))
    time.sleep(1)
    assert not [c for c in modem.calls() if c.startswith("pppd")]
    assert "did not take PIN" in modem.log()
    assert modem("status").returncode == 3


def test_modem_waits_for_the_modem(modem: Modem) -> None:
    """The USB modem enumerates after S45modem has run: the boot does not
    wait, pppd is started once the port is there."""
    modem.conf.write_text("APN=cmnet\nDHCP_IFACES=\n")
    result = modem("start")
    assert (result.returncode, result.stdout) == (0, "Starting modem: OK\n")
    time.sleep(1.5)
    assert modem.calls() == []
    (modem.dev / "ttyUSB2").write_text("")
    modem.wait_calls(lambda c: "pppd call hotshare-modem nodetach" in c)
    assert f"waiting for {modem.dev}/ttyUSB2" in modem.log()


def test_modem_qmi(modem: Modem) -> None:
    """Raw IP first (wwan0 down), then the data session on a kept client id,
    then udhcpc on wwan0; no pppd."""
    (modem.dev / "cdc-wdm0").write_text("")
    modem.iface("wwan0", 5)
    (modem.sys / "wwan0/qmi").mkdir()
    (modem.sys / "wwan0/qmi/raw_ip").write_text("N\n")
    modem.conf.write_text("APN=ctnet\nPROTOCOL=qmi\nDHCP_IFACES=\nMODEM_METRIC=90\n")
    assert modem("start").returncode == 0
    calls = modem.wait_calls(lambda c: any(x.startswith("udhcpc") for x in c))
    dev = modem.dev / "cdc-wdm0"
    assert calls == [
        "ip link set wwan0 down",
        f"uqmi -s -d {dev} --wda-set-data-format raw-ip raw_ip=Y",
        f"uqmi -s -d {dev} --get-client-id wds raw_ip=Y",
        f"uqmi -s -d {dev} --set-client-id wds,7 --start-network --apn ctnet --autoconnect raw_ip=Y",
        "ip link set wwan0 up",
        udhcpc("wwan0", 90),
    ]
    assert not modem.ppp.exists()
    assert set(modem.pids()) == {"modem"}


def test_modem_qmi_wrong_pin_is_not_retried(modem: Modem) -> None:
    (modem.dev / "cdc-wdm0").write_text("")
    modem.iface("wwan0", 5)
    (modem.sys / "wwan0/qmi").mkdir()
    (modem.state / "pin-fails").write_text("")
    modem.conf.write_text("APN=ctnet\nPIN=1111\nPROTOCOL=qmi\nDHCP_IFACES=\n")
    assert modem("start").returncode == 0
    modem.wait_calls(lambda c: any("--verify-pin1 1111" in x for x in c))
    time.sleep(1)
    assert not any("--start-network" in c or c.startswith("udhcpc") for c in modem.calls())
    assert len([c for c in modem.calls() if "--verify-pin1" in c]) == 1


def test_dhcp_follows_the_interface(modem: Modem) -> None:
    """A USB-tethered phone unplugged and plugged back (a new ifindex):
    its udhcpc is stopped and a new one started."""
    modem.conf.write_text("PROTOCOL=none\nDHCP_IFACES=usb0,eth0\n")
    result = modem("start")
    assert (result.returncode, result.stdout) == (0, "Starting modem: OK\n"), result.stderr
    modem.iface("usb0", 7)
    modem.wait_calls(lambda c: c == [udhcpc("usb0", 200)])
    shutil.rmtree(modem.sys / "usb0")
    time.sleep(3)
    modem.iface("usb0", 9)
    modem.wait_calls(lambda c: c == [udhcpc("usb0", 200)] * 2)
    procs = [p for p in Path("/proc").glob("[0-9]*") if _cmdline(p).startswith("sleep 60")]
    assert len(procs) <= 1, "the first udhcpc was not stopped"
    assert set(modem.pids()) == {"dhcp-usb0", "dhcp-eth0"}


def test_dhcp_uplinks_get_their_metrics(modem: Modem) -> None:
    """DHCP_METRIC, +1, +2 in DHCP_IFACES' order, unless an entry names its own."""
    for index, name in enumerate(("usb0", "eth0", "eth1"), 7):
        modem.iface(name, index)
    modem.conf.write_text("PROTOCOL=none\nDHCP_IFACES=usb0,eth0:150,eth1\nDHCP_METRIC=300\n")
    assert modem("start").returncode == 0
    calls = modem.wait_calls(lambda c: len(c) == 3)
    assert sorted(calls) == sorted([udhcpc("usb0", 300), udhcpc("eth0", 150), udhcpc("eth1", 302)])
    assert "udhcpc on eth1 (route metric 302)" in modem.log()


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_modem_keeps_resolv_conf_lines(modem: Modem) -> None:
    modem.resolv.write_text("nameserver 10.0.0.1 # usb0\n")
    modem.conf.write_text("PROTOCOL=none\nDHCP_IFACES=\n")
    assert modem("start").returncode == 0
    assert modem.resolv.read_text() == "nameserver 127.0.0.1\nnameserver 10.0.0.1 # usb0\n"


def test_modem_without_configuration(modem: Modem) -> None:
    result = modem("start")
    assert (result.returncode, result.stdout) == (0, f"Starting modem: OK ({modem.conf} does not exist, nothing to do)\n")
    assert modem("status").returncode == 3
    assert modem("bogus").returncode == 1


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck")
def test_board_init_script_passes_shellcheck() -> None:
    result = subprocess.run(["shellcheck", "-s", "sh", str(S45MODEM)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
