"""hotshare as the Buildroot package installs it, for the board lab's root filesystem.

- a wheel built from python/ through its PEP 517 backend (setuptools'
  build_meta), from a copy of python/ and csrc/ (as Buildroot rsyncs the
  package source), with cffi hidden: the wheel is pure Python;
- the cffi helper hotshare._ctacct cross-compiled for the T113 (Cortex-A7,
  NEON-VFPv4, hard float): its C source emitted by the host's cffi from
  csrc/build_ffi.py, compiled against Debian's armhf Python headers;
- both installed into /usr/lib/python3/dist-packages of the image, the
  console script /usr/bin/hotshare written from the wheel's entry points,
  everything byte-compiled;
- package/hotshare's init script, firstboot and defaults where hotshare.mk
  puts them.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "package/hotshare"
CROSS_CC = "arm-linux-gnueabihf-gcc"
T113_CFLAGS = ["-shared", "-fPIC", "-O2", "-mcpu=cortex-a7", "-mfpu=neon-vfpv4", "-mfloat-abi=hard"]
EXT_SUFFIX = ".cpython-311-arm-linux-gnueabihf.so"
SITE = "usr/lib/python3/dist-packages"

BUILD_WHEEL = """\
import sys
sys.modules["cffi"] = None  # setup.py then registers no cffi module: a pure wheel
from setuptools import build_meta
print(build_meta.build_wheel(sys.argv[1]))
"""

EMIT_C = """\
import sys
sys.path.insert(0, sys.argv[1])
import build_ffi
build_ffi.make_builder().emit_c_code(sys.argv[2])
"""

CONSOLE_SCRIPT = """\
#!/usr/bin/python3
import sys
from {module} import {func}
if __name__ == "__main__":
    sys.exit({func}())
"""


class PackageError(RuntimeError):
    pass


def _run(argv: list[str], **kw: object) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise PackageError(f"{argv[0]} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-1500:]}")
    return str(proc.stdout)


CAN_BUILD = """\
import re, sys, setuptools
try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:
    import wheel  # older setuptools need the wheel package
have = tuple(int(p) for p in re.findall(r"\\d+", setuptools.__version__)[:2])
sys.exit(0 if have >= tuple(int(p) for p in sys.argv[1].split(".")) else 1)
"""


def setuptools_minimum() -> str:
    """The ``setuptools>=X`` of python/pyproject.toml's build-system.requires."""
    text = (REPO / "python/pyproject.toml").read_text()
    m = re.search(r"[\"']setuptools\s*>=\s*([\d.]+)", text)
    return ".".join(m.group(1).split(".")[:2]) if m else "0"


def build_python() -> str:
    """An interpreter with what python/pyproject.toml's build needs (the
    project's venv first, then Debian's python3 with python3-setuptools and
    python3-wheel): Buildroot's host-python-setuptools plays that part."""
    venv = REPO / ".venv/bin/python"
    minimum = setuptools_minimum()
    for candidate in (str(venv), "/usr/bin/python3", sys.executable):
        if not os.path.exists(candidate):
            continue
        ok = subprocess.run([candidate, "-c", CAN_BUILD, minimum], capture_output=True, check=False)
        if ok.returncode == 0:
            return candidate
    raise PackageError(f"no Python with setuptools>={minimum} and bdist_wheel (make venv, or apt-get install "
                       "python3-setuptools python3-wheel)")


def build_wheel(work: Path) -> Path:
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.so", "*.o")
    shutil.copytree(REPO / "python", src, ignore=ignore)
    shutil.copytree(REPO / "csrc", src / "csrc", ignore=ignore)
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    name = _run([build_python(), "-c", BUILD_WHEEL, str(dist)], cwd=src).strip().splitlines()[-1]
    wheel = dist / name
    if not wheel.name.endswith("-py3-none-any.whl"):
        raise PackageError(f"expected a pure wheel, got {wheel.name}")
    return wheel


def cross_compile_helper(work: Path, pydev: Path) -> Path:
    """_ctacct for armhf; ``pydev`` holds libpython3.11-dev:armhf unpacked."""
    if shutil.which(CROSS_CC) is None:
        raise PackageError(f"{CROSS_CC} not found (apt-get install gcc-arm-linux-gnueabihf)")
    csrc = REPO / "csrc"
    c_file = work / "_ctacct.c"
    _run([str(REPO / ".venv/bin/python") if (REPO / ".venv/bin/python").exists() else sys.executable,
          "-c", EMIT_C, str(csrc), str(c_file)])  # fmt: skip
    out = work / f"_ctacct{EXT_SUFFIX}"
    includes = [f"-I{pydev}/usr/include/python3.11", f"-I{pydev}/usr/include", f"-I{csrc}"]
    _run([CROSS_CC, *T113_CFLAGS, *includes, str(c_file), str(csrc / "ctacct.c"), "-o", str(out)])
    return out


# hotshare.mk's HOTSHARE_INSTALL_CREATE_AP_NAME (BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME=y):
# `ln -sf hotshare $(TARGET_DIR)/usr/bin/create_ap`
CREATE_AP_LINK = ("usr/bin/create_ap", "hotshare")


def install(root: Path, work: Path, pydev_deb: Path, create_ap_name: bool = True) -> dict[str, str]:
    """Install hotshare into the image at ``root``; returns what was installed.
    ``create_ap_name``: as with BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME=y."""
    work.mkdir(parents=True, exist_ok=True)
    pydev = work / "pydev"
    shutil.rmtree(pydev, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(pydev_deb), str(pydev)])
    wheel = build_wheel(work)
    helper = cross_compile_helper(work, pydev)
    site = root / SITE
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
        names = zf.namelist()
    dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    shutil.copy(helper, site / "hotshare" / helper.name)
    entry = configparser.ConfigParser()
    entry.read(site / dist_info / "entry_points.txt")
    scripts = dict(entry["console_scripts"]) if entry.has_section("console_scripts") else {}
    for script, target in scripts.items():
        module, func = target.split(":")
        path = root / "usr/bin" / script
        path.write_text(CONSOLE_SCRIPT.format(module=module.strip(), func=func.strip()))
        path.chmod(0o755)
    _run([build_python(), "-m", "compileall", "-q", "-s", str(root), "-p", "/", str(site / "hotshare")])
    # hotshare.mk: the init script, first boot, defaults; /etc/hotshare root only.
    for src, dest, mode in (("S95hotshare", "etc/init.d/S95hotshare", 0o755),
                            ("firstboot", "usr/libexec/hotshare/firstboot", 0o755),
                            ("hotshare.default", "etc/default/hotshare", 0o644)):  # fmt: skip
        installed = root / dest
        installed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PKG / src, installed)
        installed.chmod(mode)
    (root / "etc/hotshare").mkdir(mode=0o700, parents=True, exist_ok=True)
    if create_ap_name:
        link = root / CREATE_AP_LINK[0]
        link.unlink(missing_ok=True)
        link.symlink_to(CREATE_AP_LINK[1])
    return {"wheel": wheel.name, "helper": helper.name, "scripts": ",".join(scripts)}
