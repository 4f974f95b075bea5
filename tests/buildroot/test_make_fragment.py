"""support/buildroot.mk, included by a Makefile like the top-level one:
which goals reach Buildroot, and how it fails without a Buildroot tree.
Offline: Buildroot is a stub that prints its command line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A top-level Makefile with two own targets, including the fragment."""
    (tmp_path / "Makefile").write_text(
        "HOTSHARE_OWN_TARGETS := test lint\n"
        "test: prerequisite-file\n"
        "\t@echo OWN test\n"
        "lint:\n"
        "\t@echo OWN lint\n"
        f"include {REPO}/support/buildroot.mk\n"
    )
    (tmp_path / "prerequisite-file").write_text("")
    return tmp_path


@pytest.fixture
def fake_buildroot(tmp_path: Path) -> Path:
    tree = tmp_path / "fake-buildroot"
    (tree / "package").mkdir(parents=True)
    (tree / "Config.in").write_text("")
    (tree / "package" / "Makefile.in").write_text("")
    (tree / "Makefile").write_text(
        # one line per sub-make, whatever the goals
        "$(info BUILDROOT $(MAKECMDGOALS) BR2_EXTERNAL=$(BR2_EXTERNAL) O=$(O) DL=$(BR2_DL_DIR))\n%: ;@:\n"
    )
    return tree


def make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(project),
        "BR_CACHE": str(project / "cache"),
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_own_target_never_reaches_buildroot(project: Path) -> None:
    result = make(project, "test", "BR_GIT_URL=file:///nonexistent")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OWN test"
    assert not (project / "cache").exists()


def test_goals_pass_through_in_one_sub_make(project: Path, fake_buildroot: Path) -> None:
    result = make(project, f"BUILDROOT={fake_buildroot}", "O=out", "lint", "hotshare_defconfig", "menuconfig")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "OWN lint"
    # the command line is echoed, then the stub prints what it got
    assert [line for line in lines if line.startswith("BUILDROOT ")] == [
        f"BUILDROOT hotshare_defconfig menuconfig BR2_EXTERNAL={REPO} O={project}/out DL={project}/cache/dl"
    ]


def test_all_builds_existing_configuration(project: Path, fake_buildroot: Path) -> None:
    (project / "out").mkdir()
    (project / "out" / ".config").write_text("")
    result = make(project, f"BUILDROOT={fake_buildroot}", "O=out")
    assert result.returncode == 0, result.stderr
    assert f"\nBUILDROOT all BR2_EXTERNAL={REPO} O={project}/out" in result.stdout


def test_all_without_configuration_says_what_to_do(project: Path) -> None:
    result = make(project, "O=out", "BR_GIT_URL=file:///nonexistent")
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert 'run "make hotshare_defconfig" first' in result.stderr
    assert not (project / "cache").exists(), "fetched Buildroot for nothing"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_no_tree_no_network_one_line(project: Path) -> None:
    result = make(project, "BR_GIT_URL=file:///nonexistent/buildroot.git", "hotshare_defconfig")
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "cannot download Buildroot" in result.stderr
    assert "BUILDROOT=" in result.stderr


def test_bad_buildroot_path_one_line(project: Path) -> None:
    result = make(project, f"BUILDROOT={project}", "menuconfig")
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "is not a Buildroot tree" in result.stderr
