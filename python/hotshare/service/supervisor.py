"""Supervise the children in one ``selectors`` loop, until told to stop.

One thread. What wakes it: a signal (through the wakeup fd), a child's
output pipe, hostapd's control socket events, and whatever a subclass
registers (the hotspot's rtnetlink and nftables sockets). It sleeps with no
timeout unless a restart or a timer (:meth:`Supervisor.call_at`) is due, so
an idle hotspot costs no CPU.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import time
from typing import Any, Callable

from ..errors import StartError
from ..plan.plan import ChildSpec
from ..system.host import start_time
from ..system.hostapd_ctrl import CtrlError, HostapdCtrl
from . import children as daemons
from .journal import Journal

log = logging.getLogger("hotshare")

# hostapd can take several seconds to bring a slow radio up (and much longer
# under emulation): generous, since a start that fails is undone anyway.
READY_TIMEOUT = 60.0


class Supervisor:
    def __init__(self, journal: Journal, specs: dict[str, ChildSpec], ctrl_dir: str, ap: str) -> None:
        self.journal = journal
        self.specs = specs
        self.ctrl_dir, self.ap = ctrl_dir, ap
        self.children: dict[str, daemons.Child] = {}
        self.sel = selectors.DefaultSelector()
        self.ctrl: HostapdCtrl | None = None
        self.stopping = False
        self.ap_present = True          # children wait while the AP interface is gone
        self._sigr, self._sigw = socket.socketpair()
        self.timers: dict[str, tuple[float, Callable[[], None]]] = {}  # name -> (monotonic due time, what)

    def _setup_signals(self) -> None:
        self._sigr.setblocking(False)
        self._sigw.setblocking(False)
        signal.set_wakeup_fd(self._sigw.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, lambda *_: None)  # handled from the wakeup fd
        self.sel.register(self._sigr, selectors.EVENT_READ, self._on_signal)

    def _start_child(self, spec: ChildSpec) -> None:
        name = spec.name
        if not os.path.isabs(spec.argv[0]):
            raise StartError(f"{name} is not installed")
        child = self.children.get(name) or daemons.Child(name, list(spec.argv), spec.ready_marker)
        self.children[name] = child
        child.start()
        assert child.proc and child.proc.stdout
        self.sel.register(child.proc.stdout, selectors.EVENT_READ, lambda: self._on_output(child))
        self.journal.children[name] = child.pid
        self.journal.started[name] = start_time(child.pid)
        self.journal.save()

    def _wait_ready(self) -> None:
        """Ready when hostapd reports AP-ENABLED and dnsmasq says it started
        (it logs that only after its sockets are bound)."""
        need = set(self.children) - {"dhcpcd"}     # no waiting for a prefix: it may never come
        deadline = time.monotonic() + READY_TIMEOUT
        while need:
            if "hostapd" in need and self._hostapd_enabled():
                need.discard("hostapd")
            for name in list(need):
                child = self.children[name]
                if name == "dnsmasq" and child.ready:
                    need.discard(name)
                if not child.running or child.proc.poll() is not None:  # type: ignore[union-attr]
                    child.read_output()
                    why = daemons.why_it_died(child) if child.last_lines else f"exit status {child.proc.returncode}"  # type: ignore[union-attr]
                    raise StartError(f"{name} failed to start: {why}")
            if not need:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise StartError(f"timed out waiting for {', '.join(sorted(need))} to become ready")
            for key, _ in self.sel.select(timeout=min(left, 0.05)):
                key.data()
            if self.stopping:
                raise StartError("interrupted")

    def _hostapd_enabled(self) -> bool:
        if self.ctrl is None:
            try:
                self.ctrl = HostapdCtrl(self.ctrl_dir, self.ap)
                self.ctrl.attach()
            except (CtrlError, OSError):
                if self.ctrl:
                    self.ctrl.close()
                self.ctrl = None
                return False
            self.ctrl.sock.setblocking(False)
            self.sel.register(self.ctrl, selectors.EVENT_READ, self._on_ctrl)
        try:
            self.ctrl.sock.setblocking(True)
            state = self.ctrl.status().get("state")
        except OSError:
            return False
        finally:
            if self.ctrl:
                self.ctrl.sock.setblocking(False)
        return state == "ENABLED"

    def call_at(self, name: str, when: float, what: Callable[[], None]) -> None:
        """Run ``what`` from the loop once ``time.monotonic()`` reaches
        ``when``; a timer of the same name is replaced."""
        self.timers[name] = (when, what)

    def cancel(self, name: str) -> None:
        self.timers.pop(name, None)

    def run(self) -> None:
        while not self.stopping:
            timeout = None
            due = [c.restart_at for c in self.children.values() if c.restart_at is not None]
            due += [when for when, _ in self.timers.values()]
            if due:
                timeout = max(0.0, min(due) - time.monotonic())
            for key, _ in self.sel.select(timeout):
                key.data()
            now = time.monotonic()
            for child in self.children.values():
                if child.restart_at is not None and child.restart_at <= now and self.ap_present:
                    self._restart(child)
            for name, (when, what) in list(self.timers.items()):
                if when <= now and not self.stopping and self.timers.get(name) == (when, what):
                    del self.timers[name]
                    what()

    def _on_signal(self) -> None:
        try:
            data = self._sigr.recv(64)
        except BlockingIOError:
            return
        for signum in data:
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                log.info("stopping (%s)", signal.Signals(signum).name)
                self.stopping = True
            elif signum == signal.SIGCHLD:
                self._reap()


    def _reap(self) -> None:
        for child in self.children.values():
            if child.proc and child.proc.returncode is None and child.proc.poll() is not None:
                self._unregister(child.proc.stdout)
                if child.name == "hostapd" and self.ctrl:
                    self._unregister(self.ctrl)
                    self.ctrl.close()
                    self.ctrl = None
                if self.stopping:
                    continue
                child.reaped(child.proc.returncode or 0)

    def _unregister(self, obj: Any) -> None:
        try:
            self.sel.unregister(obj)
        except (KeyError, ValueError):
            pass

    def _restart(self, child: daemons.Child) -> None:
        try:
            self._start_child(self.specs[child.name])
        except OSError as e:
            log.error("cannot restart %s: %s", child.name, e)
            child.reaped(255)

    def _on_output(self, child: daemons.Child) -> None:
        lines = child.read_output()
        if lines:
            self._child_lines(child.name, lines)
        if lines is None and child.proc and child.proc.stdout:
            self._unregister(child.proc.stdout)  # EOF: the exit comes as SIGCHLD
        elif child.name == "hostapd" and self.ctrl is None and any("AP-ENABLED" in ln for ln in lines or ()):
            self._hostapd_enabled()  # a restarted hostapd: attach to its events again

    def _on_ctrl(self) -> None:
        assert self.ctrl
        while True:
            try:
                event = self.ctrl.read_event()
            except (BlockingIOError, socket.timeout):
                return
            except OSError:
                return
            if event.startswith(("AP-STA-CONNECTED", "AP-STA-DISCONNECTED", "AP-DISABLED", "AP-ENABLED")):
                log.info("hostapd: %s", event)
                self._station_event(event)

    def _station_event(self, event: str) -> None:
        """A subclass's hook for hostapd's AP-* events."""

    def _child_lines(self, name: str, lines: list[str]) -> None:
        """A subclass's hook for what a child logged."""

    def hostapd_request(self, cmd: str) -> str | None:
        """One request on hostapd's (attached) control socket; None if it is not there."""
        if self.ctrl is None:
            return None
        try:
            self.ctrl.sock.settimeout(2.0)
            return self.ctrl.request(cmd)
        except OSError:
            return None
        finally:
            if self.ctrl:
                self.ctrl.sock.setblocking(False)

    def hold_child(self, name: str) -> None:
        """Stop one child and keep it stopped (no restart) until :meth:`resume_child`."""
        child = self.children.get(name)
        if child is None:
            return
        if name == "hostapd" and self.ctrl:
            self._unregister(self.ctrl)
            self.ctrl.close()
            self.ctrl = None
        if child.proc and child.proc.stdout and not child.proc.stdout.closed:
            self._unregister(child.proc.stdout)
        child.stop()

    def resume_child(self, name: str) -> None:
        """Start one child now: a held one, or a running one afresh."""
        self.hold_child(name)
        child = self.children.get(name)
        if child is not None:
            self._restart(child)

    def add_child(self, spec: ChildSpec) -> None:
        """Start a child the plan did not list (dhcpcd, on the uplink in use), supervised like the others."""
        self.specs[spec.name] = spec
        self.children.pop(spec.name, None)      # its command line may be a new one
        self._start_child(spec)

    def drop_child(self, name: str) -> None:
        """Stop a child of :meth:`add_child` for good."""
        self.hold_child(name)
        self.children.pop(name, None)
        self.specs.pop(name, None)
        self.journal.children.pop(name, None)
        self.journal.started.pop(name, None)
        self.journal.save()

    def _stop_children(self) -> None:
        if self.ctrl:
            self._unregister(self.ctrl)
            self.ctrl.close()
            self.ctrl = None
        for child in self.children.values():
            if child.proc and child.proc.stdout:
                self._unregister(child.proc.stdout)  # its fd number will be reused
            child.stop()

