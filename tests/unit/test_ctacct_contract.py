"""The C accounting helper's status codes are stated once, in csrc/ctacct.h
(enum ctacct_status) and csrc/ctacct.c (ctacct_strerror); hotshare's Python
side (hotshare.netlink.status) is a copy that must match them exactly.

Read from the sources, not the compiled module, so that this holds even
where the helper is not built (the pure-Python path then raises these)."""

from __future__ import annotations

import re
from pathlib import Path

from hotshare.netlink import ctnetlink, status

CSRC = Path(__file__).resolve().parents[2] / "csrc"


def header_enum() -> dict[str, int]:
    text = (CSRC / "ctacct.h").read_text()
    body = re.search(r"enum ctacct_status\s*\{(.*?)\};", text, re.S)
    assert body, "enum ctacct_status not found in csrc/ctacct.h"
    body_text = re.sub(r"/\*.*?\*/", "", body.group(1), flags=re.S)
    values = {}
    for item in body_text.split(","):
        if item.strip():
            name, value = (part.strip() for part in item.split("="))
            values[name] = int(value)
    return values


def strerror_table() -> dict[str, str]:
    text = (CSRC / "ctacct.c").read_text()
    body = re.search(r"const char \*ctacct_strerror\(int status\)\s*\{(.*?)\n\}", text, re.S)
    assert body, "ctacct_strerror not found in csrc/ctacct.c"
    cases = dict(re.findall(r"case (CTACCT_\w+):\s*return \"([^\"]*)\";", body.group(1)))
    default = re.search(r"default:\s*return \"([^\"]*)\";", body.group(1))
    assert default
    cases["default"] = default.group(1)
    return cases


def test_codes_match_the_header() -> None:
    enum = header_enum()
    assert enum.pop("CTACCT_OK") == 0
    python = {f"CTACCT_{name}": getattr(status, name) for name in dir(status) if name.startswith("E_")}
    assert python == enum


def test_texts_match_ctacct_strerror() -> None:
    enum = header_enum()
    table = strerror_table()
    assert table.pop("CTACCT_OK") == "success"
    assert table.pop("default") == status.UNKNOWN_REASON
    assert {enum[name]: text for name, text in table.items()} == status.REASONS
    assert set(table) == set(enum) - {"CTACCT_OK"}, "every status has a text"


def test_ctnetlink_exports_the_same_codes() -> None:
    for name in dir(status):
        if name.startswith("E_") or name == "REASONS":
            assert getattr(ctnetlink, name) is getattr(status, name)
