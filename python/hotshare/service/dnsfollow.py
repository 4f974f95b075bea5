"""Upstream DNS that follows the uplink in use (see plan/uplink_dns.py).

On every change of the network dnsmasq's resolv-file is made again (from the
configured servers, or from LINK_DNS_FILES as the links' clients rewrote
them); when its text changes it is written and dnsmasq gets SIGHUP, which
makes it re-read the file (and drop its cache). Nothing polls.
"""

from __future__ import annotations

import logging
import os
import signal

from ..plan.plan import Plan
from ..plan.uplink_dns import resolv_file_text, servers_for
from ..system import files as fsutil
from .facts import read_link_dns

log = logging.getLogger("hotshare")


class DnsFollower:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.active = plan.dns_follows and plan.runs_dnsmasq and not plan.cfg.no_dns
        self.text = resolv_file_text(plan.best_uplink, plan.dns_servers) if self.active else ""

    def follow(self, best: str | None, dnsmasq_pid: int) -> None:
        """Rewrite the servers-file for ``best`` if it changes; SIGHUP dnsmasq then."""
        if not self.active:
            return
        plan = self.plan
        servers = read_link_dns(plan.cfg) if plan.dns_from_links else plan.dns_servers
        text = resolv_file_text(best, servers)
        if text == self.text:
            return
        try:
            fsutil.atomic_write(plan.paths.dnsmasq_resolv, text, 0o644)
        except OSError as e:
            log.error("cannot rewrite the DNS servers file: %s", e)
            return
        self.text = text
        chosen = ", ".join(s.line() for s in servers_for(best, servers))
        log.info("upstream DNS now: %s", chosen or "none known")
        if dnsmasq_pid:
            try:
                os.kill(dnsmasq_pid, signal.SIGHUP)
            except ProcessLookupError:
                pass        # it is being restarted: it reads the new file when it starts
