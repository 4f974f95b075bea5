#!/bin/sh
#
# Buildroot post-build script for the hotshare T113 image.
# Called as: post-build.sh TARGET_DIR
#
set -eu

TARGET_DIR="$1"

# hotshare starts one dnsmasq of its own per hotspot, for DHCP and DNS
# on the access point interface only. The dnsmasq package's init
# script would start a second, system-wide one before it, listening on
# ports 53 and 67 of every interface (the uplink included): hotshare's
# dnsmasq would then fail with "address already in use".
rm -f "$TARGET_DIR/etc/init.d/S80dnsmasq"

# The rootfs overlay is copied with go=rX permissions; /etc/hotshare
# holds the Wi-Fi passphrase: root only.
chmod 0700 "$TARGET_DIR/etc/hotshare"
chmod 0600 "$TARGET_DIR/etc/hotshare/hotshare.conf"
