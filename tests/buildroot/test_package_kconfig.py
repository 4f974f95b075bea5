"""The tree's Config.in files and configs/hotshare_defconfig, checked offline
against the Buildroot symbols recorded in buildroot-symbols.txt (see
update-symbols.py; test_real_buildroot.py checks against Buildroot itself).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import kconfiglib
import pytest

from . import br_symbols as brs

REPO = brs.REPO


@pytest.fixture(scope="module")
def table() -> brs.SymbolTable:
    return brs.read_symbols()


@pytest.fixture(scope="module")
def kconf(table: brs.SymbolTable, tmp_path_factory: pytest.TempPathFactory) -> kconfiglib.Kconfig:
    return brs.load_tree(table, tmp_path_factory.mktemp("kconfig"))


def pinned_version() -> str:
    text = (REPO / "support" / "buildroot.mk").read_text()
    match = re.search(r"^HOTSHARE_BR_VERSION := (\S+)", text, re.M)
    assert match, "no HOTSHARE_BR_VERSION in support/buildroot.mk"
    return match.group(1)


def test_symbols_come_from_the_pinned_buildroot(table: brs.SymbolTable) -> None:
    assert table.version == pinned_version(), brs.UPDATE_HINT


def test_tree_parses_cleanly(kconf: kconfiglib.Kconfig) -> None:
    assert kconf.warnings == []
    assert "BR2_PACKAGE_HOTSHARE" in brs.own_symbols(kconf, REPO)


def test_tree_refers_only_to_known_symbols(kconf: kconfiglib.Kconfig, table: brs.SymbolTable) -> None:
    unknown = sorted(brs.referenced_symbols(kconf, REPO) - set(table.symbols))
    assert not unknown, f"not Buildroot symbols: {', '.join(unknown)} ({brs.UPDATE_HINT})"


def test_package_selects_what_hotshare_runs(kconf: kconfiglib.Kconfig) -> None:
    selected = set(brs.selects(kconf, REPO)["BR2_PACKAGE_HOTSHARE"])
    assert {
        "BR2_PACKAGE_PYTHON_CFFI",
        "BR2_PACKAGE_HOSTAPD",
        "BR2_PACKAGE_HOSTAPD_DRIVER_NL80211",
        "BR2_PACKAGE_DNSMASQ",
        "BR2_PACKAGE_IW",
        "BR2_PACKAGE_NFTABLES",
        # hotshare runs "nft -j"; Buildroot builds nftables --without-json
        # otherwise
        "BR2_PACKAGE_NFTABLES_JSON",
        # hotshare qr runs qrencode, a tool of libqrencode's
        "BR2_PACKAGE_LIBQRENCODE",
        "BR2_PACKAGE_LIBQRENCODE_TOOLS",
    } <= selected


def test_the_create_ap_name_is_an_option_of_the_package_off_by_default(kconf: kconfiglib.Kconfig) -> None:
    sym = kconf.syms["BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME"]
    assert sym.orig_type == kconfiglib.BOOL and sym.str_value == "n"   # the defconfig is loaded
    assert "BR2_PACKAGE_HOTSHARE" in kconfiglib.expr_str(sym.direct_dep)
    assert "BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME" not in (REPO / "configs/hotshare_defconfig").read_text()


def test_the_board_lab_installs_the_create_ap_name_as_hotshare_mk_does() -> None:
    import sys
    sys.path.insert(0, str(REPO / "tests/board"))
    import hotshare_pkg

    mk = (REPO / "package" / "hotshare" / "hotshare.mk").read_text()
    block = re.search(r"^ifeq \(\$\(BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME\),y\)\n(.*?)^endif", mk, re.M | re.S)
    assert block, "hotshare.mk installs the create_ap name only with BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME=y"
    path, target = hotshare_pkg.CREATE_AP_LINK
    assert f"\tln -sf {target} $(TARGET_DIR)/{path}\n" in block.group(1)
    assert "HOTSHARE_POST_INSTALL_TARGET_HOOKS += HOTSHARE_INSTALL_CREATE_AP_NAME" in block.group(1)


# Toolchain options and the words Buildroot's comments use for them.
TOOLCHAIN_WORDS = {
    "BR2_TOOLCHAIN_HAS_THREADS": "threads",
    "BR2_USE_WCHAR": "wchar",
    "BR2_STATIC_LIBS": "dynamic library",
    "BR2_TOOLCHAIN_HEADERS_AT_LEAST_3_12": "headers >= 3.12",
}


def test_comment_names_every_toolchain_requirement(kconf: kconfiglib.Kconfig, table: brs.SymbolTable) -> None:
    """The comment shown when hotshare cannot be selected names each toolchain
    option that hotshare, and the python3 it depends on, need."""
    sym = kconf.syms["BR2_PACKAGE_HOTSHARE"]
    direct = kconfiglib.expr_str(sym.direct_dep)
    needed = set(re.findall(r"BR2_\w+", direct + " " + table.symbols["BR2_PACKAGE_PYTHON3"].depends))
    toolchain = needed & set(TOOLCHAIN_WORDS)
    assert {"BR2_TOOLCHAIN_HAS_THREADS", "BR2_USE_WCHAR", "BR2_STATIC_LIBS"} <= toolchain
    assert toolchain <= set(re.findall(r"BR2_\w+", direct)), "hotshare must depend on them itself"
    comments = [
        node
        for node in kconf.node_iter()
        if node.item == kconfiglib.COMMENT
        and node.filename.startswith(str(REPO))
        and "hotshare" in node.prompt[0]
    ]
    assert len(comments) == 1
    text = comments[0].prompt[0]
    for symbol in sorted(toolchain):
        assert TOOLCHAIN_WORDS[symbol] in text, f"{symbol}: {text!r}"
    shown_when = kconfiglib.expr_str(comments[0].dep)
    for symbol in sorted(toolchain):
        assert symbol in shown_when, f"the comment is not shown when {symbol} is missing"


def test_selects_have_their_dependencies(kconf: kconfiglib.Kconfig, table: brs.SymbolTable) -> None:
    problems = brs.check_selects(kconf, table)
    assert not problems, "\n".join(problems)


def test_defconfig_is_in_savedefconfig_form(kconf: kconfiglib.Kconfig, table: brs.SymbolTable) -> None:
    problems = brs.check_defconfig(brs.DEFCONFIG.read_text(), table, brs.own_symbols(kconf, REPO))
    assert not problems, "\n".join(problems)


def test_defconfig_enables_hotshare() -> None:
    values = brs.defconfig_values()
    assert values.get("BR2_PACKAGE_HOTSHARE") == "y"
    assert values.get("BR2_PACKAGE_PYTHON3") == "y"


def test_defconfig_builds_both_wifi_drivers() -> None:
    """The MQ-R T113 has an RTL8189FTV (the mainline DTS) or an RTL8723DS:
    the vendor drivers of both, which do AP mode."""
    values = brs.defconfig_values()
    assert values.get("BR2_PACKAGE_RTL8189FS") == "y"
    assert values.get("BR2_PACKAGE_RTL8723DS") == "y"


def test_defconfig_ships_no_empty_root_password() -> None:
    """Root login with an empty password is Buildroot's default."""
    values = brs.defconfig_values()
    login = values.get("BR2_TARGET_ENABLE_ROOT_LOGIN", "y")  # default y
    assert login == "n" or values.get("BR2_TARGET_GENERIC_ROOT_PASSWD", "") != ""


def test_defconfig_paths_exist() -> None:
    """Every $(BR2_EXTERNAL_HOTSHARE_PATH)/... of the defconfig is in the tree;
    its scripts are executable."""
    text = brs.DEFCONFIG.read_text()
    paths = re.findall(r"\$\(BR2_EXTERNAL_HOTSHARE_PATH\)(/[^\s\"]*)", text)
    assert paths
    for rel in paths:
        path = REPO / rel.lstrip("/")
        assert path.exists(), f"{rel} (in configs/hotshare_defconfig)"
        if path.suffix == ".sh":
            assert os.access(path, os.X_OK), f"{rel} is not executable"


def test_package_files_installed_exist() -> None:
    mk = (REPO / "package" / "hotshare" / "hotshare.mk").read_text()
    names = re.findall(r"\$\(HOTSHARE_PKGDIR\)/(\S+)", mk)
    assert {"S95hotshare", "hotshare.service", "firstboot", "hotshare.default"} <= set(names)
    for name in names:
        assert (REPO / "package" / "hotshare" / name).is_file(), name


# --- The checks can fail, and say what is wrong -------------------------


def test_bad_defconfig_is_reported(kconf: kconfiglib.Kconfig, table: brs.SymbolTable) -> None:
    text = (
        "BR2_arm=y\n"
        "BR2_PACKAGE_PYTHON3=y\n"
        "BR2_cortex_a7=y\n"  # menu order: before PYTHON3
        "BR2_PACKAGE_NFTABLEZ=y\n"  # typo
        "BR2_PACKAGE_PYTHON3=y\n"  # twice
        "# BR2_PACKAGE_IW is not set\n"  # the default
        "FOO=y\n"
        "\n"
    )
    problems = brs.check_defconfig(text, table, brs.own_symbols(kconf, REPO), name="bad")
    joined = "\n".join(problems)
    assert "bad:3: BR2_cortex_a7 comes before BR2_PACKAGE_PYTHON3" in joined
    assert "bad:4: BR2_PACKAGE_NFTABLEZ is not a known Buildroot symbol" in joined
    assert "bad:5: BR2_PACKAGE_PYTHON3 already set on line 2" in joined
    assert "bad:6: BR2_PACKAGE_IW=n is its default" in joined
    assert "bad:7: FOO is not a Buildroot (BR2_) symbol" in joined
    assert "bad:8: not a savedefconfig line" in joined
    assert len(problems) == 6, joined


def test_bad_package_is_reported(table: brs.SymbolTable, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "package" / "foo").mkdir(parents=True)
    (tree / "Config.in").write_text('source "$BR2_EXTERNAL_HOTSHARE_PATH/package/foo/Config.in"\n')
    (tree / "package" / "foo" / "Config.in").write_text(
        "config BR2_PACKAGE_FOO\n"
        '\tbool "foo"\n'
        "\tdepends on BR2_USE_WCHAR\n"
        "\tselect BR2_PACKAGE_NFTABLES\n"  # also needs headers >= 3.12
        "\tselect BR2_PACKAGE_HOSTAPD_DRIVER_NL80211X\n"  # typo
    )
    kconf = brs.load_tree(table, tmp_path, tree=tree)
    unknown = brs.referenced_symbols(kconf, tree) - set(table.symbols)
    assert unknown == {"BR2_PACKAGE_HOSTAPD_DRIVER_NL80211X"}
    problems = brs.check_selects(kconf, table, tree=tree)
    assert len(problems) == 1, problems
    assert problems[0].startswith("BR2_PACKAGE_FOO selects BR2_PACKAGE_NFTABLES")
    assert "BR2_TOOLCHAIN_HEADERS_AT_LEAST_3_12" in problems[0]


def test_evaluate_dependencies() -> None:
    true = {"A", "B"}
    assert brs.evaluate("A && B", true)
    assert not brs.evaluate("A && C", true)
    assert brs.evaluate("C || (A && !C)", true)
    assert not brs.evaluate("!A", true)
    assert brs.evaluate("C = n", true)
    assert brs.evaluate("A != n", true)
    assert not brs.evaluate('A = "arm"', true)
    assert brs.evaluate("y", set())


def test_mqtt_is_an_option_of_the_package_off_by_default_selecting_paho(kconf: kconfiglib.Kconfig) -> None:
    sym = kconf.syms["BR2_PACKAGE_HOTSHARE_MQTT"]
    assert sym.orig_type == kconfiglib.BOOL and sym.str_value == "n"   # the defconfig is loaded
    assert "BR2_PACKAGE_HOTSHARE" in kconfiglib.expr_str(sym.direct_dep)
    assert {"BR2_PACKAGE_PYTHON_PAHO_MQTT", "BR2_PACKAGE_PYTHON3_SSL"} <= set(
        brs.selects(kconf, REPO)["BR2_PACKAGE_HOTSHARE_MQTT"])
