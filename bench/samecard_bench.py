"""The same-card figures of `make bench` (bench/lab_bench.py's "samecard" phase).

One radio, two roles: the AP radio's wlan0 is a station to an upstream AP
(tests/lab/upstream.py, on the guest's spare radio) and `hotshare up wlan0
wlan0` serves the hotspot from ap0 on the same phy. Measured, once per run:

* up_s: `hotshare up --daemon` -> it returned ready (ap0 made, AP on the station's channel);
* join_s: the phone's COMPLETED on ap0 -> its first TCP connection to the
  upstream server, which must see the board's station address;
* csa_s: the upstream AP announces a switch to channel 6 -> the phone's next
  TCP connection through (the AP switched with the station, the phone stayed
  associated: csa_phone_stayed);
* restart_s: the upstream AP restarts on channel 11 -> the phone online again
  (the station reconnects, hostapd restarts there, the phone reconnects).
"""

from __future__ import annotations

from typing import Any

from benchlib import now, wait_http

from lab.netns import ROOT
from lab.phone import Phone
from lab.proc import wait_until
from lab.radios import Radio
from lab.upstream import UP_ADDR, UP_PASS, UP_SSID, BoardStation, UpstreamAP, freq_of

SSID, PASSPHRASE = "hotshare-bench-samecard", "bench-passphrase-1"


def samecard(lab: Any, upstream_radio: Radio) -> None:
    """``lab``: bench/lab_bench.py's Lab (its phone, DHCP and CLI helpers)."""
    fig = lab.fig("samecard")
    ap_radio = lab.radios[0]
    lab.phone.disconnect()
    # The measuring phone's radio and namespace, without its scans limited to
    # channel 1 (BenchPhone): here the AP moves to channels 6 and 11.
    phone = Phone(lab.phone.name, lab.phone.radio, workdir=lab.work / "phones", logdir=lab.logdir)
    lab.reset_ap()
    upstream = UpstreamAP(upstream_radio, lab.work, lab.logdir).start(channel=1)
    station = BoardStation(ap_radio, lab.work, lab.logdir).setup()
    up = False
    try:
        station.connect(UP_SSID, UP_PASS, timeout=120)
        station_ip = station.dhcp(timeout=60).ip
        t0 = now()
        proc = lab.hs("up", "--daemon", ap_radio.iface, ap_radio.iface, SSID, PASSPHRASE, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"hotshare up {ap_radio.iface} {ap_radio.iface} exited {proc.returncode}: {proc.stderr}")
        up = True
        fig.setdefault("up_s", []).append(now() - t0)

        phone.disconnect()
        phone.connect(SSID, PASSPHRASE, wait=False)
        t_assoc = lab.wait_associated(phone, now() + 120)
        lab.dhcp(phone)
        t_tcp, body = wait_http(phone.ns, UP_ADDR, now() + 30, timeout=1.0)
        if body != station_ip:
            raise AssertionError(f"the upstream server saw {body}, not the board's station {station_ip}")
        fig.setdefault("join_s", []).append(t_tcp - t_assoc)

        lab.drain(phone)
        phone.events.clear()
        t0 = now()
        upstream.cli("chan_switch", "5", "2437")
        wait_until(lambda: freq_of("ap0") == 2437, 60, interval=0.05, what="the AP on 2437 MHz")
        t_tcp, _ = wait_http(phone.ns, UP_ADDR, now() + 60, expect=station_ip, timeout=1.0)
        fig.setdefault("csa_s", []).append(t_tcp - t0)
        lab.drain(phone)
        fig.setdefault("csa_phone_stayed", []).append(
            not any(e.startswith("CTRL-EVENT-DISCONNECTED") for e in phone.events))

        t0 = now()
        upstream.stop_hostapd()
        upstream.start_hostapd(11)
        wait_until(lambda: freq_of("ap0") == 2462, 180, interval=0.1, what="the AP on 2462 MHz")
        t_tcp, _ = wait_http(phone.ns, UP_ADDR, now() + 180, expect=station_ip, timeout=1.0)
        fig.setdefault("restart_s", []).append(t_tcp - t0)
    finally:
        phone.disconnect()
        if up:
            lab.hs_down(ap_radio.iface)
        fig.setdefault("ap0_left_after_down", []).append(ROOT.link_exists("ap0"))
        station.teardown()
        upstream.stop()
