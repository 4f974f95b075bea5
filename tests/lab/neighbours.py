"""Other people's access points, for CHANNEL=auto: hostapd on radios of
their own in namespace ``wnb`` (mac80211_hwsim's medium reaches across
namespaces), several networks on one channel as a multi-BSS hostapd.

    NeighbourAPs(radios, workdir, logdir).start({1: 1, 6: 1, 11: 3})
        -> one network on channel 1, one on 6, three on 11 (one radio per channel)
"""

from __future__ import annotations

from pathlib import Path

from lab.netns import Netns
from lab.proc import kill_pidfile, wait_until
from lab.radios import Radio


class NeighbourAPs:
    def __init__(self, radios: list[Radio], workdir: Path, logdir: Path) -> None:
        self.radios, self.ns = radios, Netns("wnb")
        self.dir, self.logdir = workdir / "wnb", logdir
        self.running: list[Radio] = []

    def start(self, networks: dict[int, int]) -> NeighbourAPs:
        """``networks``: channel -> how many networks beacon on it."""
        assert len(networks) <= len(self.radios), "one radio per channel"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ns.create()
        for radio, (channel, count) in zip(self.radios, sorted(networks.items())):
            radio.move_to(self.ns)
            self.running.append(radio)
            self._hostapd(radio, channel, count)
        return self

    def _hostapd(self, radio: Radio, channel: int, count: int) -> None:
        ctrl, conf = self.dir / f"ctrl-{radio.iface}", self.dir / f"{radio.iface}.conf"
        lines = [f"interface={radio.iface}", "driver=nl80211", f"ctrl_interface={ctrl}", "hw_mode=g",
                 f"channel={channel}", f"ssid=neighbour-{channel}-0"]
        octets = radio.mac.split(":")
        for k in range(1, count):   # the other networks of the channel: BSSes of their own
            bssid = ":".join(["02", *octets[1:5], f"{0x80 + k:02x}"])
            lines += [f"bss={radio.iface}_{k}", f"bssid={bssid}", f"ssid=neighbour-{channel}-{k}"]
        conf.write_text("\n".join(lines) + "\n")
        pidfile = self.dir / f"{radio.iface}.pid"
        self.ns.run(["hostapd", "-B", "-P", str(pidfile), "-f", str(self.logdir / f"wnb-{radio.iface}.log"),
                     "-t", str(conf)], timeout=30)
        wait_until(lambda: "state=ENABLED" in self.ns.run(
            ["hostapd_cli", "-p", str(ctrl), "-i", radio.iface, "status"], check=False).stdout,
            30.0, interval=0.1, what=f"the neighbour AP on channel {channel}")

    def stop(self) -> None:
        for radio in self.running:
            kill_pidfile(self.dir / f"{radio.iface}.pid")
            radio.move_home()
        self.running = []
        self.ns.delete()
