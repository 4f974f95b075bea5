"""Guest side of the board benchmark (bench/board_bench.py), in the board lab's image.

Installed as /usr/lib/hotshare-lab/bench.py and run by S99lab on
``lab.boot=bench``, once the image's init has started (and this script
stopped) the hotspot.  On the board's one Wi-Fi radio (wlan0) and the phone's
(wlan1), in rounds that interleave the three starters so that drift hits all
alike:

* hostapd alone (hotshare's own hostapd.conf): exec -> AP-ENABLED (its
  control socket), exec -> the phone associated (a fresh join);
* ``hotshare up --daemon``: command -> AP-ENABLED, -> the phone associated,
  -> its first DHCP lease, -> the command's return; MemAvailable with
  hotshare + hostapd + dnsmasq up; heal (hostapd SIGKILLed -> the phone
  associated again); hotshare's RSS idle with 0 stations;
* create_ap (bash create_ap --no-virt --no-haveged -w 2): the same start
  moments, MemAvailable, its bash's RSS.

AP-ENABLED of hotshare and create_ap is the moment wlan0's carrier comes
up (an rtnetlink link event: mac80211 turns it on when the AP starts
beaconing); the hostapd-alone runs take both, to show they agree.  Then
the profile of a start (board_profile.py).
Progress lines ``BOARD-BENCH <text>``; after every round the whole result as
one line ``BOARD-BENCH-JSON <json>``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import board_profile
from benchlib import dhcp_lease, memory_kb, now
from board_phone import BoardPhone, radio
from labcore import INIT, LABDIR, meminfo, pids_of, ppid, sh

from lab.proc import wait_until
from lab.wpactrl import WpaCtrl

AP, UPLINK, DNS = "wlan0", "ppp0", "10.64.0.1"
SSID, PASSPHRASE = "bench", "bench-passphrase-1"
FREQ = 2412
CREATE_AP = Path("/usr/lib/hotshare-lab/create_ap")
WORK = Path("/run/bench")
ACTIVE = {"AUTHENTICATING", "ASSOCIATING", "ASSOCIATED", "4WAY_HANDSHAKE", "GROUP_HANDSHAKE", "COMPLETED"}
NUDGE = 0.2  # seconds between the phone's scans while it sees no AP
result: dict[str, Any] = {"figures": {}, "errors": {}, "notes": []}


def say(text: str) -> None:
    print(f"BOARD-BENCH {text}", flush=True)


def fig(name: str) -> dict[str, Any]:
    return result["figures"].setdefault(name, {})


def add(name: str, key: str, value: Any) -> None:
    fig(name).setdefault(key, []).append(value)


def publish() -> None:
    print("BOARD-BENCH-JSON " + json.dumps(result, separators=(",", ":")), flush=True)


class Carrier(threading.Thread):
    """wlan0's carrier changes, from rtnetlink link events: (time, up)."""

    def __init__(self, iface: str) -> None:
        super().__init__(daemon=True)
        self.index = socket.if_nametoindex(iface)
        self.events: list[tuple[float, bool]] = []
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 1))  # RTMGRP_LINK
        self.start()

    def run(self) -> None:
        last: bool | None = None
        while True:
            data, t = self.sock.recv(65536), now()
            while len(data) >= 32:
                length, kind = struct.unpack_from("=IH", data)
                _family, _type, index, flags = struct.unpack_from("=BxHiI", data, 16)
                if kind == 16 and index == self.index and bool(flags & 0x10000) != last:  # RTM_NEWLINK, LOWER_UP
                    last = bool(flags & 0x10000)
                    self.events.append((t, last))
                data = data[(length + 3) & ~3 :] if length else b""

    def up_after(self, t0: float, deadline: float) -> float | None:
        while now() < deadline:
            for t, up in self.events:
                if up and t >= t0:
                    return t
            time.sleep(0.02)
        return None


class BenchPhone(BoardPhone):
    """Scans channel 1 only: the moment the AP appears is not hidden behind a full sweep."""

    def config_text(self, ssid: str, passphrase: str, security: str = "wpa2", hidden: bool = False) -> str:
        text = super().config_text(ssid, passphrase, security, hidden)
        return text.replace("\tdisabled=1", f"\tscan_freq={FREQ}\n\tfreq_list={FREQ}\n\tdisabled=1")


class Bench:
    def __init__(self) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        self.carrier = Carrier(AP)
        self.phone = BenchPhone("phone", radio(1), workdir=LABDIR, logdir=LABDIR / "logs")
        self.phone.setup()
        self.hostapd_conf: str | None = None
        self.log = open(WORK / "commands.log", "a")  # noqa: SIM115 - for the whole boot

    # -- helpers -------------------------------------------------------------------

    def reset_ap(self) -> None:
        sh("ip", "link", "set", AP, "down")
        sh("iw", "dev", AP, "set", "type", "managed")
        sh("ip", "addr", "flush", "dev", AP)

    def prepare_phone(self) -> None:
        """Disconnected, scan cache flushed, looking for the network (before the AP exists)."""
        self.phone.disconnect()
        self.phone.ns.run(["iw", "dev", self.phone.iface, "scan", "freq", str(FREQ), "flush"], check=False, timeout=30)
        self.phone.connect(SSID, PASSPHRASE, wait=False)

    def wait_associated(self, deadline: float, proc: subprocess.Popen[bytes] | None = None) -> float:
        """The moment the phone reached COMPLETED; it scans again every NUDGE
        seconds while it is not associating.  Gives up early if ``proc`` (the
        starter) failed."""
        last = 0.0
        while True:
            if now() > deadline:
                raise TimeoutError(f"phone not associated; events {self.phone.events[-6:]}")
            if proc is not None and proc.poll() not in (None, 0):
                raise RuntimeError(f"{proc.args[0]} exited {proc.returncode}")
            if self.phone.wait_event(["CTRL-EVENT-CONNECTED"], 0.05):
                return now()
            if now() - last >= NUDGE:
                last = now()
                if self.phone.status().get("wpa_state", "") not in ACTIVE:
                    self.phone.request("SCAN")

    def lease(self, timeout: float = 120) -> float:
        return float(dhcp_lease(self.phone.ns, self.phone.iface, self.phone.mac, now() + timeout)["acked_at"])

    def popen(self, argv: list[str]) -> subprocess.Popen[bytes]:
        self.log.write(f"\n$ {' '.join(argv)}\n")
        self.log.flush()
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                start_new_session=True)  # fmt: skip

    def children(self, parent: int, comm: str) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
            except OSError:
                continue
            named = stat and stat[stat.index("(") + 1 : stat.rindex(")")] == comm
            if named and int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
        return found

    def up_argv(self) -> list[str]:
        """As S95hotshare starts it: --config (the create_ap-style positional form,
        passphrase on the command line, re-executes itself to hide it: one more
        interpreter start)."""
        conf = WORK / "hotshare.conf"
        if not conf.exists():
            conf.write_text(f"WIFI_IFACE={AP}\nINTERNET_IFACE={UPLINK}\nSSID={SSID}\nPASSPHRASE={PASSPHRASE}\n"
                            f"UPSTREAM_DNS={DNS}\n")  # fmt: skip
            conf.chmod(0o600)
        return ["hotshare", "up", "--daemon", "--config", str(conf)]

    def hotshare_pid(self) -> int:
        return int(Path(f"/run/hotshare/{AP}.pid").read_text().split()[0])

    def mem_available(self) -> int:
        time.sleep(2)
        return meminfo()["MemAvailable"]

    # -- the three starters ---------------------------------------------------------------

    def hostapd_alone(self) -> None:
        d = WORK / "bare"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        text = self.hostapd_conf or "\n".join([
            f"interface={AP}", "driver=nl80211", f"ssid={SSID}", "hw_mode=g", "channel=1", "wpa=2",
            "wpa_key_mgmt=WPA-PSK", "rsn_pairwise=CCMP", f"wpa_passphrase={PASSPHRASE}"])  # fmt: skip
        lines = [ln for ln in text.splitlines() if not ln.startswith(("ctrl_interface", "accept_mac", "deny_mac"))]
        (d / "hostapd.conf").write_text("\n".join([f"ctrl_interface={d / 'ctrl'}", *lines]) + "\n")
        self.reset_ap()
        self.prepare_phone()
        t0 = now()
        proc = self.popen(["hostapd", str(d / "hostapd.conf")])
        try:
            sock = d / "ctrl" / AP
            wait_until(sock.exists, 60, interval=0.005, what="hostapd's control socket")
            ctrl = WpaCtrl(sock, d / "local")
            if ctrl.request("ATTACH", timeout=60).strip() != "OK":
                raise RuntimeError("hostapd refused ATTACH")
            ctrl.attached = True
            if not ("state=ENABLED" in ctrl.request("STATUS", timeout=60) or ctrl.wait_event(["AP-ENABLED"], 60)):
                raise TimeoutError("hostapd did not report AP-ENABLED")
            t_enabled = now()
            ctrl.close()
            t_assoc = self.wait_associated(t0 + 120, proc)
            t_carrier = self.carrier.up_after(t0, now() + 5)
            add("hostapd_alone", "enabled_s", t_enabled - t0)
            add("hostapd_alone", "carrier_s", None if t_carrier is None else t_carrier - t0)
            add("hostapd_alone", "assoc_s", t_assoc - t0)
        finally:
            proc.terminate()
            proc.wait(10)
            self.phone.disconnect()

    def hotshare(self) -> None:
        self.reset_ap()
        Path(f"/var/lib/hotshare/{AP}.leases").unlink(missing_ok=True)  # a first lease, as create_ap's always is
        self.prepare_phone()
        t0 = now()
        proc = self.popen(self.up_argv())
        t_exit: list[float] = []
        threading.Thread(target=lambda: (proc.wait(), t_exit.append(now())), daemon=True).start()
        t_assoc = self.wait_associated(t0 + 150, proc)
        t_lease = self.lease()
        pid = self.hotshare_pid()
        wait_until(lambda: bool(t_exit), 120, interval=0.05, what="hotshare up to return")
        t_carrier = self.carrier.up_after(t0, now() + 5)
        for key, v in (("cli_s", t_exit[0]), ("enabled_s", t_carrier), ("assoc_s", t_assoc), ("lease_s", t_lease)):
            add("start_hotshare", key, None if v is None else v - t0)
        add("start_hotshare", "mem_available_kb", self.mem_available())
        conf = Path(f"/run/hotshare/{AP}/hostapd.conf")
        if self.hostapd_conf is None and conf.exists():
            self.hostapd_conf = conf.read_text()
        self.heal(pid)
        self.phone.disconnect()
        time.sleep(2)
        add("memory", "hotshare_rss_0_stations_kb", memory_kb(pid)["rss_kb"])
        self.down()

    def heal(self, pid: int) -> None:
        old = self.children(pid, "hostapd")
        if not old:
            raise RuntimeError("hotshare's hostapd not found")
        while self.phone.wait_event([""], 0.01) is not None:
            pass
        t_kill = now()
        os.kill(old[0], signal.SIGKILL)
        t_disc = t_back = None
        last = 0.0
        while now() < t_kill + 90 and t_back is None:
            ev = self.phone.wait_event(["CTRL-EVENT-DISCONNECTED", "CTRL-EVENT-CONNECTED"], 0.05)
            if ev and ev.startswith("CTRL-EVENT-DISCONNECTED") and t_disc is None:
                t_disc = now()
            elif ev and ev.startswith("CTRL-EVENT-CONNECTED"):
                t_back = now()
            if t_disc is not None and now() - last >= NUDGE:
                last = now()
                if self.phone.status().get("wpa_state", "") not in ACTIVE:
                    self.phone.request("SCAN")
        t_up = self.carrier.up_after(t_kill, now() + 5)
        add("heal", "heal_s", None if t_back is None else t_back - t_kill)
        add("heal", "disconnect_noticed_s", None if t_disc is None else t_disc - t_kill)
        add("heal", "enabled_again_s", None if t_up is None else t_up - t_kill)
        add("heal", "restarted", self.children(pid, "hostapd") not in ([], old))

    def down(self) -> None:
        proc = subprocess.run(["hotshare", "down", AP], capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            result["notes"].append(f"hotshare down: exit {proc.returncode}: {proc.stderr.strip()[-200:]}")

    def leftovers(self) -> None:
        """hostapd or dnsmasq still running in the board's namespace (not the lab's
        'internet'): named in the notes, then killed, so that the next starter can bind."""
        for comm in ("hostapd", "dnsmasq"):
            for pid in pids_of(comm, board_only=True):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    continue
                result["notes"].append(f"a leftover {comm} (ppid {ppid(pid)}): {cmd[:120]}")
        time.sleep(0.5)

    def create_ap(self) -> None:
        self.leftovers()
        self.reset_ap()
        self.prepare_phone()
        t0 = now()
        proc = self.popen(["bash", str(CREATE_AP), "--no-virt", "--no-haveged", "-w", "2", AP, UPLINK, SSID,
                           PASSPHRASE])  # fmt: skip
        try:
            t_assoc = self.wait_associated(t0 + 150, proc)
            t_lease = self.lease()
            t_carrier = self.carrier.up_after(t0, now() + 5)
            add("start_create_ap", "enabled_s", None if t_carrier is None else t_carrier - t0)
            add("start_create_ap", "assoc_s", t_assoc - t0)
            add("start_create_ap", "lease_s", t_lease - t0)
            add("start_create_ap", "mem_available_kb", self.mem_available())
            add("start_create_ap", "bash_rss_kb", memory_kb(proc.pid)["rss_kb"])
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGINT)  # create_ap's own cleanup
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.phone.disconnect()
            for table in ("filter", "nat"):  # iptables-nft leaves its empty tables behind
                sh("nft", "delete", "table", "ip", table)
            self.leftovers()  # its cleanup can leave its dnsmasq running: not into the next hotshare run

def step(name: str, body: Any) -> None:
    print(f"BOARD-BENCH-STEP {name} (uptime {Path('/proc/uptime').read_text().split()[0]}s)", flush=True)
    try:
        body()
    except Exception as exc:  # a figure that could not be taken; the others still are
        result["errors"][f"{name}"] = f"{type(exc).__name__}: {exc}"
        say(f"{name} failed: {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stdout)
        dump(WORK / "commands.log", 40)
        if name == "profile":
            dump(WORK / "importtime.txt", 40)
            dump(WORK / "strace.txt", 60)


def dump(path: Path, tail: int) -> None:
    """A file's last lines on the console, ``|F <name> <line>``: bench/board_bench.py saves them."""
    try:
        lines = path.read_text(errors="replace").splitlines()[-tail:]
    except OSError as exc:
        lines = [f"({exc})"]
    print("\n".join(f"|F {path.name} {line}" for line in lines), flush=True)


def main() -> int:
    args = dict(a.split("=", 1) for a in Path("/proc/cmdline").read_text().split() if a.startswith("lab.") and "=" in a)
    runs = int(args.get("lab.bench.runs", "5"))
    budget = float(args.get("lab.bench.seconds", "900"))
    t_start = now()
    result["runs"] = runs
    stopped = sh(INIT, "stop")
    say(f"S95hotshare had started the hotspot at boot; stopped it: {' '.join(stopped.stdout.split())}")
    result["mem_available_idle_kb"] = meminfo()["MemAvailable"]
    for name in ("lab", "up"):  # S10lab's and S99lab's snapshots: before the hotspot, with it (no driver yet)
        if (LABDIR / f"meminfo.{name}").exists():
            result[f"mem_available_{name}_kb"] = meminfo(str(LABDIR / f"meminfo.{name}"))["MemAvailable"]
    result["mem_total_kb"] = meminfo()["MemTotal"]
    b = Bench()
    have_create_ap = CREATE_AP.exists() and shutil.which("iptables") is not None
    result["create_ap"] = have_create_ap
    step("hotshare warm-up", b.hotshare)  # first: hotshare's hostapd.conf for hostapd alone; page cache warm
    fig("start_hotshare").clear()
    result["figures"].pop("heal", None)
    result["figures"].pop("memory", None)
    for i in range(runs):
        if now() - t_start > budget:
            result["notes"].append(f"only {i} of {runs} rounds: the boot's time budget ({budget:.0f} s) ran out")
            break
        step("hostapd alone", b.hostapd_alone)
        step("hotshare", b.hotshare)
        if have_create_ap:
            step("create_ap", b.create_ap)
        say(f"round {i + 1} of {runs} done ({now() - t_start:.0f}s)")
        publish()
    step("profile", lambda: board_profile.profile(b, WORK, fig("profile")))
    b.phone.teardown()
    dump(Path("/var/log/messages"), 400)
    for name in ("commands.log", "importtime.txt", "strace.txt"):
        dump(WORK / name, 300)
    publish()
    say(f"done in {now() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
