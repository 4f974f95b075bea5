"""Linux Kconfig trees from Debian's linux-source-* tarballs, for checking
kernel config fragments with kconfiglib, offline.

Only what Kconfig parsing needs is extracted (every Kconfig* file, the
scripts its $(shell,...) macros run, the arm defconfigs, the top
Makefile), once per tarball, into <repo>/.cache/linux-kconfig/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kconfiglib

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("HOTSHARE_CACHE", REPO / ".cache")) / "linux-kconfig"
SOURCES_GLOB = os.environ.get("HOTSHARE_LINUX_SOURCES", "/usr/src/linux-source-*.tar.xz")
CROSS_COMPILE = "arm-linux-gnueabihf-"

INSTALL_HINT = (
    "install Debian's kernel sources and the arm cross compiler: "
    "apt-get install linux-source-6.1 gcc-arm-linux-gnueabihf"
)


class Missing(Exception):
    """A tool or file the check needs is not on this machine."""


@dataclasses.dataclass(frozen=True)
class Source:
    tarball: Path
    version: tuple[int, int]

    @property
    def name(self) -> str:
        return ".".join(map(str, self.version))


def parse_version(text: str) -> tuple[int, int]:
    major, minor = text.strip().split(".")[:2]
    return int(major), int(minor)


def find_sources() -> list[Source]:
    """Every linux-source tarball installed, oldest first."""
    found = []
    for path in sorted(Path("/").glob(SOURCES_GLOB.lstrip("/"))):
        match = re.fullmatch(r"linux-source-(\d+\.\d+)\.tar\.xz", path.name)
        if match:
            found.append(Source(path, parse_version(match.group(1))))
    return sorted(found, key=lambda s: s.version)


def _patterns(top: str) -> list[str]:
    return [
        f"{top}/*Kconfig*",
        f"{top}/scripts/*.sh",
        f"{top}/arch/arm/configs/*",
        f"{top}/Makefile",
    ]


def _shim(srctree: Path) -> None:
    """kconfiglib 14.1 predates the bare "modules" attribute (Linux 6.0
    turned "option modules" into it): write it back the old way."""
    for kconfig in srctree.rglob("Kconfig*"):
        text = kconfig.read_text(errors="replace")
        if re.search(r"^\tmodules$", text, re.M):
            kconfig.write_text(re.sub(r"^\tmodules$", "\toption modules", text, flags=re.M))


def srctree(source: Source) -> Path:
    """The extracted tree for source, extracting it on first use."""
    top = source.tarball.name[: -len(".tar.xz")]
    dest = CACHE / top
    stamp = dest / ".hotshare-extracted"
    st = source.tarball.stat()
    key = f"{source.tarball} {st.st_size} {int(st.st_mtime)}\n"
    if stamp.is_file() and stamp.read_text() == key:
        return dest / top
    if dest.exists():
        shutil.rmtree(dest)
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if shutil.which("tar") is None:
        raise Missing("tar not found")
    # GNU tar with xz: about three times faster than tarfile here.
    subprocess.run(
        ["tar", "-xJf", str(source.tarball), "-C", str(tmp), "--wildcards", *_patterns(top)],
        check=True,
    )
    _shim(tmp / top)
    (tmp / ".hotshare-extracted").write_text(key)
    try:
        tmp.rename(dest)
    except OSError:  # another test process got there first
        shutil.rmtree(tmp)
    return dest / top


def kernel_version(tree: Path) -> str:
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)", (tree / "Makefile").read_text(), re.M))
    return "{VERSION}.{PATCHLEVEL}.{SUBLEVEL}".format(**fields)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _kconfig_env(tree: Path) -> dict[str, str]:
    cc = CROSS_COMPILE + "gcc"
    if shutil.which(cc) is None:
        raise Missing(f"{cc} not found: {INSTALL_HINT}")
    version_text = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    return {
        "srctree": str(tree),
        "ARCH": "arm",
        "SRCARCH": "arm",
        "CROSS_COMPILE": CROSS_COMPILE,
        "CC": cc,
        "LD": CROSS_COMPILE + "ld",
        "OBJCOPY": CROSS_COMPILE + "objcopy",
        "CC_VERSION_TEXT": version_text,
        "HOSTCC": "gcc",
        "HOSTCXX": "g++",
        "RUSTC": "rustc",
        "BINDGEN": "bindgen",
        "KERNELVERSION": kernel_version(tree),
    }


@functools.cache
def load_kconfig(source: Source) -> kconfiglib.Kconfig:
    """The arm Kconfig tree of source (parsed once per session)."""
    tree = srctree(source)
    with _environ(_kconfig_env(tree)):
        return kconfiglib.Kconfig(str(tree / "Kconfig"), warn_to_stderr=False, suppress_traceback=False)


# ---------------------------------------------------------------------------
# Fragments


@dataclasses.dataclass(frozen=True)
class Assignment:
    fragment: Path
    line: int
    name: str  # without CONFIG_
    value: str  # y, m, n, or the unquoted string/number


@dataclasses.dataclass
class Fragment:
    path: Path
    assignments: list[Assignment]
    min_version: tuple[int, int] | None


_SET = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set$")
_MIN = re.compile(r"^#\s*min-linux-version:\s*(\d+\.\d+)\s*$")


def parse_fragment(path: Path) -> Fragment:
    """Reads a fragment; a malformed line raises ValueError naming it."""
    assignments = []
    min_version = None
    seen: dict[str, int] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        where = f"{path.name}:{number}"
        if match := _MIN.match(line):
            min_version = parse_version(match.group(1))
            continue
        if match := _UNSET.match(line):
            name, value = match.group(1), "n"
        elif match := _SET.match(line):
            name, value = match.group(1), match.group(2)
            if value.startswith('"'):
                if len(value) < 2 or not value.endswith('"'):
                    raise ValueError(f"{where}: unterminated string: {raw}")
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        elif not line or line.startswith("#"):
            continue
        else:
            raise ValueError(f"{where}: not a CONFIG_ assignment: {raw}")
        if name in seen:
            raise ValueError(f"{where}: CONFIG_{name} already set on line {seen[name]}")
        seen[name] = number
        assignments.append(Assignment(path, number, name, value))
    return Fragment(path, assignments, min_version)


def check_fragments(kconf: kconfiglib.Kconfig, defconfig: Path, fragments: list[Fragment]) -> list[str]:
    """Loads defconfig, merges fragments in order, as Buildroot does, and
    returns one message per option that is unknown or did not keep the
    requested value. No message: every option holds."""
    kconf.load_config(str(defconfig), replace=True)
    for fragment in fragments:
        kconf.load_config(str(fragment.path), replace=False)
    problems = []
    for fragment in fragments:
        for a in fragment.assignments:
            where = f"{a.fragment.name}:{a.line}"
            sym = kconf.syms.get(a.name)
            if sym is None or not sym.nodes:
                problems.append(f"{where}: CONFIG_{a.name} is not a Linux option (typo, or not in this kernel version)")
                continue
            got = sym.str_value
            if got == a.value:
                continue
            why = ""
            if sym.direct_dep is not kconf.y:
                dep = kconfiglib.expr_str(sym.direct_dep)
                why = f"; depends on {dep} (= {kconfiglib.TRI_TO_STR[kconfiglib.expr_value(sym.direct_dep)]})"
            if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE) and a.value not in ("y", "m", "n"):
                why += f"; {kconfiglib.TYPE_TO_STR[sym.orig_type]} option"
            if a.value == "m" and sym.orig_type == kconfiglib.BOOL:
                why += "; bool option, cannot be a module"
            problems.append(f"{where}: CONFIG_{a.name}={a.value} requested, got {got or 'n'} after merging{why}")
    return problems
