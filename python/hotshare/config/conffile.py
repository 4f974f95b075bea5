"""create_ap's configuration file: ``KEY=VALUE`` lines, parsed, never executed."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import ConfigError
from .keys import KNOWN_KEYS


def parse_conf_text(text: str, source: str = "config") -> dict[str, str]:
    """Read create_ap's ``KEY=VALUE`` lines. Values may be single- or
    double-quoted; nothing is expanded. Returns the raw strings."""
    values: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not m:
            raise ConfigError(f"{source}:{lineno}", "not a KEY=VALUE line",
                              "write it as KEY=VALUE with an upper-case key")
        key, value = m.group(1), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def read_conf_file(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("--config", f"cannot read {path!r} ({e})",
                          "give the path of a readable create_ap.conf-style file") from None
    return parse_conf_text(text, source=path)



def to_conf_text(raw: Mapping[str, str]) -> str:
    """Write raw values back as a create_ap.conf (for --mkconfig)."""
    lines = ["# hotshare configuration (create_ap.conf format: KEY=VALUE, never executed)"]
    for key in KNOWN_KEYS:
        if key in raw:
            value = raw[key]
            if any(c in value for c in "\n\r"):
                raise ConfigError(key, "contains a line break", "remove it")
            lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"
