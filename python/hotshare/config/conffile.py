"""create_ap's configuration file: ``KEY=VALUE`` lines, parsed, never executed."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import ConfigError
from .keys import KNOWN_KEYS

_LINE = re.compile(r"^(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$")


def parse_conf_text(text: str, source: str = "config") -> dict[str, str]:
    """Read create_ap's ``KEY=VALUE`` lines as its ``source`` did in practice,
    safely: nothing is expanded or executed. Lines end at ``\n`` only (a
    ``\r`` before it is dropped): no other character ends a line, so no value
    can smuggle in another key. Accepted: a UTF-8 byte-order mark,
    ``export KEY=VALUE``, single or double quotes, a ``# comment`` after the
    value, whitespace around the line. A key given twice is an error naming
    both lines. Errors name the file and line, never its contents."""
    values: dict[str, str] = {}
    seen: dict[str, int] = {}
    text = text[1:] if text.startswith("\ufeff") else text
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.removesuffix("\r").strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise ConfigError(f"{source}:{lineno}", "not a KEY=VALUE line",
                              "write it as KEY=VALUE with an upper-case key")
        key, value = m.group(1), _value(m.group(2), f"{source}:{lineno}")
        if key in seen:
            raise ConfigError(key, f"is set twice ({source}:{seen[key]} and {source}:{lineno})",
                              "keep one of the two lines")
        seen[key] = lineno
        values[key] = value
    return values


def _value(text: str, where: str) -> str:
    """The value part: quoted (then only a comment may follow) or bare (a
    ``#`` after whitespace starts a comment, as in the shell)."""
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        rest = text[end + 1:].strip() if end > 0 else "x"
        if end < 0 or (rest and not rest.startswith("#")):
            raise ConfigError(where, "a quoted value must end with its quote (a # comment may follow)",
                              "close the quote, or quote the whole value")
        return text[1:end]
    return re.split(r"\s+#", text, maxsplit=1)[0].rstrip()


def read_conf_file(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("--config", f"cannot read {path!r} ({e})",
                          "give the path of a readable create_ap.conf-style file") from None
    return parse_conf_text(text, source=path)



def to_conf_text(raw: Mapping[str, str]) -> str:
    """Write raw values back as a create_ap.conf (for --mkconfig), quoted
    where needed so that :func:`parse_conf_text` reads back the same."""
    lines = ["# hotshare configuration (create_ap.conf format: KEY=VALUE, never executed)"]
    for key in KNOWN_KEYS:
        if key in raw:
            lines.append(f"{key}={_quoted(key, raw[key])}")
    return "\n".join(lines) + "\n"


def _quoted(key: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ConfigError(key, "contains a line break", "remove it")
    if value == value.strip() and not re.search(r"[\s#'\"]", value):
        return value
    for q in ("'", '"'):
        if q not in value:
            return f"{q}{value}{q}"
    raise ConfigError(key, "contains both kinds of quotes", "use only one kind of quote in the value")
