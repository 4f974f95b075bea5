"""The kernel config fragments of configs/hotshare_defconfig, merged on top of
its base defconfig (sunxi_defconfig, ARCH=arm), checked with kconfiglib
against the Kconfig of every Debian linux-source-* installed.

The board builds Linux 6.18 (Buildroot's MangoPi pin), newer than any
linux-source package: each option must be known to every source tree
checked, so an option renamed or removed since 6.1 shows up here. A
fragment whose "# min-linux-version: X.Y" is newer than a source tree is
not checked against it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import br_symbols
from . import linux_kconfig as lk

SOURCES = lk.find_sources()


def defconfig_kernel_setup() -> tuple[str, list[Path]]:
    values = br_symbols.defconfig_values()
    base = values["BR2_LINUX_KERNEL_DEFCONFIG"] + "_defconfig"
    fragments = [Path(p) for p in values["BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES"].split()]
    return base, fragments


def source_or_skip(source: lk.Source) -> tuple[lk.Source, object, Path]:
    try:
        kconf = lk.load_kconfig(source)
    except lk.Missing as exc:
        pytest.skip(str(exc))
    return source, kconf, lk.srctree(source)


PARAMS: list[lk.Source | None] = [*SOURCES] or [None]


@pytest.fixture(params=PARAMS, ids=lambda s: f"linux-{s.name}" if s else "none")
def kernel(request: pytest.FixtureRequest) -> tuple[lk.Source, object, Path]:
    if request.param is None:
        pytest.skip(f"no {lk.SOURCES_GLOB}: {lk.INSTALL_HINT}")
    return source_or_skip(request.param)


def test_defconfig_names_existing_fragments() -> None:
    base, fragments = defconfig_kernel_setup()
    assert base == "sunxi_defconfig"
    assert fragments, "BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES is empty"
    for fragment in fragments:
        assert fragment.is_file(), f"{fragment} (in BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES)"
        lk.parse_fragment(fragment)  # raises on a malformed line


def test_fragments_hold_on_base_defconfig(kernel: tuple[lk.Source, object, Path]) -> None:
    source, kconf, tree = kernel
    base, paths = defconfig_kernel_setup()
    fragments = [lk.parse_fragment(p) for p in paths]
    applicable = [f for f in fragments if f.min_version is None or f.min_version <= source.version]
    assert applicable, f"no fragment applies to Linux {source.name}"
    problems = lk.check_fragments(kconf, tree / "arch/arm/configs" / base, applicable)
    assert not problems, f"Linux {source.name} ({lk.kernel_version(tree)}):\n" + "\n".join(problems)


def test_every_fragment_checked_somewhere() -> None:
    """A fragment newer than every installed source would never be checked."""
    if not SOURCES:
        pytest.skip(f"no {lk.SOURCES_GLOB}: {lk.INSTALL_HINT}")
    newest = SOURCES[-1].version
    for path in defconfig_kernel_setup()[1]:
        fragment = lk.parse_fragment(path)
        if fragment.min_version and fragment.min_version > newest:
            pytest.skip(
                f"{path.name} needs Linux {fragment.min_version}, newest source here is "
                f"{newest}: install a newer linux-source-* to check it"
            )


# --- The check can fail, and says which option -------------------------


def test_broken_fragment_is_reported_by_name(kernel: tuple[lk.Source, object, Path], tmp_path: Path) -> None:
    _, kconf, tree = kernel
    broken = tmp_path / "broken.fragment"
    broken.write_text(
        "CONFIG_NETFILTER=y\n"
        "CONFIG_NF_TABLEZ=y\n"  # typo
        "CONFIG_NF_CONNTRACK=y\n"
        "CONFIG_NF_TABLES=y\n"
        "CONFIG_NFT_FIB_INET=y\n"  # needs NF_TABLES_INET, hence IPv6: off in sunxi
        "CONFIG_NETFILTER_ADVANCED=m\n"  # a bool cannot be a module
    )
    problems = lk.check_fragments(kconf, tree / "arch/arm/configs/sunxi_defconfig", [lk.parse_fragment(broken)])
    text = "\n".join(problems)
    assert len(problems) == 3, text
    assert "broken.fragment:2: CONFIG_NF_TABLEZ is not a Linux option" in text
    assert "broken.fragment:5: CONFIG_NFT_FIB_INET=y requested, got n" in text
    assert "NF_TABLES_INET" in text
    assert "CONFIG_NETFILTER_ADVANCED=m requested" in text


def test_malformed_fragment_line_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.fragment"
    bad.write_text("CONFIG_PPP=y\nPPP_ASYNC=y\n")
    with pytest.raises(ValueError, match=r"bad.fragment:2: not a CONFIG_ assignment"):
        lk.parse_fragment(bad)
    bad.write_text("CONFIG_PPP=y\n# comment\nCONFIG_PPP=m\n")
    with pytest.raises(ValueError, match=r"bad.fragment:3: CONFIG_PPP already set on line 1"):
        lk.parse_fragment(bad)


def test_min_version_header(tmp_path: Path) -> None:
    fragment = tmp_path / "new.fragment"
    fragment.write_text("# min-linux-version: 6.2\nCONFIG_RTW88=m\n")
    parsed = lk.parse_fragment(fragment)
    assert parsed.min_version == (6, 2)
    assert [(a.name, a.value) for a in parsed.assignments] == [("RTW88", "m")]
