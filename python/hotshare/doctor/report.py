"""The report: findings as text for a person or as JSON, and the exit status."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from .findings import Finding

EXIT_OK, EXIT_PROBLEMS = 0, 1


def _block(label: str, text: str) -> str:
    lines = text.splitlines() or [""]
    pad = " " * (len(label) + 4)
    return f"  {label}: " + f"\n{pad}".join(lines)


def render_human(findings: Sequence[Finding], header: str = "") -> str:
    out = [header] if header else []
    for f in findings:
        if not f.ok:
            out.append(f"✗ {f.title}")
            out.append(_block("evidence", f.evidence))
            out.append(_block("fix", f.fix))
        elif f.level == "skip":
            out.append(f"- {f.title}")
        elif f.level == "info":
            out.append(f"i {f.title}")
            if f.evidence:
                out.append(_block("evidence", f.evidence))
            if f.fix:
                out.append(_block("hint", f.fix))
        else:
            out.append(f"✓ {f.title}")
    problems = sum(1 for f in findings if not f.ok)
    out.append(f"{problems} problem{'s' if problems != 1 else ''} found." if problems else "No problems found.")
    return "\n".join(out) + "\n"


def render_json(findings: Sequence[Finding]) -> str:
    return json.dumps([dataclasses.asdict(f) for f in findings], indent=1, ensure_ascii=False) + "\n"


def exit_code(findings: Sequence[Finding]) -> int:
    return EXIT_PROBLEMS if any(not f.ok for f in findings) else EXIT_OK
