"""The status codes of the netlink walkers, and their texts.

csrc/ctacct.h (``enum ctacct_status``) and ``ctacct_strerror()`` in
csrc/ctacct.c are the source: the C accounting helper returns these numbers,
and the pure-Python walks (``netlink.core``'s framing, ``netlink.ctparse``,
``netlink.ctacct``) raise them, with the same text, so that both accounting
paths fail with the same message for the same input.  This is a copy kept
in step by tests/unit/test_ctacct_contract.py, which reads the header's enum
and the C string table and compares them with the names and texts here (the
pure-Python path must work where the C helper was never built, so the
numbers cannot come from the compiled module).
"""

from __future__ import annotations

# enum ctacct_status (CTACCT_ prefix dropped)
E_INVAL = -1
E_NLMSG_TRUNC = -2
E_NLMSG_LEN = -3
E_NFGENMSG = -4
E_NLA_TRUNC = -5
E_NLA_LEN = -6
E_NLA_PAST_END = -7
E_PAYLOAD = -8
E_NLMSG_ERROR = -9
E_NOSPC = -10

# ctacct_strerror()
REASONS = {
    E_INVAL: "invalid argument",
    E_NLMSG_TRUNC: "truncated netlink message header",
    E_NLMSG_LEN: "netlink message length out of bounds",
    E_NFGENMSG: "ctnetlink message too short for nfgenmsg",
    E_NLA_TRUNC: "truncated netlink attribute header",
    E_NLA_LEN: "netlink attribute length below 4",
    E_NLA_PAST_END: "netlink attribute past the end of its container",
    E_PAYLOAD: "wrong payload size for an address or counter attribute",
    E_NLMSG_ERROR: "NLMSG_ERROR message in the dump",
    E_NOSPC: "client table full",
}
UNKNOWN_REASON = "unknown error"
