"""``hotshare up``: compose config, facts, plan and the service; daemonize."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import logging.handlers
import os
import re
import stat
import sys
from collections.abc import Callable

from ..config import HotspotConfig, from_mapping, require_ap_settings, to_conf_text
from ..config.cmdline import raw_settings
from ..errors import EXIT_FAIL, EXIT_OK, ConfigError, HotshareError, UsageError
from ..plan.make import make_plan
from ..plan.paths import Paths
from ..plan.plan import Plan
from ..system import files as fsutil
from ..system.host import rundir, statedir
from .dryrun import print_plan

log = logging.getLogger("hotshare")


def plan_for(cfg: HotspotConfig, run_dir: str, state_dir: str) -> Plan:
    from ..service.facts import gather_facts

    return make_plan(cfg, gather_facts(cfg, run_dir, state_dir))


SYSLOG = "/dev/log"
CREATE_AP = "create_ap"


def called_as_create_ap() -> bool:
    """Installed also as /usr/bin/create_ap (the Buildroot package's
    BR2_PACKAGE_HOTSHARE_CREATE_AP_NAME), a board application's
    `create_ap --daemon ...` and `pkill -f create_ap` work unchanged."""
    return os.path.basename(sys.argv[0]) == CREATE_AP


def setup_logging(verbose: bool, to_syslog: bool, fallback: str = "", to_file: bool = False) -> None:
    """stderr in the foreground; syslog for a daemon, or ``fallback`` (a
    root-only file, opened at the first line) where there is no syslog;
    ``to_file``: stderr is the daemon's --logfile, lines get a time."""
    root = logging.getLogger("hotshare")
    root.handlers.clear()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    handler: logging.Handler
    if to_file:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s hotshare[{os.getpid()}]: %(message)s"))
    elif to_syslog and os.path.exists(SYSLOG):
        handler = logging.handlers.SysLogHandler(SYSLOG, facility=logging.handlers.SysLogHandler.LOG_DAEMON)
        handler.setFormatter(logging.Formatter(f"hotshare[{os.getpid()}]: %(message)s"))
    elif to_syslog and fallback:
        os.umask(0o077)
        handler = logging.FileHandler(fallback, delay=True)
        handler.setFormatter(logging.Formatter(f"%(asctime)s hotshare[{os.getpid()}]: %(message)s"))
    elif to_syslog:
        handler = logging.NullHandler()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("hotshare: %(message)s"))
    root.addHandler(handler)


def cmd_up(ns: argparse.Namespace) -> int:
    raw = raw_settings(ns, read_once(ns.config_once) if getattr(ns, "config_once", None) else None)
    if getattr(ns, "mkconfig", None):
        from ..system.files import atomic_write
        atomic_write(ns.mkconfig, to_conf_text(raw), 0o600)  # it may hold the passphrase
        print(f"wrote {ns.mkconfig}")
        return EXIT_OK
    cfg = from_mapping(raw)
    if cfg.mqtt.enabled and importlib.util.find_spec("paho") is None:   # found, not imported
        raise ConfigError("MQTT_BROKER", "needs paho-mqtt, which is not installed",
                          "build the image with BR2_PACKAGE_HOTSHARE_MQTT (pip install paho-mqtt), or unset it")
    daemon = ns.daemon or cfg.daemonize
    setup_logging(ns.verbose, to_syslog=False)
    if ns.dry_run:
        plan = plan_for(cfg, rundir(), statedir())
        if plan.wireless:
            require_ap_settings(cfg)
        print_plan(plan, as_json=getattr(ns, "json", False))
        return EXIT_OK
    if os.geteuid() != 0:
        raise UsageError("must run as root: it configures interfaces, nftables and daemons")
    if len(ns.positionals) == 4:
        _hide_secret_argv(raw, ns)  # does not return

    paths = Paths(rundir(), statedir(), cfg.wifi_iface)
    if not daemon:  # as in create_ap, --pidfile and --logfile are the daemon's
        cfg = dataclasses.replace(cfg, daemon_pidfile="", daemon_logfile="")
    for key, path in (("DAEMON_PIDFILE", cfg.daemon_pidfile), ("DAEMON_LOGFILE", cfg.daemon_logfile)):
        why = path and fsutil.unsafe_place(path, devices=(os.devnull,) if key == "DAEMON_LOGFILE" else ())
        if why:
            raise ConfigError(key, f"refusing {path}: {why}", "use a path in a directory only root can write, "
                              "e.g. /run or /var/log")
    if daemon:
        logfd = fsutil.open_append(cfg.daemon_logfile) if cfg.daemon_logfile else -1
        code = _daemonize(lambda notify: _serve(cfg, paths, notify), paths.logfile, logfd)
        if code == EXIT_OK and logfd < 0 and not os.path.exists(SYSLOG):
            print(f"hotshare: no syslog ({SYSLOG}): the daemon logs to {paths.logfile}", file=sys.stderr)
        return code
    return _serve(cfg, paths, None)


def _hide_secret_argv(raw: dict[str, str], ns: argparse.Namespace) -> None:
    """create_ap takes the passphrase as an argument, where every user of
    `ps` can read it for as long as the hotspot runs. Hand the settings to
    a fresh process through a root-only file instead, and exec it."""
    from ..system.files import atomic_write, ensure_dir

    ensure_dir(rundir(), 0o755)
    path = os.path.join(rundir(), f".{raw['WIFI_IFACE']}.{os.getpid()}{ONCE_SUFFIX}")
    atomic_write(path, json.dumps(raw), 0o600)
    # called as create_ap: the new process keeps that name in its argv, so
    # that the board application's `pkill -f create_ap` still finds it
    how = [sys.argv[0]] if called_as_create_ap() else ["-m", "hotshare"]
    argv = [sys.executable, *how, "up", "--config-once", path]
    argv += ["--daemon"] * bool(ns.daemon) + ["-v"] * bool(ns.verbose)
    os.execv(sys.executable, argv)


ONCE_SUFFIX = ".once.json"
_ONCE_NAME = re.compile(r"^\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}\.[0-9]+" + re.escape(ONCE_SUFFIX) + "$")


def read_once(path: str) -> dict[str, str]:
    """The settings a re-exec was handed: only hotshare's own one-shot file
    (in the run directory, a regular root-owned 0600 file, not a link),
    removed before it is parsed so that no failure leaves it behind. JSON,
    not conf text: nothing in it is read as another key."""
    where = os.path.realpath(os.path.dirname(path)) == os.path.realpath(rundir())
    if not where or not _ONCE_NAME.match(os.path.basename(path)):
        raise UsageError("--config-once takes only hotshare's own one-shot file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise UsageError(f"--config-once: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        os.unlink(path)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != 0 or stat.S_IMODE(st.st_mode) != 0o600:
            raise UsageError("--config-once: not a root-only regular file")
        with os.fdopen(fd, encoding="utf-8") as f:
            fd = -1
            data = json.load(f)
    except (OSError, ValueError):
        raise UsageError("--config-once: unreadable one-shot file") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise UsageError("--config-once: not hotshare's settings")
    return data


def _serve(cfg: HotspotConfig, paths: Paths, notify: Callable[[], None] | None) -> int:
    from ..service.hotspot import Hotspot
    from ..service.lock import Lock, clean_leftovers

    lock = Lock(paths)
    try:
        clean_leftovers(paths)
        plan = plan_for(cfg, paths.rundir, paths.statedir)
        if plan.wireless:
            require_ap_settings(cfg)
        hs = Hotspot(cfg, plan)
        hs.start(on_ready=notify)
        try:
            hs.run()
        finally:
            hs.stop()
    finally:
        lock.release()
    return EXIT_OK


def _daemonize(body: Callable[[Callable[[], None]], int], logfile: str, logfd: int = -1) -> int:
    """Fork; the parent returns once the child reports ready or failed.
    The child reports on a pipe: ``ready``, or ``<exit code> <message>``.
    ``logfd``: --logfile, the child's stdout and stderr (create_ap's ``>>FILE 2>&1``)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(wfd)
        with os.fdopen(rfd) as r:
            msg = r.read()
        if msg.startswith("ready"):
            return EXIT_OK
        status, _, text = msg.partition(" ")
        print(f"hotshare: {text.strip() or 'the daemon died while starting'}", file=sys.stderr)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        return int(status) if status.isdigit() else EXIT_FAIL
    os.close(rfd)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null if fd == 0 or logfd < 0 else logfd, fd)
    os.close(null)
    if logfd >= 0:
        os.close(logfd)
    setup_logging(logging.getLogger("hotshare").level == logging.DEBUG, to_syslog=True, fallback=logfile,
                  to_file=logfd >= 0)
    w = os.fdopen(wfd, "w")

    def notify() -> None:
        w.write("ready\n")
        w.close()

    def report(code: int, e: BaseException) -> None:
        if w.closed:            # after ready: the log is where it is read
            log.error("%s", e)
        else:                   # before: the parent prints it on stderr
            w.write(f"{code} {e}\n")

    code = EXIT_FAIL
    try:
        code = body(notify)
    except HotshareError as e:
        report(e.exit_code, e)
        code = e.exit_code
    except Exception as e:  # the parent prints this one line
        report(EXIT_FAIL, e)
    finally:
        if not w.closed:
            w.close()
    os._exit(code)
