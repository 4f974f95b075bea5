"""How ``nft list`` would show a rule of ``nft -j`` output (for messages; pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _text(e: Any, quote: bool = False) -> str:
    if isinstance(e, str):
        return f'"{e}"' if quote and not e.startswith("@") else e
    if isinstance(e, list):
        return ",".join(_text(x, quote) for x in e)
    if not isinstance(e, dict):
        return json.dumps(e)
    if "set" in e:
        items = e["set"] if isinstance(e["set"], list) else [e["set"]]
        return "{ " + ", ".join(_text(x, quote) for x in items) + " }"
    if "prefix" in e:
        return f"{e['prefix'].get('addr')}/{e['prefix'].get('len')}"
    if "range" in e:
        return "-".join(_text(x, quote) for x in e["range"])
    if "meta" in e:
        k = e["meta"].get("key")
        return k if k in ("iif", "oif", "iifname", "oifname", "mark") else f"meta {k}"
    if "payload" in e:
        pl = e["payload"]
        return f"{pl.get('protocol')} {pl.get('field')}" if "protocol" in pl else "@payload"
    if "ct" in e:
        return f"ct {e['ct'].get('key')}"
    if "fib" in e:
        return f"fib {' . '.join(e['fib'].get('flags', []))} {e['fib'].get('result')}"
    return next(iter(e), "?")


def rule_text(rule: Mapping[str, Any]) -> str:
    """An approximation of how ``nft list`` shows a rule (for messages)."""
    try:
        return _rule_text(rule)
    except (AttributeError, TypeError, KeyError, ValueError):
        return json.dumps(rule.get("expr"))[:200]


def _rule_text(rule: Mapping[str, Any]) -> str:
    parts = []
    for expr in rule.get("expr", []):
        if not isinstance(expr, dict) or len(expr) != 1:
            continue
        (name, body), = expr.items()
        if name == "match":
            left = body.get("left")
            quote = isinstance(left, dict) and left.get("meta", {}).get("key") in ("iifname", "oifname")
            op = body.get("op", "==")
            parts.append(" ".join(x for x in (_text(left), "" if op in ("==", "in") else op,
                                              _text(body.get("right"), quote)) if x))
        elif name in ("jump", "goto"):
            parts.append(f"{name} {body.get('target')}")
        elif name == "reject" and isinstance(body, dict):
            parts.append(" ".join(["reject", "with", str(body.get("type", "")), str(body.get("expr", ""))]).strip())
        elif name == "xt" and isinstance(body, dict):
            parts.append(f'xt {body.get("type")} "{body.get("name")}"')
        elif name == "vmap":
            parts.append(f"{_text(body.get('key'))} vmap {{ ... }}")
        elif name != "counter":
            parts.append(name)
    return " ".join(parts)
