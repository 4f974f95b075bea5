"""The board lab's checks, run inside the guest once the image's init is done.

Started in the background by /etc/init.d/S99lab (lab image only), after
S95hotshare brought the hotspot up by itself.  Each check is what a user of
the board would do: read the passphrase file, ask the init script, join with
a phone, browse, stop and start the service.  Prints one line per check,

    BOARD-LAB PASS|FAIL <name>: <detail>

plus ``BOARD-LAB INFO <key>: <value>`` lines (memory, timings) and a final
``BOARD-LAB SUMMARY <n> passed, <n> failed``; the host's run-board-lab reads
them from the console.  The boot (``lab.boot=1`` first, ``2`` for the same
disk booted again, ``crowd`` for 20 stations) comes from the kernel command line.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from board_phone import BoardPhone, radio
from labcore import (
    ALPHABET,
    CONF,
    DNS_LOG,
    INIT,
    LABDIR,
    PASSFILE,
    SAVED,
    SSID,
    UPLINK_IP,
    WEB,
    WEB_ADDR,
    check,
    daemon_pid,
    dump,
    hotshare_tables,
    info,
    meminfo,
    pids_of,
    pss_kb,
    results,
    rss_kb,
    say,
    sh,
    status_json,
)

# -- boot 1: first boot ------------------------------------------------------------


@check("firstboot-passphrase")
def firstboot_passphrase() -> str:
    st = PASSFILE.stat()
    text = PASSFILE.read_text().strip()
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == 0, f"mode {st.st_mode & 0o777:o} uid {st.st_uid}"
    assert Path("/etc/hotshare").stat().st_mode & 0o777 == 0o700, "/etc/hotshare not 0700"
    assert len(text) == 16 and all(c in ALPHABET for c in text), f"{len(text)} chars"
    assert "first boot: wrote a new Wi-Fi passphrase" in Path("/var/log/messages").read_text(), "no syslog line"
    return "16 chars, 0600 root, /etc/hotshare 0700, logged to syslog"


@check("hotspot-up-at-boot")
def up_at_boot() -> str:
    rc = sh(INIT, "status").returncode
    data = status_json()
    ap = data.get("ap") or {}
    assert rc == 0, f"S95hotshare status exited {rc}"
    assert data.get("running") is True, data
    assert isinstance(ap, dict) and ap.get("state") == "ENABLED", ap
    return (f"status 0; running pid {data.get('pid')}, ap {ap.get('state')} channel {ap.get('channel')}, "
            f"subnet {data.get('subnet')}")


MODEM_INIT = "/etc/init.d/S45modem"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@check("modem-dials-at-boot")
def modem_at_boot() -> str:
    """S45modem (before S95hotshare) made pppd's peer and chat script from
    modem.conf and dialled the lab's modem on /dev/ttyUSB2 (a pty: chat
    answers the AT commands, then pppd); ppp0 is a PPP link with the
    address the operator's side gave, and hotshare shares it. No DHCP
    client on the access point."""
    if "lab.modem=veth" in Path("/proc/cmdline").read_text():
        return "lab.modem=veth: not tested"
    proc = sh(MODEM_INIT, "status")
    assert proc.returncode == 0, f"S45modem status exited {proc.returncode}: {proc.stdout}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and UPLINK_IP not in sh("ip", "-br", "addr", "show", "dev", "ppp0").stdout:
        time.sleep(0.5)
    addr = " ".join(sh("ip", "-br", "addr", "show", "dev", "ppp0").stdout.split())
    assert f"{UPLINK_IP} peer 10.64.0.1/32" in addr, addr or "no ppp0"
    assert Path("/sys/class/net/ppp0/type").read_text().strip() == "512", "ppp0 is not a PPP link (ARPHRD_PPP)"
    route = " ".join(sh("ip", "route", "show", "default").stdout.split())
    assert "dev ppp0" in route, route
    chat = Path("/etc/ppp/hotshare-modem.chat").read_text()
    assert """OK 'AT+CGDCONT=1,"IP","cmnet"'""" in chat, chat
    assert "persist" in Path("/etc/ppp/peers/hotshare-modem").read_text().split()
    pid = Path("/run/hotshare-modem/modem.pid").read_text().strip()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[:4] == [b"pppd", b"call", b"hotshare-modem", b"nodetach"], cmdline
    messages = Path("/var/log/messages").read_text()
    assert "dialling APN cmnet on /dev/ttyUSB2" in messages, "S45modem did not log its dial"
    shares = re.compile(r"hotspot ready on wlan0: .*, uplink ppp0$|uplink changed: \S+ -> ppp0$", re.M)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not shares.search(messages):
        time.sleep(0.5)
        messages = Path("/var/log/messages").read_text()
    assert shares.search(messages), "hotshare never took ppp0 as its uplink"
    dhcp = [c for c in map(_cmdline, Path("/proc").glob("[0-9]*")) if c.startswith("udhcpc")]
    assert not [c for c in dhcp if "wlan" in c], dhcp
    return f"ppp0 {addr.split(None, 2)[-1]}, {route}; pppd pid {pid}; hotshare shares ppp0"


@check("uplink-route-metrics")
def uplink_metrics() -> str:
    """Two uplinks with default routes (the modem's ppp0, a phone tethered
    on usb0): each has the metric /etc/hotshare/modem.conf gives it as
    shipped (MODEM_METRIC=100 in S45modem's pppd peer, DHCP_METRIC=200
    through its udhcpc script), the modem's is the one in use whichever
    came up first, and hotshare shares ppp0."""
    want = ["default dev ppp0 scope link metric 100", "default via 192.168.42.129 dev usb0 metric 200"]
    deadline = time.monotonic() + 60
    routes: list[str] = []
    while time.monotonic() < deadline:
        routes = [" ".join(r.split()) for r in sh("ip", "-4", "route", "show", "default").stdout.splitlines()]
        if len(routes) >= 2:
            break
        time.sleep(0.5)
    assert routes == want, f"default routes: {routes}"
    get = " ".join(sh("ip", "route", "get", WEB_ADDR).stdout.split())
    assert " dev ppp0 " in f"{get} ", get
    resolv = Path("/etc/resolv.conf").read_text()
    assert "nameserver 192.168.42.129 # usb0" in resolv, resolv
    events = re.compile(r"(?:hotspot ready on wlan0: .*, uplink |uplink changed: \S+ -> )(\S+)$", re.M)
    time.sleep(1)  # hotshare follows the route events
    shared = events.findall(Path("/var/log/messages").read_text())
    assert shared and shared[-1] == "ppp0", f"hotshare's uplinks in turn: {shared}"
    return f"{'; '.join(routes)}; {WEB_ADDR} via ppp0; hotshare's uplinks in turn: {', '.join(shared)}"


def board_resolver_pid() -> int | None:
    try:
        return int(Path("/var/run/dnsmasq.pid").read_text())
    except (OSError, ValueError):
        return None


@check("board-resolver-on-loopback")
def board_resolver() -> str:
    """Buildroot's S80dnsmasq runs /etc/dnsmasq.conf: the board's own
    resolver, on the loopback only, forwarding to its server= lines over
    ppp0; /etc/resolv.conf points at it (S45modem)."""
    pid = board_resolver_pid()
    assert pid and Path(f"/proc/{pid}").exists(), "S80dnsmasq's dnsmasq is not running"
    assert Path("/etc/resolv.conf").read_text().splitlines()[0] == "nameserver 127.0.0.1"
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    bound = []
    for table in ("udp", "tcp", "udp6", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            f = line.split()
            if f"socket:[{f[9]}]" in inodes and int(f[1].rsplit(":", 1)[1], 16) == 53:
                bound.append(f[1].rsplit(":", 1)[0])
    assert bound and set(bound) <= {"0100007F", "00000000000000000000000001000000"}, bound
    out = sh("nslookup", "www.example.test", "127.0.0.1").stdout
    assert "198.18.0.10" in out, out
    return f"pid {pid}, port 53 on 127.0.0.1 and ::1 only; www.example.test -> 198.18.0.10 through it"


@check("init-start-once-usb0-exists")
def start_with_usb0() -> str:
    """If the shipped config did not come up (its INTERNET_IFACE=ppp0,usb0
    on a board with no phone tethered), give it a usb0 and start again, so
    the other checks can run; the failure above stays recorded."""
    if sh(INIT, "status").returncode == 0:
        return "not needed: the hotspot is up"
    sh("/etc/init.d/S10lab", "add_usb0")
    proc = sh(INIT, "start")
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr
    return "lab workaround: usb0 added (a veth, down); S95hotshare start: OK"


phone: BoardPhone | None = None


@check("phone-joins-wpa2")
def phone_joins() -> str:
    global phone
    phone = BoardPhone("phone", radio(1), workdir=LABDIR, logdir=LABDIR / "logs")
    phone.setup()
    status = phone.connect(SSID, PASSFILE.read_text().strip(), timeout=60)
    assert status.get("key_mgmt") == "WPA2-PSK", status
    got = (status.get(k) for k in ("wpa_state", "key_mgmt", "pairwise_cipher"))
    return f"{' '.join(map(str, got))} to {status.get('bssid')}"


@check("phone-dhcp-lease")
def phone_lease() -> str:
    assert phone is not None
    lease = phone.dhcp(timeout=40)
    assert lease.routers and lease.dns, lease
    return f"{lease.ip}/{lease.prefixlen} router {lease.routers[0]} dns {lease.dns[0]}"


@check("phone-dns-through-hotspot")
def phone_dns() -> str:
    assert phone is not None and phone.lease is not None
    addrs = phone.resolve("www.example.test", timeout=10)
    assert addrs == [WEB_ADDR], addrs
    seen = [line for line in DNS_LOG.read_text().splitlines() if "www.example.test from" in line]
    assert seen and seen[-1].endswith(UPLINK_IP), seen[-1:]
    return f"www.example.test -> {addrs[0]} from {phone.lease.dns[0]}; the ISP DNS saw {UPLINK_IP}"


@check("phone-http-through-nat")
def phone_http() -> str:
    assert phone is not None
    body = phone.http_get(WEB, timeout=15).strip()
    assert body == UPLINK_IP, f"server saw {body!r}"
    return f"GET {WEB}: the server saw {body} (the board's ppp0)"


@check("hotshare-clients")
def clients() -> str:
    assert phone is not None
    proc = sh("hotshare", "clients", "--config", CONF, "--json")
    assert proc.returncode == 0 and phone.mac in proc.stdout.lower(), proc.stdout + proc.stderr
    return f"lists {phone.mac}"


@check("cffi-helper-loads")
def cffi_helper() -> str:
    code = ("from hotshare.netlink import ctacct as accounting; from hotshare import _ctacct; "
            "print(accounting.backend(), _ctacct.__file__)")
    proc = sh("python3", "-c", code)
    assert proc.returncode == 0 and proc.stdout.startswith("c "), proc.stdout + proc.stderr
    return f"hotshare.netlink.ctacct uses the C helper: {proc.stdout.split()[-1]}"


@check("doctor-clean")
def doctor() -> str:
    proc = sh("hotshare", "doctor", "--config", CONF)
    flagged = [line for line in proc.stdout.splitlines() if line.strip()]
    for line in flagged:
        say(f"DOCTOR {line}")
    assert proc.returncode == 0, f"exit {proc.returncode}: " + " | ".join(flagged[-6:])
    return f"exit 0, {len(flagged)} lines"


@check("memory")
def memory() -> str:
    boot, lab, up = (meminfo(f"{LABDIR}/meminfo.{n}") for n in ("boot", "lab", "up"))
    now = meminfo()
    pid = daemon_pid()
    children = ([pid], pids_of("hostapd", pid), pids_of("dnsmasq", pid))
    hs, hostapd, dnsmasq = (sum(map(rss_kb, pids)) for pids in children)
    info("MemTotal", f"{now['MemTotal'] / 1024:.1f} MB")
    for name, m in (("boot", boot), ("lab up (radios, internet)", lab), ("hotspot up", up), ("now", now)):
        info(f"MemAvailable {name}", f"{m['MemAvailable'] / 1024:.1f} MB")
    info("RSS", f"hotshare {hs / 1024:.1f} MB, hostapd {hostapd / 1024:.1f} MB, dnsmasq {dnsmasq / 1024:.1f} MB")
    named = [("hotshare", pid), *(("hostapd", p) for p in children[1]), *(("dnsmasq", p) for p in children[2])]
    info("PSS", ", ".join(f"{n} {pss_kb(p) / 1024:.1f} MB" for n, p in named))
    oom = "Out of memory" in sh("dmesg").stdout
    assert not oom, "the OOM killer ran"
    assert up["MemAvailable"] > 32 * 1024, "less than 32 MB available with the hotspot up"
    return f"MemAvailable {up['MemAvailable'] / 1024:.1f} MB with the hotspot up, hotshare RSS {hs / 1024:.1f} MB"


@check("init-stop")
def init_stop() -> str:
    proc = sh(INIT, "stop")
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr
    rc = sh(INIT, "status").returncode
    resolver = {board_resolver_pid()}  # S80dnsmasq's, on the loopback: not hotshare's
    left = [n for n in ("hostapd", "dnsmasq") if set(pids_of(n, board_only=True)) - resolver]
    tables = hotshare_tables()
    assert rc == 3, f"status exited {rc} after stop"
    assert status_json().get("running") is False
    assert not left and not tables, f"left: {left} {tables}"
    again = sh(INIT, "stop")
    assert again.returncode == 0 and "OK" in again.stdout, "second stop: " + again.stdout
    return "OK; status 3; no hostapd, no dnsmasq, no nft table; stop again OK"


@check("create-ap-name")
def create_ap_name() -> str:
    """BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME (tests/board/hotshare_pkg.py installs it as hotshare.mk
    does): a board application's `create_ap --daemon wlan0 ppp0 SSID PASS` from BusyBox's sh,
    stopped by name with BusyBox's killall (Debian's BusyBox has no pkill; pkill -f is in
    tests/netns/test_create_ap_options_live.py), leaves nothing."""
    link = Path("/usr/bin/create_ap")
    assert link.is_symlink() and os.readlink(link) == "hotshare", "no /usr/bin/create_ap -> hotshare"
    secret = PASSFILE.read_text().strip()
    proc = sh("sh", "-c", f"create_ap --daemon wlan0 ppp0 {SSID}-ca '{secret}'")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pid = daemon_pid()
    argv = _cmdline(Path(f"/proc/{pid}"))
    comm = Path(f"/proc/{pid}/comm").read_text().strip()
    killed = sh("killall", "create_ap").returncode   # before judging: the init checks need wlan0 back
    assert re.search(r"/create_ap ", argv) and secret not in argv, argv   # PATH's /bin is /usr/bin
    assert comm == "create_ap" and killed == 0, (comm, killed)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    resolver = {board_resolver_pid()}
    left = [n for n in ("hostapd", "dnsmasq") if set(pids_of(n, board_only=True)) - resolver]
    assert not Path(f"/proc/{pid}").exists(), "killall create_ap did not stop it"
    assert not left and not hotshare_tables(), f"left: {left} {hotshare_tables()}"
    return f"argv {argv.split(' --')[0]}..., comm create_ap; killall create_ap: nothing left"


@check("init-start")
def init_start() -> str:
    t = time.monotonic()
    proc = sh(INIT, "start")
    took = time.monotonic() - t
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr
    assert sh(INIT, "status").returncode == 0 and hotshare_tables()
    assert phone is not None
    phone.wait_connected(60)
    return f"OK in {took:.1f}s; status 0; the phone re-joined"


@check("init-restart")
def init_restart() -> str:
    before = daemon_pid()
    proc = sh(INIT, "restart")
    assert proc.returncode == 0 and proc.stdout.count("OK") >= 2, proc.stdout + proc.stderr
    after = daemon_pid()
    assert after != before and sh(INIT, "status").returncode == 0, (before, after)
    return f"OK; new pid {after} (was {before}); status 0"


@check("phone-online-after-restart")
def online_again() -> str:
    assert phone is not None
    phone.wait_connected(60)
    lease = phone.dhcp(timeout=40)
    body = phone.http_get(WEB, timeout=15).strip()
    assert body == UPLINK_IP, body
    return f"lease {lease.ip}, the server saw {body}"


def global_country() -> str:
    m = re.search(r"^global\s*\ncountry (\w+):", sh("iw", "reg", "get").stdout, re.M)
    return m.group(1) if m else "?"


def country_wait() -> float | None:
    """Seconds hostapd last spent in COUNTRY_UPDATE (from syslog)."""
    stamps = re.findall(r"^\w+\s+\d+ (\d+):(\d+):(\d+) .*(UNINITIALIZED->COUNTRY_UPDATE|COUNTRY_UPDATE->ENABLED)",
                        Path("/var/log/messages").read_text(), re.M)  # fmt: skip
    if len(stamps) < 2 or not stamps[-1][3].endswith("ENABLED"):
        return None
    (h1, m1, s1, _), (h2, m2, s2, _) = stamps[-2], stamps[-1]
    return (int(h2) * 3600 + int(m2) * 60 + int(s2)) - (int(h1) * 3600 + int(m1) * 60 + int(s1))


@check("regulatory-domain-applied")
def regdomain() -> str:
    """COUNTRY=CN in the shipped config: once hostapd runs, the kernel's
    regulatory domain should be CN.  cfg80211 built in tries to load
    /lib/firmware/regulatory.db before the root filesystem is mounted; it
    does not retry by itself (only `iw reg reload` does)."""
    before, wait = global_country(), country_wait()
    if before != "CN":
        sh("iw", "reg", "reload")
        sh(INIT, "restart")
        info("regulatory experiment", f"after `iw reg reload` and a restart: country {global_country()}, "
             f"hostapd in COUNTRY_UPDATE {country_wait()}s (was {wait}s)")  # fmt: skip
    assert before == "CN", f"global regulatory domain {before} with hostapd running (COUNTRY=CN); " \
                           f"hostapd waited {wait}s in COUNTRY_UPDATE"
    return f"country {before}; hostapd in COUNTRY_UPDATE {wait}s"


# -- boot 2: the same disk again ---------------------------------------------------


@check("reboot-keeps-passphrase")
def keeps_passphrase() -> str:
    assert SAVED.exists(), "boot 1 saved no passphrase"
    assert PASSFILE.read_text() == SAVED.read_text(), "the passphrase changed across the reboot"
    return "same passphrase as on the first boot"


BLOB = "http://www.example.test/cgi-bin/blob"  # 256 KiB
BLOB_BITS = 262144 * 8
# well under what the emulated board reaches without a limit (2.6 Mbit/s seen)
RATE_LIMIT = 512_000  # RATE_LIMIT_DOWN=512kbit


def _download_rate() -> float:
    """The phone's download rate of BLOB, in bits per second."""
    assert phone is not None
    t = time.monotonic()
    size = len(phone.http_get(BLOB, timeout=60))
    took = time.monotonic() - t
    assert size == BLOB_BITS // 8, f"got {size} bytes"
    return BLOB_BITS / took


@check("rate-limit-down")
def rate_limit() -> str:
    """RATE_LIMIT_DOWN in the board's kernel (CONFIG_NFT_LIMIT): the table
    loads, the phone's download keeps to the limit, and without the key the
    same download is faster (so the limit, not the guest, is what slowed it)."""
    assert phone is not None
    free = _download_rate()
    conf = Path(CONF)
    shipped = conf.read_text()
    try:
        conf.write_text(shipped + "RATE_LIMIT_DOWN=512kbit\n")
        proc = sh(INIT, "restart")
        assert proc.returncode == 0 and proc.stdout.count("OK") >= 2, proc.stdout + proc.stderr
        phone.wait_connected(60)
        phone.dhcp(timeout=40)
        _download_rate()  # spends the bucket (a second at the rate plus the burst: ~1.5x on this size)
        limited = _download_rate()
    finally:
        conf.write_text(shipped)
        sh(INIT, "restart")
    assert limited <= RATE_LIMIT * 1.3, f"{limited / 1e6:.2f} Mbit/s with a 0.512 Mbit/s limit"
    assert free > limited * 1.5, f"without the limit {free / 1e6:.2f} Mbit/s, with it {limited / 1e6:.2f}"
    return f"{limited / 1e6:.2f} Mbit/s with RATE_LIMIT_DOWN=512kbit, {free / 1e6:.2f} without"


BOOT1 = [firstboot_passphrase, up_at_boot, modem_at_boot, board_resolver, start_with_usb0, phone_joins, phone_lease,
         phone_dns, phone_http, clients, cffi_helper, doctor, init_stop, create_ap_name, init_start, init_restart,
         online_again, regdomain]  # fmt: skip
# memory: S99lab's snapshot is the hotspot's only when it came up at boot
BOOT2 = [keeps_passphrase, up_at_boot, modem_at_boot, uplink_metrics, memory, phone_joins, phone_lease, phone_http,
         rate_limit]  # fmt: skip
# The image's nft as Buildroot builds it (lab.nft=nojson unless the tree
# selects BR2_PACKAGE_NFTABLES_JSON): the rest only once the hotspot is up.
BOOT_BR_NFT = [up_at_boot, phone_joins, phone_lease, phone_http, init_stop]


def main() -> int:
    args = dict(a.split("=", 1) for a in Path("/proc/cmdline").read_text().split() if a.startswith("lab.") and "=" in a)
    boot = args.get("lab.boot", "1")
    info("boot", f"{boot}; uptime {Path('/proc/uptime').read_text().split()[0]}s at the start of the checks")
    if Path(f"{LABDIR}/up-seconds").exists():
        info("init done (S99lab) at uptime", Path(f"{LABDIR}/up-seconds").read_text().strip())
    if boot == "crowd":
        from crowd import CROWD

        checks = [up_at_boot, *CROWD]
    else:
        checks = {"1": BOOT1, "2": BOOT2, "br-nft": BOOT_BR_NFT}[boot]
    for run in checks:
        if not run() and boot == "br-nft" and run is up_at_boot:
            info("br-nft start", " ".join(sh(INIT, "start").stdout.split()))
            for line in sh("hotshare", "doctor", "--config", CONF).stdout.splitlines():
                say(f"DOCTOR {line}")
            left = " ".join(sh("ip", "-br", "addr", "show", "dev", "wlan0").stdout.split())
            info("br-nft left after the failed start", f"{left}; hostapd {pids_of('hostapd', board_only=True)}, "
                 f"dnsmasq {pids_of('dnsmasq', board_only=True)}, tables {hotshare_tables()}")  # fmt: skip
            dump(Path("/run/hotshare/wlan0.state"))
            info("br-nft", "the hotspot is not up, the other checks are skipped")
            break
    if boot == "1" and PASSFILE.exists():
        SAVED.write_text(PASSFILE.read_text())
    if phone is not None:
        phone.teardown()
    if boot == "crowd":
        from crowd import teardown

        teardown()
    for path in (Path("/var/log/messages"), DNS_LOG):
        dump(path)
    failed = sum(1 for ok, _, _ in results if not ok)
    say(f"SUMMARY {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
