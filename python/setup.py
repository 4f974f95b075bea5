"""setuptools shim: the metadata lives in pyproject.toml.

Its only job is the optional C accounting helper, hotshare._ctacct: when cffi
is importable at build time, the cffi build script is registered through
``cffi_modules``; without cffi the package installs as pure Python and
hotshare.accounting falls back to its Python path.

The build script is looked for next to this file first (Buildroot's package
copies csrc/ there), then in the repository's csrc/.
"""

from __future__ import annotations

import os

from setuptools import setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _cffi_modules() -> list[str]:
    try:
        import cffi  # noqa: F401
    except ImportError:
        return []
    for rel in ("csrc/build_ffi.py", "../csrc/build_ffi.py"):
        if os.path.exists(os.path.join(HERE, rel)):
            return [rel + ":ffibuilder"]
    return []


modules = _cffi_modules()
setup(**({"cffi_modules": modules} if modules else {}))
