"""What a check says: a :class:`Finding`, made with :func:`good`, :func:`bad`, :func:`info` or :func:`skip`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One verdict. ``level`` is "" for a check's verdict, "info" for something
    worth knowing that is not a problem, "skip" when the check could not run."""

    id: str
    ok: bool
    title: str
    evidence: str = ""
    fix: str = ""
    level: str = ""


def good(fid: str, title: str, evidence: str = "") -> Finding:
    return Finding(fid, True, title, evidence)


def bad(fid: str, title: str, evidence: str, fix: str) -> Finding:
    return Finding(fid, False, title, evidence, fix)


def info(fid: str, title: str, evidence: str = "", fix: str = "") -> Finding:
    return Finding(fid, True, title, evidence, fix, "info")


def skip(fid: str, title: str) -> Finding:
    return Finding(fid, True, title, level="skip")
