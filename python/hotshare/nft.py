"""nftables through the ``nft`` tool: whole rulesets in, one table out.

``nft -f -`` loads a file as one transaction, so a table is either all
there or not at all; removing it removes every rule hotshare ever added.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess


class NftError(RuntimeError):
    pass


def nft_binary() -> str:
    path = shutil.which("nft") or next((p for p in ("/usr/sbin/nft", "/sbin/nft") if os.path.exists(p)), None)
    if path is None:
        raise NftError("nft not found: install nftables")
    return path


def load(ruleset: str) -> None:
    proc = subprocess.run([nft_binary(), "-f", "-"], input=ruleset, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["unknown error"])[0]
        raise NftError(f"nft rejected the ruleset: {first}")


def tables() -> list[tuple[str, str]]:
    proc = subprocess.run([nft_binary(), "-j", "list", "tables"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NftError(proc.stderr.strip() or "nft list tables failed")
    data = json.loads(proc.stdout or '{"nftables": []}')
    return [(item["table"]["family"], item["table"]["name"])
            for item in data.get("nftables", []) if "table" in item]


def delete_table(name: str, family: str = "inet") -> bool:
    """Remove our table if present; True when something was removed.
    Declaring it first makes the delete succeed whether or not it existed."""
    existed = (family, name) in tables()
    load(f"table {family} {name}\ndelete table {family} {name}\n")
    return existed
