"""The profile of one `hotshare up --daemon` in the board guest (bench/board_guest.py).

One start under ``python3 -X importtime`` (the imports, the command's
return), one under ``strace -f -e trace=execve`` (the programs it executes,
in order), and what an interpreter, an import of the CLI, one nft run and
one dataclass cost there.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from benchlib import now

from lab.proc import wait_until


def profile(self: Any, work: Path, p: dict[str, Any]) -> None:
    """One start under python3 -X importtime (imports, the command's return),
    one under strace -f -e trace=execve (what it executes, in order; strace
    slows every syscall, so those times are stretched)."""
    argv = self.up_argv()
    self.reset_ap()
    t0 = now()
    with open(work / "importtime.txt", "w") as err:
        subprocess.run(["python3", "-X", "importtime", "/usr/bin/hotshare", *argv[1:]], stdin=subprocess.DEVNULL,
                       stdout=self.log, stderr=err, timeout=300, check=True)  # fmt: skip
    p["cli_importtime_s"] = now() - t0
    self.down()
    self.reset_ap()
    trace = work / "strace.txt"
    wall0 = time.time()
    proc = self.popen(["strace", "-f", "-ttt", "-e", "trace=execve", "-o", str(trace), *argv])

    def returned() -> bool:  # the traced command's own pid has exited (the daemon goes on)
        lines = trace.read_text(errors="replace").splitlines() if trace.exists() else []
        return bool(lines) and any(ln.startswith(lines[0].split()[0] + " ") and "+++ exited" in ln for ln in lines)

    wait_until(returned, 300, interval=0.5, what="the traced hotshare up to return")
    self.down()
    proc.wait(120)
    read_profile(work, wall0, p)


def read_profile(work: Path, wall0: float, p: dict[str, Any]) -> None:
    execs: list[tuple[float, str]] = []
    parent_exit = None
    pending: dict[str, str] = {}  # pid -> program of an execve <unfinished ...>
    lines = (work / "strace.txt").read_text(errors="replace").splitlines()
    first_pid = lines[0].split()[0] if lines else ""
    for line in lines:
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        pid, t, rest = parts[0], float(parts[1]) - wall0, parts[2]
        if rest.startswith("execve(") and "<unfinished" in rest:
            pending[pid] = rest.split('"')[1]
        elif rest.startswith("execve(") and rest.rstrip().endswith("= 0"):
            execs.append((t, rest.split('"')[1]))
        elif rest.startswith("<... execve resumed>") and rest.rstrip().endswith("= 0") and pid in pending:
            execs.append((t, pending.pop(pid)))
        elif pid == first_pid and "+++ exited" in rest:
            parent_exit = t
    p["execs"] = execs
    p["cli_s"] = parent_exit
    imports: list[tuple[int, int, str]] = []
    for line in (work / "importtime.txt").read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            own, cumul, name = line[len("import time:"):].split("|")
            imports.append((int(own), int(cumul), name.rstrip()))
    p["imports_total_us"] = sum(own for own, _, _ in imports)
    p["imports_hotshare_us"] = sum(own for own, _, name in imports if name.strip().startswith("hotshare"))
    p["imports_top"] = sorted(imports, key=lambda x: -x[0])[:20]
    p["python_c_pass_s"] = [timed(["python3", "-c", "pass"]) for _ in range(3)]
    p["import_cli_s"] = [timed(["python3", "-c", "import hotshare.cli.main"]) for _ in range(3)]
    p["nft_list_s"] = [timed(["nft", "-j", "list", "ruleset"]) for _ in range(3)]
    code = ("import dataclasses, time\nt = time.perf_counter()\nfor i in range(20):\n"
            "    dataclasses.dataclass(frozen=True)(type('C', (), {'__annotations__': {'a': int, 'b': str}, "
            "'a': 0, 'b': ''}))\nprint((time.perf_counter() - t) / 20)")  # fmt: skip
    proc = subprocess.run(["python3", "-c", code], capture_output=True, text=True, check=False)
    p["dataclass_s"] = float(proc.stdout) if proc.returncode == 0 else None
    p["dataclasses_in_hotshare"] = sum(f.read_text().count("@dataclass") for f in
                                       Path("/usr/lib").glob("python3*/*-packages/hotshare/**/*.py"))

def timed(argv: list[str]) -> float:
    t = now()
    subprocess.run(argv, capture_output=True, check=False)
    return now() - t
