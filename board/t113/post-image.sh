#!/bin/sh
#
# Buildroot post-image script for the hotshare T113 image: writes
# sdcard.img from board/t113/genimage.cfg.
# Called as: post-image.sh BINARIES_DIR, from the Buildroot tree.
#
set -eu

BOARD_DIR="$(dirname "$0")"

exec support/scripts/genimage.sh -c "$BOARD_DIR/genimage.cfg"
