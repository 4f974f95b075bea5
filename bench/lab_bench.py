#!/usr/bin/env python3
"""Guest side of `make bench`: every figure that needs radios or the lab kernel.

bench/run.py boots ONE QEMU guest (virtme-ng, TCG) and runs this script in
it as root; it can also be run by hand inside a guest started like
tests/qemu/run-lab does.  It builds the wireless lab from tests/lab
(mac80211_hwsim with 23 radios: the AP, one measuring phone, 20 more
stations and an upstream AP for the same-card phase, each phone in its own namespace; ``ppp0`` to an "internet"
namespace with DNS and HTTP servers) and measures, writing JSON to
``--out``/lab.json after every phase (so a guest killed on time keeps what
it had):

* start to ready: command -> the phone's first DHCP lease, for ``hotshare up``
  and create_ap (``--create-ap PATH``); ``hotshare up``'s own return (ready);
  hostapd alone from exec to AP-ENABLED on its control socket;
* heal: hostapd SIGKILLed -> the phone associated again;
* join to online: wpa_supplicant COMPLETED -> first TCP connection through
  NAT, with hotshare and with hostapd + dnsmasq + an nft masquerade by hand;
* memory of the resident hotshare process with 0 and 20 stations, and its
  CPU time and wake-ups while idle;
* forwarding through hotshare's ruleset (flowtable) and create_ap's iptables
  rules, with iperf3 on a wired downstream;
* one radio, two roles (bench/samecard_bench.py): join to online through a
  station uplink on the AP's own radio, recovery from the upstream AP's
  channel switch and from its restart on another channel.

It never fails on a time; a phase that cannot run is recorded in "errors".
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchlib import cpu_counters, dhcp_lease, idle_cost, machine_info, memory_kb, now, wait_http
from samecard_bench import samecard

from lab.hotspot import force_cleanup, hotshare_processes
from lab.netns import ROOT, Netns, add_veth
from lab.phone import Phone
from lab.proc import CommandError, run, wait_until
from lab.radios import Hwsim, Radio
from lab.topology import PPP0, WEB_ADDR, Internet

SSID = "hotshare-bench"
PASSPHRASE = "bench-passphrase-1"
GATEWAY = "192.168.12.1"
SUBNET = "192.168.12.0/24"
FREQ = 2412  # channel 1: hotshare's and create_ap's default
STATIONS = 20
RADIOS = STATIONS + 3  # the AP, the measuring phone, 20 stations, the same-card upstream AP
ACTIVE = {"AUTHENTICATING", "ASSOCIATING", "ASSOCIATED", "4WAY_HANDSHAKE", "GROUP_HANDSHAKE", "COMPLETED"}
NUDGE = 0.2  # seconds between the phone's scans while it sees no AP


class BenchPhone(Phone):
    """A lab phone that scans channel 1 only, so that a scan takes tens of
    milliseconds and the moment the AP appears is not hidden behind a full
    2.4 GHz sweep."""

    def config_text(self, ssid: str, passphrase: str, security: str = "wpa2", hidden: bool = False) -> str:
        text = super().config_text(ssid, passphrase, security, hidden)
        return text.replace("\tdisabled=1", f"\tscan_freq={FREQ}\n\tfreq_list={FREQ}\n\tdisabled=1")


class Timed:
    """A command started now; a thread notes the moment it exits."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.logf = open(log, "a")  # noqa: SIM115 - closed by wait()
        self.logf.write(f"\n$ {' '.join(argv)}\n")
        self.logf.flush()
        self.t0 = now()
        self.t0_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf, env=env,
                                     start_new_session=True)
        self.t_exit: float | None = None
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        self.proc.wait()
        self.t_exit = now()

    def wait(self, timeout: float) -> int | None:
        self._thread.join(timeout)
        self.logf.write(f"# exit {self.proc.returncode}\n")
        self.logf.close()
        return self.proc.returncode


class Lab:
    def __init__(self, out: Path, runs: int, create_ap: str | None, idle: float, until: float) -> None:
        self.out = out
        self.logdir = out / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.work = Path("/run/bench-lab")
        self.work.mkdir(parents=True, exist_ok=True)
        self.runs = runs
        self.create_ap = create_ap
        self.idle = idle
        self.deadline = now() + (until - time.time())  # wall clock: the guest's follows the host's
        self.rundir = Path(os.environ.setdefault("HOTSHARE_RUNDIR", str(self.work / "hotshare" / "run")))
        self.statedir = Path(os.environ.setdefault("HOTSHARE_STATEDIR", str(self.work / "hotshare" / "state")))
        for d in (self.rundir, self.statedir):
            d.mkdir(parents=True, exist_ok=True)
        self.hotshare = [sys.executable, "-m", "hotshare"]
        self.results: dict[str, Any] = {"machine": machine_info(), "runs": runs, "figures": {}, "errors": {},
                                        "notes": [], "timeline": []}
        self.started = now()
        self.hwsim = Hwsim()
        self.radios: list[Radio] = []
        self.ap = ""
        self.internet: Internet | None = None
        self.phone: BenchPhone | None = None
        self.stations: list[BenchPhone] = []
        self.syslogd: subprocess.Popen[bytes] | None = None
        self.hostapd_conf_text: str | None = None
        self.took: dict[str, float] = {}   # seconds the last phase of a kind took
        self.extra: dict[str, float] = {}  # seconds of a phase that its kind's next ones will not take

    # -- bookkeeping -------------------------------------------------------------

    def log(self, msg: str) -> None:
        line = f"[lab_bench {now() - self.started:6.1f}s] {msg}"
        print(line, flush=True)
        self.results["timeline"].append(line)

    def save(self) -> None:
        tmp = self.out / "lab.json.tmp"
        tmp.write_text(json.dumps(self.results, indent=1, default=str) + "\n")
        tmp.replace(self.out / "lab.json")

    def fig(self, name: str) -> dict[str, Any]:
        return self.results["figures"].setdefault(name, {})

    def phase(self, name: str, body: Callable[[], None], cost: float = 0.0, kind: str = "") -> None:
        """Run one phase; a failure is recorded, never raised.  It starts only
        if its cost (the estimate, or what the last phase of its kind took)
        fits before the deadline."""
        cost = max(cost, self.took.get(kind, 0.0))
        if now() + cost > self.deadline:
            self.results["errors"][name] = "skipped: the guest's time budget is spent"
            self.log(f"{name}: skipped (out of time)")
            self.save()
            return
        self.log(f"{name} ...")
        t = now()
        try:
            body()
        except Exception as e:
            self.results["errors"][name] = f"{type(e).__name__}: {e}"
            (self.logdir / f"error-{name}.txt").write_text(traceback.format_exc())
            self.log(f"{name} failed: {type(e).__name__}: {e}")
        self.log(f"{name} done in {now() - t:.1f}s")
        if kind:
            self.took[kind] = now() - t - self.extra.pop(kind, 0.0)
        self.save()

    # -- the lab -------------------------------------------------------------------

    def start_syslogd(self) -> None:
        """BusyBox syslogd on /dev/log, as on the board, writing to tmpfs.  (A
        Python collector would be slow to drain /dev/log under TCG, and a full
        socket queue, 10 datagrams, blocks the daemon that logs.)"""
        dev_log = Path("/dev/log")
        dev_log.unlink(missing_ok=True)
        busybox = shutil.which("busybox") or "busybox"
        self.syslogd = subprocess.Popen([busybox, "syslogd", "-n", "-O", str(self.work / "messages")],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(dev_log.exists, 30, interval=0.05, what="syslogd's /dev/log")

    def stop_syslogd(self) -> None:
        if self.syslogd:
            self.syslogd.terminate()
            self.syslogd.wait(10)
        for name in ("messages.0", "messages"):
            if (self.work / name).exists():
                with open(self.logdir / "syslog.txt", "ab") as out:
                    out.write((self.work / name).read_bytes())

    def setup(self) -> None:
        self.start_syslogd()
        self.radios = self.hwsim.load(RADIOS, timeout=30)
        self.ap = self.radios[0].iface
        self.internet = Internet(PPP0, self.logdir).start()
        resolv = Path("/etc/resolv.conf")  # create_ap's dnsmasq reads it; /etc is a tmpfs overlay
        resolv.unlink(missing_ok=True)
        resolv.write_text(f"nameserver {PPP0.gateway}\n")
        self.phone = BenchPhone("bphone", self.radios[1], workdir=self.work / "phones", logdir=self.logdir)
        self.phone.setup()
        self.results["lab"] = {"radios": len(self.radios), "ap": self.ap, "phone": self.phone.iface}
        self.warm_up()

    def warm_up(self) -> None:
        """Load the kernel modules both setups need (the board has them built
        in or loaded at boot; here the first user would pay for loading them
        under TCG, tens of seconds) and read hotshare's code once.  Timed for
        the record, not a figure."""
        took = self.results.setdefault("warm_up_s", {})

        def timed(name: str, argv: list[str], stdin: str | None = None) -> None:
            t = now()
            run(argv, input=stdin, check=False, timeout=600)
            took[name] = took.get(name, 0.0) + now() - t

        timed("nft modules", ["nft", "-f", "-"], (
            "table inet bench_warm {\n"
            f" flowtable ft {{ hook ingress priority filter; devices = {{ {PPP0.board_if} }}; }}\n"
            " chain f { type filter hook forward priority filter; policy accept;\n"
            "  meta l4proto { tcp, udp } ct state established flow add @ft; ct state established,related accept; }\n"
            " chain i { type filter hook input priority filter; policy accept; udp dport 67 drop; }\n"
            " chain p { type nat hook postrouting priority srcnat; policy accept; oifname \"x\" masquerade; }\n"
            " chain r { type nat hook prerouting priority dstnat; policy accept; }\n}\n"
            "delete table inet bench_warm\n"))
        for rule in (["-t", "nat", "-I", "POSTROUTING", "-s", SUBNET, "!", "-o", self.ap, "-j", "MASQUERADE"],
                     ["-I", "FORWARD", "-i", self.ap, "-s", SUBNET, "-j", "ACCEPT"],
                     ["-I", "INPUT", "-p", "udp", "-m", "udp", "--dport", "5353", "-j", "ACCEPT"],
                     ["-t", "nat", "-I", "PREROUTING", "-s", SUBNET, "-d", GATEWAY, "-p", "udp", "-m", "udp",
                      "--dport", "53", "-j", "REDIRECT", "--to-ports", "5353"]):
            timed("iptables modules", ["iptables", "-w", *rule])
        self.drop_iptables_tables()
        timed("nf_nat_pptp", ["modprobe", "nf_nat_pptp"])  # create_ap loads it
        timed("conntrack", ["conntrack", "-L"])
        timed("hotshare --dry-run", [*self.hotshare, "up", "--dry-run", self.ap, PPP0.board_if, SSID, PASSPHRASE])
        # What a command costs here, for reading the start figures: an exec, an
        # interpreter (warm: the second run), hotshare's planning (warm).
        timed("/bin/true", ["/bin/true"])
        timed("python -c pass", [sys.executable, "-c", "pass"])
        took.pop("python -c pass")
        timed("python -c pass", [sys.executable, "-c", "pass"])
        took.pop("hotshare --dry-run")
        timed("hotshare --dry-run", [*self.hotshare, "up", "--dry-run", self.ap, PPP0.board_if, SSID, PASSPHRASE])
        self.log("warm-up: " + ", ".join(f"{k} {v:.1f}s" for k, v in took.items()))

    def reset_ap(self) -> None:
        """The AP interface as a fresh boot leaves it: down, managed, no address,
        nothing of hotshare's, create_ap's or ours running."""
        if hotshare_processes(self.hotshare):  # something was left: by pid, all of the guest's are ours
            force_cleanup(self.ap, {}, self.hotshare)
        ROOT.ip("link", "set", self.ap, "down", check=False)
        run(["iw", "dev", self.ap, "set", "type", "managed"], check=False)
        ROOT.flush_addresses(self.ap)

    def hs(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.hotshare, *args], capture_output=True, text=True, timeout=timeout, check=False)
        with open(self.logdir / "hotshare-cli.log", "a") as f:
            f.write(f"$ hotshare {' '.join(args)}\n# exit {proc.returncode}\n{proc.stdout}{proc.stderr}\n")
        return proc

    def exec_times(self, t0_boot: float) -> dict[str, float]:
        """When the running hostapd and dnsmasq were exec'd, in seconds after
        ``t0_boot`` (CLOCK_BOOTTIME), from their /proc start times."""
        out: dict[str, float] = {}
        tck = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            if name in ("hostapd", "dnsmasq"):
                started = int(stat.rsplit(")", 1)[1].split()[19]) / tck - t0_boot
                out[f"{name}_exec_s"] = max(out.get(f"{name}_exec_s", started), started)
        return out

    def hotshare_pid(self, iface: str) -> int:
        return int((self.rundir / f"{iface}.pid").read_text().split()[0])

    def child(self, parent: int, comm: str) -> int | None:
        """The pid of ``parent``'s child named ``comm`` (hotshare's hostapd):
        read from /proc, as `hotshare status` would cost an interpreter start."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            if name == comm and int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                return int(entry.name)
        return None

    def up_args(self, iface: str, uplink: str = "ppp0") -> list[str]:
        return [*self.hotshare, "up", "--daemon", "--dns-server", PPP0.gateway, iface, uplink, SSID, PASSPHRASE]

    # -- the phone -------------------------------------------------------------------

    def flush_bss(self, phone: Phone) -> None:
        """Forget the phone's cached scan results (an AP of the previous run)."""
        phone.ns.run(["iw", "dev", phone.iface, "scan", "freq", str(FREQ), "flush"], check=False, timeout=20)

    def wait_associated(self, phone: Phone, deadline: float, need_event: bool = False) -> float:
        """Moment the phone reached COMPLETED (its CTRL-EVENT-CONNECTED).  While
        it is not associating it scans again every NUDGE seconds, so the moment
        the AP appears is seen within a scan, not a scan_interval."""
        last = 0.0
        while True:
            left = deadline - now()
            if left <= 0:
                raise TimeoutError(f"{phone.name} not associated; last events {phone.events[-6:]}")
            if phone.wait_event(["CTRL-EVENT-CONNECTED"], min(0.05, left)):
                return now()
            if now() - last >= NUDGE:
                last = now()
                state = phone.status().get("wpa_state", "")
                if state == "COMPLETED" and not need_event:
                    return last
                if state not in ACTIVE:
                    phone.request("SCAN")  # FAIL-BUSY while a scan runs: harmless

    def dhcp(self, phone: Phone, timeout: float = 120.0, retransmit: float = 0.5) -> dict[str, Any]:
        """A lease for the phone (benchlib.dhcp_lease: DISCOVER, REQUEST, each
        sent again every ``retransmit`` s while unanswered), then applied with
        one `ip -batch`.  ``acked_at`` in the result is when the ACK came."""
        lease = dhcp_lease(phone.ns, phone.iface, phone.mac, now() + timeout, retransmit, hostname=phone.name)
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{lease.get('mask', '255.255.255.0')}").prefixlen
        batch = f"addr flush dev {phone.iface}\naddr add {lease['ip']}/{prefix} dev {phone.iface}\n"
        if lease.get("router"):
            batch += f"route replace default via {lease['router'].split()[0]} dev {phone.iface}\n"
        run(["ip", "-n", phone.ns.name or "", "-batch", "-"], input=batch)
        return lease

    def drain(self, phone: Phone) -> None:
        """Forget the events the phone's control socket has queued so far."""
        while phone.wait_event([""], 0.01) is not None:
            pass

    def hs_down(self, iface: str) -> None:
        """`hotshare down`, which waits 15 s for the undo; under TCG it can take
        longer: then wait for the process itself."""
        if self.hs("down", iface, timeout=300).returncode == 0:
            return
        pidfile = self.rundir / f"{iface}.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            wait_until(lambda: not Path(f"/proc/{pid}").exists(), 180, interval=0.2, what="hotshare to stop")
            self.results["notes"].append(f"`hotshare down {iface}` gave up after its 15 s; hotshare stopped later")
        except (OSError, ValueError):
            pass

    def prepare_phone(self) -> BenchPhone:
        """The phone disconnected, its scan cache flushed, then wpa_supplicant
        started looking for the network (before the AP exists)."""
        assert self.phone
        self.phone.disconnect()
        self.flush_bss(self.phone)
        self.phone.connect(SSID, PASSPHRASE, wait=False)
        return self.phone

    def join(self, phone: BenchPhone) -> dict[str, float]:
        """Join an AP that is up: COMPLETED -> lease -> first TCP connection through NAT."""
        phone.disconnect()
        phone.connect(SSID, PASSPHRASE, wait=False)
        t_assoc = self.wait_associated(phone, now() + 120)
        lease = self.dhcp(phone)
        t_applied = now()
        t_tcp, body = wait_http(phone.ns, WEB_ADDR, now() + 30, timeout=1.0)
        if body != PPP0.board_ip:
            raise AssertionError(f"the web server saw {body}, not the board's {PPP0.board_ip}: no NAT?")
        return {"join_s": t_tcp - t_assoc, "dhcp_s": lease["acked_at"] - t_assoc, "tcp_s": t_tcp - t_applied}

    # -- phases ------------------------------------------------------------------------

    def python_startup(self) -> None:
        """Context for the start figures: what an interpreter costs under TCG."""
        def timed(argv: list[str]) -> float:
            t = now()
            subprocess.run(argv, capture_output=True, check=True)
            return now() - t
        fig = self.fig("guest_python")
        fig["python_c_pass_s"] = [timed([sys.executable, "-c", "pass"]) for _ in range(3)]
        fig["hotshare_dry_run_s"] = [timed([*self.hotshare, "up", "--dry-run", self.ap, PPP0.board_if, SSID,
                                            PASSPHRASE]) for _ in range(3)]

    def hotshare_cycle(self, i: int, memory: bool = False) -> None:
        """`hotshare up` -> phone's first lease; then heal; then join; then
        (``memory``) memory and idle cost; then down."""
        start, heal, join = self.fig("start_hotshare"), self.fig("heal"), self.fig("join_hotshare")
        for key in ("ready_s", "cli_s", "assoc_s"):
            start.setdefault(key, [])
        self.reset_ap()
        (self.statedir / f"{self.ap}.leases").unlink(missing_ok=True)  # a first lease, as create_ap's always is
        phone = self.prepare_phone()
        cmd = Timed(self.up_args(self.ap), self.logdir / "hotshare-up.log")
        try:
            t_assoc = self.wait_associated(phone, cmd.t0 + 180)
            t_lease = self.dhcp(phone, timeout=180)["acked_at"]
        finally:
            rc = cmd.wait(180)
        if rc != 0 or cmd.t_exit is None:
            raise RuntimeError(f"hotshare up exited {rc}: see logs/hotshare-up.log")
        start["ready_s"].append(t_lease - cmd.t0)
        start["cli_s"].append(cmd.t_exit - cmd.t0)
        start["assoc_s"].append(t_assoc - cmd.t0)
        start.setdefault("memory_1_station", []).append(memory_kb(self.hotshare_pid(self.ap)))
        for k, v in self.exec_times(cmd.t0_boot).items():
            start.setdefault(k, []).append(v)
        conf = self.rundir / self.ap / "hostapd.conf"
        if self.hostapd_conf_text is None and conf.exists():
            self.hostapd_conf_text = conf.read_text()

        # heal: hostapd SIGKILLed -> the phone associated again
        pid = self.hotshare_pid(self.ap)
        old = self.child(pid, "hostapd")
        if old is None:
            raise RuntimeError("hotshare's hostapd not found")
        self.drain(phone)
        phone.events.clear()
        t_kill = now()
        os.kill(old, signal.SIGKILL)
        t_disc: float | None = None
        t_back: float | None = None
        last = 0.0
        while now() < t_kill + 60:
            ev = phone.wait_event(["CTRL-EVENT-DISCONNECTED", "CTRL-EVENT-CONNECTED"], 0.05)
            if ev and ev.startswith("CTRL-EVENT-DISCONNECTED") and t_disc is None:
                t_disc = now()
            elif ev and ev.startswith("CTRL-EVENT-CONNECTED"):
                t_back = now()
                break
            if t_disc is not None and now() - last >= NUDGE:
                last = now()
                if phone.status().get("wpa_state", "") not in ACTIVE:
                    phone.request("SCAN")
        heal.setdefault("heal_s", []).append(None if t_back is None else t_back - t_kill)
        heal.setdefault("disconnect_noticed_s", []).append(None if t_disc is None else t_disc - t_kill)
        new = self.child(pid, "hostapd")
        heal.setdefault("hostapd_restarted", []).append(new is not None and new != old)
        if t_back is None:
            heal.setdefault("events", []).append(phone.events[-8:])

        join.setdefault("runs", []).append(self.join(phone))
        if memory:
            self.save()
            t_mem = now()
            try:
                self.memory_and_idle(pid)
            except Exception as e:
                self.results["errors"]["memory"] = f"{type(e).__name__}: {e}"
                (self.logdir / "error-memory.txt").write_text(traceback.format_exc())
                self.log(f"memory failed: {type(e).__name__}: {e}")
            self.extra["hotshare"] = now() - t_mem
        self.hs_down(self.ap)
        phone.disconnect()

    def bare_hostapd_conf(self, ctrl: Path) -> str:
        text = self.hostapd_conf_text
        if text is None:  # what hotshare writes for these settings (python/hotshare/render.py)
            text = "\n".join([
                f"interface={self.ap}", "driver=nl80211", "ctrl_interface=X", "ctrl_interface_group=0",
                f"ssid2={SSID.encode().hex()}", "utf8_ssid=1", "hw_mode=g", "channel=1", "beacon_int=100",
                "wmm_enabled=1", "ignore_broadcast_ssid=0", "ap_isolate=0", "macaddr_acl=0", "auth_algs=1",
                "wpa=2", "wpa_key_mgmt=WPA-PSK", "rsn_pairwise=CCMP", f"wpa_passphrase={PASSPHRASE}"]) + "\n"
        lines = [ln for ln in text.splitlines() if not ln.startswith(("ctrl_interface=", "accept_mac_file=",
                                                                    "deny_mac_file="))]
        return "\n".join([f"ctrl_interface={ctrl}", *lines]) + "\n"

    def bare_cycle(self, i: int) -> None:
        """hostapd alone (exec -> AP-ENABLED), then dnsmasq and an nft
        masquerade by hand, and the same join as with hotshare."""
        from lab.wpactrl import WpaCtrl

        self.reset_ap()
        d = self.work / "bare"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        ctrl_dir = d / "ctrl"
        conf = d / "hostapd.conf"
        conf.write_text(self.bare_hostapd_conf(ctrl_dir))
        log = open(self.logdir / "bare-hostapd.log", "a")  # noqa: SIM115
        procs: list[subprocess.Popen[bytes]] = []
        ip_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
        try:
            t0 = now()
            hostapd = subprocess.Popen([shutil.which("hostapd") or "/usr/sbin/hostapd", str(conf)],
                                       stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            procs.append(hostapd)
            sock = ctrl_dir / self.ap
            wait_until(sock.exists, 60, interval=0.005, what="hostapd's control socket")
            ctrl = WpaCtrl(sock, d / "local")
            # hostapd answers once its event loop runs, after the radio's set-up
            if ctrl.request("ATTACH", timeout=60).strip() != "OK":
                raise RuntimeError("hostapd refused ATTACH")
            ctrl.attached = True
            if "state=ENABLED" in ctrl.request("STATUS", timeout=60) or ctrl.wait_event(["AP-ENABLED"], 60):
                t_enabled = now()
            else:
                raise TimeoutError("hostapd did not report AP-ENABLED")
            ctrl.close()
            self.fig("hostapd_alone").setdefault("enabled_s", []).append(t_enabled - t0)

            ROOT.ip("addr", "add", f"{GATEWAY}/24", "dev", self.ap)
            Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
            run(["nft", "-f", "-"], input="table ip bench_bare {\n chain postrouting {\n"
                "  type nat hook postrouting priority srcnat; policy accept;\n"
                f'  oifname "{PPP0.board_if}" ip saddr {SUBNET} masquerade\n }}\n}}\n')
            dlog = d / "dnsmasq.log"
            (d / "dnsmasq.conf").write_text("\n".join([
                f"interface={self.ap}", "bind-interfaces",
                "dhcp-range=192.168.12.10,192.168.12.254,255.255.255.0,12h",
                f"dhcp-option=option:router,{GATEWAY}", f"dhcp-option=option:dns-server,{GATEWAY}",
                f"dhcp-leasefile={d / 'leases'}", "dhcp-authoritative", "no-resolv", f"server={PPP0.gateway}",
                "no-hosts", f"log-facility={dlog}"]) + "\n")
            procs.append(subprocess.Popen([shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "-k", "-C",
                                           str(d / "dnsmasq.conf"), f"--pid-file={d / 'dnsmasq.pid'}"],
                                          stdout=log, stderr=log, stdin=subprocess.DEVNULL))
            wait_until(lambda: dlog.exists() and "started" in dlog.read_text(), 60, interval=0.02,
                       what="dnsmasq to start")
            assert self.phone
            phone = self.phone
            phone.connect(SSID, PASSPHRASE, wait=False)  # a first lease, as in the hotshare cycle
            self.wait_associated(phone, now() + 120)
            self.dhcp(phone)
            self.fig("join_bare").setdefault("runs", []).append(self.join(phone))
            phone.disconnect()
        finally:
            for p in reversed(procs):
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()
            run(["nft", "delete", "table", "ip", "bench_bare"], check=False)
            Path("/proc/sys/net/ipv4/ip_forward").write_text(ip_forward + "\n")
            self.reset_ap()

    def create_ap_run(self, i: int) -> None:
        """create_ap on the same radio: command -> the phone's first lease."""
        assert self.create_ap
        self.reset_ap()
        phone = self.prepare_phone()
        fig = self.fig("start_create_ap")
        argv = ["bash", self.create_ap, "--no-virt", "--no-haveged", "-w", "2", self.ap, PPP0.board_if, SSID,
                PASSPHRASE]
        cmd = Timed(argv, self.logdir / "create_ap.log")
        try:
            t_assoc = self.wait_associated(phone, cmd.t0 + 240)
            t_lease = self.dhcp(phone, timeout=180)["acked_at"]
            fig.setdefault("ready_s", []).append(t_lease - cmd.t0)
            fig.setdefault("assoc_s", []).append(t_assoc - cmd.t0)
            for k, v in self.exec_times(cmd.t0_boot).items():
                fig.setdefault(k, []).append(v)
            time.sleep(1.0)
            mem = memory_kb(cmd.proc.pid)  # the resident bash (hostapd and dnsmasq not counted)
            fig.setdefault("bash_rss_kb", []).append(mem["rss_kb"])
            fig.setdefault("bash_hwm_kb", []).append(mem["hwm_kb"])
        finally:
            if cmd.proc.poll() is None:
                os.kill(cmd.proc.pid, signal.SIGINT)  # create_ap's clean_exit: its own cleanup
            if cmd.wait(30) is None:
                os.killpg(cmd.proc.pid, signal.SIGKILL)
                cmd.proc.wait()
            phone.disconnect()
            self.drop_iptables_tables()
            self.reset_ap()

    def drop_iptables_tables(self) -> None:
        """iptables-nft leaves its (empty) tables behind: drop them, so that the
        next hotshare run sees the same firewall as the first (guest only)."""
        for table in ("filter", "nat"):
            run(["nft", "delete", "table", "ip", table], check=False)

    def memory_and_idle(self, pid: int) -> None:
        """The resident hotshare process (pid) with 0 stations, idle for a
        while, then with 20 stations associated and holding leases.  Runs in
        the first hotshare cycle's instance, after its start, heal and join:
        under TCG a start of its own would cost minutes."""
        assert self.phone
        self.phone.disconnect()
        if not self.stations:
            self.stations = [BenchPhone(f"bsta{i:02d}", radio, workdir=self.work / "phones", logdir=self.logdir)
                             for i, radio in enumerate(self.radios[2:2 + STATIONS], 1)]
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda p: p.setup(), self.stations))
        try:
            children = {k: c for k in ("hostapd", "dnsmasq") if (c := self.child(pid, k)) is not None}
            time.sleep(2)
            mem = self.fig("memory")
            mem["pid"] = pid
            mem["stations_0"] = memory_kb(pid)
            mem["children_0"] = {k: memory_kb(v) for k, v in children.items()}
            self.save()
            if self.idle > 0:
                before = cpu_counters(pid)
                time.sleep(self.idle)
                self.fig("idle_guest").update(idle_cost(before, cpu_counters(pid)))
            t = now()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda p: p.connect(SSID, PASSPHRASE, wait=False), self.stations))
            for st in self.stations:
                self.wait_associated(st, now() + 120)
            with ThreadPoolExecutor(len(self.stations)) as pool:  # dnsmasq pings each new address first
                leases = list(pool.map(self.dhcp, self.stations))
            mem["stations_setup_s"] = now() - t
            mem["leases"] = len({lease.get("ip") for lease in leases})
            time.sleep(2)
            dump = run(["iw", "dev", self.ap, "station", "dump"], check=False).stdout
            mem["num_sta"] = sum(1 for ln in dump.splitlines() if ln.startswith("Station "))
            mem["stations_20"] = memory_kb(pid)
            mem["children_20"] = {k: memory_kb(v) for k, v in children.items() if Path(f"/proc/{v}").exists()}
        finally:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda p: p.disconnect(), self.stations))

    def forwarding(self, seconds: int) -> None:
        """iperf3 from a client namespace on a wired downstream (lan0) to the
        internet namespace through ppp0, offloads off on every veth of the
        path: through hotshare's ruleset and through create_ap's iptables
        rules, alternately (ABBA) so that a drift in the host's load hits both
        alike.  hotshare's ruleset is the table `hotshare up` loaded (with its
        flowtable), read back from the kernel, with the sysctls it set: loaded
        again by hand for each of its runs, as a start per run costs minutes
        under TCG (hotshare's process is not on the forwarding path)."""
        assert self.internet
        fig = self.fig("forwarding")
        fig["seconds"] = seconds
        cli = Netns("bfwcli").create()
        lan = "lan0"
        add_veth(lan, ROOT, "eth0", cli, peer_addr="192.168.12.50/24")
        cli.ip("route", "add", "default", "via", GATEWAY)
        ethtool = shutil.which("ethtool") or "/usr/sbin/ethtool"
        fig["offloads_off"] = Path(ethtool).exists()
        if fig["offloads_off"]:
            for ns, dev in ((ROOT, lan), (cli, "eth0"), (ROOT, PPP0.board_if), (self.internet.ns, PPP0.peer_if)):
                ns.run([ethtool, "-K", dev, "tso", "off", "gso", "off", "gro", "off"], check=False)
        else:
            self.results["notes"].append("ethtool missing in the guest: forwarding measured with offloads on")
        server = self.internet.ns
        pidfile = self.work / "iperf3.pid"

        def stop_server() -> None:
            try:
                pid = int(pidfile.read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
                wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10, interval=0.05, what="iperf3 to exit")
            except (OSError, ValueError, TimeoutError):
                pass
            pidfile.unlink(missing_ok=True)

        def start_server() -> None:
            server.run(["iperf3", "-s", "-D", "-B", PPP0.gateway, "-I", str(pidfile)])
            wait_until(pidfile.exists, 10, interval=0.05, what="the iperf3 server")
            time.sleep(0.3)

        start_server()
        fig["iptables"] = run(["iptables", "-V"], check=False).stdout.strip()
        names = ["net/ipv4/ip_forward", f"net/ipv4/conf/{lan}/forwarding", f"net/ipv4/conf/{PPP0.board_if}/forwarding",
                 "net/netfilter/nf_conntrack_acct"]

        def sysctls() -> dict[str, str]:
            return {n: Path("/proc/sys", n).read_text().strip() for n in names if Path("/proc/sys", n).exists()}

        def set_sysctls(values: dict[str, str]) -> None:
            for k, v in values.items():
                Path("/proc/sys", k).write_text(v + "\n")

        def iperf(extra: list[str]) -> dict[str, Any]:
            argv = ["iperf3", "-c", PPP0.gateway, "-t", str(seconds), "-O", "1", "-J", *extra]
            try:
                out = cli.run(argv, timeout=seconds + 20, check=False).stdout
                res = json.loads(out) if out.strip() else {"error": "no output"}
            except (CommandError, ValueError) as e:
                res = {"error": str(e)}
            if "error" in res:  # a server left in a test it lost answers "busy" to the next: start anew
                stop_server()
                start_server()
            return res

        def udp_pps(res: dict[str, Any]) -> float | None:
            end = res.get("end", {})
            s = end.get("sum_received") if "packets" in end.get("sum_received", {}) else end.get("sum", {})
            if not s or not s.get("seconds"):
                return None
            received = s["packets"] - s.get("lost_packets", 0) if "lost_packets" in s else s["packets"]
            return float(received) / s["seconds"]

        def tcp_mbps(res: dict[str, Any]) -> float | None:
            s = res.get("end", {}).get("sum_received", {})
            return s["bits_per_second"] / 1e6 if s.get("bits_per_second") else None

        def measure(name: str) -> None:
            rows = fig.setdefault(name, {"tcp1_mbps": [], "tcp4_mbps": [], "udp64_pps": [], "udp64_sent_pps": []})
            rows["tcp1_mbps"].append(tcp_mbps(iperf([])))
            rows["tcp4_mbps"].append(tcp_mbps(iperf(["-P", "4"])))
            res = iperf(["-u", "-l", "64", "-b", "0"])
            rows["udp64_pps"].append(udp_pps(res))
            s = res.get("end", {}).get("sum", {})
            rows["udp64_sent_pps"].append(s["packets"] / s["seconds"] if s.get("seconds") else None)
            if "error" in res:
                rows.setdefault("errors", []).append(res["error"])

        before = sysctls()
        rules = [["-t", "nat", "-A", "POSTROUTING", "-s", SUBNET, "!", "-o", lan, "-j", "MASQUERADE"],
                 ["-A", "FORWARD", "-i", lan, "-s", SUBNET, "-j", "ACCEPT"],
                 ["-A", "FORWARD", "-i", PPP0.board_if, "-d", SUBNET, "-j", "ACCEPT"]]
        try:
            proc = subprocess.run([*self.hotshare, "up", "--daemon", "-g", GATEWAY, "--dns-server", PPP0.gateway,
                                   lan, PPP0.board_if], capture_output=True, text=True, timeout=300, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"hotshare up {lan} exited {proc.returncode}: {proc.stderr.strip()}")
            try:
                table = run(["nft", "list", "table", "inet", f"hotshare_{lan}"], check=False).stdout
                (self.logdir / "nft-hotshare-lan0.txt").write_text(table)
                fig["flowtable"] = "flowtable fastpath" in table
                hotshare_sysctls = sysctls()
                # Is the fast path taken? A UDP flow shows [OFFLOAD] in conntrack while it runs.
                probe = subprocess.Popen(["ip", "netns", "exec", cli.name or "", "iperf3", "-c", PPP0.gateway, "-u",
                                          "-b", "1M", "-t", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(2)
                ct = run(["conntrack", "-L", "-p", "udp", "--dport", "5201"], check=False).stdout
                probe.wait(30)
                fig["offloaded_flow_seen"] = "OFFLOAD" in ct
            finally:
                self.hs_down(lan)
            fig["order"] = []
            for i in range(self.runs):
                for name in (("hotshare", "create_ap") if i % 2 == 0 else ("create_ap", "hotshare")):
                    ROOT.ip("addr", "replace", f"{GATEWAY}/24", "dev", lan)
                    if name == "hotshare":
                        set_sysctls(hotshare_sysctls)
                        run(["nft", "-f", "-"], input=table)
                    else:
                        # create_ap's: the uplink's forwarding, then ip_forward (which sets every interface's)
                        set_sysctls({**{k: v for k, v in before.items() if k != "net/ipv4/ip_forward"},
                                     f"net/ipv4/conf/{PPP0.board_if}/forwarding": "1", "net/ipv4/ip_forward": "1"})
                        for r in rules:
                            run(["iptables", "-w", *r])
                    if i == 0 and name == "create_ap":
                        (self.logdir / "nft-create_ap-rules.txt").write_text(run(["nft", "list", "ruleset"]).stdout)
                    try:
                        measure(name)
                    finally:
                        if name == "hotshare":
                            run(["nft", "delete", "table", "inet", f"hotshare_{lan}"], check=False)
                        else:
                            self.drop_iptables_tables()
                    fig["order"].append(name)
                    self.save()
        finally:
            self.drop_iptables_tables()
            run(["nft", "delete", "table", "inet", f"hotshare_{lan}"], check=False)
            set_sysctls(before)
            stop_server()
            ROOT.ip("link", "del", lan, check=False)
            cli.delete()

    # -- the whole run ---------------------------------------------------------------

    def main(self, phases: set[str], fwd_seconds: int) -> None:
        self.phase("setup", self.setup)
        if "setup" in self.results["errors"]:
            return

        def round_(i: int) -> None:  # interleaved, so that drift in the host's load hits all alike
            if "hotshare" in phases:
                memory = i == 0 and "memory" in phases
                self.phase(f"hotshare_cycle_{i}", lambda: self.hotshare_cycle(i, memory),
                           cost=60 + (90 + self.idle if memory else 0), kind="hotshare")
            if "bare" in phases:
                self.phase(f"bare_cycle_{i}", lambda: self.bare_cycle(i), cost=20, kind="bare")
            if "create_ap" in phases and self.create_ap:
                self.phase(f"create_ap_run_{i}", lambda: self.create_ap_run(i), cost=40, kind="create_ap")

        # Forwarding and one run of everything first: when time runs short,
        # every figure has a value; the remaining runs come after.
        if "forwarding" in phases:
            self.phase("forwarding", lambda: self.forwarding(fwd_seconds), cost=120)
        for i in range(self.runs):
            round_(i)
            if i == 0 and "samecard" in phases:  # once, early enough not to be skipped
                self.phase("samecard", lambda: samecard(self, self.radios[-1]), cost=240)
        if "python" in phases:
            self.phase("python", self.python_startup, cost=120)
        self.stop_syslogd()  # the guest is thrown away: nothing else to undo


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--out", required=True, help="directory for lab.json and logs/ (shared with the host)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--create-ap", default=None, help="path of create_ap's script (none: no create_ap runs)")
    p.add_argument("--idle", type=float, default=20.0, help="seconds of the idle window in the guest (0: none)")
    p.add_argument("--forward-seconds", type=int, default=2, help="iperf3 -t (after 1 s omitted)")
    p.add_argument("--until", type=float, default=time.time() + 600,
                   help="wall-clock time (epoch seconds) after which no phase starts")
    p.add_argument("--phases", default="python,hotshare,bare,create_ap,memory,forwarding,samecard")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("lab_bench: must run as root, inside the lab guest (bench/run.py boots it)", file=sys.stderr)
        return 4
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lab = Lab(out, args.runs, args.create_ap, args.idle, args.until)
    lab.results["create_ap"] = args.create_ap
    try:
        lab.main(set(args.phases.split(",")), args.forward_seconds)
    finally:
        lab.results["elapsed_s"] = now() - lab.started
        lab.save()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CommandError as e:
        print(f"lab_bench: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
