#!/usr/bin/env python3
"""`make bench`: hotshare's figures, side by side with a peer where one exists.

    .venv/bin/python bench/run.py [--runs 5] [--guest-runs 3] [--idle 60] [--no-guest] [--no-host]
                                  [--no-board | --only-board] [--board-runs 5]
    CREATE_AP=/path/to/create_ap .venv/bin/python bench/run.py

Host (network namespaces, tests/netns/board.py): idle cost over --idle
seconds, failover between two uplinks, `hotshare up` on a wired downstream,
and (only if the guest could not) memory with 20 DHCP clients.  Guest (ONE
QEMU boot, virtme-ng under TCG, bench/lab_bench.py inside): start to ready
against create_ap and hostapd alone, heal, join to online against a bare
hostapd + dnsmasq + nft setup, memory with 0 and 20 stations, forwarding
against create_ap's iptables rules.  Then bench/accounting.py (its own
table).  Then the board guest (bench/board_bench.py: qemu-system-arm,
Cortex-A7, 128 MB, the board lab's image; its own table, board.md and
board.json).  Every figure is a median of several runs.

Writes bench/results/bench.md (the Markdown printed on stdout) and
bench/results/bench.json (every sample).  It never fails on a time: the exit
status is 1 only when a figure could not be measured at all, 0 otherwise.
bench/README.md says how each figure is taken.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from benchlib import REPO, cpu_counters, idle_cost, machine_info, median, memory_kb, now, wait_http

from board import WEB, Board, Uplink
from lab import topology
from lab.cellular import create_ap_rules
from lab.netns import Netns

RESULTS = REPO / "bench" / "results"
LAB_OUT = REPO / ".cache" / "bench-lab"
# The board of tests/netns/board.py, under namespace names of our own so that
# a test run at the same time on this machine is not disturbed.
PPP0 = topology.PPP0.in_netns("hsbench-inet")
USB0 = topology.USB0.in_netns("hsbench-inet2")
# the simulated 4G link of lab/cellular.py: a 1400-byte path that drops ICMP frag-needed
CELLULAR = Uplink("ppp0", "10.64.0.2/24", "10.64.0.1", 250, "hsbench-inet", "isp0", path_mtu=1400)
STALL_S = 4.0   # a 1 MB download not done by then counts as stalled


def say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data: dict[str, Any] = {"machine": machine_info(), "host": {}, "guest": None, "errors": {},
                                     "notes": [], "runs": {"host": args.runs, "guest": args.guest_runs}}
        self.board: Board | None = None
        self.tmp = Path(tempfile.mkdtemp(prefix="hotshare-bench-"))
        self.guest: subprocess.Popen[bytes] | None = None
        self.guest_deadline = 0.0
        self.create_ap = os.environ.get("CREATE_AP") or None

    # -- helpers -----------------------------------------------------------------

    def step(self, name: str, body: Callable[[], None]) -> None:
        say(f"{name} ...")
        try:
            body()
        except Exception as e:
            self.data["errors"][name] = f"{type(e).__name__}: {e}"
            (self.tmp / f"error-{name}.txt").write_text(traceback.format_exc())
            say(f"{name} failed: {type(e).__name__}: {e}")

    def host(self, name: str) -> dict[str, Any]:
        return self.data["host"].setdefault(name, {})

    # -- the host board ------------------------------------------------------------

    def start_board(self) -> None:
        b = Board(self.tmp / "board", uplinks=(PPP0, USB0))
        b.board, b.phone = Netns("hsbench-board"), Netns("hsbench-phone")
        b.workdir.mkdir(parents=True, exist_ok=True)
        self.board = b.start()
        self.hs_up()

    def hs_up(self) -> float:
        assert self.board
        t = now()
        self.board.hotshare("up", "--daemon", "--dns-server", PPP0.gateway, "lan0")  # uplinks: auto
        return now() - t

    def idle_begin(self) -> dict[str, float]:
        assert self.board
        pid = self.board.pid()
        time.sleep(1)
        self.host("memory")["stations_0"] = memory_kb(pid)
        return cpu_counters(pid)

    def idle_end(self, before: dict[str, float]) -> None:
        assert self.board
        pid = self.board.pid()
        self.host("idle").update(idle_cost(before, cpu_counters(pid)))
        self.host("memory")["after_idle"] = memory_kb(pid)

    def failover(self) -> None:
        """ppp0 (metric 250) goes down -> the phone's new connection leaves through usb0."""
        b = self.board
        assert b
        b.dhcp()
        wait_http(b.phone, WEB, now() + 10, expect=PPP0.board_ip)
        fig = self.host("failover")
        for key in ("failover_s", "failback_s"):
            fig[key] = []
        for _ in range(self.args.runs):
            t0 = now()
            b.board.ip("link", "set", "ppp0", "down")
            t, _body = wait_http(b.phone, WEB, t0 + 10, expect=USB0.board_ip, interval=0.005, timeout=0.3)
            fig["failover_s"].append(t - t0)
            b.board.ip("link", "set", "ppp0", "up")  # pppd brings it back with its route
            t0 = now()
            b.board.ip("route", "add", "default", "via", PPP0.gateway, "dev", "ppp0", "metric", str(PPP0.metric))
            t, _body = wait_http(b.phone, WEB, t0 + 10, expect=PPP0.board_ip, interval=0.005, timeout=0.3)
            fig["failback_s"].append(t - t0)
            time.sleep(0.5)

    def wired_start(self) -> None:
        """`hotshare up --daemon` on the wired downstream: command -> exit 0
        (dnsmasq answering): all of hotshare's own start, at native speed."""
        assert self.board
        fig = self.host("start_wired")
        fig["cli_s"] = []
        for _ in range(self.args.runs):
            self.board.hotshare("down", "lan0")
            time.sleep(0.2)
            fig["cli_s"].append(self.hs_up())
        # What an interpreter and hotshare's planning cost here, for reading it.
        fig["python_c_pass_s"], fig["dry_run_s"] = [], []
        for _ in range(3):
            t = now()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            fig["python_c_pass_s"].append(now() - t)
            t = now()
            self.board.hotshare("up", "--dry-run", "--dns-server", PPP0.gateway, "lan0")
            fig["dry_run_s"].append(now() - t)

    def memory_wired_clients(self, count: int = 20) -> None:
        """Fallback when the guest has no 20-station figure: 20 DHCP clients
        (macvlans of the phone's eth0, each its own MAC) on the wired downstream."""
        b = self.board
        assert b
        pid = b.pid()
        fig = self.host("memory")
        script = REPO / "tests" / "lab" / "udhcpc.script"
        for i in range(count):
            dev = f"mv{i}"
            b.phone.ip("link", "add", dev, "link", "eth0", "type", "macvlan", "mode", "bridge")
            b.phone.ip("link", "set", dev, "up")
            b.phone.run(["busybox", "udhcpc", "-i", dev, "-n", "-q", "-f", "-t", "10", "-T", "1", "-s", str(script)],
                        env={**os.environ, "LAB_LEASE_FILE": str(self.tmp / f"{dev}.lease")}, timeout=30)
        time.sleep(1)
        fig["clients_20"] = memory_kb(pid)
        for i in range(count):
            b.phone.ip("link", "del", f"mv{i}", check=False)

    def stop_board(self) -> None:
        if self.board:
            self.board.stop()
            self.board = None

    def pmtu_black_hole(self) -> None:
        """1 MB through the hotspot behind the 1400-byte black hole: with
        hotshare's table (MSS clamped), then with create_ap's rules by hand."""
        b = Board(self.tmp / "cellular", uplinks=(CELLULAR,))
        b.board, b.phone = Netns("hsbench-board"), Netns("hsbench-phone")
        b.workdir.mkdir(parents=True, exist_ok=True)
        fig = self.host("pmtu")
        try:
            b.start()
            b.hotshare("up", "--daemon", "--dns-server", CELLULAR.gateway, "lan0", "ppp0")
            b.dhcp()
            fig["hotshare_s"] = [b.download(timeout=20) for _ in range(self.args.runs)]
            b.hotshare("down", "lan0")
            create_ap_rules(b.board, b.phone)
            fig["create_ap_s"] = [b.download(timeout=STALL_S)]   # None: stalled
        finally:
            b.stop()

    # -- the guest ---------------------------------------------------------------------

    def uplink_health(self) -> None:
        """HEALTH_CHECK on a 4G ppp0 that dies while its link stays up (bench/health_bench.py)."""
        import health_bench
        self.data["host"]["health"] = health_bench.measure(self.tmp, CELLULAR, USB0, self.args.idle)

    def rate_limits(self) -> None:
        """A phone's rate limit, down and up, against what it gets (bench/ratelimit_bench.py)."""
        import ratelimit_bench
        self.data["host"]["rate_limit"] = ratelimit_bench.measure(self.tmp)

    def run_lab_module(self) -> ModuleType:
        """tests/qemu/run-lab, for its kernel and virtme-ng look-ups."""
        loader = importlib.machinery.SourceFileLoader("run_lab", str(REPO / "tests" / "qemu" / "run-lab"))
        spec = importlib.util.spec_from_loader("run_lab", loader)
        assert spec
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        return mod

    def start_guest(self) -> None:
        rl = self.run_lab_module()
        try:
            vng = rl.find_vng()
            kernel = rl.find_kernel("mac80211_hwsim")
            if not shutil.which("qemu-system-x86_64"):
                raise RuntimeError("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
        except SystemExit as e:
            raise RuntimeError(f"the lab cannot run here (see above; run-lab exit {e.code})") from None
        if LAB_OUT.exists():
            shutil.rmtree(LAB_OUT)
        (LAB_OUT / "logs").mkdir(parents=True)
        extra: list[str] = []
        if self.create_ap:
            if not Path(self.create_ap).is_file():
                raise RuntimeError(f"CREATE_AP={self.create_ap}: no such file")
            shutil.copy(self.create_ap, LAB_OUT / "create_ap")  # the guest sees this directory for sure
            extra = ["--create-ap", str(LAB_OUT / "create_ap")]
        allowed = self.args.guest_time
        python = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv/bin/python").exists() else sys.executable
        # Bytecode for what the guest imports (the board's image ships .pyc too):
        # compiling hotshare from source under TCG would cost ~25 s per command.
        dirs = [str(REPO / d) for d in ("python/hotshare", "tests/lab", "bench")]
        subprocess.run([python, "-m", "compileall", "-q", *dirs], check=False, stdout=subprocess.DEVNULL)
        env = {
            "HOTSHARE_LAB_GUEST": "1",
            "HOTSHARE_RUNDIR": "/run/bench-lab/hotshare/run",
            "HOTSHARE_STATEDIR": "/run/bench-lab/hotshare/state",
            "PYTHONPATH": f"{REPO / 'python'}:{REPO / 'tests'}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8",
        }
        argv = [python, str(REPO / "bench" / "lab_bench.py"), "--out", str(LAB_OUT), "--runs",
                str(self.args.guest_runs), "--idle", str(self.args.guest_idle),
                "--until", f"{time.time() + allowed - 60:.0f}",
                "--phases", self.args.guest_phases, *extra]
        script = LAB_OUT / "guest.sh"
        script.write_text("\n".join([
            "#!/bin/sh", "# generated by bench/run.py",
            *(f"export {k}={shlex.quote(v)}" for k, v in env.items()),
            "mkdir -p /run/bench-lab/hotshare/run /run/bench-lab/hotshare/state",
            f"cd {shlex.quote(str(REPO))}",
            "echo \"bench: guest up ($(uname -r), $(nproc) cpus) after $(cut -d' ' -f1 /proc/uptime)s\"",
            f"exec {shlex.join(argv)}"]) + "\n")
        cmd = [str(vng), "--run", str(kernel), "--disable-kvm", "--memory", "1G", "--cpus", "2",
               "--rwdir", str(LAB_OUT), "--cwd", str(REPO), "--exec", f"/bin/sh {script}"]
        say(f"booting the lab guest ({kernel.name}, TCG); its log follows on stderr")
        self.data["guest_command"] = shlex.join(cmd)
        self.guest = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr,
                                      env={**os.environ, "PATH": f"{vng.parent}:{os.environ.get('PATH', '')}"},
                                      start_new_session=True)
        self.guest_deadline = now() + allowed

    def wait_guest(self) -> None:
        if self.guest is None:
            return
        try:
            rc = self.guest.wait(max(1.0, self.guest_deadline - now()))
        except subprocess.TimeoutExpired:
            os.killpg(self.guest.pid, signal.SIGTERM)
            try:
                self.guest.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.guest.pid, signal.SIGKILL)
                self.guest.wait()
            rc = None
            self.data["notes"].append("the guest was killed on time; its figures are what it had written")
        self.guest = None
        say(f"guest exited {rc}")
        path = LAB_OUT / "lab.json"
        if path.exists():
            self.data["guest"] = json.loads(path.read_text())
        else:
            self.data["errors"]["guest"] = f"the guest wrote no lab.json (exit {rc}); see {LAB_OUT}/logs"

    # -- accounting (bench/accounting.py, another engineer's) ----------------------------

    def accounting(self) -> None:
        out = self.tmp / "accounting.json"
        argv = [sys.executable, str(REPO / "bench" / "accounting.py"), *shlex.split(self.args.accounting_args),
                "--out", str(out)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
        shown = ["bench/accounting.py", *shlex.split(self.args.accounting_args)]
        self.data["accounting"] = {"command": shlex.join(shown), "exit": proc.returncode,
                                   "markdown": proc.stdout.strip()}
        if out.exists():
            self.data["accounting"]["json"] = json.loads(out.read_text())
            RESULTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(out, RESULTS / "accounting.json")
        if proc.returncode != 0:
            raise RuntimeError(f"bench/accounting.py exited {proc.returncode}: {proc.stderr.strip()[-500:]}")

    def ctevents(self) -> None:
        """bench/ctevents.py: destroy events/s C vs Python; with root, hotshare's CPU at 2,000 new conns/s."""
        argv = [sys.executable, str(REPO / "bench" / "ctevents.py"), *(["--load"] if os.geteuid() == 0 else [])]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench/ctevents.py exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
        self.data["ctevents"] = json.loads(proc.stdout)

    # -- the whole run -------------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        if not shutil.which("ethtool") and not Path("/usr/sbin/ethtool").exists():
            self.step("ethtool", install_ethtool)
        idle_before: dict[str, float] | None = None
        if not a.no_host:
            self.step("host board", self.start_board)
            if self.board:
                try:
                    idle_before = self.idle_begin()
                except Exception as e:
                    self.data["errors"]["idle"] = f"{type(e).__name__}: {e}"
        if not a.no_guest:
            self.step("guest start", self.start_guest)
        if idle_before is not None:
            # The idle window runs while the guest boots: an idle process is
            # asleep, whatever else the machine does.
            say(f"idle window: {a.idle:.0f} s of hotshare with the AP up and no traffic")
            time.sleep(max(0.0, a.idle - (now() - idle_before["t"])))
            before = idle_before
            self.step("idle", lambda: self.idle_end(before))
        self.step("guest", self.wait_guest)
        if self.board:
            self.step("failover", self.failover)
            self.step("start (wired)", self.wired_start)
            guest_mem = ((self.data.get("guest") or {}).get("figures", {}).get("memory", {}))
            if "stations_20" not in guest_mem:
                self.step("memory (20 wired DHCP clients)", self.memory_wired_clients)
        self.step("board stop", self.stop_board)
        if not a.no_host:
            self.step("pmtu black hole", self.pmtu_black_hole)
            self.step("uplink health", self.uplink_health)
            self.step("rate limits", self.rate_limits)
        if not a.no_accounting:
            self.step("accounting", self.accounting)
            self.step("conntrack events", self.ctevents)
        self.data["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        shutil.rmtree(self.tmp, ignore_errors=True)
        return report(self.data, self.create_ap)


def install_ethtool() -> None:
    """The forwarding figures turn veth offloads off with ethtool."""
    if os.geteuid() != 0:
        raise RuntimeError("ethtool is missing (apt-get install ethtool)")
    say("ethtool is missing: apt-get install ethtool")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "ethtool"], env=env, check=False,
                      stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "ethtool"], env=env, check=True, stdout=subprocess.DEVNULL)


# -- the report ---------------------------------------------------------------------------


def secs(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v * 1e3:.0f} ms" if abs(v) < 1 else f"{v:.2f} s"


def mb(kb: float | None) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def num(v: float | None, unit: str, digits: int = 0) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f} {unit}"


def get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def median_kb(values: list[int] | None) -> float | None:
    return median(values) if values else None


def report(data: dict[str, Any], create_ap: str | None) -> int:
    g = get(data, "guest", "figures") or {}
    h = data["host"]
    want_g = data["runs"]["guest"]

    def n(values: list[Any] | None, want: int = want_g) -> str:
        """' (2 of 3 runs)' when fewer runs than wanted were taken."""
        got = len([v for v in values or [] if v is not None])
        return f" ({got} of {want} runs)" if 0 < got < want else ""

    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    no_peer = "skipped: set CREATE_AP=/path/to/create_ap"

    def row(figure: str, hs: str, peer: str, ratio: str, target: str, met: bool | None, value: Any,
            required: bool = True) -> None:
        rows.append({"figure": figure, "hotshare": hs, "peer": peer, "ratio": ratio, "target": target,
                     "met": "n/a" if met is None else ("yes" if met else "NO")})
        if value is None and required:
            missing.append(figure)

    # start to ready
    hs_ready = median(get(g, "start_hotshare", "ready_s") or [])
    ca_ready = median(get(g, "start_create_ap", "ready_s") or []) if create_ap else None
    ratio = hs_ready / ca_ready if hs_ready and ca_ready else None
    row("start to ready: command → a phone's first DHCP lease (guest, TCG)",
        secs(hs_ready) + n(get(g, "start_hotshare", "ready_s")),
        f"create_ap {secs(ca_ready)}{n(get(g, 'start_create_ap', 'ready_s'))}" if create_ap else no_peer,
        f"{ratio:.2f}×" if ratio else "n/a", "≤ 1/3 of create_ap's", None if ratio is None else ratio <= 1 / 3,
        hs_ready)
    cli = median(get(g, "start_hotshare", "cli_s") or [])
    alone = median(get(g, "hostapd_alone", "enabled_s") or [])
    own = cli - alone if cli is not None and alone is not None else None
    row("start, own share: `hotshare up` → ready, minus hostapd alone exec → AP-ENABLED (guest, TCG)",
        secs(own), f"hostapd alone {secs(alone)}{n(get(g, 'hostapd_alone', 'enabled_s'))} (hotshare up {secs(cli)})",
        "n/a", "< 300 ms",
        None if own is None else own < 0.3, own)
    wired = median(get(h, "start_wired", "cli_s") or [])
    row("start, own share at native speed: `hotshare up` → ready on a wired downstream, no hostapd (host)",
        secs(wired), "n/a", "n/a", "< 300 ms", None if wired is None else wired < 0.3, wired)
    # join to online
    hs_joins = [r["join_s"] for r in get(g, "join_hotshare", "runs") or []]
    bare_joins = [r["join_s"] for r in get(g, "join_bare", "runs") or []]
    hs_join, bare_join = median(hs_joins), median(bare_joins)
    diff = hs_join - bare_join if hs_join is not None and bare_join is not None else None
    row("join to online: COMPLETED → first TCP connection through NAT (guest, TCG)", secs(hs_join) + n(hs_joins),
        f"bare hostapd+dnsmasq+nft {secs(bare_join)}{n(bare_joins)}",
        "n/a" if diff is None else f"{diff * 1e3:+.0f} ms",
        "within 100 ms of bare", None if diff is None else diff <= 0.1, hs_join)
    # failover
    fo = median(get(h, "failover", "failover_s") or [])
    row("failover: ppp0 (metric 250) down → new connection leaves through usb0 (host)", secs(fo), "n/a", "n/a",
        "< 1 s", None if fo is None else fo < 1.0, fo)
    # the 4G path-MTU black hole
    pm = h.get("pmtu") or {}
    hs_runs = pm.get("hotshare_s") or []
    done = [t for t in hs_runs if t is not None]
    hs_pm = median(done) if done and len(done) == len(hs_runs) else None
    cap = pm.get("create_ap_s") or []
    cap_txt = ("not measured" if not cap else f"create_ap's rules stall (not done in {STALL_S:.0f} s)"
               if cap[0] is None else f"create_ap's rules complete in {secs(cap[0])}")
    row("1 MB download behind a 1400-byte PMTU black hole (frag-needed dropped) (host)",
        (f"completes in {secs(hs_pm)}" if hs_pm is not None else "stalled" if hs_runs else "n/a")
        + n(hs_runs, data["runs"]["host"]),
        cap_txt, "n/a", "completes; create_ap's stalls",
        None if hs_pm is None or not cap else bool(cap[0] is None), hs_pm)
    # up but dead (HEALTH_CHECK)
    hb = h.get("health") or {}
    dt, di, rec = hb.get("detect_traffic_s"), hb.get("detect_idle_s"), hb.get("recover_s")
    row("up but dead: 4G data dies, link stays → a new connection leaves by usb0, with traffic (host)",
        secs(dt), "n/a", "n/a", "< 15 s", None if dt is None else dt < 15.0, dt)
    row("up but dead, idle: data dies with no traffic → status says dead (host)", secs(di), "n/a", "n/a",
        "< 60 s", None if di is None else di < 60.0, di)
    row("up but dead: data back → ppp0 alive again (up count 3, interval 3 s) (host)", secs(rec), "n/a", "n/a",
        "n/a", None, rec, required=False)
    idle_fig, busy = hb.get("idle") or {}, hb.get("traffic") or {}
    per_day = idle_fig.get("probe_bytes_per_day")
    row("probe traffic on an idle healthy uplink, per day (host)", num(per_day and per_day / 1e3, "kB", 1),
        "n/a", "n/a", "< 100 kB", None if per_day is None else per_day < 100e3, per_day)
    cpu = idle_fig.get("cpu_ms_per_min")
    row("idle CPU with health tracking on, per minute (host)",
        num(cpu, "ms", 1) + f", {num(idle_fig.get('wakeups_per_min'), 'wake-ups', 0)}", "n/a", "n/a",
        "< 10 ms", None if cpu is None else cpu < 10.0, cpu)
    probes = busy.get("probes")
    row("probes sent in 10 s of traffic with replies (passive evidence) (host)",
        f"{probes}, {num(busy.get('cpu_ms_per_min'), 'ms', 1)} CPU/min, "
        f"{num(busy.get('wakeups_per_min'), 'wake-ups', 0)}/min", "n/a", "n/a", "0 probes",
        None if probes is None else probes == 0, probes)
    # heal
    heal = median(get(g, "heal", "heal_s") or [])
    row("heal: hostapd SIGKILLed → phone associated again (guest, TCG)", secs(heal) + n(get(g, "heal", "heal_s")),
        "create_ap: none (it exits when hostapd dies)", "n/a", "< 3 s", None if heal is None else heal < 3.0, heal)
    # one radio, two roles (bench/samecard_bench.py)
    sc = get(g, "samecard") or {}
    sc_join, sc_csa, sc_restart = (median(sc.get(k) or []) for k in ("join_s", "csa_s", "restart_s"))
    row("same card: join to online, COMPLETED on ap0 → first TCP connection through the station uplink (guest, TCG)",
        secs(sc_join), f"ppp0 uplink {secs(hs_join)}", "n/a" if sc_join is None or hs_join is None
        else f"{(sc_join - hs_join) * 1e3:+.0f} ms", "n/a", None, sc_join)
    stayed = sc.get("csa_phone_stayed") or []
    row("same card: upstream AP's channel switch → the phone's next TCP connection through (guest, TCG)",
        secs(sc_csa) + (" (phone stayed associated)" if stayed and all(stayed) else ""), "n/a", "n/a", "n/a",
        None, sc_csa)
    row("same card: upstream AP restarted on another channel → the phone online again (guest, TCG)",
        secs(sc_restart), "n/a", "n/a", "n/a", None, sc_restart)
    # memory
    mem = get(g, "memory") or {}
    rss0, hwm0 = get(mem, "stations_0", "rss_kb"), get(mem, "stations_0", "hwm_kb")
    rss20, hwm20 = get(mem, "stations_20", "rss_kb"), get(mem, "stations_20", "hwm_kb")
    where20 = f"{mem.get('num_sta', '?')} stations, guest"
    if rss20 is None and get(h, "memory", "clients_20"):
        rss20, hwm20 = get(h, "memory", "clients_20", "rss_kb"), get(h, "memory", "clients_20", "hwm_kb")
        where20 = "20 wired DHCP clients, host"
    bash_rss = median_kb(get(g, "start_create_ap", "bash_rss_kb")) if create_ap else None
    bash_hwm = median_kb(get(g, "start_create_ap", "bash_hwm_kb")) if create_ap else None
    peer_rss = f"create_ap's bash {mb(bash_rss)}" if create_ap else no_peer
    row("memory: idle RSS of the hotshare process, 0 stations (guest, x86_64)", mb(rss0), peer_rss,
        f"{rss0 / bash_rss:.1f}×" if rss0 and bash_rss else "n/a", "< 20 MB",
        None if rss0 is None else rss0 < 20 * 1024, rss0)
    row(f"memory: idle RSS, 20 stations ({where20})", mb(rss20), "n/a", "n/a", "< 20 MB",
        None if rss20 is None else rss20 < 20 * 1024, rss20)
    row("memory: peak (VmHWM), 0 stations (guest)", mb(hwm0),
        f"create_ap's bash {mb(bash_hwm)}" if create_ap else no_peer, "n/a", "—", None, hwm0)
    row(f"memory: peak (VmHWM), 20 stations ({where20})", mb(hwm20), "n/a", "n/a", "—", None, hwm20)
    hrss = get(h, "memory", "after_idle", "rss_kb")
    row("memory: idle RSS, wired downstream (host, x86_64)", mb(hrss), "n/a", "n/a", "< 20 MB",
        None if hrss is None else hrss < 20 * 1024, hrss, required=False)
    # idle cost
    idle = h.get("idle") or {}
    cpu = idle.get("cpu_ms_per_min")
    row(f"idle cost: CPU time over {idle.get('seconds', 0):.0f} s, AP up, no traffic (host)",
        num(cpu, "ms/min", 1), "n/a", "n/a", "< 10 ms CPU per minute", None if cpu is None else cpu < 10, cpu)
    row("idle cost: wake-ups (context switches) (host)", num(idle.get("wakeups_per_min"), "/min", 1), "n/a", "n/a",
        "—", None, idle.get("wakeups_per_min"))
    gidle = g.get("idle_guest") or {}
    gcpu = gidle.get("cpu_ms_per_min")
    row(f"idle cost: CPU time over {gidle.get('seconds', 0):.0f} s, 0 stations (guest, TCG)",
        num(gcpu, "ms/min", 1), "n/a", "n/a", "< 10 ms CPU per minute", None if gcpu is None else gcpu < 10, gcpu,
        required=False)
    row("idle cost: wake-ups (guest)", num(gidle.get("wakeups_per_min"), "/min", 1), "n/a", "n/a", "—", None,
        gidle.get("wakeups_per_min"), required=False)
    # forwarding
    fw = g.get("forwarding") or {}
    ft = "flowtable" if fw.get("flowtable") else "NO flowtable"
    for key, label, unit, need in (("tcp1_mbps", "TCP, 1 stream", "Mbit/s", 1.0),
                                   ("tcp4_mbps", "TCP, 4 streams", "Mbit/s", 1.0),
                                   ("udp64_pps", "UDP, 64-byte packets received", "pps", 1.2)):
        hvs, pvs = get(fw, "hotshare", key) or [], get(fw, "create_ap", key) or []
        hv, pv = median(hvs), median(pvs)
        rat = hv / pv if hv and pv else None
        target = "≥ create_ap's" if need == 1.0 else "≥ 1.2× create_ap's, with the flowtable"
        ok = None if rat is None else (rat >= need and (need == 1.0 or bool(fw.get("flowtable"))))
        digits = 1 if unit != "pps" else 0
        row(f"forwarding: {label} (guest, TCG, offloads off; hotshare: {ft})", num(hv, unit, digits) + n(hvs),
            f"create_ap's iptables rules {num(pv, unit, digits)}{n(pvs)}", f"{rat:.2f}×" if rat else "n/a",
            target, ok, hv)

    rl = h.get("rate_limit") or {}
    for way in ("down", "up"):
        got, limit = rl.get(f"{way}_bps"), rl.get(f"limit_{way}_bps")
        rat = got / limit if got and limit else None
        row(f"rate limit: a phone's {way}load, iperf3, vs its CLIENT_RATE_LIMITS {num(limit and limit / 1e6, 'Mbit/s')}"
            " (host)", num(got and got / 1e6, "Mbit/s", 2), "n/a", f"{rat:.2f}× the limit" if rat else "n/a",
            "0.75 to 1.25× the limit", None if rat is None else 0.75 <= rat <= 1.25, got, required=False)
    acct = data.get("accounting") or {}
    m = data["machine"]
    gm = get(data, "guest", "machine") or {}
    lines = ["# hotshare benchmarks", "",
             f"{m['date']}; host: {m['arch']}, {m['cpu']}, {m['cores']} cores, kernel {m['kernel']}, "
             f"Python {m['python']}, load average {' '.join(m['loadavg'])} at start, "
             f"{' '.join(m.get('loadavg_end', ['?']))} at the end"]
    if gm:
        lines.append(f"lab guest: {gm.get('arch')}, kernel {gm.get('kernel')}, {gm.get('cores')} vCPUs under QEMU TCG "
                     f"(emulated: times are several times a real CPU's), Python {gm.get('python')}")
    lines += ["", f"Medians of {data['runs']['host']} runs on the host, {data['runs']['guest']} in the guest; "
              "ratio is hotshare / peer. bench/README.md says how each figure is taken.", "",
              "| figure | hotshare | peer (create_ap or bare) | ratio | target | met? |",
              "|---|---:|---|---:|---|:---:|"]
    for r in rows:
        lines.append(f"| {r['figure']} | {r['hotshare']} | {r['peer']} | {r['ratio']} | {r['target']} | {r['met']} |")
    gp = get(g, "guest_python") or {}
    warm = get(data, "guest", "warm_up_s") or {}
    py = median(gp.get("python_c_pass_s") or []) or warm.get("python -c pass")
    dry = median(gp.get("hotshare_dry_run_s") or []) or warm.get("hotshare --dry-run")
    if py is not None:
        lines += ["", f"What a command costs in the guest (TCG, root filesystem over 9p): exec of `/bin/true` "
                  f"{secs(warm.get('/bin/true'))}, `python -c pass` {secs(py)}, `hotshare up --dry-run` {secs(dry)} "
                  "(an interpreter start and hotshare's imports and planning): most of hotshare's share of the "
                  "start there. The host row gives the same share at native speed."]
    notes = list(data["notes"]) + list(get(data, "guest", "notes") or [])
    sh, sc = get(g, "start_hotshare") or {}, (get(g, "start_create_ap") or {}) if create_ap else {}

    def at(d: dict[str, Any], key: str) -> str:
        return secs(median(d.get(key) or []))

    if sh:
        notes.append(f"start, time after the command (medians): hotshare execs hostapd at "
                     f"{at(sh, 'hostapd_exec_s')} and dnsmasq at {at(sh, 'dnsmasq_exec_s')}, the phone associates "
                     f"at {at(sh, 'assoc_s')}, `hotshare up` returns at {at(sh, 'cli_s')}, "
                     f"the lease at {at(sh, 'ready_s')}"
                     + (f"; create_ap execs dnsmasq at {at(sc, 'dnsmasq_exec_s')} and hostapd at "
                        f"{at(sc, 'hostapd_exec_s')}, the phone associates at {at(sc, 'assoc_s')}, the lease at "
                        f"{at(sc, 'ready_s')}" if sc else "") + ".")
    sw = h.get("start_wired") or {}
    if sw.get("python_c_pass_s"):
        notes.append(f"on the host, `python -c pass` takes {secs(median(sw['python_c_pass_s']))} and `hotshare up "
                     f"--dry-run` (in the board's namespace: `ip netns exec`, interpreter, imports, planning) "
                     f"{secs(median(sw['dry_run_s']))}.")
    if not create_ap:
        notes.append("CREATE_AP is not set: the create_ap columns of start to ready and memory are skipped "
                     "(forwarding compares with create_ap's iptables rules, which need no script).")
    if fw:
        notes.append(f"forwarding: hotshare's table {'has' if fw.get('flowtable') else 'has NO'} `flowtable fastpath`; "
                     f"an offloaded flow {'was' if fw.get('offloaded_flow_seen') else 'was NOT'} seen in conntrack; "
                     f"iptables is {fw.get('iptables') or '?'}.")
    heal_d = get(g, "heal") or {}
    if heal_d.get("hostapd_restarted"):
        notes.append(f"heal: hostapd restarted in {sum(bool(x) for x in heal_d['hostapd_restarted'])} of "
                     f"{len(heal_d['hostapd_restarted'])} runs; the phone noticed the loss after "
                     f"{', '.join(secs(x) for x in heal_d.get('disconnect_noticed_s', []))}.")
    errors = {**data["errors"], **(get(data, "guest", "errors") or {})}
    skipped = [k for k, v in errors.items() if str(v).startswith("skipped")]
    if skipped:
        notes.append(f"not run for lack of time (the guest's allowance, --guest-time): {', '.join(skipped)}")
    for k, v in errors.items():
        if k not in skipped:
            notes.append(f"error in {k}: {v}")
    if missing:
        notes.append("not measured: " + "; ".join(missing))
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    ev = data.get("ctevents") or {}
    if ev:
        pe, ld = ev.get("parse") or {}, ev.get("load") or {}
        lines += ["", "## Conntrack destroy events (bench/ctevents.py)", "",
                  f"Parsing {pe.get('events')} events in batches of {pe.get('batch_events')}: C "
                  f"{num(pe.get('c_events_per_s'), 'events/s')}, "
                  f"Python {num(pe.get('python_events_per_s'), 'events/s')}"
                  f" ({num(pe.get('c_over_python'), '×', 1)})."]
        if ld:
            lines.append(f"hotshare's CPU with the phone opening {ld['rate']:.0f} new connections/s for "
                         f"{ld['seconds']:.0f} s: {ld['cpu_percent']:.1f} % of one core ({ld['backend']} helper; "
                         f"idle {ld['idle_cpu_percent']:.1f} %); "
                         f"{ld['packets_counted']} of {ld['flows_sent']} flows counted.")
    if acct.get("markdown"):
        lines += ["", "## Accounting (bench/accounting.py)", "", f"`{acct.get('command')}`", "",
                  acct["markdown"].lstrip("# \n").replace("Per-client accounting of a conntrack dump\n", "", 1).strip()]
    md = "\n".join(lines) + "\n"
    print(md)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.md").write_text(md)
    data["table"] = rows
    data["missing"] = missing
    (RESULTS / "bench.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    say(f"wrote {RESULTS / 'bench.md'} and {RESULTS / 'bench.json'}")
    return 1 if missing or "accounting" in errors else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=5, help="runs per host figure (median)")
    p.add_argument("--guest-runs", type=int, default=3, help="runs per guest figure (median)")
    p.add_argument("--idle", type=float, default=60.0, help="seconds of the host's idle window")
    p.add_argument("--guest-idle", type=float, default=20.0, help="seconds of the guest's idle window (0: none)")
    p.add_argument("--guest-time", type=float, default=780.0,
                   help="seconds the guest may take, boot included (no phase starts in its last minute)")
    p.add_argument("--accounting-args", default=os.environ.get("BENCH_ACCOUNTING_ARGS", "--sizes 1000,10000 --runs 3"),
                   help="arguments of bench/accounting.py (its full default run takes ~10 min here)")
    p.add_argument("--guest-phases", default="python,hotshare,bare,create_ap,memory,forwarding,samecard",
                   help="phases of bench/lab_bench.py to run")
    p.add_argument("--no-guest", action="store_true", help="host figures only")
    p.add_argument("--no-host", action="store_true", help="guest figures only")
    p.add_argument("--no-accounting", action="store_true")
    p.add_argument("--no-board", action="store_true", help="skip the board guest (bench/board_bench.py)")
    p.add_argument("--only-board", action="store_true", help="the board guest only")
    p.add_argument("--board-runs", type=int, default=5, help="rounds in the board guest (medians)")
    p.add_argument("--board-time", type=float, default=1200.0, help="seconds the board guest's boot may take")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("bench: must run as root (network namespaces, nftables, the lab guest)", file=sys.stderr)
        return 1
    import board_bench

    def board() -> int:
        return board_bench.run(args.board_runs, os.environ.get("CREATE_AP") or None, args.board_time)

    if args.only_board:
        return board()
    rc = Bench(args).run()
    return max(rc, 0 if args.no_board else board())


if __name__ == "__main__":
    sys.exit(main())
