"""nftables through the ``nft`` tool: whole rulesets in, one table out.

``nft -f -`` loads a file as one transaction, so a table is either all
there or not at all; removing it removes every rule hotshare ever added.
"""

from __future__ import annotations

import json

from ..errors import OperationError
from .run import run


class NftError(OperationError):
    pass


def load(ruleset: str) -> None:
    proc = run("nft", "-f", "-", input=ruleset)
    if not proc.ok:
        raise NftError(f"nft rejected the ruleset: {proc.first_error_line()}")


def tables() -> list[tuple[str, str]]:
    proc = run("nft", "-j", "list", "tables")
    if not proc.ok:
        raise NftError(proc.first_error_line("nft list tables failed"))
    data = json.loads(proc.stdout or '{"nftables": []}')
    return [(item["table"]["family"], item["table"]["name"])
            for item in data.get("nftables", []) if "table" in item]


def delete_table(name: str, family: str = "inet") -> bool:
    """Remove our table if present; True when something was removed.
    Declaring it first makes the delete succeed whether or not it existed."""
    existed = (family, name) in tables()
    load(f"table {family} {name}\ndelete table {family} {name}\n")
    return existed
