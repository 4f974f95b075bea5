"""board/t113: the root filesystem overlay as the service reads it, the
post-build script, the SD card layout."""

from __future__ import annotations

import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOARD = REPO / "board" / "t113"
OVERLAY = BOARD / "rootfs_overlay"
DEFCONFIG_TEXT = (REPO / "configs" / "hotshare_defconfig").read_text()
SEED_DNS = ["223.5.5.5", "223.6.6.6", "119.29.29.29", "180.76.76.76"]


def test_default_config_is_accepted_by_hotshare(tmp_path: Path) -> None:
    config = pytest.importorskip("hotshare.config")
    raw = config.parse_conf_text((OVERLAY / "etc/hotshare/hotshare.conf").read_text())
    assert raw["PASSPHRASE_FILE"] == "/etc/hotshare/passphrase"
    assert "PASSPHRASE" not in raw, "every board would ship the same passphrase"
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("ABCDEFGHJKLMNPQR\n")  # what firstboot writes
    cfg = config.from_mapping({**raw, "PASSPHRASE_FILE": str(passphrase)})
    assert cfg.wifi_iface == "wlan0"
    assert cfg.uplinks == ("ppp0", "wwan0", "usb0")
    assert cfg.ssid == "hotshare"
    assert cfg.country == "CN"
    assert cfg.share_method == "nat"


def test_dnsmasq_conf_gives_the_upstream_servers() -> None:
    """/etc/dnsmasq.conf is the board's own resolver (Buildroot's S80dnsmasq
    runs it) on the loopback only, without DHCP; hotshare reads the same
    server= lines as its clients' upstream servers."""
    text = (OVERLAY / "etc/dnsmasq.conf").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == ["interface=lo", "bind-interfaces", "no-dhcp-interface=lo"] + [
        f"server={ip}" for ip in SEED_DNS
    ] + ["no-resolv"]
    assert not any(line.startswith(("dhcp-range", "listen-address", "except-interface")) for line in lines)
    network = pytest.importorskip("hotshare.plan.network")
    assert [str(ip) for ip in network.parse_servers_file(text)] == SEED_DNS
    config = pytest.importorskip("hotshare.config")
    raw = config.parse_conf_text((OVERLAY / "etc/hotshare/hotshare.conf").read_text())
    assert "DNS_SERVERS_FILE" not in raw and "UPSTREAM_DNS" not in raw, "the default file is this one"


def test_hotshare_dnsmasq_stays_off_the_loopback() -> None:
    """The board's resolver holds 127.0.0.1:53: hotshare's own dnsmasq must
    not bind the loopback."""
    plan = pytest.importorskip("hotshare.plan.dnsmasq")
    source = Path(plan.__file__).read_text()
    assert '"except-interface=lo"' in source and '"bind-interfaces"' in source


def test_modem_init_script_is_executable() -> None:
    """Buildroot copies the overlay keeping the mode: rcS runs only S??*
    scripts it can execute; S45modem sorts before S95hotshare."""
    scripts = sorted(p.name for p in (OVERLAY / "etc/init.d").iterdir())
    assert scripts == ["S45modem"]
    assert (OVERLAY / "etc/init.d/S45modem").stat().st_mode & 0o111, "not executable"


def test_extlinux_boots_the_board_dtb() -> None:
    text = (OVERLAY / "boot/extlinux/extlinux.conf").read_text()
    dts = re.search(r'BR2_LINUX_KERNEL_INTREE_DTS_NAME="[^"]*/([^"/]+)"', DEFCONFIG_TEXT)
    assert dts
    assert f"devicetree /boot/{dts.group(1)}.dtb" in text
    assert "root=/dev/mmcblk0p1" in text


def test_post_build(tmp_path: Path) -> None:
    target = tmp_path / "target"
    (target / "etc" / "init.d").mkdir(parents=True)
    (target / "etc" / "init.d" / "S80dnsmasq").write_text("")
    (target / "etc" / "init.d" / "S95hotshare").write_text("")
    # as Buildroot copies an overlay: u=rwX,go=rX
    shutil.copytree(OVERLAY, target, dirs_exist_ok=True)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    subprocess.run([str(BOARD / "post-build.sh"), str(target)], check=True)
    # Buildroot's dnsmasq init script is left alone: it runs the loopback resolver
    assert (target / "etc/init.d/S80dnsmasq").exists()
    assert (target / "etc/init.d/S95hotshare").exists()
    assert stat.S_IMODE((target / "etc/hotshare").stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "etc/hotshare/hotshare.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "etc/hotshare/modem.conf").stat().st_mode) == 0o600, "holds the SIM's PIN"


def test_post_build_deletes_nothing() -> None:
    text = (BOARD / "post-build.sh").read_text()
    assert not re.search(r"^\s*rm\b", text, re.M), "post-build.sh removes another package's file"


@pytest.mark.skipif(shutil.which("genimage") is None, reason="needs genimage (apt-get install genimage)")
def test_sdcard_layout(tmp_path: Path) -> None:
    """U-Boot with its SPL at 8 KiB, where the T113 boot ROM looks; the root
    filesystem as the first (bootable) partition."""
    inputs = tmp_path / "images"
    inputs.mkdir()
    spl = bytes(range(256)) * 2048  # 512 KiB
    (inputs / "u-boot-sunxi-with-spl.bin").write_bytes(spl)
    (inputs / "rootfs.ext4").write_bytes(b"\xaa" * (4 << 20))
    (tmp_path / "root").mkdir()
    subprocess.run(
        [
            "genimage",
            "--config",
            str(BOARD / "genimage.cfg"),
            "--inputpath",
            str(inputs),
            "--outputpath",
            str(tmp_path / "out"),
            "--rootpath",
            str(tmp_path / "root"),
            "--tmppath",
            str(tmp_path / "tmp"),
        ],
        check=True,
        capture_output=True,
    )
    image = (tmp_path / "out" / "sdcard.img").read_bytes()
    assert image[8192 : 8192 + len(spl)] == spl
    assert image[510:512] == b"\x55\xaa"
    entry = image[446:462]
    boot, ptype = entry[0], entry[4]
    start, sectors = struct.unpack("<II", entry[8:16])
    assert (boot, ptype) == (0x80, 0x83)
    assert start * 512 >= 8192 + len(spl), "root partition overlaps U-Boot"
    assert image[start * 512 : start * 512 + 16] == b"\xaa" * 16
    assert sectors * 512 == 4 << 20


# --- Kernel patches (BR2_GLOBAL_PATCH_DIR) -------------------------------

PATCH_DIR = BOARD / "patches" / "linux"
LINUX_SOURCE = Path("/usr/src/linux-source-6.12.tar.xz")  # Debian's linux-source-6.12
DTS = "arch/arm/boot/dts/allwinner/sun8i-t113s-mangopi-mq-r-t113.dts"


def test_global_patch_dir_layout() -> None:
    """BR2_GLOBAL_PATCH_DIR/linux/: the hash of the pinned kernel, and patches
    named <number>-<description>.patch with Upstream: and Signed-off-by:."""
    assert re.search(r'^BR2_GLOBAL_PATCH_DIR="\$\(BR2_EXTERNAL_HOTSHARE_PATH\)/board/t113/patches"$', DEFCONFIG_TEXT, re.M)
    version = re.search(r'^BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="([^"]+)"', DEFCONFIG_TEXT, re.M)
    assert version
    hashes = (PATCH_DIR / "linux.hash").read_text()
    assert re.search(rf"^sha256  [0-9a-f]{{64}}  linux-{re.escape(version.group(1))}\.tar\.xz$", hashes, re.M)
    patches = sorted(PATCH_DIR.glob("*.patch"))
    assert patches
    for patch in patches:
        assert re.fullmatch(r"\d{4}-[\w.-]+\.patch", patch.name), patch.name
        text = patch.read_text()
        assert re.search(r"^Upstream: ", text, re.M), patch.name
        assert re.search(r"^Signed-off-by: ", text, re.M), patch.name
    assert sorted(p.name for p in PATCH_DIR.iterdir()) == sorted(["linux.hash", *(p.name for p in patches)])


@pytest.mark.skipif(not LINUX_SOURCE.exists(), reason=f"needs {LINUX_SOURCE} (apt-get install linux-source-6.12)")
@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch")
def test_watchdog_patch_enables_the_watchdog(tmp_path: Path) -> None:
    """The patches apply to the board DTS of Linux 6.12 (the 6.18 tree cannot
    be downloaded here) as Buildroot applies them (patch -p1), and the
    compiled DTB has the SoC's watchdog enabled (mainline leaves it
    "reserved", and reboot hangs)."""
    members = [
        "arch/arm/boot/dts/allwinner",
        "arch/riscv/boot/dts/allwinner",
        "include/dt-bindings",
        "scripts/dtc/include-prefixes",
    ]
    subprocess.run(
        ["tar", "-xJf", str(LINUX_SOURCE), "-C", str(tmp_path), *(f"linux-source-6.12/{m}" for m in members)],
        check=True,
    )
    linux = tmp_path / "linux-source-6.12"
    original = (linux / DTS).read_text()
    assert 'status = "reserved"' in (linux / "arch/riscv/boot/dts/allwinner/sunxi-d1s-t113.dtsi").read_text()
    for patch in sorted(PATCH_DIR.glob("*.patch")):
        subprocess.run(["patch", "-p1", "-s", "-i", str(patch)], cwd=linux, check=True)
    assert (linux / DTS).read_text() != original
    if shutil.which("dtc") is None or shutil.which("cpp") is None:
        pytest.skip("needs dtc (apt-get install device-tree-compiler) and cpp to compile the DTS")
    pre = tmp_path / "board.dts.tmp"
    # as the kernel's scripts/Makefile.dtbs does
    subprocess.run(
        [
            "cpp", "-nostdinc", "-I", str(linux / "scripts/dtc/include-prefixes"),
            "-I", str(linux / "arch/arm/boot/dts/allwinner"), "-undef", "-D__DTS__",
            "-x", "assembler-with-cpp", "-o", str(pre), str(linux / DTS),
        ],
        check=True,
    )  # fmt: skip
    dtb = tmp_path / "board.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(pre)], check=True)
    status = subprocess.run(
        ["fdtget", "-t", "s", str(dtb), "/soc/watchdog@20500a0", "status"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert status == "okay"


# --- Init systems ----------------------------------------------------------


def test_systemd_unit_kills_hotshare_first() -> None:
    """SIGTERM to hotshare alone, which stops hostapd and dnsmasq itself."""
    unit = (REPO / "package" / "hotshare" / "hotshare.service").read_text()
    assert re.findall(r"^KillMode=(\S+)$", unit, re.M) == ["mixed"]


def test_readme_says_which_driver_and_where_the_root_password_is() -> None:
    text = (BOARD / "readme.txt").read_text()
    for word in ("RTL8189FTV", "rtl8189fs", "RTL8723DS", "rtl8723ds", "AP mode", "BR2_TARGET_GENERIC_ROOT_PASSWD"):
        assert word in text, word


def test_the_image_protects_root_writes_from_planted_links() -> None:
    """S02sysctl (installed by Buildroot's busybox and procps-ng packages)
    applies /etc/sysctl.d/*.conf at boot."""
    text = (OVERLAY / "etc/sysctl.d/50-hotshare.conf").read_text()
    settings = dict(line.replace(" ", "").split("=", 1) for line in text.splitlines()
                    if line.strip() and not line.startswith("#"))
    assert settings == {"fs.protected_symlinks": "1", "fs.protected_regular": "1"}
