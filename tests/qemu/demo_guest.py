"""The demo, inside the lab guest: a phone joins the hotspot and goes online.

Run by tests/qemu/demo (``make demo``); each step prints what a person
would check by hand, with the time it took."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from lab.hotspot import HotshareCLI, HotspotConfig, hotshare_nft_tables, hotshare_processes
from lab.phone import Phone
from lab.radios import backend_from_env
from lab.topology import PPP0, Internet

STEP = [0.0]


def say(text: str) -> None:
    now = time.monotonic()
    print(f"[{now - STEP[0]:5.1f}s] {text}", flush=True)


def main() -> int:
    work, logs = Path("/run/hotshare-demo"), Path(os.environ.get("HOTSHARE_LAB_OUT", "/run/hotshare-demo")) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    STEP[0] = time.monotonic()
    radios = backend_from_env().load(2)
    say(f"two virtual radios: {radios[0].iface} (the board's) and {radios[1].iface} (the phone's)")
    internet = Internet(PPP0, logs).start()
    Path("/etc/resolv.conf").unlink(missing_ok=True)
    Path("/etc/resolv.conf").write_text(f"nameserver {internet.dns_server}\n")
    say(f"a simulated internet behind {internet.uplink} ({internet.board_ip}): DNS and a web server at 198.18.0.10")
    phone = Phone("phone", radios[1], workdir=work, logdir=logs).setup()

    cli = HotshareCLI([sys.executable, "-m", "hotshare"], dict(os.environ), logs / "hotshare-cli.log", work / "files")
    ap = radios[0].iface
    cfg = HotspotConfig(ssid="hotshare-demo", passphrase="correct horse battery", dns_servers=[internet.dns_server])
    print(f"\n$ hotshare up --daemon {ap} {internet.uplink} {cfg.ssid} '{cfg.passphrase}'", flush=True)
    hotspot = cli.up(ap, internet.uplink, cfg)
    status = hotspot.status()
    say(f"hotspot up: subnet {status.get('subnet')}, gateway {status.get('gateway')}")
    try:
        phone.connect(cfg.ssid, cfg.passphrase)
        say(f"the phone ({phone.mac}) joined '{cfg.ssid}' with WPA2")
        lease = phone.dhcp()
        say(f"DHCP lease {lease.ip}/{lease.prefixlen}, router {lease.routers[0]}, DNS {lease.dns[0]}")
        addrs = phone.resolve("www.example.test")
        say(f"www.example.test resolves to {addrs[0]} through the hotspot's DNS")
        seen = phone.http_get("http://www.example.test/").strip()
        say(f"the web server answered; it saw the request come from {seen} (the board's uplink: NAT)")
        print(f"\n$ hotshare clients {ap}", flush=True)
        print(cli.run("clients", ap).stdout, end="", flush=True)
        ok = seen == internet.board_ip and addrs == ["198.18.0.10"]
    finally:
        print(f"\n$ hotshare down {ap}", flush=True)
        cli.down(ap)
        phone.teardown()
        internet.stop()
    left = hotshare_processes([sys.executable, "-m", "hotshare"]) + list(hotshare_nft_tables())
    say("stopped; nothing of hotshare is left" if not left else f"LEFT BEHIND: {json.dumps(left)}")
    print("\ndemo " + ("passed" if ok and not left else "FAILED"), flush=True)
    return 0 if ok and not left else 1


if __name__ == "__main__":
    sys.exit(main())
