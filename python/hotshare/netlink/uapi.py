"""The kernel constants and structures hotshare's netlink code uses.

Named exactly as in the kernel's uapi headers, grouped by header.  The rest
of ``hotshare.netlink`` and ``system.links`` import them from here; nothing
else in the package spells them out again.

The exception is the few flags planning reads (``IFF_UP``, ``IFF_LOWER_UP``,
``RT_TABLE_MAIN``...): ``plan`` is a pure layer and must not import
``netlink``, so ``plan/model.py`` defines them and this module re-exports
them (netlink may import plan: it fills plan's model in).
"""

from __future__ import annotations

import struct

from ..plan.model import IFF_LOWER_UP as IFF_LOWER_UP
from ..plan.model import IFF_RUNNING as IFF_RUNNING
from ..plan.model import IFF_UP as IFF_UP
from ..plan.model import RT_TABLE_MAIN as RT_TABLE_MAIN

# --- linux/netlink.h -------------------------------------------------------
NETLINK_ROUTE = 0
NETLINK_NETFILTER = 12
# setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP / NETLINK_DROP_MEMBERSHIP, group)
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_DROP_MEMBERSHIP = 2

NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
# modifiers to GET requests
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
# modifiers to NEW requests
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

NLMSG_NOOP = 0x1
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLMSG_OVERRUN = 0x4

NLMSG_ALIGNTO = 4
NLMSG_HDRLEN = 16
NLA_ALIGNTO = 4
NLA_HDRLEN = 4
NLA_F_NESTED = 1 << 15
NLA_F_NET_BYTEORDER = 1 << 14
NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xFFFF

# struct nlmsghdr: nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
NLMSGHDR = struct.Struct("=IHHII")
# struct nlattr: nla_len, nla_type
NLATTR = struct.Struct("=HH")
# struct nlmsgerr begins with int error (the original header follows)
NLMSGERR_ERROR = struct.Struct("=i")

# --- linux/rtnetlink.h -----------------------------------------------------
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26

RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_NEIGH = 0x4
RTMGRP_IPV6_IFADDR = 0x100

# enum rtattr_type_t
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_TABLE = 15

RTN_UNICAST = 1
RTPROT_BOOT = 3
# enum rt_scope_t
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_NOWHERE = 255
# enum rt_class_t: RT_TABLE_MAIN (254), from plan.model

# struct ifinfomsg: ifi_family, (pad), ifi_type, ifi_index, ifi_flags, ifi_change
IFINFOMSG = struct.Struct("=BxHiII")
# struct rtmsg: rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table,
# rtm_protocol, rtm_scope, rtm_type, rtm_flags
RTMSG = struct.Struct("=BBBBBBBBI")

# --- linux/if_addr.h -------------------------------------------------------
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_FLAGS = 8            # u32, the full flags (ifa_flags holds only the low 8 bits)
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_NOPREFIXROUTE = 0x200

# struct ifaddrmsg: ifa_family, ifa_prefixlen, ifa_flags, ifa_scope, ifa_index
IFADDRMSG = struct.Struct("=BBBBi")

# --- linux/if_link.h -------------------------------------------------------
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_MASTER = 10
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_INFO_KIND = 1

# --- linux/if.h ------------------------------------------------------------
# net_device_flags IFF_UP, IFF_RUNNING, IFF_LOWER_UP: from plan.model
IF_OPER_UP = 6

# --- linux/netfilter/nfnetlink.h -------------------------------------------
# enum nfnetlink_groups
NFNLGRP_CONNTRACK_NEW = 1
NFNLGRP_CONNTRACK_UPDATE = 2
NFNLGRP_CONNTRACK_DESTROY = 3
NFNLGRP_NFTABLES = 7
# subsystems: the high byte of nlmsg_type (NFNL_SUBSYS_ID), the message the low one
NFNL_SUBSYS_CTNETLINK = 1
NFNL_SUBSYS_NFTABLES = 10
NFNETLINK_V0 = 0

# struct nfgenmsg: nfgen_family, version, res_id (big endian)
NFGENMSG = struct.Struct("=BBH")

# --- linux/netfilter/nfnetlink_conntrack.h ---------------------------------
# enum cntl_msg_types
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
IPCTNL_MSG_CT_GET_CTRZERO = 3

# enum ctattr_type
CTA_TUPLE_ORIG = 1
CTA_TUPLE_REPLY = 2
CTA_STATUS = 3
CTA_PROTOINFO = 4
CTA_TIMEOUT = 7
CTA_MARK = 8
CTA_COUNTERS_ORIG = 9
CTA_COUNTERS_REPLY = 10
CTA_USE = 11
CTA_ID = 12
CTA_ZONE = 18
# enum ctattr_tuple
CTA_TUPLE_IP = 1
CTA_TUPLE_PROTO = 2
CTA_TUPLE_ZONE = 3
# enum ctattr_ip
CTA_IP_V4_SRC = 1
CTA_IP_V4_DST = 2
CTA_IP_V6_SRC = 3
CTA_IP_V6_DST = 4
# enum ctattr_l4proto
CTA_PROTO_NUM = 1
CTA_PROTO_SRC_PORT = 2
CTA_PROTO_DST_PORT = 3
CTA_PROTO_ICMP_ID = 4
CTA_PROTO_ICMP_TYPE = 5
CTA_PROTO_ICMP_CODE = 6
CTA_PROTO_ICMPV6_ID = 7
CTA_PROTO_ICMPV6_TYPE = 8
CTA_PROTO_ICMPV6_CODE = 9
# enum ctattr_counters
CTA_COUNTERS_PACKETS = 1
CTA_COUNTERS_BYTES = 2
CTA_COUNTERS32_PACKETS = 3
CTA_COUNTERS32_BYTES = 4
CTA_COUNTERS_PAD = 5

# --- linux/netfilter/nf_conntrack_common.h ---------------------------------
# enum ip_conntrack_status (some)
IPS_SEEN_REPLY = 1 << 1
IPS_ASSURED = 1 << 2
IPS_CONFIRMED = 1 << 3
IPS_SRC_NAT = 1 << 4
IPS_DST_NAT = 1 << 5

# --- linux/neighbour.h -------------------------------------------------------
RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTM_GETNEIGH = 30
NTF_USE = 0x01           # start resolving the neighbour now
NTF_PROXY = 0x08         # a proxy (NDP) entry
NDMSG = struct.Struct("=BxxxiHBB")     # struct ndmsg: family, ifindex, state, flags, type
NDA_DST = 1
NDA_LLADDR = 2
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80

# --- linux/netfilter/nf_tables.h -------------------------------------------
# enum nf_tables_msg_types
NFT_MSG_NEWTABLE = 0
NFT_MSG_GETTABLE = 1
NFT_MSG_DELTABLE = 2
NFT_MSG_NEWCHAIN = 3
NFT_MSG_GETCHAIN = 4
NFT_MSG_DELCHAIN = 5
NFT_MSG_NEWRULE = 6
NFT_MSG_GETRULE = 7
NFT_MSG_DELRULE = 8
NFT_MSG_NEWSET = 9
NFT_MSG_GETSET = 10
NFT_MSG_DELSET = 11
NFT_MSG_NEWSETELEM = 12
NFT_MSG_GETSETELEM = 13
NFT_MSG_DELSETELEM = 14
NFT_MSG_NEWGEN = 15
NFT_MSG_GETGEN = 16
NFT_MSG_TRACE = 17
NFT_MSG_NEWOBJ = 18
NFT_MSG_GETOBJ = 19
NFT_MSG_DELOBJ = 20
NFT_MSG_GETOBJ_RESET = 21
NFT_MSG_NEWFLOWTABLE = 22
NFT_MSG_GETFLOWTABLE = 23
NFT_MSG_DELFLOWTABLE = 24
NFT_MSG_GETRULE_RESET = 25
NFT_MSG_DESTROYTABLE = 26
NFT_MSG_DESTROYCHAIN = 27
NFT_MSG_DESTROYRULE = 28
NFT_MSG_DESTROYSET = 29
NFT_MSG_DESTROYSETELEM = 30
NFT_MSG_DESTROYOBJ = 31
NFT_MSG_DESTROYFLOWTABLE = 32
NFT_MSG_GETSETELEM_RESET = 33
# The first attribute of every table, chain, rule, set, set element list,
# object and flowtable message names its table: NFTA_TABLE_NAME,
# NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE,
# NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE are all 1.
NFTA_TABLE_NAME = 1
NFTA_CHAIN_TABLE = 1
NFTA_RULE_TABLE = 1
NFTA_SET_TABLE = 1
NFTA_SET_ELEM_LIST_TABLE = 1
NFTA_OBJ_TABLE = 1
NFTA_FLOWTABLE_TABLE = 1

# --- linux/netfilter.h -----------------------------------------------------
# enum: the nfgen_family of an nftables message, the table's family
NFPROTO_INET = 1
NFPROTO_IPV4 = 2
NFPROTO_ARP = 3
NFPROTO_NETDEV = 5
NFPROTO_BRIDGE = 7
NFPROTO_IPV6 = 10

# --- linux/genetlink.h -----------------------------------------------------
NETLINK_GENERIC = 16
GENL_ID_CTRL = 16                   # NLMSG_MIN_TYPE
GENLMSGHDR = struct.Struct("=BBH")  # cmd, version, reserved
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
CTRL_ATTR_MCAST_GROUPS = 7
CTRL_ATTR_MCAST_GRP_NAME = 1
CTRL_ATTR_MCAST_GRP_ID = 2
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1

# --- linux/nl80211.h -------------------------------------------------------
NL80211_CMD_CONNECT = 46
NL80211_CMD_ROAM = 47
NL80211_CMD_DISCONNECT = 48
NL80211_CMD_CH_SWITCH_NOTIFY = 88
NL80211_CMD_CH_SWITCH_STARTED_NOTIFY = 110
NL80211_ATTR_IFINDEX = 3
NL80211_ATTR_WIPHY_FREQ = 38
NL80211_ATTR_CH_SWITCH_COUNT = 183
