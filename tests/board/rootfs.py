"""The board lab's root filesystem: Debian armhf packages, no root mounts, no loop device.

Each .deb is unpacked with ``dpkg-deb -x`` (no maintainer scripts), /bin,
/sbin and /lib are merged into /usr afterwards (``dpkg-deb -x`` would replace
pre-made symlinks), docs and locales are pruned, BusyBox's applets linked
where no real tool is, Python byte-compiled; then the board's files (a
BusyBox init laid out as Buildroot's skeleton, board/t113/rootfs_overlay,
hotshare as its package installs it, post-build.sh), then the lab's own
files, and ``mke2fs -d`` makes the ext4 image.  Run as root (or under
fakeroot) so that the files are root's in the image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import debs
import hotshare_pkg

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
IMAGE_FILES = HERE / "image"
LAB_FILES = HERE / "lab"
PRUNE = ["usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
         "usr/share/bug", "usr/share/bash-completion", "usr/share/zsh", "usr/share/python3/runtime.d",
         "usr/lib/python3.11/test", "usr/lib/python3.11/idlelib", "usr/lib/python3.11/tkinter",
         "usr/lib/python3.11/turtledemo", "usr/lib/python3.11/ensurepip", "usr/lib/python3.11/lib2to3",
         "usr/lib/python3.11/pydoc_data", "etc/init.d", "etc/rc0.d", "etc/rc1.d", "etc/rc2.d", "etc/rc3.d",
         "etc/rc4.d", "etc/rc5.d", "etc/rc6.d", "etc/rcS.d", "etc/systemd", "usr/lib/systemd",
         # Buildroot's pppd installs no /etc/ppp (options, ip-up scripts): S45modem writes its peer
         "etc/ppp", "etc/chatscripts"]  # fmt: skip
IMAGE_SIZE = "256M"


class RootfsError(RuntimeError):
    pass


def _merge_dir(src: Path, dst: Path) -> None:
    """Move everything under ``src`` into ``dst`` (existing files in dst win), remove src."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in list(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink() and target.is_dir() and not target.is_symlink():
            _merge_dir(entry, target)
        elif not target.exists() and not target.is_symlink():
            entry.rename(target)
        else:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    src.rmdir()


def merge_usr(root: Path) -> None:
    for d in ("bin", "sbin", "lib"):
        top = root / d
        if top.is_dir() and not top.is_symlink():
            _merge_dir(top, root / "usr" / d)
        if not top.is_symlink():
            top.symlink_to(f"usr/{d}")


def link_busybox(root: Path) -> int:
    """Symlink BusyBox's applets at their usual paths, where no real tool is."""
    proc = subprocess.run(["qemu-arm", "-L", str(root), str(root / "usr/bin/busybox"), "--list-full"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RootfsError(f"busybox --list-full under qemu-arm failed: {proc.stderr.strip()}")
    made = 0
    for rel in proc.stdout.split():
        # merged /usr: bin/x and sbin/x live in usr/bin and usr/sbin
        rel = rel if rel.startswith("usr/") else f"usr/{rel}"
        path = root / rel
        if path.exists() or path.is_symlink():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to("/usr/bin/busybox")
        made += 1
    return made


def _copy(src: Path, dest: Path, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    dest.chmod(mode)


def board_files(root: Path) -> None:
    """What Buildroot's skeleton, busybox package and the tree's overlay give the T113 image."""
    for name, dest, mode in (("inittab", "etc/inittab", 0o644), ("fstab", "etc/fstab", 0o644),
                             ("rcS", "etc/init.d/rcS", 0o755), ("rcK", "etc/init.d/rcK", 0o755),
                             ("S01syslogd", "etc/init.d/S01syslogd", 0o755), ("passwd", "etc/passwd", 0o644),
                             ("S40network", "etc/init.d/S40network", 0o755),
                             ("S80dnsmasq", "etc/init.d/S80dnsmasq", 0o755),
                             ("group", "etc/group", 0o644), ("hostname", "etc/hostname", 0o644),
                             ("hosts", "etc/hosts", 0o644)):  # fmt: skip
        _copy(IMAGE_FILES / name, root / dest, mode)
    for d in ("dev", "proc", "sys", "run", "tmp", "root", "var", "mnt"):
        (root / d).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    for name, target in (("var/run", "../run"), ("var/log", "../tmp"), ("var/tmp", "../tmp"),
                         ("var/lock", "../tmp"), ("etc/resolv.conf", "../tmp/resolv.conf")):  # fmt: skip
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target)
    (root / "sbin/init").unlink(missing_ok=True)
    (root / "sbin/init").symlink_to("/usr/bin/busybox")
    overlay = REPO / "board/t113/rootfs_overlay"
    shutil.copytree(overlay, root, dirs_exist_ok=True, symlinks=True)


def lab_files(root: Path) -> None:
    """The lab's own additions: its init scripts, checks, the lab library, the web root."""
    dest = root / "usr/lib/hotshare-lab"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "tests/lab", dest / "lab", ignore=ignore, dirs_exist_ok=True)
    (dest / "lab/udhcpc.script").chmod(0o755)
    for src in sorted(LAB_FILES.glob("*.py")):
        _copy(src, dest / src.name, 0o644)
    shutil.copytree(LAB_FILES / "www", dest / "www", dirs_exist_ok=True)
    for name in ("S10lab", "S99lab"):
        _copy(LAB_FILES / name, root / "etc/init.d" / name, 0o755)
    _copy(LAB_FILES / "nft-nojson", dest / "nft-nojson", 0o755)
    _copy(LAB_FILES / "modem.chat", dest / "modem.chat", 0o644)


def du_mb(root: Path) -> float:
    out = subprocess.run(["du", "-sk", str(root)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1024


def build(cache: Path, kernel_dir: Path, out: Path, say: object = print, extra_debs: Sequence[str] = (),
          customize: Callable[[Path], None] | None = None) -> dict[str, str]:
    """Assemble the image into ``out/root.ext4``; returns facts for the log.
    ``extra_debs`` and ``customize`` (called with the tree before it is
    byte-compiled and imaged) are for boots that need more than the lab
    image (the board benchmark: create_ap and what it runs)."""
    assert callable(say)
    if os.geteuid() != 0:
        raise RootfsError("the root filesystem is assembled as root (files owned by root in the image)")
    for tool in ("dpkg-deb", "mke2fs", "qemu-arm"):
        if shutil.which(tool) is None:
            raise RootfsError(f"{tool} not found (apt-get install dpkg e2fsprogs qemu-user)")
    start = time.monotonic()
    warnings: list[str] = []
    image_debs, build_debs = debs.fetch(cache, warnings, extra_debs)
    for w in warnings:
        say(f"board-lab: apt: {w}")
    root = out / "rootfs"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for deb in image_debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    merge_usr(root)
    for rel in PRUNE:
        shutil.rmtree(root / rel, ignore_errors=True)
    applets = link_busybox(root)
    # wireless-regdb's postinst (update-alternatives) is not run: the
    # upstream database, signed with the key every mainline kernel trusts.
    for name in ("regulatory.db", "regulatory.db.p7s"):
        link = root / "usr/lib/firmware" / name
        if not link.exists():
            link.symlink_to(f"{name}-upstream")
    shutil.copytree(kernel_dir / "modules/lib/modules", root / "usr/lib/modules", symlinks=True, dirs_exist_ok=True)
    for link in (root / "usr/lib/modules").glob("*/build"):
        link.unlink()
    board_files(root)
    installed = hotshare_pkg.install(root, out / "hotshare-build", build_debs[0])
    subprocess.run([str(REPO / "board/t113/post-build.sh"), str(root)], check=True)
    lab_files(root)
    if customize is not None:
        customize(root)
    py = hotshare_pkg.build_python()
    subprocess.run([py, "-m", "compileall", "-q", "-j2", "-s", str(root), "-p", "/",
                    str(root / "usr/lib/python3.11"), str(root / "usr/lib/hotshare-lab")],
                   check=True, capture_output=True)  # fmt: skip
    size = du_mb(root)
    image = out / "root.ext4"
    image.unlink(missing_ok=True)
    proc = subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "hotshare", "-d", str(root), str(image),
                           IMAGE_SIZE], capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RootfsError(f"mke2fs failed: {proc.stderr.strip()}")
    if not os.environ.get("HOTSHARE_BOARD_KEEP_TREE"):
        shutil.rmtree(root)
    return {"debs": str(len(image_debs)), "tree": f"{size:.0f} MB", "applets": str(applets), **installed,
            "seconds": f"{time.monotonic() - start:.1f}"}
