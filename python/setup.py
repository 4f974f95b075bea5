"""setuptools shim: the metadata lives in pyproject.toml.

Its only job is the optional C accounting helper, hotshare._ctacct: when cffi
is importable at build time, the cffi build script, ../csrc/build_ffi.py (csrc/
is next to python/ in the hotshare tree, and in Buildroot's copy of it), is
registered through ``cffi_modules``. Without cffi the package installs as pure
Python and hotshare's accounting falls back to its Python path, unless
HOTSHARE_REQUIRE_CEXT=1 (set by Buildroot's hotshare.mk) asks for the C helper:
then the build fails.
"""

from __future__ import annotations

import os

# Relative to this directory, where setuptools runs setup.py.
BUILD_SCRIPT = "../csrc/build_ffi.py"
HERE = os.path.dirname(os.path.abspath(__file__))


def _required() -> bool:
    return os.environ.get("HOTSHARE_REQUIRE_CEXT", "") not in ("", "0")


def _cffi_modules() -> list[str]:
    script = os.path.join(HERE, BUILD_SCRIPT)
    try:
        import cffi  # noqa: F401
    except ImportError as exc:
        if _required():
            raise SystemExit(
                f"hotshare: HOTSHARE_REQUIRE_CEXT is set but cffi cannot be imported ({exc}): "
                "the C helper hotshare._ctacct cannot be built (Buildroot: host-python-cffi)"
            ) from exc
        return []
    if not os.path.exists(script):
        if _required():
            raise SystemExit(f"hotshare: HOTSHARE_REQUIRE_CEXT is set but {os.path.normpath(script)} does not exist")
        return []
    return [BUILD_SCRIPT + ":ffibuilder"]


if __name__ == "__main__":
    from setuptools import setup

    modules = _cffi_modules()
    setup(**({"cffi_modules": modules} if modules else {}))
