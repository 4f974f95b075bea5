"""Where one hotspot's files live: run directory, journal, lock, generated configs."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Paths:
    rundir: str
    statedir: str
    iface: str

    @property
    def workdir(self) -> str:       # 0700: generated configs, hostapd's control socket
        return os.path.join(self.rundir, self.iface)

    @property
    def child_marker(self) -> str:
        """A string in every child's command line: tells our children from
        a process that was given a recycled pid."""
        return self.workdir + "/"

    @property
    def state(self) -> str:         # what this instance changed, for undo after a crash
        return os.path.join(self.rundir, f"{self.iface}.state")

    @property
    def lock(self) -> str:
        return os.path.join(self.rundir, f"{self.iface}.lock")

    @property
    def logfile(self) -> str:       # --daemon on a system without syslog (/dev/log)
        return os.path.join(self.rundir, f"{self.iface}.log")

    @property
    def pidfile(self) -> str:
        return os.path.join(self.rundir, f"{self.iface}.pid")

    @property
    def hostapd_conf(self) -> str:
        return os.path.join(self.workdir, "hostapd.conf")

    @property
    def hostapd_ctrl(self) -> str:
        return os.path.join(self.workdir, "hostapd")

    @property
    def dnsmasq_conf(self) -> str:
        return os.path.join(self.workdir, "dnsmasq.conf")

    @property
    def dnsmasq_resolv(self) -> str:
        """The resolv-file dnsmasq re-reads on SIGHUP: dnsmasq reads it after
        dropping root, so it is in the 0755 run directory (mode 0644: a list of
        DNS servers, as public as /etc/resolv.conf), not in the 0700 workdir."""
        return os.path.join(self.rundir, f"{self.iface}.resolv")

    @property
    def accept_file(self) -> str:
        return os.path.join(self.workdir, "accept.mac")

    @property
    def deny_file(self) -> str:
        return os.path.join(self.workdir, "deny.mac")

    @property
    def leases(self) -> str:        # kept in statedir so leases survive a restart
        return os.path.join(self.statedir, f"{self.iface}.leases")
