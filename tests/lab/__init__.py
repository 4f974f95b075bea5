"""hotshare's wireless lab: radios, namespaces, phones and an "internet".

The pieces are plain Python objects in the style of hostapd's tests/hwsim:

- :mod:`lab.radios`   load mac80211_hwsim (or vwifi), find the radios, move a
                      radio's phy into a network namespace;
- :mod:`lab.netns`    network namespaces and veth links;
- :mod:`lab.topology` the "internet" namespaces (DNS and HTTP servers) and the
                      board's uplinks (``ppp0``, optionally ``usb0``);
- :mod:`lab.phone`    a station in its own namespace: wpa_supplicant, DHCP
                      (busybox udhcpc), DNS queries, HTTP, ping;
- :mod:`lab.hotspot`  the hotspot under test, driven through hotshare's CLI,
                      plus the checks that nothing of it is left after ``down``;
- :mod:`lab.syslog`   a /dev/log collector, so daemons' syslog lines can be
                      asserted on.

Everything here needs root and a kernel with the radio driver: it runs inside
the QEMU guest started by ``tests/qemu/run-lab``.  Nothing in this package is
a test itself.
"""
