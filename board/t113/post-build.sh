#!/bin/sh
#
# Buildroot post-build script for the hotshare T113 image.
# Called as: post-build.sh TARGET_DIR
#
set -eu

TARGET_DIR="$1"

# The rootfs overlay is copied with go=rX permissions; /etc/hotshare
# holds the Wi-Fi passphrase and the SIM's PIN: root only.
chmod 0700 "$TARGET_DIR/etc/hotshare"
chmod 0600 "$TARGET_DIR/etc/hotshare/hotshare.conf"
chmod 0600 "$TARGET_DIR/etc/hotshare/modem.conf"
