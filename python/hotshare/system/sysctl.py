"""Kernel parameters under /proc/sys, read and written by their sysctl path."""

from __future__ import annotations


def _path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/") if "/" not in name else "/proc/sys/" + name


def read(name: str) -> str | None:
    try:
        with open(_path(name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def write(name: str, value: str) -> None:
    with open(_path(name), "w") as f:
        f.write(value)
