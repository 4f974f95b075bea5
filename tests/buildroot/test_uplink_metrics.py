"""The image's default-route policy with several uplinks, in a real route
table: S45modem (board/t113/rootfs_overlay) starts BusyBox udhcpc with the
tree's udhcpc script on usb0 and eth0, each against a BusyBox udhcpd (the
tethered phone, the Ethernet router) across a veth, beside a ppp0 with the
default route pppd makes from S45modem's peer (defaultroute-metric, asserted
by test_init_scripts). Everything runs under BusyBox's sh with BusyBox's
applets only (ip, udhcpc, udhcpd), in a network and mount namespace of the
test's own (no fixed names: no lock needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OVERLAY = REPO / "board/t113/rootfs_overlay"
S45MODEM = OVERLAY / "etc/init.d/S45modem"
UDHCPC_SCRIPT = OVERLAY / "usr/share/udhcpc/hotshare.script"
BUSYBOX = shutil.which("busybox")
IPROUTE2 = shutil.which("ip")
APPLETS = ["sh", "ip", "udhcpc", "udhcpd", "sed", "tail", "tr", "grep", "cat", "mkdir", "chmod", "mv", "rm", "sleep",
           "mktemp", "kill", "dirname", "basename", "echo", "printf", "mount", "wc", "seq"]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(BUSYBOX is None or IPROUTE2 is None, reason="needs busybox and ip (support/setup)"),
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                       reason="needs root and unshare(1), for a network namespace of its own"),  # fmt: skip
]

UDHCPD_CONF = """\
start {net}.10
end {net}.20
interface {iface}-peer
lease_file {tmp}/{iface}.leases
pidfile {tmp}/{iface}.udhcpd.pid
opt router {router}
opt dns {router}
opt subnet 255.255.255.0
option lease 600
"""

# Run by BusyBox sh in the new namespaces. The surroundings are made with
# iproute2 (BusyBox's ip makes no veth); ppp0's default route is the one
# pppd adds for S45modem's peer (defaultroute, defaultroute-metric 100: a
# device route, as the board lab shows it).
DRIVER = """\
set -e
mount -t sysfs sysfs /sys
"$IPROUTE2" link set lo up
"$IPROUTE2" link add ppp0 type veth peer name isp0
"$IPROUTE2" link set ppp0 up
"$IPROUTE2" link set isp0 up
"$IPROUTE2" addr add 10.64.0.2/24 dev ppp0
"$IPROUTE2" route add default dev ppp0 metric 100
for pair in usb0:192.168.42.129 eth0:192.168.1.1; do
	"$IPROUTE2" link add "${pair%%:*}" type veth peer name "${pair%%:*}-peer"
	"$IPROUTE2" addr add "${pair#*:}/24" dev "${pair%%:*}-peer"
	"$IPROUTE2" link set "${pair%%:*}-peer" up
	udhcpd -f "$T/${pair%%:*}.conf" >"$T/${pair%%:*}.udhcpd.log" 2>&1 &
done
set +e
"$T/S45modem" start
for i in $(seq 100); do
	[ "$(ip route | grep -c "^default")" -ge 3 ] && break
	sleep 0.2
done
echo ROUTES
ip route | grep "^default"
echo GET
ip route get 198.18.0.10
echo RESOLV
cat "$T/resolv.conf"
"$T/S45modem" stop >/dev/null
echo AFTER
ip route | grep "^default"
echo END
kill $(cat "$T"/*.udhcpd.pid) 2>/dev/null
exit 0
"""


def sections(out: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line in ("ROUTES", "GET", "RESOLV", "AFTER", "END"):
            current = line
            found[line] = []
        elif current is not None:
            found[current].append(" ".join(line.split()))
    return found


def run_boot(tmp_path: Path, modem_conf: str) -> dict[str, list[str]]:
    bb = tmp_path / "bb"
    bb.mkdir()
    for applet in APPLETS:
        (bb / applet).symlink_to(str(BUSYBOX))
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("")
    script = tmp_path / "hotshare.script"
    text = UDHCPC_SCRIPT.read_text()
    assert 'RESOLV_CONF="/etc/resolv.conf"\n' in text
    script.write_text(text.replace('RESOLV_CONF="/etc/resolv.conf"\n', f'RESOLV_CONF="{resolv}"\n'))
    script.chmod(0o755)
    (tmp_path / "modem.conf").write_text(modem_conf)
    (tmp_path / "hotshare.conf").write_text("WIFI_IFACE=wlan0\nINTERNET_IFACE=ppp0,usb0,eth0\n")
    text = S45MODEM.read_text()
    for var, value in (("MODEM_CONF", tmp_path / "modem.conf"), ("HOTSHARE_CONF", tmp_path / "hotshare.conf"),
                       ("RUN_DIR", tmp_path / "run"), ("PPP_DIR", tmp_path / "ppp"),
                       ("RESOLV_CONF", resolv), ("UDHCPC_SCRIPT", script), ("LOGGER", "true")):  # fmt: skip
        line = next(x for x in text.splitlines() if x.startswith(f"{var}="))
        text = text.replace(line + "\n", f'{var}="{value}"\n', 1)
    (tmp_path / "S45modem").write_text(text)
    (tmp_path / "S45modem").chmod(0o755)
    for iface, net, router in (("usb0", "192.168.42", "192.168.42.129"), ("eth0", "192.168.1", "192.168.1.1")):
        (tmp_path / f"{iface}.conf").write_text(UDHCPD_CONF.format(net=net, iface=iface, tmp=tmp_path, router=router))
        (tmp_path / f"{iface}.leases").write_text("")
    (tmp_path / "driver.sh").write_text(DRIVER)
    proc = subprocess.run([str(shutil.which("unshare")), "--net", "--mount", str(bb / "sh"), str(tmp_path / "driver.sh")],
                          env={"PATH": str(bb), "T": str(tmp_path), "IPROUTE2": str(IPROUTE2)}, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = sections(proc.stdout)
    assert "END" in found, proc.stdout + proc.stderr
    return found


def test_modem_preferred_then_wired_uplinks_in_order(tmp_path: Path) -> None:
    """The shipped policy (MODEM_METRIC=100, DHCP_METRIC=200) with
    DHCP_IFACES=usb0,eth0: ppp0 first, then usb0 (200), then eth0 (201),
    whatever came up first; the board's traffic leaves through ppp0; the
    servers udhcpc got are in resolv.conf for their interface; on stop
    udhcpc releases and its routes go."""
    found = run_boot(tmp_path, "PROTOCOL=none\nDHCP_IFACES=usb0,eth0\n")
    assert found["ROUTES"] == [
        "default dev ppp0 scope link metric 100",
        "default via 192.168.42.129 dev usb0 metric 200",
        "default via 192.168.1.1 dev eth0 metric 201",
    ], found
    assert found["GET"][0].startswith("198.18.0.10 dev ppp0 "), found["GET"]
    assert sorted(found["RESOLV"]) == ["nameserver 192.168.1.1 # eth0", "nameserver 192.168.42.129 # usb0"]
    assert found["AFTER"] == ["default dev ppp0 scope link metric 100"], found["AFTER"]


def test_per_interface_metric_prefers_the_tethered_phone(tmp_path: Path) -> None:
    """DHCP_IFACES=usb0:50,eth0:300: the tethered phone ahead of the modem."""
    found = run_boot(tmp_path, "PROTOCOL=none\nDHCP_IFACES=usb0:50,eth0:300\n")
    assert found["ROUTES"] == [
        "default via 192.168.42.129 dev usb0 metric 50",
        "default dev ppp0 scope link metric 100",
        "default via 192.168.1.1 dev eth0 metric 300",
    ], found
    assert found["GET"][0].startswith("198.18.0.10 via 192.168.42.129 dev usb0"), found["GET"]
