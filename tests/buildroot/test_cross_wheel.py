"""hotshare built as Buildroot's python-package infrastructure builds it for
the T113, installed where Buildroot installs it, and its C helper run on ARM.

Buildroot 2026.02's package/pkg-python.mk, for a target package of the
setuptools type (the same as pep517), runs in the package's build directory

    _PYTHON_HOST_PLATFORM=linux-arm _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__linux_<triplet>
    PYTHONPATH=$(STAGING_DIR)/usr/lib/python3.X/ CC=<cross gcc> CFLAGS=<target's> ...
    $(HOST_DIR)/bin/python3 -m build -n -w

and installs the wheel with support/scripts/pyinstaller.py (pypa installer)
into $(TARGET_DIR)/usr/lib/python3.X/site-packages, scripts into /usr/bin with
the interpreter /usr/bin/python. Here the target's Python is Debian's armhf
3.11 (the host's is 3.11 too, as Buildroot's host-python3 is the target's
version): its sysconfigdata comes from libpython3.11-stdlib:armhf and its
headers from libpython3.11-dev:armhf, the .debs the board lab downloads
(tests/board/debs.py, cached in ~/.cache/hotshare/board-lab). The staging
copy of the sysconfigdata has its include directories in the unpacked
sysroot, as Buildroot's staging has them in $(STAGING_DIR): nothing of the
host's /usr/include may reach the cross compiler. The wheel's extension is
then imported by Debian's armhf python3.11 under qemu-arm (-L the sysroot)
and its answers compared with the pure-Python path's.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .test_cross_compile import EM_ARM, TAG_ABI_VFP_ARGS, TAG_CPU_ARCH, TAG_FP_ARCH, arm_attributes, elf_header

REPO = Path(__file__).resolve().parents[2]
CROSS_CC = "arm-linux-gnueabihf-gcc"
TRIPLET = "arm-linux-gnueabihf"
PY = "python3.11"
# pkg-python.mk: PKG_PYTHON_HOST_PLATFORM = linux-$(PKG_PYTHON_ARCH), "arm" for BR2_arm
HOST_PLATFORM = "linux-arm"
SYSCONFIGDATA = f"_sysconfigdata__linux_{TRIPLET}"
EXT_SUFFIX = f".cpython-311-{TRIPLET}.so"
# What Buildroot's toolchain wrapper and TARGET_CFLAGS give for this
# defconfig (BR2_cortex_a7, BR2_ARM_FPU_NEON_VFPV4, BR2_OPTIMIZE_S).
TARGET_CFLAGS = "-D_LARGEFILE_SOURCE -D_LARGEFILE64_SOURCE -D_FILE_OFFSET_BITS=64 -Os -g0 " \
    "-mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard"  # fmt: skip
# The target's Python and what importing the extension needs (the cffi
# backend: Buildroot's python-cffi), from the board lab's .debs.
SYSROOT_PACKAGES = ["libc6", "libgcc-s1", "zlib1g", "libffi8", "libexpat1", "python3.11-minimal",
                    "libpython3.11-minimal", "libpython3.11-stdlib", "python3-cffi-backend", "libpython3.11-dev"]  # fmt: skip
# Include directories of the target's sysconfigdata, re-rooted in the sysroot.
INCLUDE_VARS = ("INCLUDEPY", "CONFINCLUDEPY", "INCLUDEDIR", "CONFINCLUDEDIR")

for _tool, _package in ((CROSS_CC, "gcc-arm-linux-gnueabihf"), ("qemu-arm", "qemu-user"), ("dpkg-deb", "dpkg"),
                        ("apt-get", "apt")):  # fmt: skip
    if shutil.which(_tool) is None:
        pytestmark = pytest.mark.skip(reason=f"needs {_tool} (support/setup installs {_package})")
        break

# Run by the armhf python3.11 under qemu-arm: both backends on each dump.
COMPARE = """
import json, sys
from hotshare.netlink import ctacct
from hotshare import _ctacct
out = {"backend": ctacct.backend(), "module": _ctacct.__file__, "results": []}
for path, subnet, router in json.loads(sys.argv[1]):
    data = open(path, "rb").read()
    answers = {}
    for backend in ("c", "python"):
        try:
            counts = ctacct.count_by_client(data, subnet, exclude=[router], backend=backend)
            answers[backend] = [[a, list(c)] for a, c in counts.items()]
        except ValueError as exc:
            answers[backend] = ["error", str(exc)]
    out["results"].append(answers)
print(json.dumps(out))
"""

# support/scripts/pyinstaller.py of Buildroot 2026.02, without its clean of a
# previous install (the target directory is new).
INSTALL = """
import sys
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
wheel, target, py = sys.argv[1:]
site = f"{target}/usr/lib/{py}/site-packages"
dest = SchemeDictionaryDestination(
    {"purelib": site, "platlib": site, "headers": f"{target}/usr/include/{py}",
     "scripts": f"{target}/usr/bin", "data": target},
    interpreter="/usr/bin/python", script_kind="posix")
with WheelFile.open(wheel) as source:
    install(source=source, destination=dest, additional_metadata={})
"""


def cache_dir() -> Path:
    return Path(os.environ.get("HOTSHARE_BOARD_CACHE", Path.home() / ".cache/hotshare/board-lab"))


@pytest.fixture(scope="module")
def sysroot() -> Path:
    """Debian's armhf Python 3.11 unpacked (cached, per set of .debs)."""
    sys.path.insert(0, str(REPO / "tests/board"))
    try:
        import debs
    finally:
        sys.path.pop(0)
    for module in ("build", "installer"):
        if subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode != 0:
            pytest.fail(f"the Python module {module} is missing: support/setup installs it (requirements-dev.txt)")
    cache = cache_dir()
    image, build_only = debs.fetch(cache, [])
    wanted = {re.sub(r"_.*", "", p.name): p for p in image + build_only}
    missing = [name for name in SYSROOT_PACKAGES if name not in wanted]
    assert not missing, f"not among the board lab's .debs: {missing}"
    chosen = sorted(wanted[name].name for name in SYSROOT_PACKAGES)
    root = cache / f"armhf-python-{debs.hashlib.sha256(' '.join(chosen).encode()).hexdigest()[:12]}"
    if not (root / ".complete").is_file():
        shutil.rmtree(root, ignore_errors=True)
        for name in SYSROOT_PACKAGES:
            subprocess.run(["dpkg-deb", "-x", str(wanted[name]), str(root)], check=True)
        (root / ".complete").write_text("\n".join(chosen) + "\n")
    return root


def staging_sysconfigdata(sysroot: Path, staging: Path) -> Path:
    """The target's sysconfigdata, include directories in the sysroot, alone
    in staging/usr/lib/python3.11 (Buildroot's PYTHON3_PATH): the host's
    stdlib (3.11.7 here, 3.11.2 there) is not shadowed by the target's."""
    source = sysroot / f"usr/lib/{PY}/{SYSCONFIGDATA}.py"
    ns: dict[str, dict[str, object]] = {}
    exec(compile(source.read_text(), str(source), "exec"), ns)  # noqa: S102 -- Debian's generated data module
    data = dict(ns["build_time_vars"])
    for var in INCLUDE_VARS:
        value = str(data[var])
        assert value.startswith("/usr/include"), (var, value)
        data[var] = f"{sysroot}{value}"
    # Debian's CONFINCLUDEPY is the multiarch wrapper's directory; the real
    # pyconfig.h is under the triplet (the wrapper includes it from there).
    data["CONFINCLUDEPY"] = f"{sysroot}/usr/include/{TRIPLET}/{PY}"
    assert data["EXT_SUFFIX"] == EXT_SUFFIX and data["CC"] == CROSS_CC, (data["EXT_SUFFIX"], data["CC"])
    libdir = staging / f"usr/lib/{PY}"
    libdir.mkdir(parents=True)
    (libdir / f"{SYSCONFIGDATA}.py").write_text(f"build_time_vars = {data!r}\n")
    return libdir


def build_env(sysroot: Path, pythonpath: Path, sysconfigdata: str = SYSCONFIGDATA) -> dict[str, str]:
    """PKG_PYTHON_ENV (pkg-python.mk) with TARGET_CONFIGURE_OPTS, and
    HOTSHARE_ENV (hotshare.mk)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}
    return {
        **keep,
        "_PYTHON_HOST_PLATFORM": HOST_PLATFORM,
        "_PYTHON_SYSCONFIGDATA_NAME": sysconfigdata,
        "PYTHONPATH": str(pythonpath),
        "PYTHONNOUSERSITE": "1",
        "CC": CROSS_CC,
        "GCC": CROSS_CC,
        "CPP": f"{CROSS_CC} -E",
        "AR": "arm-linux-gnueabihf-ar",
        "LD": "arm-linux-gnueabihf-ld",
        "STRIP": "arm-linux-gnueabihf-strip",
        # Buildroot's cross gcc has $(STAGING_DIR) as its sysroot, whose
        # /usr/include holds the target Python's multiarch pyconfig.h
        "CPPFLAGS": f"-isystem {sysroot}/usr/include",
        "CFLAGS": TARGET_CFLAGS,
        "LDFLAGS": "",
        "HOTSHARE_REQUIRE_CEXT": "1",
    }


def copy_source(dest: Path) -> Path:
    """The package's source as Buildroot copies it (csrc/ beside python/)."""
    ignore = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.so", "*.o", "*.pyc")
    shutil.copytree(REPO / "python", dest / "python", ignore=ignore)
    shutil.copytree(REPO / "csrc", dest / "csrc", ignore=ignore)
    shutil.copy(REPO / "LICENSE", dest / "LICENSE")
    return dest / "python"  # HOTSHARE_SUBDIR


def pep517_build(builddir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "build", "-n", "-w"], cwd=builddir, env=env, capture_output=True,
                          text=True, check=False, timeout=600)  # fmt: skip


def qemu_python(sysroot: Path, site: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C"}  # fmt: skip
    return subprocess.run(["qemu-arm", "-L", str(sysroot), str(sysroot / f"usr/bin/{PY}"), *argv], env=env,
                          capture_output=True, text=True, check=False, timeout=600)  # fmt: skip


def test_buildroot_wheel_runs_on_armhf(sysroot: Path, tmp_path: Path) -> None:
    """The wheel is the T113's (linux_arm, the armhf extension suffix, a
    Cortex-A7 hard-float shared object built from the given CFLAGS with the
    target's headers), installs in Buildroot's layout, and its C helper,
    imported by the target's Python under qemu-arm, gives the pure-Python
    path's answers on the recorded kernel dump and on generated ones."""
    from lab.ctdump import RECORDED_DUMP, encode_dump, random_entries

    libdir = staging_sysconfigdata(sysroot, tmp_path / "staging")
    builddir = copy_source(tmp_path / "hotshare-0.1.0")
    result = pep517_build(builddir, build_env(sysroot, libdir))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    compiles = [line for line in log.splitlines() if line.startswith(CROSS_CC) and " -c " in line]
    assert compiles, log[-4000:]
    for line in compiles:
        assert f"-I{sysroot}/usr/include/{PY}" in line.split(), line
        assert not re.search(r"(^|\s)-I/usr/include", line), f"the host's headers reach the cross compiler: {line}"
        levels = [a for a in line.split() if re.fullmatch(r"-O\w*", a)]
        assert levels[-1] == "-Os", f"the target's optimisation level is not the last: {line}"
    wheels = list((builddir / "dist").glob("*.whl"))
    assert [w.name for w in wheels] == ["hotshare-0.1.0-cp311-cp311-linux_arm.whl"], wheels
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
    assert f"hotshare/_ctacct{EXT_SUFFIX}" in names, [n for n in names if n.endswith(".so")]
    assert not [n for n in names if n.endswith(".so") and not n.endswith(EXT_SUFFIX)], names

    target = tmp_path / "target"
    subprocess.run([sys.executable, "-c", INSTALL, str(wheels[0]), str(target), PY], check=True)
    site = target / f"usr/lib/{PY}/site-packages"
    ext = site / f"hotshare/_ctacct{EXT_SUFFIX}"
    assert ext.is_file(), sorted(p.name for p in (site / "hotshare").iterdir())
    header = elf_header(ext)
    assert (header["class"], header["data"], header["machine"], header["type"]) == (1, 1, EM_ARM, 3), header
    attrs = arm_attributes(ext)
    assert (attrs.get(TAG_CPU_ARCH), attrs.get(TAG_FP_ARCH), attrs.get(TAG_ABI_VFP_ARGS)) == (10, 5, 1), attrs
    script = (target / "usr/bin/hotshare").read_text()
    assert script.startswith("#!/usr/bin/python\n") and "hotshare.cli.main" in script, script

    synth = tmp_path / "synth.bin"
    synth.write_bytes(encode_dump(random_entries(random.Random(11), 3000), noise=random.Random(11)))
    broken = tmp_path / "truncated.bin"
    broken.write_bytes(RECORDED_DUMP.read_bytes()[:-7])
    dumps = [(str(RECORDED_DUMP), "10.77.0.0/24", "10.77.0.1"), (str(synth), "10.42.0.0/23", "10.42.0.1"),
             (str(broken), "10.77.0.0/24", "10.77.0.1")]  # fmt: skip
    run = qemu_python(sysroot, site, "-c", COMPARE, json.dumps(dumps))
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout)
    assert out["backend"] == "c" and out["module"] == str(ext), out["module"]
    recorded, generated, truncated = out["results"]
    for answers in out["results"]:
        assert answers["c"] == answers["python"], answers
    assert len(recorded["c"]) >= 2 and len(generated["c"]) >= 10, (recorded, len(generated["c"]))
    assert truncated["c"][0] == "error", truncated
