"""csrc/ctacct.c cross-compiles for the T113 (32-bit ARM, hard float),
warning-free, and the object really is a 32-bit ARM ELF.

The ELF header (and the .ARM.attributes section, where a relocatable object
records its float ABI and CPU) is read here rather than trusting file(1).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
CROSS_GCC = "arm-linux-gnueabihf-gcc"

EM_ARM = 40
ET_REL = 1
EF_ARM_EABI_VER5 = 0x05000000
EF_ARM_EABIMASK = 0xFF000000
SHT_ARM_ATTRIBUTES = 0x70000003
TAG_CPU_ARCH = 6  # 10: ARMv7
TAG_FP_ARCH = 10  # 5: VFPv4
TAG_ABI_VFP_ARGS = 28  # 1: arguments in VFP registers (hard float)

pytestmark = pytest.mark.skipif(shutil.which(CROSS_GCC) is None, reason=f"needs {CROSS_GCC}")


def elf_header(path: Path) -> dict[str, int]:
    data = path.read_bytes()[:52]
    assert len(data) == 52, "shorter than an ELF32 header"
    assert data[:4] == b"\x7fELF", "not ELF"
    ei_class, ei_data, ei_version = data[4], data[5], data[6]
    assert ei_data in (1, 2)
    endian = "<" if ei_data == 1 else ">"
    e_type, e_machine, e_version, _entry, _phoff, _shoff, e_flags = struct.unpack_from(endian + "HHIIIII", data, 16)
    return {
        "class": ei_class,  # 1: ELFCLASS32
        "data": ei_data,  # 1: little endian
        "ident_version": ei_version,
        "type": e_type,
        "machine": e_machine,
        "version": e_version,
        "flags": e_flags,
    }


def _uleb128(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def arm_attributes(path: Path) -> dict[int, int | str]:
    """The file-scope "aeabi" build attributes of an ELF32 little-endian object."""
    data = path.read_bytes()
    shoff, _flags, _ehsize, _phentsize, _phnum, shentsize, shnum = struct.unpack_from("<IIHHHHH", data, 32)
    sections = [struct.unpack_from("<IIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    found = [s for s in sections if s[1] == SHT_ARM_ATTRIBUTES]
    assert found, "no .ARM.attributes section"
    _name, _type, _flags2, _addr, offset, size = found[0]
    sec = data[offset : offset + size]
    assert sec[:1] == b"A", "unknown attributes format"
    attrs: dict[int, int | str] = {}
    pos = 1
    while pos < len(sec):
        (sub_len,) = struct.unpack_from("<I", sec, pos)
        vendor_end = sec.index(b"\0", pos + 4)
        vendor = sec[pos + 4 : vendor_end]
        if vendor == b"aeabi":
            p = vendor_end + 1
            while p < pos + sub_len:
                tag, (block_len,) = sec[p], struct.unpack_from("<I", sec, p + 1)
                if tag == 1:  # Tag_File
                    q, end = p + 5, p + block_len
                    while q < end:
                        attr, q = _uleb128(sec, q)
                        # Strings: 4, 5, 67, and odd tags above 32; 32 is uleb + string.
                        if attr in (4, 5, 67) or (attr > 32 and attr % 2):
                            z = sec.index(b"\0", q)
                            attrs[attr] = sec[q:z].decode()
                            q = z + 1
                        elif attr == 32:
                            _, q = _uleb128(sec, q)
                            q = sec.index(b"\0", q) + 1
                        else:
                            attrs[attr], q = _uleb128(sec, q)
                p += block_len
        pos += sub_len
    return attrs


def check_arm_object(obj: Path, expect: dict[int, int] | None = None) -> None:
    h = elf_header(obj)
    assert h["class"] == 1, "ELF 32-bit"
    assert h["data"] == 1, "little endian"
    assert h["machine"] == EM_ARM, f"e_machine {h['machine']}, not EM_ARM"
    assert h["type"] == ET_REL, "a relocatable object"
    assert h["flags"] & EF_ARM_EABIMASK == EF_ARM_EABI_VER5, hex(h["flags"])
    attrs = arm_attributes(obj)
    assert attrs.get(TAG_ABI_VFP_ARGS) == 1, f"hard-float ABI (gnueabihf): {attrs}"
    for tag, value in (expect or {}).items():
        assert attrs.get(tag) == value, (tag, attrs)


def test_plain_cross_compile(tmp_path: Path) -> None:
    """The exact command of the brief: C99, -Wall -Wextra -Werror."""
    obj = tmp_path / "ctacct.o"
    proc = subprocess.run(
        [CROSS_GCC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", str(CSRC / "ctacct.c"), "-o", str(obj)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no warnings at all"
    check_arm_object(obj)


def test_make_arm_for_cortex_a7(tmp_path: Path) -> None:
    """make -C csrc arm: -O2 -mcpu=cortex-a7 -mfpu=neon-vfpv4 -mfloat-abi=hard, plus -pedantic."""
    argv = ["make", "-C", str(CSRC), "arm", f"O={tmp_path}"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    check_arm_object(tmp_path / "arm" / "ctacct.o", expect={TAG_CPU_ARCH: 10, TAG_FP_ARCH: 5})


@pytest.mark.skipif(shutil.which("qemu-arm") is None, reason="needs qemu-arm (apt-get install qemu-user)")
def test_arm_driver_under_qemu_matches_python(tmp_path: Path) -> None:
    """32-bit ARM (size_t of 4 bytes, the T113's ABI) gives the answers of the
    pure-Python path, on the recorded kernel dump and a synthetic one, and
    survives random corruption."""
    import random

    from hotshare.netlink import ctacct as accounting
    from hotshare.netlink import ctnetlink as conntrack
    from lab.ctdump import RECORDED_DUMP, encode_dump, random_entries

    subprocess.run(["make", "-s", "-C", str(CSRC), "arm-driver", f"O={tmp_path}"], check=True)
    driver = tmp_path / "arm" / "ctacct_driver"
    check_arm_executable(driver)
    synth = tmp_path / "synth.bin"
    synth.write_bytes(encode_dump(random_entries(random.Random(5), 20_000), noise=random.Random(5)))
    for path, subnet, router in ((RECORDED_DUMP, "10.77.0.0/24", "10.77.0.1"), (synth, "10.42.0.0/23", "10.42.0.1")):
        out = subprocess.run(
            ["qemu-arm", str(driver), "-s", subnet, "-x", router, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout.splitlines()
        try:
            counts = accounting.count_by_client(path.read_bytes(), subnet, exclude=[router], backend="python")
            expected = [f"{a} {' '.join(str(v) for v in c)}" for a, c in counts.items()]
        except conntrack.ConntrackParseError as exc:
            expected = [f"error {exc.code} {exc.offset}"]
        assert out == expected and out, path.name
    fuzz = subprocess.run(
        ["qemu-arm", str(driver), "-s", "0.0.0.0/0", "-c", "1", "-m", "20000", "-r", "3", str(RECORDED_DUMP)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert fuzz.returncode == 0 and fuzz.stdout.startswith("mutations 20000"), fuzz.stderr


def check_arm_executable(path: Path) -> None:
    h = elf_header(path)
    assert (h["class"], h["data"], h["machine"]) == (1, 1, EM_ARM)
    assert h["type"] == 2, "ET_EXEC (static)"


def test_elf_reader_rejects_a_host_object(tmp_path: Path) -> None:
    """The check can fail: a host (x86_64) object is not accepted."""
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    obj = tmp_path / "host.o"
    subprocess.run(["gcc", "-std=c99", "-c", str(CSRC / "ctacct.c"), "-o", str(obj)], check=True)
    with pytest.raises(AssertionError):
        check_arm_object(obj)
