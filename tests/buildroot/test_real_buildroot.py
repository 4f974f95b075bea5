"""The external tree against a real Buildroot tree, given as BUILDROOT=<path>
(configuration steps only: offline, nothing downloaded or built).

    BUILDROOT=/path/to/buildroot-2026.02.3 .venv/bin/pytest tests/buildroot
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import br_symbols

REPO = br_symbols.REPO
BUILDROOT = os.environ.get("BUILDROOT", "")

pytestmark = pytest.mark.skipif(not BUILDROOT, reason="set BUILDROOT=<path to a Buildroot tree> to check against it")


def br(out: Path, *goals: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["BR2_DL_DIR"] = str(out / "dl")
    return subprocess.run(
        ["make", "-C", BUILDROOT, f"BR2_EXTERNAL={REPO}", f"O={out / 'build'}", *goals],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("br")
    result = br(out, "hotshare_defconfig")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    return out, log


def test_defconfig_without_warnings(configured: tuple[Path, str]) -> None:
    _, log = configured
    warnings = [line for line in log.splitlines() if "warning" in line.lower()]
    assert not warnings, "\n".join(warnings)


def test_defconfig_enables_the_package(configured: tuple[Path, str]) -> None:
    out, _ = configured
    config = (out / "build" / ".config").read_text()
    for line in (
        "BR2_PACKAGE_HOTSHARE=y",
        "BR2_PACKAGE_HOSTAPD_DRIVER_NL80211=y",
        "BR2_PACKAGE_HOSTAPD_WPA3=y",
        "BR2_PACKAGE_NFTABLES=y",
    ):
        assert re.search(f"^{line}$", config, re.M), line


def test_savedefconfig_round_trip(configured: tuple[Path, str]) -> None:
    out, _ = configured
    saved = out / "saved_defconfig"
    result = br(out, "savedefconfig", f"BR2_DEFCONFIG={saved}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert saved.read_text() == br_symbols.DEFCONFIG.read_text(), (
        "configs/hotshare_defconfig differs from what savedefconfig writes:\n" + saved.read_text()
    )


def test_show_depends(configured: tuple[Path, str]) -> None:
    out, _ = configured
    result = br(out, "-s", "hotshare-show-depends")
    assert result.returncode == 0, result.stdout + result.stderr
    depends = set(result.stdout.split())
    assert {"host-python-cffi", "host-python-setuptools", "python3"} <= depends


def test_symbols_file_is_current(tmp_path: Path) -> None:
    """buildroot-symbols.txt is what update-symbols.py makes from this
    Buildroot (when it is the pinned version)."""
    table = br_symbols.read_symbols()
    version = re.search(r"^export BR2_VERSION := (\S+)", (Path(BUILDROOT) / "Makefile").read_text(), re.M)
    if not version or version.group(1) != table.version:
        pytest.skip(f"BUILDROOT is not Buildroot {table.version}")
    fresh = tmp_path / "symbols.txt"
    subprocess.run(
        [sys.executable, str(Path(__file__).parent / "update-symbols.py"), BUILDROOT, "--output", str(fresh)],
        check=True,
        capture_output=True,
    )
    assert fresh.read_text() == br_symbols.SYMBOLS_FILE.read_text(), br_symbols.UPDATE_HINT


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_br_check() -> None:
    """The same checks through support/buildroot.mk's br-check target."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(REPO),
            "-f",
            "support/buildroot.mk",
            f"BUILDROOT={BUILDROOT}",
            "br-check",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "br-check: OK" in result.stdout
