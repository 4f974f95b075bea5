"""Fixtures of the two-guest lab's board (tests/qemu/run-pair).  These tests
run INSIDE the board guest; anywhere else every test is skipped.

The board guest has one vwifi radio in virtio mode (vw0, the AP) and the
simulated internet behind ppp0, as the single-guest lab.  The phone is
another QEMU guest, reached only over the radio; the board drives it through
:class:`lab.mailbox.Mailbox` (request files in the shared results directory).

    radio       the board's vwifi radio (vw0)
    internet    namespace ``inet`` behind ``ppp0`` (DNS 10.64.0.1, HTTP 198.18.0.10)
    hotspots    HotspotManager on the radio, sharing ppp0
    phone       RemotePhone: the phone guest's station, by request
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from lab.hotspot import HotshareCLI, HotspotConfig, HotspotManager  # noqa: E402
from lab.mailbox import Mailbox, RemotePhone  # noqa: E402
from lab.pairphone import VWIFI_STOPS_AP  # noqa: E402
from lab.radios import Radio, Vwifi  # noqa: E402
from lab.syslog import SyslogCollector  # noqa: E402
from lab.topology import PPP0, Internet  # noqa: E402

IN_BOARD = os.environ.get("HOTSHARE_PAIR_ROLE") == "board"
PHONE_BOOT_TIMEOUT = 420.0  # the phone guest boots beside the board under TCG


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_BOARD:
        return
    skip = pytest.mark.skip(reason="runs only inside the two-guest lab's board: use tests/qemu/run-pair")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def out() -> Path:
    return Path(os.environ["HOTSHARE_LAB_OUT"])


@pytest.fixture(scope="session")
def logdir(out: Path) -> Path:
    path = out / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def board_logs(logdir: Path) -> Iterator[None]:
    """hostapd's and dnsmasq's syslog lines, and at the end the kernel's, for the CI artifacts."""
    if not IN_BOARD:
        yield
        return
    collector = SyslogCollector(out=logdir / "syslog.txt").start()
    try:
        yield
    finally:
        collector.stop()
        proc = subprocess.run(["dmesg"], capture_output=True, text=True, check=False)
        (logdir / "dmesg.txt").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="session")
def mailbox(out: Path) -> Iterator[Mailbox]:
    box = Mailbox(Path(os.environ["HOTSHARE_PAIR_MAILBOX"]), phone_console=str(out.parent / "phone/console.log"))
    yield box
    box.done()


@pytest.fixture(scope="session")
def radio() -> Radio:
    """vw0, in virtio mode (``station=1``), with the MAC of the guest's
    virtio-net device.  Never unloaded: the guest ends with the session."""
    return Vwifi(Path(os.environ["HOTSHARE_VWIFI_KO"])).load(1)[0]


@pytest.fixture(scope="session")
def internet(logdir: Path) -> Iterator[Internet]:
    net = Internet(PPP0, logdir).start()
    yield net
    net.stop()


@pytest.fixture(scope="session")
def hotspots(radio: Radio, internet: Internet, logdir: Path) -> Iterator[HotspotManager]:
    custom = os.environ.get("HOTSHARE_LAB_CMD")
    argv = shlex.split(custom) if custom else [sys.executable, "-m", "hotshare"]
    cli = HotshareCLI(argv, dict(os.environ), logdir / "hotshare-cli.log", Path("/run/hotshare-lab/files"))
    manager = HotspotManager(cli, radio.iface, internet.uplink, HotspotConfig(dns_servers=[internet.dns_server]))
    yield manager
    if VWIFI_STOPS_AP:
        manager.down()


@pytest.fixture(scope="session")
def phone(mailbox: Mailbox, radio: Radio) -> RemotePhone:
    """The phone guest, once its radio is up (the board's radio is loaded first:
    the phone's vwifi talks to it over the virtio link)."""
    return RemotePhone(mailbox, mailbox.wait_ready(PHONE_BOOT_TIMEOUT))
