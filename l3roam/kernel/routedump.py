"""Dump a namespace's routes over a bare rtnetlink socket (codec pure, socket thin).

Waiting for a 250-router mesh to converge means asking every router, ten
times a second, which loopbacks it routes to.  One ``ip -j route show`` per
router and poll was 250 processes a poll; here each namespace has one
netlink socket, opened once inside it (a socket stays in the namespace it
was created in), and a poll is one RTM_GETROUTE dump per router.

Request: nlmsghdr(RTM_GETROUTE, NLM_F_REQUEST|NLM_F_DUMP) + rtmsg(family).
Answer: RTM_NEWROUTE messages (rtmsg + rtattrs, RTA_DST = 1, RTA_TABLE = 15)
until NLMSG_DONE (linux/rtnetlink.h).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTA_DST, RTA_TABLE = 1, 15
RTPROT_BABEL = 42
RTN_UNICAST = 1
_NLMSGHDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


@dataclass(frozen=True)
class RouteEntry:
    family: int
    dst: str  # "10.255.0.3" (no prefix length)
    dst_len: int
    proto: int
    rtype: int
    table: int


def dump_request(seq: int, family: int = socket.AF_INET) -> bytes:
    body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def parse_dump(data: bytes) -> tuple[list[RouteEntry], bool, int]:
    """(routes, done, errno) from one or more received datagrams of a dump."""
    out: list[RouteEntry] = []
    off = 0
    while off + _NLMSGHDR.size <= len(data):
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, off)
        if length < _NLMSGHDR.size:
            break
        body = data[off + _NLMSGHDR.size: off + length]
        off += (length + 3) & ~3
        if mtype == NLMSG_DONE:
            return out, True, 0
        if mtype == NLMSG_ERROR:
            err = struct.unpack_from("=i", body)[0] if len(body) >= 4 else -1
            return out, True, -err
        if mtype != RTM_NEWROUTE or len(body) < _RTMSG.size:
            continue
        family, dst_len, _src, _tos, table, proto, _scope, rtype, _fl = _RTMSG.unpack_from(body)
        dst = b""
        aoff = _RTMSG.size
        while aoff + _RTATTR.size <= len(body):
            alen, atype = _RTATTR.unpack_from(body, aoff)
            if alen < _RTATTR.size:
                break
            value = body[aoff + _RTATTR.size: aoff + alen]
            if atype == RTA_DST:
                dst = value
            elif atype == RTA_TABLE and len(value) >= 4:
                table = struct.unpack_from("=I", value)[0]
            aoff += (alen + 3) & ~3
        if family == socket.AF_INET and len(dst) == 4:
            text = str(ipaddress.IPv4Address(dst))
        elif family == socket.AF_INET6 and len(dst) == 16:
            text = str(ipaddress.IPv6Address(dst))
        else:
            text = "default" if not dst else dst.hex()
        out.append(RouteEntry(family, text, dst_len, proto, rtype, table))
    return out, False, 0


def babel_hosts(routes: list[RouteEntry]) -> set[str]:
    """Destinations of babel's usable host routes (``unreachable`` hold-downs left out)."""
    return {r.dst for r in routes if r.proto == RTPROT_BABEL and r.rtype == RTN_UNICAST
            and r.dst_len in (32, 128)}


class RouteDumpSocket:
    """One rtnetlink socket; create it on a thread inside the namespace to dump (see nsthread.in_each)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.sock.settimeout(5.0)
        self.seq = 0

    def routes(self, family: int = socket.AF_INET) -> list[RouteEntry]:
        self.seq += 1
        self.sock.send(dump_request(self.seq, family))
        out: list[RouteEntry] = []
        while True:
            part, done, err = parse_dump(self.sock.recv(1 << 16))
            out += part
            if done:
                if err:
                    raise OSError(err, f"route dump failed: {err}")
                return out

    def close(self) -> None:
        self.sock.close()
