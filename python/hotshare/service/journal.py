"""The undo journal: every change hotshare makes, recorded before it is made.

The journal is a small JSON file in the run directory, rewritten atomically
after each step; ``service.undo`` reverses whatever it lists. Reading it
(``status``, ``clients``) needs nothing of the apply layer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from ..system import files

log = logging.getLogger("hotshare")


@dataclass
class Journal:
    iface: str
    pid: int = 0
    table: str = ""
    addresses: list[str] = field(default_factory=list)      # CIDRs added to iface
    sysctls: dict[str, str] = field(default_factory=dict)   # name -> value before
    children: dict[str, int] = field(default_factory=dict)  # name -> pid
    released: list[str] = field(default_factory=list)       # managers told to let go
    firewall: list[dict[str, object]] = field(default_factory=list)  # rules put in other firewalls
    bridge: str = ""                                         # bridge mode: our bridge
    uplink: str = ""                                         # the uplink joined to it
    moved_addresses: list[str] = field(default_factory=list)  # the uplink's, moved to the bridge
    moved_routes: list[dict[str, object]] = field(default_factory=list)
    link_was_down: bool = False
    orig_mac: str = ""
    extra: dict[str, str] = field(default_factory=dict)      # public facts for status
    plan: dict[str, object] = field(default_factory=dict)   # the whole plan (secrets masked), as --dry-run prints it
    path: str = field(default="", repr=False)

    def save(self) -> None:
        data = asdict(self)
        data.pop("path")
        files.atomic_write(self.path, json.dumps(data, indent=1) + "\n", 0o600)

    @classmethod
    def load(cls, path: str) -> Journal | None:
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # An atomic writer never leaves half a file, but a hand-edited or
            # foreign one must not stop the hotspot from starting.
            log.warning("ignoring unreadable journal %s", path)
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"}
        return cls(path=path, **known)
