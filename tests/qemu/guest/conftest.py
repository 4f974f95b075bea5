"""Fixtures of the wireless lab.  These tests run INSIDE the QEMU guest that
``tests/qemu/run-lab`` boots; anywhere else every test is skipped.

The guest's root namespace plays the board.  Session-wide (built once):

    radios      4 radios of the backend (mac80211_hwsim, or vwifi when
                HOTSHARE_VWIFI_KO is set); radio 0 stays on the board (the AP)
    internet    namespace ``inet`` behind the board's uplink ``ppp0``
                (10.64.0.2/24, default via 10.64.0.1 metric 250), DNS at
                10.64.0.1, HTTP at 198.18.0.10 answering the client address
    phone1/2/3  namespaces ``phone1``..``phone3``, one radio each (phone3 is the
                stranger: the one on the deny list, the one that scans)
    hotspots    HotspotManager: ``hotspots.up(**HotspotConfig fields)``
    syslog      /dev/log collector (hostapd/dnsmasq syslog lines)

Per test or module:

    hotshare    factory: ``hotshare(wpa_version="3", ...)`` -> Hotspot, taken
                down (and checked for leftovers) when the test ends
    second_uplink  (module) ``usb0`` 192.168.43.100/24, default via
                192.168.43.1 metric 300, into namespace ``inet2``
    busybox_sh  path of a ``sh`` that is BusyBox's; ``busybox_bin`` a
                directory of BusyBox applets (sh, start-stop-daemon, ...) and
                ``busybox_env`` an environment with it first in PATH, for
                testing package/hotshare/S95hotshare as the board runs it
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from lab.hotspot import HotshareCLI, Hotspot, HotspotConfig, HotspotManager  # noqa: E402
from lab.phone import Phone  # noqa: E402
from lab.radios import Radio, RadioBackend, backend_from_env  # noqa: E402
from lab.syslog import SyslogCollector  # noqa: E402
from lab.topology import PPP0, USB0, Internet  # noqa: E402

IN_GUEST = os.environ.get("HOTSHARE_LAB_GUEST") == "1"
RADIO_COUNT = 8  # radio 4: the upstream AP of the same-card tests (test_60_samecard); 5-7: neighbours' APs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_GUEST:
        return
    skip = pytest.mark.skip(reason="runs only inside the QEMU lab: use tests/qemu/run-lab")
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not IN_GUEST:
        return ["hotshare lab: not in the lab guest, lab tests skipped"]
    return [
        f"hotshare lab: kernel {os.uname().release}, radios {backend_from_env().name}, "
        f"hotshare command: {shlex.join(hotshare_argv())}"
    ]


def hotshare_argv() -> list[str]:
    """The command under test: HOTSHARE_LAB_CMD, else ``python -m hotshare``."""
    custom = os.environ.get("HOTSHARE_LAB_CMD")
    return shlex.split(custom) if custom else [sys.executable, "-m", "hotshare"]


# -- directories ----------------------------------------------------------------


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """Scratch space on the guest's tmpfs (/run): configs, pidfiles, sockets."""
    path = Path(os.environ.get("HOTSHARE_LAB_WORKDIR", "/run/hotshare-lab"))
    path.mkdir(parents=True, exist_ok=True)
    yield path


@pytest.fixture(scope="session")
def logdir() -> Path:
    """Logs kept after the run (the host's .cache/lab/last/logs via --rwdir)."""
    out = os.environ.get("HOTSHARE_LAB_OUT")
    path = Path(out) / "logs" if out else Path("/run/hotshare-lab/logs")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def lab_env(workdir: Path) -> None:
    """Environment for everything the lab starts: the lab package importable
    by helper scripts run in namespaces, hotshare's directories on tmpfs."""
    if not IN_GUEST:
        return
    paths = [str(REPO / "python"), str(TESTS)]
    old = os.environ.get("PYTHONPATH", "")
    missing = [p for p in paths if p not in old.split(os.pathsep)]
    os.environ["PYTHONPATH"] = os.pathsep.join(missing + ([old] if old else []))
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    for var, sub in (("HOTSHARE_RUNDIR", "run"), ("HOTSHARE_STATEDIR", "state")):
        os.environ.setdefault(var, str(workdir / "hotshare" / sub))
        Path(os.environ[var]).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session", autouse=True)
def syslog(logdir: Path) -> Iterator[SyslogCollector]:
    collector = SyslogCollector(out=logdir / "syslog.txt")
    if IN_GUEST:
        collector.start()
    yield collector
    collector.stop()


@pytest.fixture(scope="session", autouse=True)
def guest_diagnostics(logdir: Path) -> Iterator[None]:
    """At the end: kernel log and the final network state, for the CI artifacts."""
    yield
    if not IN_GUEST:
        return
    for name, argv in (
        ("dmesg.txt", ["dmesg"]),
        ("ip-addr.txt", ["ip", "addr"]),
        ("nft-ruleset.txt", ["nft", "list", "ruleset"]),
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        (logdir / name).write_text(proc.stdout + proc.stderr)


# -- radios, internet, phones -----------------------------------------------------


@pytest.fixture(scope="session")
def radio_backend() -> Iterator[RadioBackend]:
    backend = backend_from_env()
    backend.load(RADIO_COUNT)
    yield backend
    backend.unload()


@pytest.fixture(scope="session")
def radios(radio_backend: RadioBackend) -> list[Radio]:
    return radio_backend.radios


@pytest.fixture(scope="session")
def ap_radio(radios: list[Radio]) -> Radio:
    """The board's radio: the hotspot runs on it (e.g. wlan0)."""
    return radios[0]


@pytest.fixture(scope="session")
def internet(logdir: Path) -> Iterator[Internet]:
    """Namespace ``inet`` behind the board's ``ppp0``; also the board's resolv.conf."""
    net = Internet(PPP0, logdir).start()
    resolv = Path("/etc/resolv.conf")
    saved = resolv.read_bytes() if resolv.exists() else None
    try:
        # /etc is a tmpfs overlay in the guest: the host's file is not touched.
        resolv.unlink(missing_ok=True)
        resolv.write_text(f"nameserver {net.dns_server}\n")
    except OSError:
        saved = None
    yield net
    net.stop()
    if saved is not None:
        resolv.unlink(missing_ok=True)
        resolv.write_bytes(saved)


@pytest.fixture(scope="module")
def second_uplink(internet: Internet, logdir: Path) -> Iterator[Internet]:
    """``usb0`` (192.168.43.100/24, metric 300) into namespace ``inet2``, for failover tests."""
    net = Internet(USB0, logdir).start()
    yield net
    net.stop()


def _phone(name: str, radio: Radio, workdir: Path, logdir: Path) -> Iterator[Phone]:
    phone = Phone(name, radio, workdir=workdir / "phones", logdir=logdir).setup()
    yield phone
    phone.teardown()


@pytest.fixture(scope="session")
def phone1(radios: list[Radio], workdir: Path, logdir: Path) -> Iterator[Phone]:
    yield from _phone("phone1", radios[1], workdir, logdir)


@pytest.fixture(scope="session")
def phone2(radios: list[Radio], workdir: Path, logdir: Path) -> Iterator[Phone]:
    yield from _phone("phone2", radios[2], workdir, logdir)


@pytest.fixture(scope="session")
def phone3(radios: list[Radio], workdir: Path, logdir: Path) -> Iterator[Phone]:
    yield from _phone("phone3", radios[3], workdir, logdir)


# -- the hotspot --------------------------------------------------------------------


@pytest.fixture(scope="session")
def hotshare_cli(workdir: Path, logdir: Path) -> HotshareCLI:
    return HotshareCLI(hotshare_argv(), dict(os.environ), logdir / "hotshare-cli.log", workdir / "files")


@pytest.fixture(scope="session")
def hotspots(hotshare_cli: HotshareCLI, ap_radio: Radio, internet: Internet) -> Iterator[HotspotManager]:
    """One hotspot at a time on the AP radio, sharing ``ppp0``; upstream DNS
    is the internet's resolver (10.64.0.1)."""
    defaults = HotspotConfig(dns_servers=[internet.dns_server])
    manager = HotspotManager(hotshare_cli, ap_radio.iface, internet.uplink, defaults)
    yield manager
    manager.down()


@pytest.fixture
def hotshare(hotspots: HotspotManager) -> Iterator[Callable[..., Hotspot]]:
    """Factory: ``hotshare(**HotspotConfig fields)`` brings a hotspot up; it is
    taken down (and checked for leftovers) when the test ends."""
    yield hotspots.up
    hotspots.down()


# -- BusyBox, for the init script test (package/hotshare/S95hotshare) ----------------


@pytest.fixture(scope="session")
def busybox() -> Path:
    path = shutil.which("busybox")
    if path is None:
        pytest.skip("busybox is not installed")
    return Path(path)


@pytest.fixture(scope="session")
def busybox_bin(busybox: Path, workdir: Path) -> Path:
    """A directory with every BusyBox applet as a symlink (sh, start-stop-daemon,
    killall, pidof, ...), as on the board."""
    path = workdir / "busybox-bin"
    if not path.is_dir():
        path.mkdir(parents=True)
        subprocess.run([str(busybox), "--install", "-s", str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def busybox_sh(busybox_bin: Path) -> Path:
    """Path of BusyBox's ``sh``: ``subprocess.run([busybox_sh, "package/hotshare/S95hotshare", "start"],
    env=busybox_env)``."""
    return busybox_bin / "sh"


@pytest.fixture(scope="session")
def busybox_env(busybox_bin: Path) -> dict[str, str]:
    """os.environ with BusyBox's applets first in PATH (so the script's
    ``start-stop-daemon`` is BusyBox's, not Debian's)."""
    env = dict(os.environ)
    env["PATH"] = f"{busybox_bin}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    return env


# -- helpers for the tests ----------------------------------------------------------


@pytest.fixture
def fresh_phone2(phone2: Phone) -> Iterator[Phone]:
    """phone2, disconnected before and after the test (whatever it did)."""
    phone2.disconnect()
    yield phone2
    phone2.disconnect()


@pytest.fixture(scope="session")
def sae_capable(radios: list[Radio]) -> bool:
    """Whether every radio can do WPA3-SAE (mac80211_hwsim can; a FullMAC
    driver without station-side SME cannot)."""
    return all(r.supports_sae() for r in radios)
