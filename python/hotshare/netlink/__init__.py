"""netlink: the kernel's netlink protocols (rtnetlink, ctnetlink) over raw sockets, without pyroute2."""
