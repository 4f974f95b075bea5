"""csrc/ctacct.c under AddressSanitizer and UndefinedBehaviorSanitizer.

``make -C csrc asan`` builds the standalone driver (csrc/ctacct_driver.c) with
-fsanitize=address,undefined -fno-sanitize-recover=all; it copies every input
into a heap block of exactly its size, so a read one byte past the end
aborts.  The driver's answers must also equal the pure-Python path's.  If
clang has libFuzzer, the fuzz harness runs for a few seconds too.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from hotshare.netlink import ctacct as accounting
from hotshare.netlink import ctnetlink as conntrack
from lab.ctdump import MALFORMED, RECORDED_DUMP, ROOT, encode_dump, random_entries

CSRC = ROOT / "csrc"
SAN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1:strict_string_checks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


def _sanitizer_runtime() -> str | None:
    """None if gcc can build and run an -fsanitize=address,undefined program."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        return "needs gcc and make"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "t.c")
        src.write_text("int main(void) { return 0; }\n")
        build = subprocess.run(
            ["gcc", "-fsanitize=address,undefined", str(src), "-o", str(Path(tmp, "t"))],
            capture_output=True,
            text=True,
            check=False,
        )
        if build.returncode:
            return "gcc lacks the ASan/UBSan runtime: " + build.stderr.strip()[-200:]
        run = subprocess.run([str(Path(tmp, "t"))], capture_output=True, env=dict(os.environ, **SAN_ENV), check=False)
        if run.returncode:
            return "ASan programs do not run here: " + run.stderr.decode(errors="replace")[-200:]
    return None


_why = _sanitizer_runtime()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")


@pytest.fixture(scope="module")
def build_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ctacct-san-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def driver(build_dir: Path) -> Path:
    subprocess.run(["make", "-s", "-C", str(CSRC), "asan", f"O={build_dir}", "CC=gcc"], check=True)
    path = build_dir / "asan" / "ctacct_driver"
    assert path.exists()
    return path


@pytest.fixture(scope="module")
def dumps(build_dir: Path) -> dict[str, Path]:
    """Synthetic dumps of a few sizes, plus the recorded kernel one."""
    out = {"recorded": RECORDED_DUMP}
    for n, seed in ((1, 1), (7, 2), (300, 3), (20_000, 4)):
        path = build_dir / f"synth-{n}.bin"
        path.write_bytes(encode_dump(random_entries(random.Random(seed), n), noise=random.Random(seed)))
        out[f"synth-{n}"] = path
    return out


def run_driver(driver: Path, *args: str) -> str:
    proc = subprocess.run(
        [str(driver), *args], capture_output=True, text=True, env=dict(os.environ, **SAN_ENV), timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "runtime error" not in proc.stderr and "Sanitizer" not in proc.stderr, proc.stderr[-4000:]
    return proc.stdout


def python_lines(buf: bytes, subnet: str, exclude: list[str], prefixes6: tuple[str, ...] = ()) -> list[str]:
    """What the driver prints, computed by the pure-Python path (IPv6
    addresses as the driver prints them: 32 hex digits)."""
    try:
        counts = accounting.count_by_client(buf, subnet, exclude=exclude, prefixes6=prefixes6, backend="python")
    except conntrack.ConntrackParseError as exc:
        return [f"error {exc.code} {exc.offset}"]
    return [f"{ip_address(addr).packed.hex() if ':' in addr else addr} {' '.join(str(v) for v in c)}"
            for addr, c in counts.items()]


@pytest.mark.parametrize("exclude,prefixes6", [([], ()), (["10.42.0.1"], ()), (["10.42.0.1", "fd42::1"],
                                                                               ("fd42::/64", "2001:db8::/120"))])
def test_driver_matches_python(driver: Path, dumps: dict[str, Path], exclude: list[str],
                               prefixes6: tuple[str, ...]) -> None:
    for name, path in dumps.items():
        subnet = "10.77.0.0/24" if name == "recorded" else "10.42.0.0/23"
        excl = ["10.77.0.1"] if name == "recorded" and exclude else exclude
        args = ["-s", subnet, *[a for x in excl for a in ("-X" if ":" in x else "-x", x)],
                *[a for p in prefixes6 for a in ("-6", p)]]
        got = run_driver(driver, *args, str(path)).splitlines()
        assert got == python_lines(path.read_bytes(), subnet, excl, prefixes6), name
        assert got, name
        if prefixes6 and name in ("synth-300", "synth-20000"):
            assert any(":" not in ln.split()[0] and "." not in ln.split()[0] for ln in got), name  # IPv6 ones


def test_driver_reports_malformed_input(driver: Path, build_dir: Path) -> None:
    for i, (name, (buf, offset, code)) in enumerate(sorted(MALFORMED.items())):
        path = build_dir / f"malformed-{i}.bin"
        path.write_bytes(buf)
        assert run_driver(driver, str(path)).splitlines() == [f"error {code} {offset}"], name


@pytest.mark.parametrize("mode", ["-p", "-P"])
def test_every_prefix(driver: Path, dumps: dict[str, Path], mode: str) -> None:
    """-p: plain prefixes (the framing check stops them); -P: the cut message
    is reframed to end at the cut, so the attribute walk meets the cut."""
    for name in ("recorded", "synth-1", "synth-7"):
        out = run_driver(driver, "-s", "10.0.0.0/8", "-6", "fd42::/64", mode, str(dumps[name]))
        total, ok = int(out.split()[1]), int(out.split()[3])
        assert total == dumps[name].stat().st_size + 1
        assert 0 < ok < total, out  # whole-message prefixes pass, others mostly fail


def test_random_corruption(driver: Path, dumps: dict[str, Path]) -> None:
    for name, count in (("recorded", 50_000), ("synth-7", 50_000), ("synth-300", 2_000)):
        out = run_driver(
            driver, "-s", "0.0.0.0/0", "-x", "10.42.0.1", "-6", "::/0", "-X", "fd42::1", "-c", "1", "-m", str(count),
            "-r", "7", str(dumps[name])
        )
        assert out.split()[:2] == ["mutations", str(count)]


def test_the_sanitizers_do_catch_an_overread(build_dir: Path) -> None:
    """The build really is instrumented: a one-byte overread aborts."""
    src = build_dir / "overread.c"
    src.write_text(
        "#include <stdlib.h>\n#include <string.h>\n"
        "int main(void) { char *p = malloc(4); memset(p, 1, 4); int v = p[4]; free(p); return v == 7; }\n"
    )
    exe = build_dir / "overread"
    subprocess.run(["gcc", "-fsanitize=address,undefined", "-g", str(src), "-o", str(exe)], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, env=dict(os.environ, **SAN_ENV), check=False)
    assert proc.returncode != 0 and "heap-buffer-overflow" in proc.stderr


def _libfuzzer() -> str | None:
    if shutil.which("clang") is None:
        return "needs clang (apt-get install clang libclang-rt-14-dev)"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "f.c")
        src.write_text(
            "#include <stdint.h>\n#include <stddef.h>\n"
            "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n"
        )
        proc = subprocess.run(
            ["clang", "-fsanitize=fuzzer", str(src), "-o", str(Path(tmp, "f"))], capture_output=True, check=False
        )
        if proc.returncode:
            return "clang has no libFuzzer runtime"
    return None


@pytest.mark.skipif(_libfuzzer() is not None, reason=_libfuzzer() or "")
def test_libfuzzer_briefly(build_dir: Path, dumps: dict[str, Path]) -> None:
    seeds = build_dir / "seeds"
    seeds.mkdir(exist_ok=True)
    for name in ("recorded", "synth-1", "synth-7"):
        shutil.copy(dumps[name], seeds / name)
    proc = subprocess.run(
        ["make", "-s", "-C", str(CSRC), "fuzz-run", f"O={build_dir}", "FUZZ_TIME=10", f"FUZZ_CORPUS={seeds}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr
    assert not list(build_dir.glob("fuzz/crash-*"))
