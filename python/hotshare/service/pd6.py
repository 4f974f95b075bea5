"""DHCPv6 prefix delegation (IPV6=auto): dhcpcd, a supervised child, asks the
uplink in use for a prefix and puts a /64 of it on the AP (plan.ipv6.dhcpcd_conf).

hotshare does not read dhcpcd's output for the prefix: the AP's addresses
come as rtnetlink events (service.relay6 listens), plan.ipv6.ipv6_mode sees
dhcpcd's address there and the mode becomes "pd"; dnsmasq advertises it (its
constructor follows the AP's addresses, their lifetimes too), and when dhcpcd
removes it (a renewal with another prefix, the prefix released), dnsmasq
advertises it once more with lifetime 0. When the uplink in use changes,
dhcpcd is stopped (SIGTERM: it releases the prefix and removes its address
and routes, its ``release`` option) and started on the new one.

A dhcpcd manager of the system (dhcpcd with no interface named: /run/dhcpcd/sock)
would be handed our command line instead of a new dhcpcd starting: then there is
no delegation of ours (the system's dhcpcd.conf can ask for one itself).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Callable

from ..plan.ipv6 import dhcpcd_conf
from ..plan.plan import ChildSpec
from ..system import files as fsutil
from ..system.managers import DHCPCD_SOCKETS
from ..system.run import find_binary

log = logging.getLogger("hotshare")

NAME = "dhcpcd"
RUNDIRS = sorted({os.path.dirname(p) for p in DHCPCD_SOCKETS})     # where dhcpcd builds put them


class PrefixDelegation:
    def __init__(self, ap: str, workdir: str, start: Callable[[ChildSpec], None],
                 stop: Callable[[str], None]) -> None:
        self.ap, self.conf = ap, os.path.join(workdir, "dhcpcd.conf")
        self.start, self.stop = start, stop
        self.binary = find_binary(NAME)
        self.uplink: str | None = None      # where dhcpcd asks now
        if not self.binary:
            log.info("DHCPv6-PD: dhcpcd is not installed (Buildroot: BR2_PACKAGE_DHCPCD): no delegated prefix")

    def follow(self, uplink: str | None) -> None:
        """Ask ``uplink`` (the one in use; None: none) for a prefix, and no other."""
        if uplink == self.uplink or not self.binary:
            return
        if self.uplink:
            log.info("DHCPv6-PD: releasing the prefix of %s", self.uplink)
            self._stop()
        if uplink is None:
            return
        manager = next((p for p in DHCPCD_SOCKETS if os.path.exists(p)), "")
        if manager:
            log.warning("DHCPv6-PD: a dhcpcd manager runs (%s): no delegated prefix asked for by hotshare "
                        "(its own dhcpcd.conf can ask: ia_pd 1 %s/0/64)", manager, self.ap)
            return
        fsutil.atomic_write(self.conf, dhcpcd_conf(uplink, self.ap), 0o600)
        # -B: in the foreground (supervised); the config path in argv is the child
        # marker until dhcpcd rewrites its command line (then its start time is)
        self.start(ChildSpec(NAME, (self.binary, "-B", "-f", self.conf, uplink)))
        self.uplink = uplink
        log.info("DHCPv6-PD: asking %s for a prefix", uplink)

    def close(self) -> None:
        if self.uplink:
            self._stop()
        fsutil.remove(self.conf)

    def _stop(self) -> None:
        assert self.uplink
        self.stop(NAME)     # returns once dhcpcd has exited
        # dhcpcd 9.4's privilege-separated control proxy leaves its sockets behind
        for d in RUNDIRS:
            for suffix in ("-6.sock", "-6.unpriv.sock"):
                _remove_dead_socket(os.path.join(d, self.uplink + suffix))
        self.uplink = None


def _remove_dead_socket(path: str) -> None:
    """Remove a UNIX socket no process listens on (connect refused)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as s:
        try:
            s.connect(path)
        except ConnectionRefusedError:
            fsutil.remove(path)
        except OSError:
            pass
