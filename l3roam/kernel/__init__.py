"""The kernel seam of the node agent: the only package that imports pyroute2.

``Kernel`` (the interface), ``FakeKernel`` and the event types import no
pyroute2; ``NetlinkKernel`` and ``LinkMonitor`` are loaded on first use so
unit tests of other code do not need netlink.  See docs/node-kernel.md.
"""

from __future__ import annotations

from typing import Any

from l3roam.kernel.fake import FakeKernel, FakeLinkMonitor
from l3roam.kernel.interface import (
    DEFAULT_ROUTE_PROTO,
    RTPROT_STATIC,
    SRV6_OVERHEAD,
    Kernel,
    LinkDown,
    LinkEvent,
    LinkMonitorLike,
    LinkUp,
    NeighbourSeen,
)

__all__ = [
    "DEFAULT_ROUTE_PROTO", "RTPROT_STATIC", "SRV6_OVERHEAD", "Kernel", "FakeKernel", "FakeLinkMonitor", "NetlinkKernel",
    "LinkMonitorLike",
    "LinkMonitor", "LinkUp", "LinkDown", "NeighbourSeen", "LinkEvent",
]


def __getattr__(name: str) -> Any:
    if name == "NetlinkKernel":
        from l3roam.kernel.netlink import NetlinkKernel

        return NetlinkKernel
    if name == "LinkMonitor":
        from l3roam.kernel.monitor import LinkMonitor

        return LinkMonitor
    raise AttributeError(name)
