"""Gathering the facts: all of the doctor's I/O but the DNS query.

:func:`gather` reads the system once into a :class:`~.facts.Context`: the
rtnetlink snapshot, ``nft -j list ruleset`` and two ``nft -c`` probes, ``iw``,
rfkill, sockets and processes from /proc, ``nmcli``, sysctls, the instance's
status and journal, and (through :mod:`.dns_probe`) one query to each
upstream DNS server. Programs run through :func:`hotshare.system.run.run`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from ..config import HotspotConfig
from ..netlink import rtnl
from ..plan.network import current_uplinks, parse_servers_file
from ..plan.uplink_dns import parse_resolv
from ..service.instances import paths_for, status_of
from ..service.journal import Journal
from ..system import firewalls, sysctl
from ..system.managers import DHCPCD_SOCKETS
from ..system.run import DEFAULT_TIMEOUT, TIMEOUTS, ProgramError, ProgramTimeout, find_binary, run
from ..system.wifi import is_wireless
from .dns_probe import DNS_TIMEOUT, probe_dns
from .facts import Context, Proc, Rfkill, Sock
from .nft_probe import FLOW_PROBE, NAT_PROBE, probe_text
from .parsers import parse_nmcli, parse_proc_net, upstream_servers

NFT_TIMEOUT = 60.0
TIMED_OUT = 124     # the exit status :func:`_run` gives a program that ran out of time, as timeout(1) does


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None



def _run(name: str, *args: str, stdin: str | None = None, timeout: float | None = None) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of a program. Ran out of time: TIMED_OUT and
    a message saying so; could not run at all: 127 and why."""
    timeout = timeout if timeout is not None else TIMEOUTS.get(name, DEFAULT_TIMEOUT)
    try:
        r = run(name, *args, input=stdin, timeout=timeout)
    except ProgramTimeout:
        argv = " ".join((find_binary(name) or name, *args))
        return TIMED_OUT, "", f"`{argv}` did not finish within {timeout:g} s"
    except ProgramError as e:
        return 127, "", str(e)
    return r.returncode, r.stdout, r.stderr


def read_rfkill(root: str = "/sys/class/rfkill") -> tuple[Rfkill, ...]:
    out = []
    try:
        devs = sorted(os.listdir(root))
    except OSError:
        return ()
    for dev in devs:
        base = os.path.join(root, dev)
        name, kind = _read(f"{base}/name"), _read(f"{base}/type")
        soft, hard = _read(f"{base}/soft"), _read(f"{base}/hard")
        if name is None or kind is None:
            continue
        out.append(Rfkill(dev, name.strip(), kind.strip(), (soft or "0").strip() == "1",
                          (hard or "0").strip() == "1"))
    return tuple(out)


def read_procs() -> tuple[Proc, ...]:
    try:
        mine = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        mine = 0
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        comm = _read(f"/proc/{entry}/comm")
        if comm is None:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = tuple(a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a)
        except OSError:
            args = ()
        try:
            same = os.stat(f"/proc/{entry}/ns/net").st_ino == mine
        except OSError:
            same = True
        out.append(Proc(int(entry), comm.strip(), args, same))
    return tuple(out)


def read_sockets(ports: Iterable[int] = (53, 67)) -> tuple[Sock, ...]:
    out: list[Sock] = []
    for proto in ("udp", "tcp"):
        for v6 in (False, True):
            text = _read(f"/proc/net/{proto}{'6' if v6 else ''}")
            if text:
                out += [s for s in parse_proc_net(text, proto, v6) if s.port in ports]
    return tuple(out)


def socket_owners(inodes: set[int]) -> tuple[dict[int, tuple[int, str]], bool]:
    """Which process holds each socket inode (needs root to look into others' fds)."""
    owners: dict[int, tuple[int, str]] = {}
    complete = True
    if not inodes:
        return owners, complete
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except PermissionError:
            complete = False
            continue
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                comm = (_read(f"/proc/{entry}/comm") or "?").strip()
                owners.setdefault(int(target[8:-1]), (int(entry), comm))
        if len(owners) == len(inodes):
            break
    return owners, complete


def _iw(*args: str) -> tuple[str | None, str]:
    if find_binary("iw") is None:
        return None, "iw is not installed"
    rc, out, err = _run("iw", *args)
    if rc != 0:
        return None, f"`iw {' '.join(args)}`: {err.strip() or f'exit {rc}'}"
    return out, ""


def gather(iface: str | None, cfg: HotspotConfig | None, config_path: str | None = None,
           dns_timeout: float = DNS_TIMEOUT) -> Context:
    ctx = Context(iface=iface, cfg=cfg, config_path=config_path)
    ctx.snap = rtnl.snapshot()
    ctx.wireless_ifaces = tuple(lk.name for lk in ctx.snap.links if is_wireless(lk.name))
    config = ctx.config

    if iface and ctx.wireless:
        ctx.phy = (_read(f"/sys/class/net/{iface}/phy80211/name") or "").strip() or None
        if ctx.phy:
            ctx.phy_info, ctx.iw_error = _iw("phy", ctx.phy, "info")
            ctx.reg, _ = _iw("reg", "get")
        ctx.rfkill = read_rfkill()

    have_nft = find_binary("nft") is not None
    if not have_nft:
        ctx.nft_missing = ctx.ruleset_error = "nft not found: install nftables"
    if have_nft:
        rc, out, err = _run("nft", "-j", "list", "ruleset", timeout=NFT_TIMEOUT)
        if rc == 0:
            try:
                ctx.ruleset = json.loads(out or '{"nftables": []}').get("nftables", [])
            except ValueError as e:
                ctx.ruleset_error = f"unreadable JSON from nft: {e}"
        else:
            ctx.ruleset_error = (err.strip().splitlines() or [f"nft exit {rc}"])[0]
        if os.geteuid() != 0:
            ctx.probe_skipped = "checking a ruleset against the kernel needs root"
        else:
            # the first use may load a dozen modules: slow on a small board (or under emulation)
            rc, _out, err = _run("nft", "-c", "-f", "-", stdin=probe_text(NAT_PROBE), timeout=NFT_TIMEOUT)
            if rc == TIMED_OUT:
                ctx.probe_skipped = err
            else:
                ctx.probe_error = "" if rc == 0 else (err or f"nft exit {rc}")
                rc, _out, err = _run("nft", "-c", "-f", "-", stdin=probe_text(FLOW_PROBE), timeout=NFT_TIMEOUT)
                ctx.flowtable_error = None if rc == TIMED_OUT else "" if rc == 0 else (err or f"nft exit {rc}")

    try:
        ctx.firewall_tools = firewalls.available_tools()
    except (ImportError, OSError):
        pass
    ctx.procs = read_procs()
    ctx.sockets = read_sockets()
    ctx.owners, ctx.owners_known = socket_owners({s.inode for s in ctx.sockets})
    if any(p.comm == "NetworkManager" and p.same_netns for p in ctx.procs) and find_binary("nmcli"):
        rc, out, _err = _run("nmcli", "-t", "-f", "DEVICE,STATE", "device")
        ctx.nm_devices = parse_nmcli(out) if rc == 0 else None
    ctx.dhcpcd_conf = _read("/etc/dhcpcd.conf")
    ctx.dhcpcd_binary = find_binary("dhcpcd") or ""
    ctx.dhcpcd_manager = next((p for p in DHCPCD_SOCKETS if os.path.exists(p)), "")
    ctx.connman_conf = _read("/etc/connman/main.conf")

    if iface:
        names, _best = current_uplinks(config, ctx.snap)
        for n in dict.fromkeys((iface, *names, "all")):
            key = f"net/ipv4/conf/{n}/forwarding"
            ctx.sysctls[key] = sysctl.read(key)
        ctx.status = dict(status_of(iface))
        path = paths_for(iface).state
        j = Journal.load(path)
        if j is not None:
            ctx.journal_children = dict(j.children)
            ctx.journal_firewall = [dict(a) for a in getattr(j, "firewall", [])]
            ctx.journal_path = path

    if not (config.no_dnsmasq or config.no_dns):
        running_conf = paths_for(iface).dnsmasq_conf if iface and ctx.running else ""
        text = _read(running_conf) if running_conf else None
        follows = next((ln[len("resolv-file="):] for ln in (text or "").splitlines()
                        if ln.startswith("resolv-file=")), "")
        if follows and (servers := parse_resolv(_read(follows) or "")):
            # the servers of the uplink in use, as hotshare last wrote them for dnsmasq
            ctx.dns_servers = tuple(dict.fromkeys(s.address for s in servers))
            ctx.dns_source = f"the running dnsmasq's {follows}"
        elif running_conf and text and parse_servers_file(text):
            # what the running dnsmasq really forwards to
            ctx.dns_servers = tuple(str(a) for a in parse_servers_file(text))
            ctx.dns_source = f"the running dnsmasq's {running_conf}"
        else:
            servers_file = _read(config.dns_servers_file) if config.dns_servers_file else None
            ctx.dns_servers, ctx.dns_source = upstream_servers(config, servers_file, _read("/etc/resolv.conf"))
        if ctx.dns_servers:
            ctx.dns_results = tuple(probe_dns(list(ctx.dns_servers), dns_timeout))
    return ctx
