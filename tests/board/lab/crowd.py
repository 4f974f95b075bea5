"""The crowd boot (lab.boot=crowd, lab.radios=22): 20 stations on the 128 MB board.

Each station is a lab phone in its own namespace (wpa_supplicant, BusyBox
udhcpc) on its own mac80211_hwsim radio, wlan1..wlan20; all join, all take
a lease, then the memory figures are printed.  The stations' own processes
run in the same 128 MB, which a real board would not carry: their RSS is
printed too, so the board's share can be told apart.
"""

from __future__ import annotations

import json
import threading
import time

from board_phone import BoardPhone, radio
from labcore import CONF, LABDIR, PASSFILE, SSID, check, daemon_pid, info, meminfo, pids_of, pss_kb, rss_kb, sh

STATIONS = 20
crowd: list[BoardPhone] = []


@check("crowd-20-stations-join")
def join() -> str:
    passphrase = PASSFILE.read_text().strip()
    for i in range(1, STATIONS + 1):
        sta = BoardPhone(f"sta{i}", radio(i), workdir=LABDIR, logdir=LABDIR / "logs")
        sta.setup()
        sta.connect(SSID, passphrase, wait=False)
        crowd.append(sta)
    for sta in crowd:
        sta.wait_connected(180)
    return f"{len(crowd)} stations COMPLETED (WPA2-PSK)"


@check("crowd-20-leases")
def leases() -> str:
    """All ask at once, as phones do when the hotspot comes back; a phone
    whose udhcpc gives up (BusyBox: 3 unanswered requests) asks again."""
    errors: list[str] = []
    retried: list[str] = []
    took: dict[str, float] = {}
    start = time.monotonic()

    def lease(sta: BoardPhone) -> None:
        for attempt in range(3):
            try:
                sta.dhcp(timeout=60)
                took[sta.name] = time.monotonic() - start
                return
            except Exception as exc:  # reported below
                if attempt == 2:
                    errors.append(f"{sta.name}: {str(exc).splitlines()[-1]}")
                else:
                    retried.append(sta.name)

    threads = [threading.Thread(target=lease, args=(sta,)) for sta in crowd]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sorted({sta.lease.ip for sta in crowd if sta.lease is not None})
    info("crowd DHCP", f"slowest lease after {max(took.values(), default=0):.1f}s; "
         f"{len(retried)} udhcpc runs gave up and were retried ({', '.join(sorted(set(retried))) or 'none'})")
    assert len(got) == STATIONS and not errors, f"{len(got)} distinct leases; {errors[:3]}"
    return f"{len(got)} distinct addresses, {got[0]} .. {got[-1]}"


@check("crowd-hotshare-clients")
def clients() -> str:
    proc = sh("hotshare", "clients", "--config", CONF, "--json")
    data = json.loads(proc.stdout or "[]")
    rows = data if isinstance(data, list) else data.get("clients", [])
    macs = {sta.mac for sta in crowd}
    listed = {str(r.get("mac", "")).lower() for r in rows if isinstance(r, dict)}
    assert macs <= listed, f"{len(macs - listed)} stations missing from {len(listed)} listed"
    return f"lists all {len(macs)} stations"


@check("crowd-memory")
def memory() -> str:
    now, up = meminfo(), meminfo(f"{LABDIR}/meminfo.up")
    pid = daemon_pid()
    hs, hostapd, dnsmasq = (sum(map(rss_kb, p)) for p in ([pid], pids_of("hostapd", pid), pids_of("dnsmasq", pid)))
    stations = sum(map(pss_kb, pids_of("wpa_supplicant")))
    info("crowd MemAvailable", f"{up['MemAvailable'] / 1024:.1f} MB at boot with the hotspot up, "
         f"{now['MemAvailable'] / 1024:.1f} MB with 20 stations")  # fmt: skip
    info("crowd RSS", f"hotshare {hs / 1024:.1f} MB, hostapd {hostapd / 1024:.1f} MB, dnsmasq {dnsmasq / 1024:.1f} MB; "
         f"the lab's 20 wpa_supplicant (PSS) {stations / 1024:.1f} MB")  # fmt: skip
    assert "Out of memory" not in sh("dmesg").stdout, "the OOM killer ran"
    return f"MemAvailable {now['MemAvailable'] / 1024:.1f} MB, hotshare RSS {hs / 1024:.1f} MB"


CROWD = [join, leases, clients, memory]


def teardown() -> None:
    for sta in crowd:
        sta.teardown()
