"""Helpers the checks share: skipping without an interface, and the subnet and
gateway the hotspot uses (the running one's, else the configuration's)."""

from __future__ import annotations

import ipaddress

from ..config import ConfigError
from ..plan.network import choose_gateway
from .facts import Context
from .findings import Finding, skip


def need_iface(ctx: Context, fid: str, what: str) -> Finding | None:
    if ctx.iface is None:
        return skip(fid, f"{what}: skipped (name the hotspot interface, e.g. `hotshare doctor wlan0`)")
    return None


def hotspot_subnet(ctx: Context) -> tuple[ipaddress.IPv4Network | None, str]:
    """The subnet the hotspot uses or will use, and where that comes from."""
    if ctx.running and ctx.status.get("subnet"):
        return ipaddress.IPv4Network(str(ctx.status["subnet"])), "the running hotspot's subnet"
    if ctx.cfg is not None and ctx.cfg.gateway is not None:
        return ipaddress.IPv4Interface(f"{ctx.cfg.gateway}/24").network, f"GATEWAY={ctx.cfg.gateway}"
    return None, ""


def hotspot_gateway(ctx: Context) -> ipaddress.IPv4Address | None:
    if ctx.running and ctx.status.get("gateway"):
        return ipaddress.IPv4Address(str(ctx.status["gateway"]))
    if ctx.cfg is not None and ctx.cfg.gateway is not None:
        return ctx.cfg.gateway
    if ctx.iface is None:
        return None
    try:
        return choose_gateway(ctx.config, ctx.snap).ip
    except ConfigError:
        return None
