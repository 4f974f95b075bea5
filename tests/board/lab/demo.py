"""`make demo`, inside the board guest: what a user of the board would see.

Run by /etc/init.d/S99lab on ``lab.boot=demo``, once the image's init has
started the hotspot by itself (S95hotshare).  Each step prints one line
``BOARD-DEMO <text>`` on the console, which tests/board/demo narrates with
the time; everything else on the console goes to its log.  Steps: the
hotspot that init started, the first-boot passphrase, a phone (the second
mac80211_hwsim radio, in its own namespace) joining with it, its lease,
a name resolved and a page fetched through the hotspot, `hotshare clients`.
S99lab powers the board off afterwards (rcK stops the hotspot).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from board_phone import BoardPhone, radio
from labcore import (
    CONF,
    DNS_LOG,
    INIT,
    LABDIR,
    PASSFILE,
    SSID,
    UPLINK_IP,
    WEB,
    WEB_ADDR,
    daemon_pid,
    dump,
    meminfo,
    rss_kb,
    sh,
    status_json,
)


def say(text: str) -> None:
    print(f"BOARD-DEMO {text}", flush=True)


def shell(argv: list[str], shown: str) -> str:
    """Run a command as a user would type it; its output as narration lines."""
    say(f"$ {shown}")
    proc = sh(*argv)
    for line in (proc.stdout + proc.stderr).splitlines():
        say(f"  {line}")
    return proc.stdout


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def main() -> int:
    init_done = (LABDIR / "up-seconds").read_text().strip() if (LABDIR / "up-seconds").exists() else "?"
    say(f"init is done (uptime {init_done}s): nobody typed a command, S95hotshare started the hotspot")
    shell([INIT, "status"], "/etc/init.d/S95hotshare status")
    st = status_json()
    ap = st.get("ap") if isinstance(st.get("ap"), dict) else {}
    assert isinstance(ap, dict)
    say(f"hotshare status: running pid {st.get('pid')}, AP {ap.get('state')} on channel {ap.get('channel')}, "
        f"subnet {st.get('subnet')}")
    if st.get("running") is not True:
        say("FAILED: the hotspot is not up")
        return 1
    passphrase = PASSFILE.read_text().strip()
    say(f"the board's own first-boot passphrase, {PASSFILE} (mode {PASSFILE.stat().st_mode & 0o777:o}): "
        f"{passphrase}")
    phone = BoardPhone("phone", radio(1), workdir=LABDIR, logdir=LABDIR / "logs")
    ok = False
    try:
        phone.setup()
        say(f"a phone ({phone.mac}, its own network namespace) looks for '{SSID}' ...")
        t = time.monotonic()
        status = phone.connect(SSID, passphrase, timeout=60)
        say(f"the phone joined: {status.get('wpa_state')} {status.get('key_mgmt')} {status.get('pairwise_cipher')} "
            f"to {status.get('bssid')} ({time.monotonic() - t:.1f}s)")
        t = time.monotonic()
        lease = phone.dhcp(timeout=40)
        say(f"DHCP lease {lease.ip}/{lease.prefixlen}, router {lease.routers[0]}, DNS {lease.dns[0]} "
            f"({time.monotonic() - t:.1f}s)")
        addrs = phone.resolve("www.example.test", timeout=10)
        say(f"www.example.test resolves to {', '.join(addrs)} through the hotspot's DNS")
        body = phone.http_get(WEB, timeout=15).strip()
        say(f"GET {WEB}: the web server saw the request come from {body} "
            f"({'the board ppp0: NAT works' if body == UPLINK_IP else 'NOT the board ppp0'})")
        out = shell(["hotshare", "clients", "--config", CONF], "hotshare clients")
        listed = phone.mac in out.lower()
        say(f"hotshare clients {'lists' if listed else 'does NOT list'} the phone")
        mem = meminfo()
        say(f"memory: hotshare RSS {rss_kb(daemon_pid()) / 1024:.1f} MB, "
            f"MemAvailable {mem['MemAvailable'] / 1024:.1f} of {mem['MemTotal'] / 1024:.0f} MB")
        ok = body == UPLINK_IP and addrs == [WEB_ADDR] and listed
    except Exception as exc:  # the demo narrates a failure and still powers off
        say(f"FAILED: {type(exc).__name__}: {exc}; the console log has the details")
        for path in (DNS_LOG, Path("/var/log/messages")):  # for the log only, not narrated
            dump(path, tail=60)
    finally:
        phone.teardown()
    say(f"demo {'passed' if ok else 'FAILED'} at uptime {uptime():.1f}s; poweroff (rcK stops the hotspot)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
