"""The one way to stop watching a socket of the service's selectors loop."""

from __future__ import annotations

import selectors
from typing import Any


def unwatch(sel: selectors.BaseSelector, sock: Any) -> None:
    """Stops watching ``sock`` (if it is watched) and closes it."""
    try:
        sel.unregister(sock)
    except (KeyError, ValueError):  # never registered, or unregistered already
        pass
    sock.close()
