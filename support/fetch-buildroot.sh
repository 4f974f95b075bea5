#!/bin/sh
#
# Brings a pinned Buildroot release into a cache directory.
#
# Usage: fetch-buildroot.sh DEST VERSION COMMIT URL
#
# Clones tag VERSION of the Buildroot git repository at URL into DEST and
# keeps it only if the tag points at COMMIT (the pin written in
# support/buildroot.mk). Does nothing when DEST already holds that
# commit. On failure, prints one line on stderr and exits 1.
#
set -u

dest="$1"
version="$2"
commit="$3"
url="$4"
stamp="$dest.verified"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$commit" ] && [ -f "$dest/Makefile" ]; then
	exit 0
fi

fail() {
	echo "hotshare: $*" >&2
	exit 1
}

command -v git >/dev/null 2>&1 ||
	fail "no Buildroot tree (set BUILDROOT=<path to Buildroot $version>) and no git to fetch one"
mkdir -p "$(dirname "$dest")" ||
	fail "cannot create $(dirname "$dest") (set BR_CACHE=<writable directory>)"

tmp="$dest.tmp.$$"
log="$dest.fetch.log"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
if ! GIT_TERMINAL_PROMPT=0 git -c advice.detachedHead=false clone --quiet \
	--depth 1 --branch "$version" "$url" "$tmp" >"$log" 2>&1; then
	fail "no Buildroot tree and cannot download Buildroot $version from $url (offline? details in $log): set BUILDROOT=<path to a Buildroot tree>"
fi
got="$(git -C "$tmp" rev-parse 'HEAD^{commit}' 2>>"$log")"
[ "$got" = "$commit" ] ||
	fail "Buildroot $version from $url is commit ${got:-?}, not the pinned $commit: not using it"

rm -rf "$dest" "$stamp"
mv "$tmp" "$dest" || fail "cannot move Buildroot into $dest"
echo "$commit" >"$stamp"
echo "hotshare: Buildroot $version ($commit) fetched into $dest"
