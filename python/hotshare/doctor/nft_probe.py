"""The netfilter probe: a table like hotshare's, one nftables feature a line,
for ``nft -c`` to check against the kernel; and :func:`explain_probe`, which
turns nft's errors back into the features (and kernel options) missing.

Pure: :mod:`.gather` runs ``nft -c``, the netfilter check reads its errors here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

PROBE_TABLE = "hotshare_doctor_probe"
# The nftables features hotshare's table uses, one per line, so a failed
# line of ``nft -c`` names the feature (and the kernel options it needs).
_F_INET = ("the inet family", "CONFIG_NF_TABLES, CONFIG_NF_TABLES_INET")
_F_SET = ("named sets", "CONFIG_NF_TABLES_SET (part of CONFIG_NF_TABLES itself since Linux 5.7)")
_F_FWD = ("filter chains at the forward hook", "CONFIG_NF_TABLES_INET")
_F_META = ("interface and address matches", "CONFIG_NF_TABLES")
_F_CT = ("connection tracking (ct state)", "CONFIG_NF_CONNTRACK, CONFIG_NFT_CT")
_F_NAT = ("NAT chains in the inet family (Linux 5.2 or later)", "CONFIG_NF_NAT, CONFIG_NFT_NAT")
_F_MASQ = ("masquerading", "CONFIG_NFT_MASQ (CONFIG_NF_NAT_MASQUERADE)")
_F_CONNLIMIT = ("per-client connection limits (ct count)", "CONFIG_NFT_CONNLIMIT")
_F_FLOW = ("flowtables (forwarding offload)",
           "CONFIG_NF_FLOW_TABLE, CONFIG_NF_FLOW_TABLE_INET, CONFIG_NFT_FLOW_OFFLOAD")

NAT_PROBE: tuple[tuple[str, tuple[str, str] | None], ...] = (
    (f"table inet {PROBE_TABLE} {{", _F_INET),
    ("\tset uplinks { type ifname; }", _F_SET),
    ("\tchain forward {", _F_FWD),
    ("\t\ttype filter hook forward priority filter - 10; policy accept;", _F_FWD),
    ('\t\tiifname @uplinks ip saddr 192.0.2.0/24 oifname "lo" accept', _F_META),
    ("\t\tct state established,related accept", _F_CT),
    ("\t}", None),
    ("\tchain postrouting {", _F_NAT),
    ("\t\ttype nat hook postrouting priority srcnat; policy accept;", _F_NAT),
    ("\t\toifname @uplinks ip saddr 192.0.2.0/24 masquerade", _F_MASQ),
    ("\t}", None),
    ("\tset conns { type ipv4_addr; size 16; flags dynamic; }", _F_SET),
    ("\tchain limits {", _F_FWD),
    ("\t\ttype filter hook forward priority filter - 5; policy accept;", _F_FWD),
    ("\t\tct state new add @conns { ip saddr ct count over 8 } drop", _F_CONNLIMIT),
    ("\t}", None),
    ("}", None),
)
FLOW_PROBE: tuple[tuple[str, tuple[str, str] | None], ...] = (
    (f"table inet {PROBE_TABLE} {{", _F_INET),
    ("\tflowtable ft {", _F_FLOW),
    ("\t\thook ingress priority 0; devices = { lo };", _F_FLOW),
    ("\t}", None),
    ("\tchain forward {", _F_FWD),
    ("\t\ttype filter hook forward priority filter; policy accept;", _F_FWD),
    ("\t\tmeta l4proto tcp flow add @ft", _F_FLOW),
    ("\t}", None),
    ("}", None),
)

# the kernel options a missing flowtable needs, for the netfilter check's hint
FLOWTABLE_OPTIONS = _F_FLOW[1]


def probe_text(probe: Sequence[tuple[str, object]]) -> str:
    return "".join(line + "\n" for line, _ in probe)


_ERRNO_TEXT = re.compile(r"(No such file or directory|Operation not supported|Protocol not supported|"
                         r"Invalid argument|Not supported)\b")


@dataclass(frozen=True)
class ProbeFailure:
    missing: tuple[tuple[str, str], ...]    # (feature, kernel options) the kernel rejected
    userspace: tuple[str, ...]              # errors of nft itself (too old to parse the line)
    other: tuple[str, ...]                  # errors not tied to a line


def explain_probe(stderr: str, probe: Sequence[tuple[str, tuple[str, str] | None]]) -> ProbeFailure:
    """Map ``nft -c -f`` errors ("FILE:LINE:COL: Error: ...") to the features of the probe."""
    missing: list[tuple[str, str]] = []
    userspace: list[str] = []
    other: list[str] = []
    for line in stderr.splitlines():
        m = re.search(r":(\d+):\d+(?:-\d+)?: Error: (.*)$", line)
        if not m:
            if "Error" in line:
                other.append(line.strip())
            continue
        lineno, msg = int(m.group(1)), m.group(2)
        feature = probe[lineno - 1][1] if 0 < lineno <= len(probe) else None
        # the kernel's refusals carry an errno text; nft's own parser says "syntax error" and the like
        kernel = msg.startswith("Could not process rule") or bool(_ERRNO_TEXT.match(msg))
        if kernel and feature is not None:
            if feature not in missing:
                missing.append(feature)
        elif kernel:
            other.append(msg)
        else:
            text = probe[lineno - 1][0].strip() if 0 < lineno <= len(probe) else ""
            userspace.append(f"line {lineno}: {msg}: {text}")
    if not missing and not userspace and not other and stderr.strip():
        other.append(stderr.strip().splitlines()[0])
    return ProbeFailure(tuple(missing), tuple(userspace), tuple(other))
