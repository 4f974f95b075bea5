"""cffi build script for hotshare._ctacct (out-of-line, API mode).

Two ways to use it:

* from python/setup.py: ``cffi_modules=["../csrc/build_ffi.py:ffibuilder"]``;
  setuptools compiles the module with the compiler and the CFLAGS it is given
  (in Buildroot: the target's, with the optimisation level the configuration
  chose), so nothing here adds optimisation flags;
* directly, for development: ``python csrc/build_ffi.py`` compiles in a
  scratch directory under python/build/ and puts ``_ctacct*.so`` into
  python/hotshare/ (hotshare.netlink.ctacct imports it as hotshare._ctacct).

ctacct.c and ctacct.h are found next to this file.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

CDEF = """
struct ctacct_client {
    uint32_t addr_be;
    uint32_t connections;
    uint64_t tx_bytes;
    uint64_t tx_packets;
    uint64_t rx_bytes;
    uint64_t rx_packets;
};

struct ctacct_client6 {
    uint8_t addr[16];
    uint32_t connections;
    uint32_t pad;
    uint64_t tx_bytes;
    uint64_t tx_packets;
    uint64_t rx_bytes;
    uint64_t rx_packets;
};

enum ctacct_status {
    CTACCT_OK, CTACCT_E_INVAL, CTACCT_E_NLMSG_TRUNC, CTACCT_E_NLMSG_LEN,
    CTACCT_E_NFGENMSG, CTACCT_E_NLA_TRUNC, CTACCT_E_NLA_LEN,
    CTACCT_E_NLA_PAST_END, CTACCT_E_PAYLOAD, CTACCT_E_NLMSG_ERROR,
    CTACCT_E_NOSPC, ...
};

int ctacct_count(const uint8_t *buf, size_t len, uint32_t net_be,
                 uint32_t mask_be, const uint32_t *exclude_be,
                 size_t n_exclude, struct ctacct_client *table, size_t cap,
                 size_t *n_used, size_t *err_off);
int ctacct_rehash(const struct ctacct_client *old, size_t old_cap,
                  struct ctacct_client *new_table, size_t new_cap,
                  size_t *n_used);
size_t ctacct_compact(struct ctacct_client *table, size_t cap);
int ctacct_count6(const uint8_t *buf, size_t len, const uint8_t *prefixes,
                  size_t n_prefixes, const uint8_t *exclude, size_t n_exclude,
                  struct ctacct_client6 *table, size_t cap, size_t *n_used,
                  size_t *err_off);
int ctacct_rehash6(const struct ctacct_client6 *old, size_t old_cap,
                   struct ctacct_client6 *new_table, size_t new_cap,
                   size_t *n_used);
size_t ctacct_compact6(struct ctacct_client6 *table, size_t cap);
const char *ctacct_strerror(int status);
"""


def _source_dir() -> str:
    """csrc/ relative to the current directory when possible.

    distutils names object files after their source paths; a relative path
    keeps them inside the build directory.
    """
    try:
        rel = os.path.relpath(HERE)
    except ValueError:
        return HERE
    return HERE if rel.startswith(os.pardir + os.sep + os.pardir) else rel


def make_builder() -> FFI:
    src = _source_dir()
    builder = FFI()
    builder.cdef(CDEF)
    builder.set_source(
        "hotshare._ctacct",
        '#include "ctacct.h"\n',
        sources=[os.path.join(src, "ctacct.c")],
        include_dirs=[src],
        depends=[os.path.join(src, "ctacct.h")],
        # Named for the interpreter and platform it is built for
        # (_ctacct.cpython-311-arm-linux-gnueabihf.so), as the in-place build
        # and the board lab name it, not cffi's default _ctacct.abi3.so: the
        # name says which machine a module is for, and the target's Python
        # does not even try one built for another.
        py_limited_api=False,
    )
    return builder


ffibuilder = make_builder()


def build_in_place(dest: str | None = None) -> str:
    """Compile and install the module into python/hotshare/; return its path."""
    if dest is None:
        dest = os.path.join(os.path.dirname(HERE), "python", "hotshare")
    scratch_root = os.path.join(os.path.dirname(dest), "build")
    os.makedirs(scratch_root, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="ctacct-", dir=scratch_root)
    try:
        # Absolute paths: the scratch directory is the compile's cwd.
        builder = FFI()
        builder.cdef(CDEF)
        builder.set_source(
            "hotshare._ctacct",
            '#include "ctacct.h"\n',
            sources=[os.path.join(HERE, "ctacct.c")],
            include_dirs=[HERE],
        )
        built = builder.compile(tmpdir=scratch, verbose=False)
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        target = os.path.join(dest, "_ctacct" + suffix)
        # Atomic: a concurrent import sees the old module or the new one.
        tmp_target = target + f".tmp{os.getpid()}"
        shutil.copy2(built, tmp_target)
        os.replace(tmp_target, target)
        return target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            os.rmdir(scratch_root)  # only if nothing else lives there
        except OSError:
            pass


if __name__ == "__main__":
    print(build_in_place(sys.argv[1] if len(sys.argv) > 1 else None))
