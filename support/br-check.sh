#!/bin/sh
#
# Checks the hotshare external tree against a Buildroot tree, offline
# (configuration steps only, nothing is downloaded or built):
#
#  1. "make hotshare_defconfig" prints no warning (unknown symbol,
#     unmet direct dependencies...);
#  2. "make savedefconfig" gives back configs/hotshare_defconfig as is;
#  3. "make hotshare-show-depends" works.
#
# Usage: br-check.sh BUILDROOT_DIR
# Run by "make br-check"; tests/buildroot/test_real_buildroot.py does the
# same from pytest.
#
set -u

BUILDROOT="${1:?usage: br-check.sh BUILDROOT_DIR}"
TREE="$(cd "$(dirname "$0")/.." && pwd)"
DEFCONFIG="$TREE/configs/hotshare_defconfig"

out="$(mktemp -d "${TMPDIR:-/tmp}/hotshare-br-check.XXXXXX")" || exit 1
trap 'rm -rf "$out"' EXIT

# Not this make's flags and variables: the sub-makes get only these.
unset MAKEFLAGS MAKELEVEL MFLAGS
br() {
	BR2_DL_DIR="$out/dl" \
		make -C "$BUILDROOT" BR2_EXTERNAL="$TREE" O="$out/build" "$@"
}

fail=0

echo "== hotshare_defconfig"
br hotshare_defconfig >"$out/defconfig.log" 2>&1
status=$?
cat "$out/defconfig.log"
if [ "$status" -ne 0 ]; then
	echo "FAIL: make hotshare_defconfig exited with $status"
	exit 1
fi
if grep -i "warning" "$out/defconfig.log" >/dev/null; then
	echo "FAIL: make hotshare_defconfig printed warnings"
	fail=1
fi

echo "== savedefconfig"
if ! br savedefconfig BR2_DEFCONFIG="$out/saved_defconfig" >"$out/save.log" 2>&1; then
	cat "$out/save.log"
	echo "FAIL: make savedefconfig"
	exit 1
fi
if ! diff -u "$DEFCONFIG" "$out/saved_defconfig"; then
	echo "FAIL: configs/hotshare_defconfig is not what savedefconfig writes"
	echo "      (copy the + lines above into it)"
	fail=1
fi

echo "== hotshare-show-depends"
if ! br -s hotshare-show-depends; then
	echo "FAIL: make hotshare-show-depends"
	fail=1
fi

if [ "$fail" -eq 0 ]; then
	echo "br-check: OK ($BUILDROOT)"
fi
exit "$fail"
