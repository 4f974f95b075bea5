"""netlink: the kernel's netlink protocols over raw sockets, without pyroute2.

``uapi`` (constants and structs, named as in the kernel's headers), ``core``
(framing and NetlinkSocket), ``status`` (the status codes shared with the C
accounting helper), ``rtnl`` / ``rtnl_change`` (rtnetlink: reading,
and the messages that change links, addresses and routes), ``ctparse`` /
``ctnetlink`` (conntrack entries; the ctnetlink socket and its commands),
``ctacct`` (per-client accounting over a conntrack dump).
"""
