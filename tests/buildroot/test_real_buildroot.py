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
        "BR2_PACKAGE_HOSTAPD_ACS=y",  # CHANNEL=auto: hostapd's ACS (the default with nl80211)
        "BR2_PACKAGE_NFTABLES=y",
        "BR2_PACKAGE_NFTABLES_JSON=y",
        "BR2_PACKAGE_JANSSON=y",
        "BR2_PACKAGE_RTL8189FS=y",
        "BR2_PACKAGE_RTL8723DS=y",
        "# BR2_TARGET_ENABLE_ROOT_LOGIN is not set",
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


def test_busybox_start_stop_daemon_has_long_options(configured: tuple[Path, str]) -> None:
    """S95hotshare uses start-stop-daemon's long options: the image's BusyBox
    configuration must have them."""
    out, _ = configured
    config = (out / "build" / ".config").read_text()
    match = re.search(r'^BR2_PACKAGE_BUSYBOX_CONFIG="([^"]+)"$', config, re.M)
    assert match
    assert match.group(1) == "package/busybox/busybox.config", "a BusyBox configuration of our own: check it"
    busybox = (Path(BUILDROOT) / match.group(1)).read_text()
    assert re.search(r"^CONFIG_START_STOP_DAEMON=y$", busybox, re.M)
    assert re.search(r"^CONFIG_FEATURE_START_STOP_DAEMON_LONG_OPTIONS=y$", busybox, re.M)


def tree_copy(tmp_path: Path) -> Path:
    """The tree's files as git has them (plus new ones), and the clutter of a
    developer's tree: Buildroot's output inside it, a venv, host objects."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode().split("\0")
    tree = tmp_path / "hotshare"
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file() and not src.is_symlink():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tree / rel)
    for rel in ("dl/x/big.tar.gz", ".venv/bin/python", "python/hotshare/_ctacct.abi3.so", "python/build/x.o"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("clutter")
    return tree


@pytest.mark.skipif(shutil.which("rsync") is None or shutil.which("git") is None, reason="needs rsync and git")
def test_rsync_and_legal_info_carry_the_c_helper(tmp_path: Path) -> None:
    """hotshare-rsync and hotshare-legal-info, with the output directory inside
    the tree (the default O): the build directory and the sources archive
    have python/ and csrc/, not the output, tests or clutter. legal-info
    wants host-tar, which cannot be downloaded here: the host's tar stands
    in for it."""
    import tarfile

    tree = tree_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["BR2_DL_DIR"] = str(tree / "dl")

    def make(*goals: str) -> None:
        result = subprocess.run(
            ["make", "-C", BUILDROOT, f"BR2_EXTERNAL={tree}", f"O={tree / 'output'}", *goals],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    make("hotshare_defconfig")
    make("hotshare-rsync")
    build = tree / "output" / "build" / "hotshare-0.1.0"
    for rel in ("LICENSE", "csrc/ctacct.c", "csrc/build_ffi.py", "python/setup.py", "python/pyproject.toml"):
        assert (build / rel).is_file(), rel
    for rel in ("output", "dl", "tests", "bench", ".venv", "python/build", "python/hotshare/_ctacct.abi3.so"):
        assert not (build / rel).exists(), rel

    make("BR2_TAR_HOST_DEPENDENCY=", f"TAR={shutil.which('tar')}", "hotshare-legal-info")
    legal = tree / "output" / "legal-info"
    assert (legal / "licenses" / "hotshare-0.1.0" / "LICENSE").is_file()
    with tarfile.open(legal / "sources" / "hotshare-0.1.0" / "hotshare-0.1.0.tar.gz") as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"csrc/ctacct.c", "csrc/ctacct.h", "csrc/build_ffi.py", "python/setup.py", "LICENSE"} <= names
    top = {n.split("/")[0] for n in names}
    assert not top & {"output", "dl", "tests", "bench", ".venv"}, top
    assert not [n for n in names if n.endswith((".so", ".o"))]


def check_package_python() -> str | None:
    """An interpreter with what check-package imports (python-magic, flake8:
    Debian's python3-magic and flake8)."""
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([python, "-c", "import magic, flake8"], capture_output=True, check=False)
        if probe.returncode == 0:
            return python
    return None


@pytest.mark.skipif(not (Path(BUILDROOT) / "utils" / "check-package").exists(), reason="no utils/check-package")
def test_check_package() -> None:
    """Buildroot's utils/check-package on the tree's package and board files."""
    python = check_package_python()
    if python is None:
        pytest.skip("check-package needs python-magic and flake8 (apt-get install python3-magic flake8)")
    files = sorted(
        str(p.relative_to(REPO))
        for d in ("package", "board", "configs")
        for p in (REPO / d).rglob("*")
        if p.is_file()
    )
    result = subprocess.run(
        [python, str(Path(BUILDROOT) / "utils" / "check-package"), "-b", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^0 warnings generated", result.stderr + result.stdout, re.M), result.stdout + result.stderr
