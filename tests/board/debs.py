"""Debian armhf packages for the board lab, through a private apt configuration.

Nothing of the host's apt state is touched: lists, the download cache and a
fake dpkg status live under ``<cache>/apt``.  The fake status declares the
packages a real install would need only for their maintainer scripts (dpkg,
perl, debconf, adduser...) as installed, so they stay out of the closure.
The downloaded set is remembered per package list: a second run with the
same list uses the cached .debs and does not go to the network at all.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

# What the image runs, plus what the lab's checks use (all in the image:
# the phone's wpa_supplicant, BusyBox's udhcpc/wget/httpd, dnsmasq as the
# "internet"'s DNS server).
PACKAGES = [
    "busybox",  # Debian's dynamic one: busybox-static's sh runs its own ip before iproute2's
    "python3.11-minimal",
    "libpython3.11-stdlib",
    "python3-minimal",
    "python3-cffi-backend",
    "hostapd",
    "dnsmasq-base",
    "nftables",
    "iw",
    "wpasupplicant",
    "iproute2",
    "kmod",
    "wireless-regdb",  # as BR2_PACKAGE_WIRELESS_REGDB; its alternatives are made by rootfs.py
    "ppp",  # pppd and chat, as BR2_PACKAGE_PPPD: S45modem dials, and the lab's modem answers
    "socat",  # the lab's modem: a pty pair, /dev/ttyUSB2 on the board's side
]
# Downloaded, not installed: the armhf headers the C helper compiles against.
BUILD_ONLY = ["libpython3.11-dev"]
# Needed only by maintainer scripts, which are not run. (pppd links
# libpam0g, and it libaudit1: those are unpacked; PAM's modules are not.)
FAKE_INSTALLED = [
    "dpkg", "tar", "perl-base", "perl", "perl-modules-5.36", "debconf", "usrmerge", "init-system-helpers",
    "adduser", "passwd", "libpam-modules", "libpam-modules-bin", "libpam-runtime", "libcap2-bin",
    "libsemanage2", "libsemanage-common", "libsepol2", "tzdata",
    "lsb-base", "sysvinit-utils", "debianutils", "sensible-utils",
]  # fmt: skip

HOST_SOURCES = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
FALLBACK = [("http://deb.debian.org/debian", "bookworm"), ("http://deb.debian.org/debian", "bookworm-updates"),
            ("http://deb.debian.org/debian-security", "bookworm-security")]  # fmt: skip


class DebsError(RuntimeError):
    pass


def host_debian_sources() -> list[tuple[str, str]]:
    """(URI, suite) pairs of the host's Debian sources (one-line and deb822)."""
    found: list[tuple[str, str]] = []
    for path in HOST_SOURCES:
        if not path.is_file() or not (path.name == "sources.list" or path.suffix in (".list", ".sources")):
            continue
        text = path.read_text(errors="replace")
        for line in text.splitlines():
            m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+.*\bmain\b", line.strip())
            if m:
                found.append((m.group(1), m.group(2)))
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and "main" in fields.get("Components", "").split():
                found += [(fields.get("URIs", ""), s) for s in fields.get("Suites", "").split()]
    debian = [(u.rstrip("/"), s) for u, s in found if re.search(r"/debian(-security)?$", u.rstrip("/"))]
    return list(dict.fromkeys(debian)) or FALLBACK


class Apt:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "apt.conf"
        self.status = root / "state/status"
        self.archives = root / "cache/archives"

    def setup(self) -> None:
        for d in ("etc/apt.conf.d", "etc/preferences.d", "etc/trusted.gpg.d", "state/lists/partial",
                  "cache/archives/partial", "log"):  # fmt: skip
            (self.root / d).mkdir(parents=True, exist_ok=True)
        lines = [f"deb [arch=armhf signed-by={KEYRING}] {uri} {suite} main" for uri, suite in host_debian_sources()]
        (self.root / "etc/sources.list").write_text("\n".join(lines) + "\n")
        r = self.root
        self.conf.write_text(
            'APT::Architecture "armhf";\nAPT::Architectures { "armhf"; };\n'
            f'Dir::State "{r}/state";\nDir::State::status "{self.status}";\n'
            f'Dir::Cache "{r}/cache";\nDir::Etc "{r}/etc";\nDir::Log "{r}/log";\n'
            'Debug::NoLocking "true";\nAcquire::Languages "none";\n'
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
            'APT::Sandbox::User "root";\n'
        )
        if not self.status.exists():
            self.status.write_text("")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["apt-get", *args], env={"APT_CONFIG": str(self.conf), "PATH": "/usr/bin:/bin:/usr/sbin"},
                              capture_output=True, text=True, check=False)  # fmt: skip
        if check and proc.returncode != 0:
            raise DebsError(f"apt-get {' '.join(args)} failed: {proc.stderr.strip()[-1500:]}")
        return proc

    def update(self) -> list[str]:
        """apt-get update; a failing suite (a stale bookworm-security index on
        the mirror: "File has unexpected size") is tolerated as long as the
        main suite's index arrived.  Returns the warnings."""
        proc = self.run("update", check=False)
        if proc.returncode == 0:
            return []
        if not list((self.root / "state/lists").glob("*_dists_bookworm_main_binary-armhf_Packages*")):
            raise DebsError(f"apt-get update failed: {proc.stderr.strip()[-1500:]}")
        return [line for line in proc.stderr.splitlines() if line.startswith(("E:", "W:"))]

    def fake_status(self) -> None:
        """Declare FAKE_INSTALLED installed, at their candidate versions."""
        stanzas = []
        for pkg in FAKE_INSTALLED:
            proc = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg], capture_output=True, text=True,
                                  env={"APT_CONFIG": str(self.conf)}, check=False)  # fmt: skip
            m = re.search(r"^Version: (\S+)", proc.stdout, re.M)
            if not m:
                continue
            arch = re.search(r"^Architecture: (\S+)", proc.stdout, re.M)
            multi = re.search(r"^Multi-Arch: (\S+)", proc.stdout, re.M)
            stanzas.append(
                f"Package: {pkg}\nStatus: install ok installed\nPriority: optional\nSection: admin\n"
                f"Maintainer: board-lab\nArchitecture: {arch.group(1) if arch else 'armhf'}\n"
                + (f"Multi-Arch: {multi.group(1)}\n" if multi else "")
                + f"Version: {m.group(1)}\nDescription: declared installed by tests/board (not unpacked)\n"
            )
        self.status.write_text("\n".join(stanzas))


def list_key(extra: Sequence[str] = ()) -> str:
    return hashlib.sha256(" ".join(PACKAGES + list(extra) + BUILD_ONLY + FAKE_INSTALLED).encode()).hexdigest()[:12]


def fetch(cache: Path, log: list[str], extra: Sequence[str] = ()) -> tuple[list[Path], list[Path]]:
    """(the image's .debs, the build-only .debs), downloaded once and cached.
    ``extra``: packages some boots need on top of PACKAGES (the board
    benchmark's bash, iptables, util-linux and strace for create_ap)."""
    apt = Apt(cache / "apt")
    packages = PACKAGES + list(extra)
    manifest = cache / f"debs-{list_key(extra)}.txt"
    if manifest.is_file():
        names = manifest.read_text().split()
        paths = [apt.archives / n for n in names]
        if all(p.is_file() for p in paths):
            image = [p for p in paths if not p.name.startswith(tuple(f"{b}_" for b in BUILD_ONLY))]
            return image, [p for p in paths if p not in image]
    apt.setup()
    apt.status.write_text("")
    log += apt.update()
    apt.fake_status()
    sim = apt.run("install", "-s", *packages).stdout
    wanted = re.findall(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) ", sim, re.M)
    apt.run("install", "-y", "--download-only", *packages)
    subprocess.run(["apt-get", "download", *BUILD_ONLY], cwd=apt.archives, env={"APT_CONFIG": str(apt.conf)},
                   capture_output=True, check=True)  # fmt: skip
    image = [_deb(apt.archives, name, version) for name, version in wanted]
    build_only = [_deb(apt.archives, name, None) for name in BUILD_ONLY]
    manifest.write_text("\n".join(p.name for p in image + build_only) + "\n")
    return image, build_only


def _deb(archives: Path, name: str, version: str | None) -> Path:
    pattern = f"{name}_{(version or '*').replace(':', '%3a')}_*.deb"
    found = sorted(archives.glob(pattern))
    if not found:
        raise DebsError(f"{name} {version or ''}: no .deb in {archives}")
    return found[-1]
