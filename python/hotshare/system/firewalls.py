"""Apply and undo the remedies ``coexist`` plans in other firewalls.

iptables-nft 1.8.9 stores ``-m comment`` as an opaque xt match: ``nft -j``
shows ``{"xt": {"type": "match", "name": "comment"}}`` without the text, so
rules in iptables-nft tables are found through ``iptables-nft-save``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from ..coexist.analysis import FIREWALLD_SHARED_ZONE, XT_TABLES, Action, tag
from ..errors import OperationError
from .nft import NftError
from .run import Result, find_binary, run


class FirewallError(OperationError):
    pass


def available_tools() -> frozenset[str]:
    """Which remedies' tools exist here: "iptables" (an nf_tables iptables),
    "firewall-cmd", and whether firewalld has its zone for shared connections."""
    have = set()
    if _iptables() is not None:
        have.add("iptables")
    if find_binary("firewall-cmd") is not None:
        have.add("firewall-cmd")
        zones = run("firewall-cmd", "--get-zones")
        if zones.ok and "nm-shared" in zones.stdout.split():
            have.add(FIREWALLD_SHARED_ZONE)
    return frozenset(have)


def _iptables() -> str | None:
    """An iptables that writes nftables (the tables ``nft`` shows), or None."""
    if find_binary("iptables-nft") is not None:
        return "iptables-nft"
    if find_binary("iptables") is None:
        return None
    return "iptables" if "nf_tables" in run("iptables", "-V").stdout else None


def _fail(what: str, proc: Result) -> FirewallError:
    return FirewallError(f"{what}: {proc.first_error_line(f'exit status {proc.returncode}')}")


def current_ruleset(ap: str | None = None) -> dict[str, Any]:
    """``nft -j list ruleset``, parsed. With ``ap``, the iptables-nft rules
    that carry our comment get it in the JSON too (``comment``, as native
    rules have it; see :func:`mark_ours`)."""
    proc = run("nft", "-j", "list", "ruleset")
    if proc.returncode != 0:
        raise NftError(proc.stderr.strip() or "nft list ruleset failed")
    data = json.loads(proc.stdout or '{"nftables": []}')
    data = data if isinstance(data, dict) else {"nftables": []}
    if ap is not None:
        mark_ours(data, ap)
    return data


def _has_xt(data: Mapping[str, Any]) -> bool:
    """Does the ruleset have a table iptables-nft may have written?"""
    return any(isinstance(i, dict) and "table" in i and i["table"].get("family") == "ip"
               and i["table"].get("name") in (*XT_TABLES, "nat") for i in data.get("nftables", []))


def mark_ours(data: Mapping[str, Any], ap: str) -> int:
    """Set ``comment`` to our tag on the rules of ``data`` that iptables-nft
    shows with it (``nft -j`` cannot: see the module's doc). The n-th rule
    of a chain in ``iptables-nft-save`` is the n-th of that chain in the
    JSON: both list the kernel's chain in order. Returns how many."""
    if not _has_xt(data):
        return 0
    ours = {(tbl, ch, i) for tbl, ch, i, spec in _xt_rules() if _is_tagged(spec, ap)}
    seen: dict[tuple[str, str], int] = {}
    n = 0
    for item in data.get("nftables", []):
        r = item.get("rule") if isinstance(item, dict) else None
        if not isinstance(r, dict) or r.get("family") != "ip":
            continue
        where = (str(r.get("table")), str(r.get("chain")))
        index = seen[where] = seen.get(where, -1) + 1
        if (*where, index) in ours:
            r["comment"] = tag(ap)
            n += 1
    return n


def present(action: Action | Mapping[str, Any], ruleset: Mapping[str, Any]) -> bool:
    """Is ``action`` in force? Rules: exactly its number of our rules, at the
    top of its chain, in ``ruleset`` (read with ``ap``: see :func:`current_ruleset`).
    A firewalld zone: asks firewalld."""
    act = action if isinstance(action, Action) else Action.from_dict(action)
    if act.kind == "firewalld":
        return find_binary("firewall-cmd") is not None and _firewalld_zone(act.ap) == act.zone
    comments = [i["rule"].get("comment") for i in ruleset.get("nftables", [])
                if isinstance(i, dict) and isinstance(i.get("rule"), dict)
                and (i["rule"].get("family"), i["rule"].get("table"), i["rule"].get("chain"))
                == (act.family, act.table, act.chain)]
    n = len(act.rules)
    return comments[:n] == [tag(act.ap)] * n and comments.count(tag(act.ap)) == n


def _is_tagged(spec: list[str], ap: str) -> bool:
    return any(a == "--comment" and b == tag(ap) for a, b in zip(spec, spec[1:]))


def _xt_rules(table: str | None = None) -> list[tuple[str, str, int, list[str]]]:
    """(table, chain, index in the chain, rule spec) of every iptables-nft rule."""
    ipt = _iptables()
    if ipt is None:
        return []
    save = ipt + "-save"
    proc = run(save) if table is None else run(save, "-t", table)
    if proc.returncode != 0:
        raise _fail("iptables-save failed", proc)
    found, current = [], ""
    count: dict[tuple[str, str], int] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("*"):
            current = line[1:].strip()
        elif line.startswith("-A "):
            words = shlex.split(line)
            index = count[(current, words[1])] = count.get((current, words[1]), -1) + 1
            found.append((current, words[1], index, words[2:]))
    return found


def _xt_tagged(ap: str, table: str | None = None, chain: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(table, chain, rule spec) of the iptables-nft rules carrying our comment."""
    return [(tbl, ch, spec) for tbl, ch, _i, spec in _xt_rules(table)
            if _is_tagged(spec, ap) and (chain is None or ch == chain)]


def _xt_remove(ap: str, table: str | None = None, chain: str | None = None) -> int:
    ipt = _iptables()
    n = 0
    for tbl, ch, spec in _xt_tagged(ap, table, chain):
        assert ipt is not None
        proc = run(ipt, "-w", "-t", tbl, "-D", ch, *spec)
        if proc.returncode == 0:
            n += 1
        elif "does a matching rule exist" not in proc.stderr:
            raise _fail(f"cannot delete our rule from {tbl} {ch}", proc)
    return n


def _nft_tagged(ap: str, family: str, table: str, chain: str) -> list[int]:
    proc = run("nft", "-j", "-a", "list", "chain", family, table, chain)
    if proc.returncode != 0:
        if "No such file or directory" in proc.stderr:
            return []
        raise _fail(f"cannot list table {family} {table} chain {chain}", proc)
    items = json.loads(proc.stdout or '{"nftables": []}').get("nftables", [])
    return [int(i["rule"]["handle"]) for i in items
            if "rule" in i and i["rule"].get("comment") == tag(ap)]


def _nft_delete(rules: list[tuple[str, str, str, int]]) -> int:
    """Delete rules by handle; one already gone is not an error."""
    n = 0
    for family, table, chain, handle in rules:
        proc = run("nft", "delete", "rule", family, table, chain, "handle", str(handle))
        if proc.returncode == 0:
            n += 1
        elif "No such file or directory" not in proc.stderr:
            raise _fail(f"cannot delete rule {handle} of table {family} {table}", proc)
    return n


def _firewalld_zone(ap: str) -> str | None:
    proc = run("firewall-cmd", f"--get-zone-of-interface={ap}")
    if proc.returncode != 0:          # 2: NO_ZONE, the interface is in no zone
        return None
    return proc.stdout.strip() or None


def apply(action: Action | Mapping[str, Any]) -> dict[str, Any]:
    """Apply one action; returns its undo record (JSON-serialisable). Rules
    of ours already in the chain are replaced, so applying twice is safe."""
    act = action if isinstance(action, Action) else Action.from_dict(action)
    record = act.to_dict()
    if act.kind == "iptables":
        ipt = _iptables()
        if ipt is None:
            raise FirewallError("iptables-nft not found")
        _xt_remove(act.ap, act.table, act.chain)
        for pos, rule in enumerate(act.rules, 1):
            proc = run(ipt, "-w", "-t", act.table, "-I", act.chain, str(pos), *shlex.split(rule))
            if proc.returncode != 0:
                _xt_remove(act.ap, act.table, act.chain)
                raise _fail(f"cannot insert into iptables {act.table} {act.chain}", proc)
        return record
    if act.kind == "nft":
        old = _nft_tagged(act.ap, act.family, act.table, act.chain)
        _nft_delete([(act.family, act.table, act.chain, h) for h in old])
        batch = "".join(f"insert rule {act.family} {act.table} {act.chain} {r}\n" for r in reversed(act.rules))
        proc = run("nft", "-f", "-", input=batch)
        if proc.returncode != 0:
            raise _fail(f"cannot insert into table {act.family} {act.table} chain {act.chain}", proc)
        record["handles"] = _nft_tagged(act.ap, act.family, act.table, act.chain)
        return record
    if act.kind == "firewalld":
        if find_binary("firewall-cmd") is None:
            raise FirewallError("firewall-cmd not found")
        before = _firewalld_zone(act.ap)
        record["previous_zone"] = before
        record["changed"] = before != act.zone
        if before != act.zone:
            verb = "--add-interface" if before is None else "--change-interface"
            proc = run("firewall-cmd", f"--zone={act.zone}", f"{verb}={act.ap}")
            if proc.returncode != 0:
                raise _fail(f"firewall-cmd cannot put {act.ap} into zone {act.zone}", proc)
        return record
    raise FirewallError(f"unknown firewall action {act.kind!r}")


def undo(record: Mapping[str, Any]) -> None:
    """Undo what :func:`apply` did; also takes the action itself (a journal
    entry whose apply never returned). Idempotent: rules are found by their
    comment, not by the record's handles, so what is gone is not an error."""
    kind, ap = record.get("kind"), str(record.get("ap", ""))
    if not ap:
        raise FirewallError("undo record without an interface")
    if kind == "iptables":
        _xt_remove(ap, str(record["table"]), str(record["chain"]))
    elif kind == "nft":
        fam, tbl, ch = str(record["family"]), str(record["table"]), str(record["chain"])
        _nft_delete([(fam, tbl, ch, h) for h in _nft_tagged(ap, fam, tbl, ch)])
    elif kind == "firewalld":
        if record.get("changed") is False or find_binary("firewall-cmd") is None:
            return
        zone, prev = str(record.get("zone", "trusted")), record.get("previous_zone")
        if _firewalld_zone(ap) != zone:
            return
        args = ([f"--zone={prev}", f"--change-interface={ap}"] if prev
                else [f"--zone={zone}", f"--remove-interface={ap}"])
        proc = run("firewall-cmd", *args)
        if proc.returncode != 0:
            raise _fail(f"firewall-cmd cannot take {ap} out of zone {zone}", proc)
    else:
        raise FirewallError(f"unknown firewall undo record {kind!r}")


def remove_leftovers(ap: str, ruleset: Mapping[str, Any] | None = None) -> int:
    """Delete every rule, in any table, whose comment is ``hotshare:<ap>``:
    native ones from ``nft -j list ruleset``, iptables-nft ones from
    ``iptables-nft-save``. Returns how many were removed. (A firewalld zone
    change has no comment: it is undone from the journal, or by a reload.)"""
    data = current_ruleset() if ruleset is None else ruleset
    native = [(r["family"], r["table"], r["chain"], int(r["handle"]))
              for i in data.get("nftables", []) if isinstance(i, dict) and "rule" in i
              for r in (i["rule"],) if r.get("comment") == tag(ap)]
    n = _nft_delete(native)
    return n + (_xt_remove(ap) if _has_xt(data) else 0)
