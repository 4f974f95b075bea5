"""The board lab's kernel: mainline sunxi_defconfig + the board's fragment + virt.fragment.

Built from Debian's linux-source tarball with Debian's ARM cross compiler,
cached under ``<cache>/kernel-<key>``: the key hashes both fragments and the
tarball's name and size, so a change to either rebuilds and nothing else does.
The cache holds ``zImage``, ``config`` and ``modules/lib/modules/<release>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BOARD_FRAGMENT = REPO / "board/t113/linux-hotshare.fragment"
VIRT_FRAGMENT = Path(__file__).with_name("virt.fragment")
CROSS = "arm-linux-gnueabihf-"
SOURCES = ("/usr/src/linux-source-6.12.tar.xz", "/usr/src/linux-source-6.1.tar.xz")


class KernelError(RuntimeError):
    pass


def source_tarball() -> Path | None:
    env = os.environ.get("HOTSHARE_BOARD_LINUX_SOURCE")
    for candidate in [env] if env else SOURCES:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def cache_key(tarball: Path) -> str:
    h = hashlib.sha256()
    for frag in (BOARD_FRAGMENT, VIRT_FRAGMENT):
        h.update(frag.read_bytes())
    h.update(f"{tarball.name}:{tarball.stat().st_size}".encode())
    return h.hexdigest()[:16]


def fragment_options(path: Path) -> dict[str, str]:
    """``{CONFIG_X: value}`` of a fragment ("n" for ``# CONFIG_X is not set``)."""
    options: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line) or re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            options[m.group(1)] = m.group(2) if m.lastindex == 2 else "n"
    return options


def unmet(config: Path) -> list[str]:
    """Fragment options whose value did not survive olddefconfig."""
    have = fragment_options(config)
    wanted = {**fragment_options(BOARD_FRAGMENT), **fragment_options(VIRT_FRAGMENT)}
    return [f"{k}={v} (got {have.get(k, 'n')})" for k, v in wanted.items() if have.get(k, "n") != v]


def _make(build: Path, log: Path, *targets: str, jobs: int = 1, extra: list[str] | None = None) -> None:
    argv = ["nice", "make", "-C", str(build), "ARCH=arm", f"CROSS_COMPILE={CROSS}", f"-j{jobs}", *(extra or []),
            *targets]  # fmt: skip
    with open(log, "a") as out:
        out.write(f"# {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise KernelError(f"kernel: make {' '.join(targets)} failed; see {log}")


def build(cache: Path, jobs: int = 2, log_prefix: str = "board-lab") -> Path:
    """The cached kernel directory, built first if missing."""
    tarball = source_tarball()
    if tarball is None:
        raise KernelError(f"no kernel source: none of {', '.join(SOURCES)} (apt-get install linux-source-6.12)")
    if shutil.which(CROSS + "gcc") is None:
        raise KernelError(f"{CROSS}gcc not found (apt-get install gcc-arm-linux-gnueabihf)")
    for tool in ("bison", "flex", "bc"):
        if shutil.which(tool) is None:
            raise KernelError(f"{tool} not found (apt-get install {tool})")
    done = cache / f"kernel-{cache_key(tarball)}"
    if (done / "zImage").is_file():
        return done
    work = done.with_name(done.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    src = work / "src"
    src.mkdir(parents=True)
    log = work / "build.log"
    start = time.monotonic()
    print(f"{log_prefix}: building the kernel from {tarball.name} (-j{jobs}, several minutes); log {log}", flush=True)
    subprocess.run(["tar", "-xJf", str(tarball), "-C", str(src), "--strip-components=1"], check=True)
    _make(src, log, "sunxi_defconfig")
    with open(log, "a") as out:
        subprocess.run(
            ["scripts/kconfig/merge_config.sh", "-m", ".config", str(BOARD_FRAGMENT), str(VIRT_FRAGMENT)],
            cwd=src, stdout=out, stderr=subprocess.STDOUT, check=True,
            env={**os.environ, "ARCH": "arm", "CROSS_COMPILE": CROSS},
        )  # fmt: skip
    _make(src, log, "olddefconfig")
    missing = unmet(src / ".config")
    if missing:
        raise KernelError("kernel: fragment options lost in olddefconfig: " + ", ".join(missing))
    _make(src, log, "zImage", "modules", jobs=jobs)
    _make(src, log, "modules_install", extra=[f"INSTALL_MOD_PATH={work / 'modules'}", "INSTALL_MOD_STRIP=1"])
    shutil.copy(src / "arch/arm/boot/zImage", work / "zImage")
    shutil.copy(src / ".config", work / "config")
    shutil.rmtree(src)
    (work / "build-seconds").write_text(f"{time.monotonic() - start:.0f}\n")
    shutil.rmtree(done, ignore_errors=True)
    work.rename(done)
    print(f"{log_prefix}: kernel built in {time.monotonic() - start:.0f}s: {done}", flush=True)
    return done


def release(kernel_dir: Path) -> str:
    """The kernel release (``6.12.xx``): the name of its modules directory."""
    found = sorted((kernel_dir / "modules/lib/modules").iterdir())
    if not found:
        raise KernelError(f"{kernel_dir}: no modules installed")
    return found[0].name


if __name__ == "__main__":
    import sys

    print(build(Path.home() / ".cache/hotshare/board-lab", int(sys.argv[1]) if len(sys.argv) > 1 else 2))
