"""Link and neighbour events from rtnetlink, for presence detection.

``LinkMonitor`` owns one non-blocking NETLINK_ROUTE socket subscribed to link
and neighbour notifications.  The agent polls ``fileno()`` (select, or
asyncio's ``add_reader``) and calls ``read()``, which drains the socket and
returns events:

* ``LinkUp(ifname, mac)`` when an interface becomes up with carrier,
* ``LinkDown(ifname)`` when it loses either or disappears,
* ``NeighbourSeen(ifname, mac, ip)`` the first time a unicast MAC shows up on
  an interface: an ARP neighbour (``ip`` set) or a bridge FDB entry (``ip``
  None, ``ifname`` is the bridge port).  A MAC counts as new again after its
  entry was deleted or its interface went down.

At start it asks for a dump of all links, so current interfaces produce
their LinkUp/LinkDown too.  On socket overrun (ENOBUFS) it dumps again.
"""

from __future__ import annotations

import errno
import logging
import socket
from ipaddress import IPv4Address

from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTMGRP_LINK, RTMGRP_NEIGH
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from l3roam.errors import KernelError
from l3roam.kernel.interface import LinkDown, LinkEvent, LinkUp, NeighbourSeen
from l3roam.kernel.nsthread import NamespaceThread
from l3roam.log import event

log = logging.getLogger(__name__)

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
NUD_INCOMPLETE, NUD_FAILED, NUD_NOARP, NUD_PERMANENT = 0x01, 0x20, 0x40, 0x80
NTF_PROXY = 0x08
AF_BRIDGE = 7


class LinkMonitor:
    """Non-blocking source of LinkUp / LinkDown / NeighbourSeen events."""

    def __init__(self, netns: NamespaceThread | str | None = None, rcvbuf: int = 1 << 20):
        own = not isinstance(netns, NamespaceThread)
        ns = NamespaceThread(netns) if own else netns
        try:
            self._sock = ns.run(self._open, rcvbuf)
        except OSError as exc:
            raise KernelError("open link monitor socket", exc.errno, exc.strerror or "") from None
        finally:
            if own:
                ns.stop()
        self._marshal = MarshalRtnl()
        self._names: dict[int, str] = {}
        self._up: dict[int, bool] = {}
        # a carrier change notification carries no IFLA_IFALIAS (measured): keep the last one seen
        self._alias: dict[int, str] = {}
        self._macs: set[tuple[int, str]] = set()
        self._seq = 0
        self.overruns = 0
        self._request_dump()

    @staticmethod
    def _open(rcvbuf: int) -> socket.socket:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                          socket.NETLINK_ROUTE)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((0, RTMGRP_LINK | RTMGRP_NEIGH))
        return s

    def _request_dump(self) -> None:
        self._seq += 1
        msg = ifinfmsg()
        msg["family"] = socket.AF_UNSPEC
        msg["header"]["type"] = RTM_GETLINK
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
        msg["header"]["sequence_number"] = self._seq
        msg.encode()
        self._sock.send(msg.data)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "LinkMonitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self) -> list[LinkEvent]:
        """Drain the socket; never blocks.  Returns events in kernel order."""
        events: list[LinkEvent] = []
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except BlockingIOError:
                return events
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # we missed notifications: resync
                    self.overruns += 1
                    event(log, "link_monitor_overrun", level=logging.WARNING, count=self.overruns)
                    self._request_dump()
                    continue
                raise KernelError("read link monitor socket", exc.errno, exc.strerror or "") from None
            for msg in self._marshal.parse(data):
                events.extend(self._handle(msg))

    def _handle(self, msg) -> list[LinkEvent]:  # type: ignore[no-untyped-def]
        kind = msg["header"]["type"]
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            return self._link(msg, kind)
        if kind in (RTM_NEWNEIGH, RTM_DELNEIGH):
            return self._neigh(msg, kind)
        return []

    def _link(self, msg, kind: int) -> list[LinkEvent]:  # type: ignore[no-untyped-def]
        idx = int(msg["index"])
        name = msg.get_attr("IFLA_IFNAME") or self._names.get(idx, f"if{idx}")
        self._names[idx] = name
        flags = int(msg["flags"])
        alias = msg.get_attr("IFLA_IFALIAS")
        if alias:
            self._alias[idx] = alias
        up = kind == RTM_NEWLINK and bool(flags & IFF_UP) and bool(flags & IFF_LOWER_UP)
        was = self._up.get(idx)
        self._up[idx] = up
        if kind == RTM_DELLINK:
            self._up.pop(idx, None)
            self._names.pop(idx, None)
            alias = self._alias.pop(idx, None) or alias
        if up == was or (was is None and not up):
            return []  # no change, or an interface first seen down
        if up:
            master_idx = msg.get_attr("IFLA_MASTER")
            return [LinkUp(name, str(msg.get_attr("IFLA_ADDRESS") or "").lower(),
                           alias or self._alias.get(idx),
                           self._names.get(master_idx) if master_idx else None)]
        self._macs = {k for k in self._macs if k[0] != idx}
        return [LinkDown(name)]

    def _neigh(self, msg, kind: int) -> list[LinkEvent]:  # type: ignore[no-untyped-def]
        family = msg["family"]
        if family not in (socket.AF_INET, AF_BRIDGE):
            return []
        mac = msg.get_attr("NDA_LLADDR")
        if not mac:
            return []
        mac = str(mac).lower()
        if int(mac[:2], 16) & 1:  # multicast / broadcast
            return []
        idx = int(msg["ifindex"])
        key = (idx, mac)
        if kind == RTM_DELNEIGH:
            self._macs.discard(key)
            return []
        state = int(msg["state"])
        if state & (NUD_INCOMPLETE | NUD_FAILED) or msg["flags"] & NTF_PROXY:
            return []
        if family == AF_BRIDGE and state & (NUD_PERMANENT | NUD_NOARP):
            return []  # the bridge's own port addresses
        if key in self._macs:
            return []
        self._macs.add(key)
        dst = msg.get_attr("NDA_DST")
        ip = IPv4Address(dst) if family == socket.AF_INET and dst else None
        return [NeighbourSeen(self._names.get(idx, f"if{idx}"), mac, ip)]


