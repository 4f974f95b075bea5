"""package/hotshare/hotshare.mk: the package's source is the whole tree, the
Python project its python/ subdirectory; what the rsync into the build
directory (and legal-info's copy) leaves out; the license hash.

The exclusions are evaluated by make from hotshare.mk itself and given to a
real rsync, as Buildroot's rsync step does (package/pkg-generic.mk); the
real Buildroot steps are in test_real_buildroot.py."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "package" / "hotshare"
MK = (PKG / "hotshare.mk").read_text()
# Buildroot 2026.02's Makefile
RSYNC_VCS_EXCLUSIONS = "--exclude .svn --exclude .git --exclude .hg --exclude .bzr --exclude CVS"


def mk_value(name: str) -> str:
    """The value of a simple one-line assignment NAME = value."""
    match = re.search(rf"^{name}\s*\+?=\s*(.*)$", MK, re.M)
    assert match, f"no {name} in hotshare.mk"
    return match.group(1).strip()


def test_site_is_the_tree_and_python_its_subdir() -> None:
    assert mk_value("HOTSHARE_SITE") == "$(BR2_EXTERNAL_HOTSHARE_PATH)"
    assert mk_value("HOTSHARE_SITE_METHOD") == "local"
    assert mk_value("HOTSHARE_SUBDIR") == "python"
    assert (REPO / mk_value("HOTSHARE_SUBDIR") / "pyproject.toml").is_file()


def test_no_hook_copies_sources_in() -> None:
    assert "RSYNC_HOOKS" not in MK, "the site holds csrc/ already"


def test_setup_py_finds_the_build_script_one_way() -> None:
    text = (REPO / "python" / "setup.py").read_text()
    scripts = set(re.findall(r"[\w./]*build_ffi\.py", text))
    assert scripts == {"../csrc/build_ffi.py"}, scripts
    assert (REPO / "python" / "../csrc/build_ffi.py").resolve() == REPO / "csrc" / "build_ffi.py"


def test_buildroot_requires_the_c_helper() -> None:
    assert "HOTSHARE_REQUIRE_CEXT=1" in mk_value("HOTSHARE_ENV")


def test_license_file_and_hash() -> None:
    """hotshare.hash in Buildroot's format, for the LICENSE_FILES (relative
    to the package's source, the tree's root)."""
    files = mk_value("HOTSHARE_LICENSE_FILES").split()
    assert files == ["LICENSE"]
    hashes = {}
    for line in (PKG / "hotshare.hash").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        algo, digest, name = re.fullmatch(r"(\w+)  ([0-9a-f]+)  (\S+)", line).groups()  # type: ignore[union-attr]
        assert algo == "sha256"
        hashes[name] = digest
    assert set(hashes) == set(files)
    for name in files:
        assert hashes[name] == hashlib.sha256((REPO / name).read_bytes()).hexdigest(), f"{name} changed: update hotshare.hash"


def exclusions(tree: Path, base_dir: Path, dl_dir: Path) -> str:
    """HOTSHARE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS as make expands it."""
    makefile = tree.parent / "eval.mk"
    makefile.write_text(
        f"BR2_EXTERNAL_HOTSHARE_PATH := {tree}\n"
        f"BASE_DIR := {base_dir}\n"
        f"DL_DIR := {dl_dir}\n"
        f"include {PKG / 'hotshare.mk'}\n"
        "$(info X $(HOTSHARE_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS))\n"
        "all: ;@:\n"
    )
    out = subprocess.run(["make", "-s", "-f", str(makefile)], capture_output=True, text=True, check=True).stdout
    line = [x for x in out.splitlines() if x.startswith("X ")]
    assert line, out
    return line[0][2:]


def fake_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    files = [
        "LICENSE",
        "csrc/ctacct.c",
        "csrc/ctacct.h",
        "csrc/build_ffi.py",
        "python/setup.py",
        "python/pyproject.toml",
        "python/hotshare/__init__.py",
        "python/hotshare/plan/base.nft",
        # what must stay out
        "output/build/linux-6.18.8/Makefile",
        "out-t113/images/sdcard.img",
        "dl/linux/linux-6.18.8.tar.xz",
        ".venv/bin/python",
        ".cache/hotshare/buildroot-2026.02.3/Makefile",
        ".git/HEAD",
        "tests/unit/test_x.py",
        "bench/run.py",
        "python/build/lib/hotshare/__init__.py",
        "python/hotshare.egg-info/PKG-INFO",
        "python/hotshare/_ctacct.cpython-311-x86_64-linux-gnu.so",
        "python/hotshare/__pycache__/cli.cpython-311.pyc",
        "csrc/build/ctacct.o",
        "csrc/ctacct.o",
    ]
    for rel in files:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(rel)
    return tree


@pytest.mark.skipif(shutil.which("rsync") is None or shutil.which("make") is None, reason="needs rsync and make")
def test_rsync_copies_sources_only(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)
    dest = tmp_path / "build" / "hotshare-0.1.0"
    dest.mkdir(parents=True)
    # an O= of another name inside the tree is left out too
    excl = exclusions(tree, tree / "out-t113", tree / "dl")
    subprocess.run(
        f"rsync -au --chmod=u=rwX,go=rX {excl} {RSYNC_VCS_EXCLUSIONS} {tree}/ {dest}",
        shell=True,
        check=True,
    )
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == [
        "LICENSE",
        "csrc/build_ffi.py",
        "csrc/ctacct.c",
        "csrc/ctacct.h",
        "python/hotshare/__init__.py",
        "python/hotshare/plan/base.nft",
        "python/pyproject.toml",
        "python/setup.py",
    ]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_legal_info_copy_gets_the_same_exclusions(tmp_path: Path) -> None:
    """legal-info's own rsync uses RSYNC_VCS_EXCLUSIONS only: hotshare.mk adds
    the package's exclusions to it for hotshare-legal-info alone, not for its
    prerequisites (private) nor for other packages."""
    tree = fake_tree(tmp_path)
    makefile = tmp_path / "legal.mk"
    makefile.write_text(
        f"BR2_EXTERNAL_HOTSHARE_PATH := {tree}\n"
        f"BASE_DIR := {tree}/output\n"
        f"DL_DIR := {tree}/dl\n"
        f"RSYNC_VCS_EXCLUSIONS = {RSYNC_VCS_EXCLUSIONS}\n"
        f"include {PKG / 'hotshare.mk'}\n"
        "hotshare-legal-info: hotshare-patch\n"
        "\t@$(info legal $(RSYNC_VCS_EXCLUSIONS)):\n"
        "hotshare-patch:\n"
        "\t@$(info patch $(RSYNC_VCS_EXCLUSIONS)):\n"
        "foo-legal-info:\n"
        "\t@$(info foo $(RSYNC_VCS_EXCLUSIONS)):\n"
    )
    out = subprocess.run(
        ["make", "-s", "-f", str(makefile), "hotshare-legal-info", "foo-legal-info"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in out}
    assert lines["patch"] == RSYNC_VCS_EXCLUSIONS
    assert lines["foo"] == RSYNC_VCS_EXCLUSIONS
    assert lines["legal"].startswith(RSYNC_VCS_EXCLUSIONS)
    for excluded in ("'/output'", "/tests", "/.venv", "'*.so'"):
        assert f"--exclude {excluded}" in lines["legal"], excluded
