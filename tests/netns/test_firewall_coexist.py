"""hotshare next to other firewalls, for real, in network namespaces.

    client (eth0 .50) --veth-- (lan0 .1) board (ppp0 203.0.113.2) --veth-- (up0 203.0.113.1) inet

The board runs our own NAT table (render.nft_ruleset of a real Plan, made
from a netlink snapshot taken inside the board namespace). lan0 stands in
for wlan0. The inet namespace serves HTTP and has no route back to the
hotspot subnet, so a client reaches it only through forwarding and NAT.

Each test loads another firewall into the board namespace, shows that the
client is cut off, then applies hotshare's planned actions (after a JSON
round trip, as the service journals them), shows that the client gets
through, and that undo leaves the other firewall exactly as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotshare.coexist import analysis as firewall
from hotshare.config import from_mapping
from hotshare.netlink import rtnl
from hotshare.plan.facts import Facts
from hotshare.plan.make import make_plan
from hotshare.plan.plan import Plan
from hotshare.plan.ruleset import nft_ruleset
from hotshare.system import firewalls, nft

DATA = Path(__file__).resolve().parent.parent / "data" / "firewall"
SERVER = ("203.0.113.1", 8080)
TIMEOUT = 1.5
CLONE_NEWNET = 0x40000000

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates network namespaces and firewall rules"),
    pytest.mark.skipif(not all(shutil.which(t) for t in ("ip", "nft", "iptables-nft", "iptables-nft-save")),
                       reason="needs iproute2, nftables and iptables (nf_tables backend)"),
]

_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """Run this thread (and the processes and sockets it creates) in ``ns``."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back home")
    finally:
        os.close(home)
        os.close(target)


def sh(*argv: str, ns: str | None = None, input: str | None = None) -> str:
    cmd = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr.strip()}"
    return proc.stdout


@dataclass
class Topo:
    board: str
    client: str
    inet: str
    plan: Plan

    def can_fetch(self) -> bool:
        """Does an HTTP GET from the client reach the server (through NAT)?"""
        with inside(self.client):
            try:
                with socket.create_connection(SERVER, timeout=TIMEOUT) as s:
                    s.settimeout(TIMEOUT)
                    s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                    return s.recv(64).startswith(b"HTTP/1.0 200")
            except OSError:
                return False

    def can_reach_dns(self) -> bool:
        """Does a TCP connection from the client to the gateway's port 53 open (input hook)?"""
        with inside(self.client):
            try:
                socket.create_connection((str(self.plan.gateway.ip), 53), timeout=TIMEOUT).close()
                return True
            except OSError:
                return False

    def iptables_save(self) -> str:
        """iptables-nft-save, without its dated comment lines and with counters zeroed."""
        out = sh("iptables-nft-save", ns=self.board)
        lines = [re.sub(r"\[\d+:\d+\]", "[0:0]", ln) for ln in out.splitlines() if not ln.startswith("#")]
        return "\n".join(lines) + "\n"

    def analysis(self) -> firewall.Analysis:
        with inside(self.board):
            ruleset = firewalls.current_ruleset()
        return firewall.analyse(ruleset, "lan0", self.plan.uplinks, self.plan.subnet, self.plan.table,
                                tools=firewalls.available_tools())

    def apply(self, action: firewall.Action) -> dict[str, object]:
        journal = json.dumps(action.to_dict())          # what the service writes before applying
        with inside(self.board):
            record = firewalls.apply(json.loads(journal))
        return json.loads(json.dumps(record))           # and the undo record it writes after


@pytest.fixture
def topo(tmp_path: Path) -> Iterator[Topo]:
    tag = str(os.getpid())
    board, client, inet = f"fw-board-{tag}", f"fw-client-{tag}", f"fw-inet-{tag}"
    server: subprocess.Popen[bytes] | None = None
    try:
        for ns in (board, client, inet):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "lan0", "netns", board, "type", "veth", "peer", "name", "eth0", "netns", client)
        sh("ip", "link", "add", "ppp0", "netns", board, "type", "veth", "peer", "name", "up0", "netns", inet)
        sh("ip", "-n", inet, "addr", "add", "203.0.113.1/24", "dev", "up0")
        sh("ip", "-n", board, "addr", "add", "203.0.113.2/24", "dev", "ppp0")
        for ns, dev in ((inet, "up0"), (board, "ppp0"), (board, "lan0"), (client, "eth0")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", board, "route", "add", "default", "via", "203.0.113.1", "dev", "ppp0")

        with inside(board):
            snap = rtnl.snapshot()
        cfg = from_mapping({"WIFI_IFACE": "lan0", "SSID": "fw", "PASSPHRASE": "12345678"})
        plan = make_plan(cfg, Facts(snapshot=snap, wireless=False))
        assert plan.uplinks == ("ppp0",)
        sh("ip", "-n", board, "addr", "add", str(plan.gateway), "dev", "lan0")
        for key, value in plan.sysctls.items():
            sh("sysctl", "-q", "-w", f"{key.replace('/', '.')}={value}", ns=board)
        client_ip = plan.gateway.network.network_address + 50
        sh("ip", "-n", client, "addr", "add", f"{client_ip}/{plan.gateway.network.prefixlen}", "dev", "eth0")
        sh("ip", "-n", client, "route", "add", "default", "via", str(plan.gateway.ip))
        with inside(board):
            nft.load(nft_ruleset(plan))

        (tmp_path / "index.html").write_text("hello\n")
        server = subprocess.Popen(["ip", "netns", "exec", inet, sys.executable, "-m", "http.server",
                                   str(SERVER[1]), "--bind", SERVER[0], "--directory", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            with inside(inet), contextlib.suppress(OSError), socket.create_connection(SERVER, timeout=0.5):
                break
            assert time.monotonic() < deadline, "the HTTP server in the inet namespace did not start"
            time.sleep(0.05)

        t = Topo(board, client, inet, plan)
        # Without another firewall, our own table alone forwards and NATs.
        assert t.can_fetch(), "the client cannot reach the server even with no other firewall"
        yield t
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for ns in (board, client, inet):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@pytest.fixture
def dns_listener(topo: Topo) -> Iterator[socket.socket]:
    with inside(topo.board):
        s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((str(topo.plan.gateway.ip), 53))
    s.listen(16)
    yield s
    s.close()


def test_docker_forward_policy_drop_is_fixed_in_docker_user(topo: Topo) -> None:
    sh("iptables-nft-restore", ns=topo.board, input=(DATA / "docker.iptables").read_text())
    before = topo.iptables_save()
    assert ":FORWARD DROP" in before and "-A FORWARD -j DOCKER-USER" in before
    assert not topo.can_fetch(), "Docker's FORWARD policy drop should cut the client off"

    a = topo.analysis()
    assert [(b.family, b.table, b.chain, b.hook, b.why, b.owner) for b in a.blockers] == [
        ("ip", "filter", "FORWARD", "forward", "policy drop", "docker")]
    actions, refusals = firewall.plan_actions(a, "auto")
    assert refusals == []
    assert [(x.kind, x.table, x.chain) for x in actions] == [("iptables", "filter", "DOCKER-USER")]

    record = topo.apply(actions[0])
    assert topo.can_fetch(), "the accept rules in DOCKER-USER should let the client through"
    after = topo.iptables_save()
    ours = [ln for ln in after.splitlines() if "hotshare:lan0" in ln]
    assert ours == [
        '-A DOCKER-USER -i lan0 -o ppp0 -m comment --comment "hotshare:lan0" -j ACCEPT',
        '-A DOCKER-USER -i ppp0 -o lan0 -m conntrack --ctstate RELATED,ESTABLISHED '
        '-m comment --comment "hotshare:lan0" -j ACCEPT']
    # Docker's own rules are untouched: only our tagged lines were added.
    assert "".join(ln + "\n" for ln in after.splitlines() if "hotshare:lan0" not in ln) == before

    with inside(topo.board):
        firewalls.undo(record)
        firewalls.undo(record)                   # idempotent: already gone is fine
    assert topo.iptables_save() == before
    assert not topo.can_fetch()

    # A crash after apply, with the record lost: the leftovers are found by their comment.
    with inside(topo.board):
        firewalls.apply(actions[0])
        firewalls.apply(actions[0])              # applying twice does not duplicate
        assert firewalls.remove_leftovers("lan0") == 2
        assert firewalls.remove_leftovers("lan0") == 0
    assert topo.iptables_save() == before


def test_iptables_input_and_forward_drop_without_docker(topo: Topo, dns_listener: socket.socket) -> None:
    sh("iptables-nft-restore", ns=topo.board, input=(DATA / "ufw.iptables").read_text())
    before = topo.iptables_save()
    assert not topo.can_fetch() and not topo.can_reach_dns()

    a = topo.analysis()
    assert sorted((b.chain, b.owner) for b in a.blockers) == [("FORWARD", "iptables"), ("INPUT", "iptables")]
    actions, refusals = firewall.plan_actions(a, "auto")
    assert refusals == [] and sorted(x.chain for x in actions) == ["FORWARD", "INPUT"]
    records = [topo.apply(x) for x in actions]
    assert topo.can_fetch() and topo.can_reach_dns()
    after = topo.iptables_save()
    assert "".join(ln + "\n" for ln in after.splitlines() if "hotshare:lan0" not in ln) == before

    with inside(topo.board):
        for r in reversed(records):
            firewalls.undo(r)
    assert topo.iptables_save() == before
    assert not topo.can_fetch() and not topo.can_reach_dns()


def test_native_filter_table_refused_in_auto_and_fixed_by_insert(topo: Topo, dns_listener: socket.socket) -> None:
    sh("nft", "-f", "-", ns=topo.board, input=(DATA / "workstation.nft").read_text())

    def table() -> str:
        return sh("nft", "-a", "list", "table", "inet", "filter", ns=topo.board)

    before = table()
    assert not topo.can_fetch() and not topo.can_reach_dns()

    a = topo.analysis()
    assert sorted((b.table, b.chain, b.why) for b in a.blockers) == [
        ("filter", "forward", "policy drop"), ("filter", "input", "policy drop")]
    actions, refusals = firewall.plan_actions(a, "auto")
    assert actions == []
    forward = [m for m in refusals if m.startswith("table inet filter chain forward ")]
    assert len(refusals) == 2 and len(forward) == 1
    assert "policy drop" in forward[0] and "FIREWALL=ignore" in forward[0] and "FIREWALL=insert" in forward[0]
    assert firewall.plan_actions(a, "ignore") == ([], [])
    assert not topo.can_fetch()

    actions, refusals = firewall.plan_actions(a, "insert")
    assert refusals == [] and sorted((x.kind, x.chain) for x in actions) == [("nft", "forward"), ("nft", "input")]
    records = [topo.apply(x) for x in actions]
    assert all(len(r["handles"]) == 2 for r in records)   # type: ignore[arg-type]
    assert topo.can_fetch() and topo.can_reach_dns()
    # Our rules sit at the top of each chain, the rest is unchanged.
    now = table()
    assert 'comment "hotshare:lan0"' in now
    assert [ln for ln in now.splitlines() if "hotshare:lan0" not in ln] == before.splitlines()

    with inside(topo.board):
        for r in records:
            firewalls.undo(r)
            firewalls.undo(r)
    assert table() == before
    assert not topo.can_fetch() and not topo.can_reach_dns()

    with inside(topo.board):
        for x in actions:
            firewalls.apply(x)
        assert firewalls.remove_leftovers("lan0") == 4
    assert table() == before
