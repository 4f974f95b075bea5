"""Link operations: the changes to interfaces, addresses and routes a plan
makes, as typed values. ``system.links`` sends each as its rtnetlink message;
the journal keeps them as dicts (``to_dict``/``op_from_dict``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class LinkOp:
    ifname: str
    missing_ok: bool = False        # the system already being so is not an error
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return {"op": self.kind, **d}


@dataclass(frozen=True)
class AddrAdd(LinkOp):
    address: str = ""               # CIDR, e.g. 192.168.12.1/24
    kind: ClassVar[str] = "addr_add"


@dataclass(frozen=True)
class AddrDel(LinkOp):
    address: str = ""
    kind: ClassVar[str] = "addr_del"


@dataclass(frozen=True)
class LinkUp(LinkOp):
    kind: ClassVar[str] = "link_up"


@dataclass(frozen=True)
class LinkDown(LinkOp):
    kind: ClassVar[str] = "link_down"


@dataclass(frozen=True)
class SetMac(LinkOp):
    mac: str = ""
    kind: ClassVar[str] = "set_mac"


@dataclass(frozen=True)
class SetMaster(LinkOp):
    master: str = ""
    kind: ClassVar[str] = "set_master"


@dataclass(frozen=True)
class BridgeAdd(LinkOp):
    kind: ClassVar[str] = "bridge_add"


@dataclass(frozen=True)
class LinkDel(LinkOp):
    kind: ClassVar[str] = "link_del"


@dataclass(frozen=True)
class VirtAdd(LinkOp):
    """A virtual AP interface on a radio (``iw phy PHY interface add``), with its own MAC."""

    phy: str = ""
    mac: str = ""
    kind: ClassVar[str] = "virt_add"


@dataclass(frozen=True)
class VirtDel(LinkOp):
    kind: ClassVar[str] = "virt_del"


@dataclass(frozen=True)
class RouteAdd(LinkOp):
    dst: str = ""                   # a network, 0.0.0.0/0 for a default route
    gateway: str | None = None
    metric: int = 0
    kind: ClassVar[str] = "route_add"


@dataclass(frozen=True)
class RouteDel(LinkOp):
    dst: str = ""
    scope: int | None = None
    metric: int = 0
    kind: ClassVar[str] = "route_del"


OPS: dict[str, type[LinkOp]] = {c.kind: c for c in (AddrAdd, AddrDel, LinkUp, LinkDown, SetMac, SetMaster,
                                                  BridgeAdd, LinkDel, VirtAdd, VirtDel, RouteAdd, RouteDel)}


def op_from_dict(d: dict[str, Any]) -> LinkOp:
    """An operation back from the journal; ValueError for anything else."""
    cls = OPS.get(str(d.get("op")))
    if cls is None:
        raise ValueError(f"unknown link operation {d.get('op')!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
