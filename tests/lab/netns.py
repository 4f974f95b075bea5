"""Network namespaces and veth links, through iproute2."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.proc import DEFAULT_TIMEOUT, run, wait_until

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Netns:
    """A named network namespace (``ip netns``); ``Netns(None)`` is the board's root one."""

    def __init__(self, name: str | None) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Netns({self.name!r})"

    @property
    def is_root(self) -> bool:
        return self.name is None

    def create(self) -> Netns:
        assert self.name is not None, "the root namespace always exists"
        if self.exists():
            self.delete()
        run(["ip", "netns", "add", self.name])
        self.ip("link", "set", "lo", "up")
        return self

    def exists(self) -> bool:
        return self.name is not None and Path("/run/netns", self.name).exists()

    def pids(self) -> list[int]:
        if self.name is None:
            return []
        out = run(["ip", "netns", "pids", self.name], check=False).stdout
        return [int(p) for p in out.split() if p.isdigit()]

    def delete(self) -> None:
        """Kill what still runs in it, then remove it (its phys go back to the root ns)."""
        if not self.exists():
            return
        assert self.name is not None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if pids:
                try:
                    wait_until(lambda: not self.pids(), 3.0, interval=0.05, what=f"processes in {self.name} to exit")
                except TimeoutError:
                    continue
            break
        run(["ip", "netns", "del", self.name], check=False)

    # -- running things inside ------------------------------------------------

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Switch the *calling thread* into this namespace for the block.

        Sockets created inside stay in the namespace for their whole life, so
        servers and clients can live in the test process (no Python start-up
        per helper, which costs seconds under TCG).  setns(CLONE_NEWNET)
        affects only the calling thread.
        """
        if self.name is None:
            yield
            return
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(own)

    def make_socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> socket.socket:
        """A socket that belongs to this namespace."""
        with self.entered():
            return socket.socket(family, kind)

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run(argv, netns=self.name, check=check, timeout=timeout, env=env, input=input)

    def ip(self, *args: str, check: bool = True) -> str:
        prefix = ["ip"] if self.name is None else ["ip", "-n", self.name]
        return run([*prefix, *args], check=check).stdout

    def ip_json(self, *args: str) -> list[dict[str, Any]]:
        prefix = ["ip", "-j"] if self.name is None else ["ip", "-j", "-n", self.name]
        out = run([*prefix, *args]).stdout.strip()
        return json.loads(out) if out else []

    def sysctl_write(self, key: str, value: str) -> None:
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    # -- state queries --------------------------------------------------------

    def link_exists(self, ifname: str) -> bool:
        with self.entered():
            try:
                socket.if_nametoindex(ifname)
            except OSError:
                return False
        return True

    def ipv4_addresses(self, ifname: str) -> list[str]:
        """``['192.168.12.1/24', ...]`` on ``ifname`` ([] if it has none or does not exist)."""
        if not self.link_exists(ifname):
            return []
        result = []
        for link in self.ip_json("-4", "addr", "show", "dev", ifname):
            for info in link.get("addr_info", []):
                if info.get("family") == "inet":
                    result.append(f"{info['local']}/{info['prefixlen']}")
        return result

    def flush_addresses(self, ifname: str) -> None:
        if self.link_exists(ifname):
            self.ip("addr", "flush", "dev", ifname)


def add_veth(
    name: str,
    ns: Netns,
    peer: str,
    peer_ns: Netns,
    *,
    addr: str | None = None,
    peer_addr: str | None = None,
) -> None:
    """A veth pair ``name`` (in ``ns``) <-> ``peer`` (in ``peer_ns``), both up."""
    cmd = ["ip", "link", "add", name]
    if ns.name is not None:
        cmd += ["netns", ns.name]
    cmd += ["type", "veth", "peer", "name", peer]
    if peer_ns.name is not None:
        cmd += ["netns", peer_ns.name]
    run(cmd)
    for n, ifname, a in ((ns, name, addr), (peer_ns, peer, peer_addr)):
        if a:
            n.ip("addr", "add", a, "dev", ifname)
        n.ip("link", "set", ifname, "up")


ROOT = Netns(None)
