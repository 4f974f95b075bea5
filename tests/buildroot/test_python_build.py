"""python/setup.py, python/pyproject.toml and csrc/build_ffi.py as Buildroot's
python-package infrastructure uses them: the C helper found as
../csrc/build_ffi.py, required when HOTSHARE_REQUIRE_CEXT=1, compiled with the
CFLAGS given, and the PEP 639 license metadata."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYDIR = REPO / "python"

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

# Runs setup.py's _cffi_modules() in python/, as setuptools does, with cffi
# importable or not.
PROBE = """
import runpy, sys
if sys.argv[1] == "no-cffi":
    sys.modules["cffi"] = None  # import cffi raises ImportError
ns = runpy.run_path("setup.py", run_name="setup")
try:
    print("MODULES", ns["_cffi_modules"]())
except SystemExit as exc:
    print("EXIT", exc.code)
"""


def probe(mode: str, require: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "HOTSHARE_REQUIRE_CEXT"}
    if require is not None:
        env["HOTSHARE_REQUIRE_CEXT"] = require
    return subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=PYDIR, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_pure_python_fallback_outside_buildroot() -> None:
    assert probe("no-cffi", None) == "MODULES []"
    assert probe("no-cffi", "0") == "MODULES []"


def test_missing_cffi_fails_inside_buildroot() -> None:
    out = probe("no-cffi", "1")
    assert out.startswith("EXIT hotshare: HOTSHARE_REQUIRE_CEXT is set but cffi cannot be imported"), out


def test_cffi_module_is_the_tree_csrc() -> None:
    pytest.importorskip("cffi")
    expected = "MODULES ['../csrc/build_ffi.py:ffibuilder']"
    assert probe("cffi", None) == expected
    assert probe("cffi", "1") == expected


def test_pyproject_license_is_pep639() -> None:
    data = tomllib.loads((PYDIR / "pyproject.toml").read_text())
    project = data["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (PYDIR / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    # PEP 639 in setuptools: 77.0; Buildroot 2026.02 has 80.9.0
    # (package/python-setuptools/python-setuptools.mk)
    assert "setuptools>=77" in data["build-system"]["requires"]


CC_WRAPPER = """#!/bin/sh
echo "$*" >> {log}
exec {cc} "$@"
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_build_ffi_keeps_the_given_optimisation(tmp_path: Path) -> None:
    """The extension compiles with the CFLAGS given (Buildroot passes the
    target's, with BR2_OPTIMIZE_*): nothing from build_ffi.py comes after
    them to override the optimisation level."""
    pytest.importorskip("cffi")
    work = tmp_path / "tree"
    shutil.copytree(REPO / "csrc", work / "csrc", ignore=shutil.ignore_patterns("build", "*.o", "*.so"))
    (work / "python" / "hotshare").mkdir(parents=True)
    (work / "python" / "hotshare" / "__init__.py").write_text("")
    log = tmp_path / "cc.log"
    cc = tmp_path / "cc"
    cc.write_text(CC_WRAPPER.format(log=log, cc=shutil.which("gcc")))
    cc.chmod(0o755)
    # setuptools' build_ext with cffi's hook, without pyproject.toml (whose
    # metadata an old setuptools may not read: see the test below)
    script = (
        "from setuptools import Distribution\n"
        "d = Distribution({'name': 'hotshare', 'packages': ['hotshare'],"
        " 'cffi_modules': ['../csrc/build_ffi.py:ffibuilder']})\n"
        "d.run_command('build_ext')\n"
    )
    env = {**os.environ, "CC": str(cc), "CFLAGS": "-Os -DHOTSHARE_GIVEN_CFLAGS"}
    env.pop("HOTSHARE_REQUIRE_CEXT", None)
    subprocess.run([sys.executable, "-c", script], cwd=work / "python", env=env, check=True, capture_output=True)
    compiles = [line.split() for line in log.read_text().splitlines() if " -c " in f" {line} "]
    sources = [args for args in compiles if any(a.endswith("ctacct.c") for a in args)]
    assert sources, log.read_text()
    for args in sources:
        assert "-DHOTSHARE_GIVEN_CFLAGS" in args
        levels = [a for a in args if re.fullmatch(r"-O\w*", a)]
        assert levels and levels[-1] == "-Os", args


def setuptools_version() -> tuple[int, ...]:
    import setuptools

    return tuple(int(x) for x in re.findall(r"\d+", setuptools.__version__)[:2])


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_wheel_as_buildroot_builds_it(tmp_path: Path) -> None:
    """PEP 517 build without isolation in a copy of the package's source, as
    Buildroot's setuptools type does (HOTSHARE_REQUIRE_CEXT=1): the wheel has
    the C helper and the PEP 639 metadata."""
    pytest.importorskip("cffi")
    if setuptools_version() < (77,):
        pytest.skip("needs setuptools >= 77 (PEP 639), as Buildroot 2026.02 has: pip install 'setuptools>=77'")
    src = tmp_path / "hotshare-0.1.0"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.so", "*.o")
    shutil.copytree(REPO / "csrc", src / "csrc", ignore=ignore)
    shutil.copytree(PYDIR, src / "python", ignore=ignore)
    shutil.copy(REPO / "LICENSE", src / "LICENSE")
    out = tmp_path / "dist"
    script = f"import setuptools.build_meta as b; print(b.build_wheel({str(out)!r}))"
    env = {**os.environ, "HOTSHARE_REQUIRE_CEXT": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=src / "python", env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "deprecated" not in (result.stdout + result.stderr).lower()
    wheel = out / result.stdout.split()[-1]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read("hotshare-0.1.0.dist-info/METADATA").decode()
    assert any(re.fullmatch(r"hotshare/_ctacct\..*\.so", n) for n in names), names
    assert "hotshare-0.1.0.dist-info/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
