"""One error base for the whole product, carrying the exit code the CLI returns.

The CLI has a single ``except HotshareError``: each error knows whether it
means bad input (nothing on the system was changed), a failed operation, or
"not running". Every message is one line.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAIL = 1          # the operation failed; one line on stderr says why
EXIT_USAGE = 2         # bad usage or configuration: nothing on the system was changed
EXIT_NOT_RUNNING = 3   # status, down, clients: no hotspot runs there


class HotshareError(Exception):
    """Base of every error hotshare reports to its user."""

    exit_code = EXIT_FAIL


class UsageError(HotshareError):
    """The command line cannot be understood."""

    exit_code = EXIT_USAGE


class ConfigError(HotshareError, ValueError):
    """A configuration value that cannot be used: names the key and the fix."""

    exit_code = EXIT_USAGE

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        super().__init__(f"{key}: {problem}; {fix}")


class NotRunning(HotshareError):
    exit_code = EXIT_NOT_RUNNING


class OperationError(HotshareError, RuntimeError):
    """A change to the system that did not happen (a program or the kernel refused)."""


class StartError(OperationError):
    """The hotspot could not start; everything done so far has been undone."""


class AlreadyRunning(StartError):
    pass
