#!/usr/bin/env python3
"""The board benchmark: hotshare and create_ap side by side on the board guest.

    .venv/bin/python bench/board_bench.py [--runs 5]     (or bench/run.py --only-board)
    CREATE_AP=/path/to/create_ap .venv/bin/python bench/board_bench.py

The board lab's image (tests/board: its kernel and root filesystem builders,
imported) plus what create_ap needs (bash, util-linux, iptables) and strace,
booted once under qemu-system-arm (-M virt -cpu cortex-a7 -smp 2 -m 128M,
TCG) with ``lab.boot=bench``: S99lab runs bench/board_guest.py, which
measures start, own share, heal and memory in interleaved rounds, then one
profiled start.  Under TCG absolute times are not the board's: the table
gives ratios.  Writes bench/results/board.md (the table) and board.json
(every sample, the profile); the console goes to .cache/board-bench/.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BOARD = REPO / "tests" / "board"
RESULTS = REPO / "bench" / "results"
OUT = REPO / ".cache" / "board-bench"
EXTRA_DEBS = ["bash", "util-linux", "iptables", "strace"]  # create_ap's needs, and the profile's
LAB = "usr/lib/hotshare-lab"


def say(msg: str) -> None:
    print(f"board-bench: {msg}", file=sys.stderr, flush=True)


def board_lab() -> tuple[ModuleType, ModuleType, ModuleType]:
    """tests/board's kernel and rootfs builders, and run-board-lab (for its QEMU command line)."""
    sys.path.insert(0, str(BOARD))
    import kernel
    import rootfs

    loader = importlib.machinery.SourceFileLoader("run_board_lab", str(BOARD / "run-board-lab"))
    spec = importlib.util.spec_from_loader("run_board_lab", loader)
    assert spec is not None
    runner = importlib.util.module_from_spec(spec)
    loader.exec_module(runner)
    return kernel, rootfs, runner


def customize(create_ap: Path | None) -> Any:
    def hook(root: Path) -> None:
        shutil.copy(REPO / "bench" / "board_guest.py", root / LAB / "bench.py")
        shutil.copy(REPO / "bench" / "board_profile.py", root / LAB / "board_profile.py")
        shutil.copy(REPO / "bench" / "benchlib.py", root / LAB / "benchlib.py")
        if create_ap is not None:
            shutil.copy(create_ap, root / LAB / "create_ap")  # only in the image under .cache, never committed
        # iptables' alternatives (its postinst is not run): the nft variant, the kernel has no legacy tables
        for name in ("iptables", "iptables-save", "iptables-restore"):
            link = root / "usr/sbin" / name
            if not link.exists() and (root / "usr/sbin/xtables-nft-multi").exists():
                link.unlink(missing_ok=True)
                link.symlink_to("xtables-nft-multi")

    return hook


def boot(argv: list[str], log: Path, timeout: float) -> dict[str, Any] | None:
    """Boot once; the guest's last BOARD-BENCH-JSON line."""
    last: dict[str, Any] | None = None
    with open(log, "wb") as console:
        proc = subprocess.Popen(["nice", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        assert proc.stdout is not None
        signal.signal(signal.SIGALRM, lambda _s, _f: os.killpg(proc.pid, signal.SIGKILL))
        signal.alarm(int(timeout))
        try:
            for raw in iter(proc.stdout.readline, b""):
                console.write(raw)
                line = raw.decode(errors="replace").rstrip("\r\n")
                if "BOARD-BENCH-JSON " in line:
                    try:
                        last = json.loads(line.split("BOARD-BENCH-JSON ", 1)[1])
                    except json.JSONDecodeError:
                        say("a garbled result line on the console (kept the previous one)")
                elif line.startswith("|F "):
                    name, _, text = line[3:].partition(" ")
                    with open(log.parent / f"guest-{name}", "a") as saved:
                        saved.write(text + "\n")
                elif "BOARD-BENCH " in line:
                    say(f"guest: {line.split('BOARD-BENCH ', 1)[1]}")
            rc = proc.wait()
        finally:
            signal.alarm(0)
    say(f"QEMU exited {rc}; console in {log}")
    return last


def med(values: list[Any] | None) -> float | None:
    taken = [v for v in values or [] if v is not None]
    return statistics.median(taken) if taken else None


def secs(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def mb(kb: float | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def report(data: dict[str, Any], date: str) -> str:
    f = data.get("figures", {})
    hs, ca, alone = f.get("start_hotshare", {}), f.get("start_create_ap", {}), f.get("hostapd_alone", {})
    heal, mem = f.get("heal", {}), f.get("memory", {})
    rows: list[tuple[str, str, str, str, str, str]] = []

    def n(values: list[Any] | None) -> str:
        return f" ({len([v for v in values or [] if v is not None])})"

    def row(figure: str, h: float | None, p: float | None, peer: str, target: float | None, fmt: Any = secs,
            hv: list[Any] | None = None, pv: list[Any] | None = None, le: bool = True, tname: str = "") -> None:
        ratio = h / p if h is not None and p else None
        met = "n/a" if ratio is None or target is None else ("yes" if (ratio <= target if le else ratio >= target)
                                                             else "NO")  # fmt: skip
        rows.append((figure, fmt(h) + (n(hv) if hv is not None else ""),
                     f"{peer} {fmt(p)}" + (n(pv) if pv is not None else ""),
                     "n/a" if ratio is None else f"{ratio:.2f}×", tname, met))

    for key, label, target in (("enabled_s", "command → AP-ENABLED", None), ("assoc_s", "command → phone associated",
                               None), ("lease_s", "command → phone's first DHCP lease", 1 / 3)):  # fmt: skip
        row(f"start: {label}", med(hs.get(key)), med(ca.get(key)), "create_ap", target, hv=hs.get(key),
            pv=ca.get(key), tname="≤ 1/3 of create_ap's" if target else "—")
    alone_en, alone_car = med(alone.get("enabled_s")), med(alone.get("carrier_s"))
    cli = med(hs.get("cli_s"))
    own = cli - alone_en if cli is not None and alone_en is not None else None
    ca_en = med(ca.get("enabled_s"))
    ca_own = ca_en - alone_car if ca_en is not None and alone_car is not None else None
    row("own share: `up --daemon` return − hostapd alone exec → AP-ENABLED (create_ap: command → AP-ENABLED − the "
        "same)", own, ca_own, "create_ap", 1 / 3, tname="≤ 1/3 of create_ap's")
    fresh = med(alone.get("assoc_s"))
    row("heal: hostapd SIGKILLed → phone associated again, against a fresh join (hostapd alone exec → phone "
        "associated)", med(heal.get("heal_s")), fresh, "fresh join", 1.5, hv=heal.get("heal_s"),
        pv=alone.get("assoc_s"), tname="≤ 1.5×")
    rss = med(mem.get("hotshare_rss_0_stations_kb"))
    bash = mb(med(ca.get("bash_rss_kb")))
    rows.append(("memory: hotshare's RSS, idle, 0 stations", mb(rss), f"create_ap's bash {bash}", "n/a",
                 "≤ 12 MB (with 20 stations: the crowd boot)",
                 "n/a" if rss is None else ("yes" if rss <= 12 * 1024 else "NO")))  # fmt: skip
    idle, lab = data.get("mem_available_idle_kb"), data.get("mem_available_lab_kb")

    def board_avail(up: float | None) -> float | None:
        """The lab's MemAvailable before anything of the hotspot or this benchmark ran (S10lab's
        snapshot), less what starting the hotspot took in the benchmark (idle - up)."""
        return None if up is None or idle is None or lab is None else lab - (idle - up)

    avail, ca_avail = board_avail(med(hs.get("mem_available_kb"))), board_avail(med(ca.get("mem_available_kb")))
    rows.append(("memory: MemAvailable, hotshare + hostapd + dnsmasq up (1 phone)", mb(avail),
                 f"create_ap (bash, hostapd, dnsmasq) {mb(ca_avail)}", "n/a", "≥ 90 MB",
                 "n/a" if avail is None else ("yes" if avail >= 90 * 1024 else "NO")))  # fmt: skip
    lines = [f"# Board guest benchmark ({date})", "",
             "qemu-system-arm -M virt -cpu cortex-a7 -smp 2 -m 128M (TCG) on a shared 2-core x86 host: absolute times "
             "are emulated, several times the board's; compare the ratios. Medians of "
             f"{data.get('runs')} interleaved rounds in one boot (samples taken in parentheses).", "",
             "| figure | hotshare | peer | ratio | target | met? |", "|---|---:|---|---:|---|:---:|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    notes = [f"MemAvailable: MemTotal {mb(data.get('mem_total_kb'))}; {mb(lab)} once the lab's radios, phone and "
             f"'internet' run (S10lab), {mb(data.get('mem_available_up_kb'))} once init has started hotshare "
             f"(S99lab); in the benchmark, with its own Python driver resident, {mb(idle)} with nothing up, "
             f"{mb(med(hs.get('mem_available_kb')))} with hotshare up, {mb(med(ca.get('mem_available_kb')))} with "
             "create_ap up. The row is S10lab's figure less what each start took.",
             f"hostapd alone: exec → AP-ENABLED {secs(alone_en)} on its control socket, {secs(alone_car)} by wlan0's "
             "carrier (how hotshare's and create_ap's AP-ENABLED are taken).",
             f"hotshare `up --daemon` returns at {secs(cli)}; heal: the phone noticed the loss after "
             f"{secs(med(heal.get('disconnect_noticed_s')))}, the AP was back (carrier) after "
             f"{secs(med(heal.get('enabled_again_s')))}; hostapd restarted in "
             f"{sum(map(bool, heal.get('restarted', [])))} of {len(heal.get('restarted', []))} runs."]  # fmt: skip
    if not data.get("create_ap"):
        notes.append("create_ap was not run (set CREATE_AP=/path/to/create_ap).")
    notes += list(data.get("notes", [])) + [f"error in {k}: {v}" for k, v in data.get("errors", {}).items()]
    lines += ["", "Notes:", ""] + [f"- {x}" for x in notes]
    prof = f.get("profile", {})
    if prof:
        lines += ["", "## Profile of one `hotshare up --daemon` (python3 -X importtime, strace -f -e trace=execve)", "",
                  f"`python3 -c pass` {secs(med(prof.get('python_c_pass_s')))}, "
                  f"`python3 -c 'import hotshare.cli.main'` {secs(med(prof.get('import_cli_s')))}; imports in `up` "
                  f"{prof.get('imports_total_us', 0) / 1e6:.2f} s (self times summed); "
                  f"`up` returned at {secs(prof.get('cli_importtime_s'))} under -X importtime, "
                  f"{secs(prof.get('cli_s'))} under strace (which stops it at every syscall). "
                  f"`nft -j list ruleset` {secs(med(prof.get('nft_list_s')))}; creating one frozen dataclass "
                  f"{(prof.get('dataclass_s') or 0) * 1e3:.1f} ms, and hotshare defines "
                  f"{prof.get('dataclasses_in_hotshare')}.", "",
                  "Programs executed (seconds after the command):", ""]  # fmt: skip
        lines += [f"- {t:.2f} s `{prog}`" for t, prog in prof.get("execs", [])]
        lines += ["", "Heaviest imports (self µs, cumulative µs):", ""]
        lines += [f"- {own:>8} {cumul:>8} {name.strip()}" for own, cumul, name in prof.get("imports_top", [])]
        hs = prof.get("imports_hotshare_us")
        if hs is not None:
            lines += ["", f"hotshare's own modules: {hs / 1e6:.2f} s of the imports' self time."]
    return "\n".join(lines) + "\n"


def run(runs: int, create_ap: str | None, timeout: float) -> int:
    if os.geteuid() != 0:
        say("must run as root (the image's files must be root's)")
        return 1
    kernel, rootfs, runner = board_lab()
    cache = Path(os.environ.get("HOTSHARE_BOARD_CACHE", Path.home() / ".cache/hotshare/board-lab"))
    ca = Path(create_ap) if create_ap else None
    if ca is not None and not ca.is_file():
        say(f"CREATE_AP={create_ap}: no such file")
        return 1
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    kdir = kernel.build(cache, int(os.environ.get("HOTSHARE_BOARD_JOBS", "2")), log_prefix="board-bench")
    facts = rootfs.build(cache, kdir, OUT, extra_debs=EXTRA_DEBS, customize=customize(ca))
    say(f"kernel {kdir.name}; root filesystem {facts['tree']} in {facts['seconds']}s; booting (TCG)")
    budget = max(120.0, timeout - 150)
    argv = runner.qemu_argv(kdir, OUT / "root.ext4", f"lab.boot=bench lab.usb0=0 lab.bench.runs={runs} "
                            f"lab.bench.seconds={budget:.0f}")  # fmt: skip
    date = time.strftime("%Y-%m-%d")
    data = boot(argv, OUT / "console.log", timeout)
    if data is None:
        say("the guest gave no results")
        return 1
    data["date"], data["kernel"] = date, kdir.name
    md = report(data, date)
    print(md)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "board.md").write_text(md)
    (RESULTS / "board.json").write_text(json.dumps(data, indent=1) + "\n")
    say(f"wrote {RESULTS / 'board.md'} and {RESULTS / 'board.json'}")
    return 1 if data.get("errors") else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=5, help="interleaved rounds (medians)")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds the boot may take")
    a = p.parse_args()
    return run(a.runs, os.environ.get("CREATE_AP") or None, a.timeout)


if __name__ == "__main__":
    sys.exit(main())
