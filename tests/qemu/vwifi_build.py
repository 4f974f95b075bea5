"""vwifi.ko for the lab kernel: built from a source directory, cached, checked.

The lab never ships vwifi: it is given a source directory (HOTSHARE_VWIFI_SRC,
in CI ../shared/vwifi/src) and builds it against the Debian headers of the
lab kernel (``linux-headers-<release>``, installed by support/setup).  A build
is cached under ``<cache>/<key>/vwifi.ko``, the key a hash of the source files,
the kernel release and the headers' Module.symvers: a new source or a new
kernel builds again (seconds), anything else reuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE_SUFFIXES = (".c", ".h")
SOURCE_NAMES = ("Makefile", "Kbuild")
ENABLE_HINT = "set HOTSHARE_VWIFI_SRC to a vwifi source directory (CI: ../shared/vwifi/src) to run it"


class VwifiError(Exception):
    """vwifi cannot be built or loaded for this kernel; the message says why and what to do."""


def release_of(image: Path) -> str:
    """``6.1.0-57-amd64`` from ``/boot/vmlinuz-6.1.0-57-amd64``."""
    if not image.name.startswith("vmlinuz-"):
        raise VwifiError(f"cannot tell the release of kernel image {image} (expected /boot/vmlinuz-<release>)")
    return image.name.removeprefix("vmlinuz-")


def source_files(src: Path) -> list[Path]:
    files = sorted(p for p in src.iterdir() if p.is_file() and (p.suffix in SOURCE_SUFFIXES or p.name in SOURCE_NAMES))
    if not any(p.name == "vwifi.c" for p in files):
        raise VwifiError(f"HOTSHARE_VWIFI_SRC={src}: no vwifi.c there")
    return files


def cache_key(src: Path, release: str, headers: Path) -> str:
    digest = hashlib.sha256(release.encode())
    for path in source_files(src):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    symvers = headers / "Module.symvers"
    if symvers.is_file():
        digest.update(symvers.read_bytes())
    return digest.hexdigest()[:16]


def vermagic(ko: Path) -> str:
    modinfo = shutil.which("modinfo") or "/sbin/modinfo"
    proc = subprocess.run([modinfo, "-F", "vermagic", str(ko)], capture_output=True, text=True, check=False)
    words = proc.stdout.split()
    return words[0] if words else ""


def check(ko: Path, release: str) -> None:
    """The module's vermagic names the guest kernel's release (insmod would refuse it otherwise)."""
    if not ko.is_file():
        raise VwifiError(f"{ko}: no such file")
    found = vermagic(ko)
    if found != release:
        raise VwifiError(f"{ko} is built for {found or 'an unknown kernel'}, the lab kernel is {release}")


def build(src: Path, release: str, cache: Path) -> tuple[Path, bool]:
    """``(path of vwifi.ko, whether it came from the cache)``; raises VwifiError."""
    headers = Path(f"/lib/modules/{release}/build")
    if not (headers / "Makefile").is_file():
        raise VwifiError(f"no kernel headers for {release}: apt-get install linux-headers-{release} (support/setup)")
    key = cache_key(src, release, headers)
    ko = cache / f"{release}-{key}" / "vwifi.ko"
    if ko.is_file():
        check(ko, release)
        return ko, True
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=cache)).resolve()
    try:
        for path in source_files(src):
            shutil.copy(path, work / path.name)
        proc = subprocess.run(
            ["make", "-C", str(headers), f"M={work}", "modules"],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        (work / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0 or not (work / "vwifi.ko").is_file():
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise VwifiError(f"building vwifi from {src} for {release} failed:\n{tail}")
        check(work / "vwifi.ko", release)
        ko.parent.mkdir(exist_ok=True)
        os.replace(work / "vwifi.ko", ko)
        os.replace(work / "build.log", ko.parent / "build.log")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ko, False


def from_env(environ: dict[str, str] | os._Environ[str], release: str, cache: Path) -> Path | None:
    """The vwifi.ko to use: HOTSHARE_VWIFI_KO as given (checked), else built from
    HOTSHARE_VWIFI_SRC; None when neither is set."""
    given = environ.get("HOTSHARE_VWIFI_KO")
    if given:
        check(Path(given), release)
        return Path(given).resolve()
    src = environ.get("HOTSHARE_VWIFI_SRC")
    if not src:
        return None
    path = Path(src).resolve()
    if not path.is_dir():
        raise VwifiError(f"HOTSHARE_VWIFI_SRC={src}: no such directory")
    ko, _cached = build(path, release, cache)
    return ko
