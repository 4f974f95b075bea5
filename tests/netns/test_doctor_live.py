"""hotshare doctor against real problems, each made for real in network namespaces.

    doc-board (ns)  docap0 ── docap0p     the hotspot's (wired) downstream
                    up0 ── isp0  doc-inet (ns)   10.77.0.1: gateway and DNS server

Every test runs ``python -m hotshare doctor --json`` inside ``doc-board`` (as
``ip netns exec``) and looks for the finding its problem must produce. The
radio checks (AP mode, rfkill, regulatory domain) need radios: they are in
tests/qemu/guest/test_doctor_radio.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.netns import Netns, add_veth
from lab.proc import Daemon, wait_until

REPO = Path(__file__).resolve().parents[2]
AP = "docap0"
UPLINK, UPLINK_ADDR, GW = "up0", "10.77.0.2/24", "10.77.0.1"

# A UDP socket that binds and never answers: prints READY once bound.
SILENT = ("import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "s.bind((sys.argv[1],int(sys.argv[2])))\nprint('READY',flush=True)\ntime.sleep(600)\n")
# A DNS server that answers every query NOERROR, no records (the lab's
# dnsserver cannot encode the root name the doctor asks about).
ANSWER = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
          "s.bind((sys.argv[1],53))\nprint('READY',flush=True)\nsys.stdout.close()\n"
          "while True:\n d,a=s.recvfrom(512)\n s.sendto(d[:2]+bytes([0x81,0x80])+d[4:],a)\n")


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    missing = [t for t in ("ip", "nft") if shutil.which(t) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


Finding = dict[str, Any]


class Board:
    """The board namespace (and, on demand, an uplink with its 'internet')."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ns = Netns("doc-board")
        self.inet = Netns("doc-inet")
        self.daemons: list[Daemon] = []
        self.rundir = workdir / "run"
        self.statedir = workdir / "state"

    def start(self, ap: bool = True) -> Board:
        self.ns.create()
        if ap:
            self.ns.ip("link", "add", AP, "type", "veth", "peer", "name", f"{AP}p")
            self.ns.ip("link", "set", AP, "up")
            self.ns.ip("link", "set", f"{AP}p", "up")
        return self

    def add_uplink(self, addr: str = UPLINK_ADDR, default: bool = True) -> None:
        self.inet.create()
        add_veth(UPLINK, self.ns, "isp0", self.inet, addr=addr, peer_addr=f"{GW}/24")
        if default:
            self.ns.ip("route", "add", "default", "via", GW, "dev", UPLINK, "metric", "250")

    def dns_server(self) -> None:
        """A DNS server in the 'internet' that answers every query."""
        self.daemons.append(Daemon("doc-dns", [sys.executable, "-c", ANSWER, GW], netns=self.inet.name,
                                   log=self.workdir / "dns.log", ready_line="READY"))

    def silent_dns_server(self) -> None:
        self.daemons.append(Daemon("doc-silent", [sys.executable, "-c", SILENT, GW, "53"], netns=self.inet.name,
                                   log=self.workdir / "silent.log", ready_line="READY"))

    def daemon(self, name: str, argv: list[str], ready_line: str | None = None) -> Daemon:
        d = Daemon(name, argv, netns=self.ns.name, log=self.workdir / f"{name}.log", ready_line=ready_line)
        self.daemons.append(d)
        return d

    def stop(self) -> None:
        for d in self.daemons:
            d.stop()
        if self.rundir.exists():
            self.hotshare("down", AP, check=False)
        for ns in (self.inet, self.ns):
            ns.delete()

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(REPO / "python"),
                "HOTSHARE_RUNDIR": str(self.rundir), "HOTSHARE_STATEDIR": str(self.statedir)}

    def hotshare(self, *args: str, check: bool = True, module: str = "hotshare",
                 timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        argv = ["ip", "netns", "exec", self.ns.name or "", sys.executable, "-m", module, *args]
        proc = subprocess.run(argv, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"hotshare {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def doctor(self, *args: str) -> tuple[int, list[Finding]]:
        proc = self.hotshare("doctor", "--json", *args, check=False)
        assert proc.returncode in (0, 1), f"doctor exited {proc.returncode}: {proc.stderr}"
        return proc.returncode, json.loads(proc.stdout)

    def config(self, **keys: str) -> str:
        path = self.workdir / "hotshare.conf"
        keys.setdefault("WIFI_IFACE", AP)
        keys.setdefault("DNS_SERVERS_FILE", str(self.workdir / "no-servers"))
        path.write_text("".join(f"{k}={v}\n" for k, v in keys.items()))
        return str(path)


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Board]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    b = Board(tmp_path)
    try:
        yield b.start()
    finally:
        b.stop()


def by_id(findings: list[Finding], fid: str) -> list[Finding]:
    return [f for f in findings if f["id"] == fid]


def one(findings: list[Finding], fid: str) -> Finding:
    found = by_id(findings, fid)
    assert len(found) == 1, found
    return found[0]


def report(findings: list[Finding], fid: str) -> None:
    """Show what the doctor said (pytest -s prints it; the report quotes it)."""
    for f in by_id(findings, fid):
        mark = "ok" if f["ok"] else "PROBLEM"
        print(f"\n[{fid}] {mark}: {f['title']}\n  evidence: {f['evidence']}\n  fix: {f['fix']}")


# -- 1. no such interface ----------------------------------------------------------------------

def test_missing_interface(board: Board) -> None:
    rc, fs = board.doctor("wlan7")
    f = one(fs, "interface")
    report(fs, "interface")
    assert rc == 1 and not f["ok"] and f["title"] == "there is no interface wlan7"
    assert f["evidence"] == f"interfaces here: {AP}p, {AP}" or AP in f["evidence"]


def test_human_output_and_module_entry(board: Board) -> None:
    proc = board.hotshare("doctor", "wlan7", check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("hotshare doctor: wlan7")
    i = lines.index("✗ there is no interface wlan7")
    assert lines[i + 1].startswith("  evidence: interfaces here:") and lines[i + 2].startswith("  fix: ")
    assert any(ln.startswith("✓ ") for ln in lines) and lines[-1].endswith("problems found.")


def test_bad_config_is_exit_2(board: Board) -> None:
    proc = board.hotshare("doctor", "--config", board.config(GATEWAY="8.8.8.8"), check=False)
    assert proc.returncode == 2 and "GATEWAY" in proc.stderr


# -- 4. kernel netfilter features: flowtable (this host's kernel has none) -------------------------

def test_netfilter_probe_on_this_kernel(board: Board) -> None:
    _rc, fs = board.doctor(AP)
    assert one(fs, "netfilter")["ok"], one(fs, "netfilter")
    flow = one(fs, "flowtable")
    report(fs, "flowtable")
    assert flow["ok"] and flow["level"] == "info"
    probe = "table inet doc_ft { flowtable f { hook ingress priority 0; devices = { lo }; } }\n"
    has_flowtable = board.ns.run(["nft", "-c", "-f", "-"], input=probe, check=False).returncode == 0
    if has_flowtable:
        assert "supports nftables flowtables" in flow["title"]
    else:
        assert "no nftables flowtable support" in flow["title"]
        assert "Could not process rule" in flow["evidence"] and "CONFIG_NF_FLOW_TABLE" in flow["fix"]


# -- 5. ports 53 and 67 taken ------------------------------------------------------------------------

def test_ports_taken_by_dnsmasq_and_a_dhcp_socket(board: Board) -> None:
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(dnsmasq):
        pytest.skip("dnsmasq is not installed")
    # a dnsmasq as a package starts it by default: every interface, the wildcard address
    # (one on the loopback only is no conflict: hotshare's dnsmasq never binds lo)
    d = board.daemon("doc-dnsmasq", [dnsmasq, "-k", "-C", "/dev/null", "--port", "53",
                                     "--no-resolv", "--no-hosts",
                                     f"--pid-file={board.workdir / 'dnsmasq.pid'}", "--log-facility=-"])
    sock = board.daemon("doc-dhcp67", [sys.executable, "-c", SILENT, "0.0.0.0", "67"], ready_line="READY")
    wait_until(lambda: ":0035 " in board.ns.run(["cat", "/proc/net/udp"]).stdout, 5, what="dnsmasq on port 53")
    rc, fs = board.doctor(AP)
    report(fs, "ports")
    ports = {f["title"].split(" (")[0]: f for f in by_id(fs, "ports")}
    assert rc == 1 and set(ports) == {"port 53", "port 67"}
    dns = ports["port 53"]
    assert not dns["ok"] and dns["title"] == "port 53 (DNS) is taken by dnsmasq"
    assert "udp 0.0.0.0:53" in dns["evidence"] and f"held by dnsmasq (pid {d.pid})" in dns["evidence"]
    assert "except-interface=docap0" in dns["fix"]
    dhcp = ports["port 67"]
    assert not dhcp["ok"] and "udp 0.0.0.0:67 held by python" in dhcp["evidence"]
    assert f"(pid {sock.pid})" in dhcp["evidence"]


# -- 6. no uplink with a default route --------------------------------------------------------------

def test_no_default_route(board: Board) -> None:
    board.add_uplink(default=False)
    rc, fs = board.doctor(AP)
    f = one(fs, "uplink")
    report(fs, "uplink")
    assert rc == 1 and not f["ok"] and "no uplink has a default route" in f["title"]
    assert f["evidence"] == "default routes: none"


def test_internet_iface_is_not_the_default_route(board: Board) -> None:
    board.add_uplink()
    _rc, fs = board.doctor("--config", board.config(INTERNET_IFACE="ppp0"))
    f = one(fs, "uplink")
    report(fs, "uplink")
    assert not f["ok"] and "default via 10.77.0.1 dev up0 metric 250" in f["evidence"]
    assert "INTERNET_IFACE=ppp0" in f["evidence"] and "via up0: add it to INTERNET_IFACE" in f["fix"]


# -- 7. upstream DNS ---------------------------------------------------------------------------------

def test_upstream_dns_does_not_answer(board: Board) -> None:
    board.add_uplink()
    board.silent_dns_server()
    t0 = time.monotonic()
    rc, fs = board.doctor("--config", board.config(UPSTREAM_DNS=GW))
    took = time.monotonic() - t0
    f = one(fs, "dns")
    report(fs, "dns")
    assert rc == 1 and not f["ok"] and f["evidence"] == f"servers from UPSTREAM_DNS: {GW} no answer within 2 s"
    assert took < 10


def test_upstream_dns_refused(board: Board) -> None:
    board.add_uplink()   # nothing listens on 10.77.0.1:53: ICMP port unreachable
    rc, fs = board.doctor("--config", board.config(UPSTREAM_DNS=GW))
    f = one(fs, "dns")
    report(fs, "dns")
    assert rc == 1 and not f["ok"] and "refused" in f["evidence"]


def test_upstream_dns_from_resolv_conf_answers(board: Board) -> None:
    board.add_uplink()
    board.dns_server()
    # ip netns exec bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf
    etc = Path("/etc/netns") / (board.ns.name or "")
    etc.mkdir(parents=True, exist_ok=True)
    try:
        (etc / "resolv.conf").write_text(f"nameserver {GW}\n")
        _rc, fs = board.doctor("--config", board.config())
    finally:
        shutil.rmtree(etc)
        if not any(Path("/etc/netns").iterdir()):
            Path("/etc/netns").rmdir()
    f = one(fs, "dns")
    report(fs, "dns")
    assert f["ok"] and f["title"] == "upstream DNS answers (1 of 1 servers)"
    assert f["evidence"].startswith(f"servers from /etc/resolv.conf: {GW} answered NOERROR in ")


# -- 8. subnet overlap (seed 004) -----------------------------------------------------------------------

def test_gateway_subnet_overlaps_the_uplink(board: Board) -> None:
    board.add_uplink(addr="192.168.12.7/24", default=False)
    rc, fs = board.doctor("--config", board.config(GATEWAY="192.168.12.1"))
    f = one(fs, "subnet")
    report(fs, "subnet")
    assert rc == 1 and not f["ok"]
    assert f["title"] == "the hotspot subnet 192.168.12.0/24 overlaps the address 192.168.12.7/24 on up0"
    assert "route 192.168.12.0/24 dev up0" in f["evidence"] and "GATEWAY=192.168.13.1" in f["fix"]


# -- 9. another firewall drops forwarded traffic (seed 001) -------------------------------------------------

def test_forward_chain_with_policy_drop(board: Board) -> None:
    board.add_uplink()
    board.ns.run(["nft", "-f", "-"], input="table inet filter {\n chain forward {\n"
                 "  type filter hook forward priority 0; policy drop;\n }\n}\n")
    rc, fs = board.doctor(AP)
    f = one(fs, "firewall")
    report(fs, "firewall")
    assert rc == 1 and not f["ok"] and f["title"] == ("another firewall drops forwarded traffic: table inet filter "
                                                      "chain forward (policy drop): hotshare will refuse to start")
    assert f["evidence"] == ("table inet filter chain forward, hook forward: policy drop (nftables; "
                             "from `nft list ruleset`)")
    assert 'add `iifname "docap0" oifname "up0" accept`' in f["fix"] and "FIREWALL=insert" in f["fix"]
    # and so it does
    up = board.hotshare("up", "--daemon", "--dns-server", GW, AP, UPLINK, check=False)
    assert up.returncode != 0 and "table inet filter chain forward" in up.stderr


def test_docker_forward_policy_drop(board: Board) -> None:
    """Seed 001 as Docker leaves it (iptables-nft): FORWARD policy DROP, jumping to DOCKER-USER."""
    if shutil.which("iptables-nft") is None:
        pytest.skip("iptables-nft is not installed")
    board.add_uplink()
    board.dns_server()
    for args in (["-N", "DOCKER-USER"], ["-P", "FORWARD", "DROP"], ["-A", "FORWARD", "-j", "DOCKER-USER"]):
        board.ns.run(["iptables-nft", "-w", *args])
    _rc, fs = board.doctor(AP)
    report(fs, "firewall")
    f = one(fs, "firewall")
    assert f["ok"] and f["level"] == "info"
    assert f["title"] == ("table ip filter chain FORWARD drops forwarded traffic: hotshare makes its traffic "
                          "pass at start")
    rc, fs = board.doctor("--config", board.config(FIREWALL="ignore"))
    report(fs, "firewall")
    f = one(fs, "firewall")
    assert rc == 1 and not f["ok"] and "`iptables -t filter -I DOCKER-USER -i docap0 -o up0 -j ACCEPT`" in f["fix"]
    # hotshare makes it pass; the doctor then sees nothing dropping the hotspot
    board.hotshare("up", "--daemon", "--dns-server", GW, AP, UPLINK)
    rc, fs = board.doctor(AP)
    report(fs, "firewall")
    f = one(fs, "firewall")
    assert f["ok"] and "applied by hotshare: iptables filter DOCKER-USER" in f["evidence"]


# -- 10. dhcpcd on the AP interface (seed 000) -----------------------------------------------------------

def test_dhcpcd_puts_ipv4ll_on_the_ap_interface(board: Board) -> None:
    dhcpcd = shutil.which("dhcpcd") or "/usr/sbin/dhcpcd"
    if not os.path.exists(dhcpcd):
        pytest.skip("dhcpcd is not installed (Debian: dhcpcd-base)")
    # dhcpcd's pid file and control socket live in /run/dhcpcd: give this one a
    # private, empty /run/dhcpcd (ip netns exec runs it in its own mount
    # namespace), so it neither finds nor disturbs another dhcpcd. No hook
    # script (-c /bin/true) and no config (-f /dev/null): it touches nothing
    # but its interface. With no DHCP server it falls back to IPv4LL.
    run_dir = board.workdir / "dhcpcd-run"
    run_dir.mkdir()
    board.daemon("doc-dhcpcd", ["sh", "-c", f"mount --bind {run_dir} /run/dhcpcd && exec {dhcpcd} -B -4 -t 0 "
                                            f"-f /dev/null -c /bin/true {AP}"])
    wait_until(lambda: any(a.startswith("169.254.") for a in board.ns.ipv4_addresses(AP)), 30, interval=0.2,
               what="dhcpcd's IPv4LL address on docap0")
    rc, fs = board.doctor(AP)
    f = one(fs, "managers")
    report(fs, "managers")
    assert rc == 1 and not f["ok"] and "IPv4LL" in f["title"]
    assert "address 169.254." in f["evidence"] and "route 169.254.0.0/16" in f["evidence"]
    assert "dhcpcd processes on docap0" in f["evidence"]
    assert "denyinterfaces docap0" in f["fix"]


# -- 11, 12 and the ports exclusion: a running hotspot ------------------------------------------------------

@pytest.fixture
def running(board: Board) -> Board:
    if shutil.which("dnsmasq") is None and not os.path.exists("/usr/sbin/dnsmasq"):
        pytest.skip("dnsmasq is not installed")
    board.add_uplink()
    board.dns_server()
    board.hotshare("up", "--daemon", "--dns-server", GW, "-g", "192.168.77.1", AP, UPLINK)
    return board


def test_healthy_running_hotspot_has_no_problems(running: Board) -> None:
    rc, fs = running.doctor(AP)
    assert [f for f in fs if not f["ok"]] == [] and rc == 0
    assert one(fs, "ports")["title"] == "ports 53 and 67 are free for dnsmasq"   # its own dnsmasq excluded
    assert one(fs, "forwarding")["title"] == "IPv4 forwarding is on for docap0, up0"
    assert one(fs, "instance")["title"].startswith("hotshare runs on docap0 (pid ")
    assert one(fs, "dns")["evidence"].startswith(f"servers from the running dnsmasq's {running.rundir}/docap0/")
    assert one(fs, "subnet")["title"] == ("the hotspot subnet 192.168.77.0/24 (the running hotspot's subnet) "
                                          "overlaps nothing else")
    # and without naming it: the only running hotspot
    rc2, fs2 = running.doctor()
    assert rc2 == 0 and one(fs2, "instance")["ok"]


def test_forwarding_turned_off_under_a_running_hotspot(running: Board) -> None:
    running.ns.sysctl_write(f"net.ipv4.conf.{AP}.forwarding", "0")
    rc, fs = running.doctor(AP)
    f = one(fs, "forwarding")
    report(fs, "forwarding")
    assert rc == 1 and not f["ok"] and f["title"] == "IPv4 forwarding is off for docap0 while the hotspot runs"
    assert "net.ipv4.conf.docap0.forwarding = 0" in f["evidence"]
    assert "sysctl -w net.ipv4.conf.docap0.forwarding=1" in f["fix"]


def test_dead_dnsmasq_under_a_running_hotspot(running: Board) -> None:
    pid = int((running.rundir / f"{AP}.pid").read_text())
    children = json.loads(running.hotshare("status", AP, "--json").stdout)["children"]
    # hotshare restarts a dead child at once: freeze it so the corpse stays visible
    os.kill(pid, signal.SIGSTOP)
    try:
        os.kill(children["dnsmasq"], signal.SIGKILL)
        wait_until(lambda: not _alive(children["dnsmasq"]), 5, interval=0.05, what="dnsmasq to die")
        rc, fs = running.doctor(AP)
    finally:
        os.kill(pid, signal.SIGCONT)
    f = one(fs, "instance")
    report(fs, "instance")
    assert rc == 1 and not f["ok"] and f["title"] == "dnsmasq is not running under hotshare on docap0"
    assert f"was pid {children['dnsmasq']}, now gone" in f["evidence"]


def test_crashed_hotshare_leaves_a_stale_journal(running: Board) -> None:
    pid = int((running.rundir / f"{AP}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _alive(pid), 5, interval=0.05, what="hotshare to die")
    rc, fs = running.doctor(AP)
    f = one(fs, "instance")
    report(fs, "instance")
    assert rc == 1 and not f["ok"] and "stopped without cleaning up" in f["title"]
    assert f["fix"].startswith("`hotshare down docap0`")
    # the orphaned dnsmasq still holds the ports: not hotshare's any more
    assert any(not p["ok"] for p in by_id(fs, "ports"))
    # following the fix clears it
    running.hotshare("down", AP)
    rc, fs = running.doctor(AP)
    assert one(fs, "instance")["ok"] and all(p["ok"] for p in by_id(fs, "ports"))


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
