"""DHCP server sockets of the node agent (the only DHCP code that does I/O).

Receiving: one UDP socket bound to ``0.0.0.0:67`` with ``IP_PKTINFO`` takes
broadcasts from clients, unicast renewals and relayed requests (giaddr) alike,
and tells on which interface and to which address each arrived.  The kernel
filters, so the agent never sees the clients' other traffic.

Sending (RFC 2131 §4.1): replies to a relay go over that UDP socket to
``giaddr:67``; replies to a client go as whole Ethernet frames on a packet
socket, because a client without an address cannot answer ARP: broadcast to
``ff:ff:ff:ff:ff:ff`` or unicast to its hardware address.

Overload: the kernel stamps each datagram on arrival (``SO_TIMESTAMPNS``);
one that waited in the socket buffer longer than ``stale_after`` seconds is
read and dropped without being decoded, and counted in ``stale``.  Under a
load above what the agent can answer, the queue would otherwise grow to the
whole receive buffer (megabytes: seconds of requests), every answer would come
too late for its client, and useful throughput would collapse; with the cut
the agent spends its time on requests that are still fresh, and the clients
whose requests were cut retransmit (RFC 2131 §4.1).
"""

from __future__ import annotations

import logging
import socket
import struct
import sys
import time
from collections.abc import Callable
from ipaddress import IPv4Address

from l3roam.core.dhcp_actions import Received, SendReply
from l3roam.log import event
from l3roam.proto import dhcp
from l3roam.proto.ethernet import mac_to_text
from l3roam.proto.udp_frame import build_udp_frame

log = logging.getLogger("l3roam.node.dhcp")

IP_PKTINFO = 8
SO_MARK = 36  # SCM: the packet's mark (u32); the station binding filter sets it per port
SO_RCVMARK = 75  # Linux 5.19+
SO_TIMESTAMPNS = 35  # SCM_TIMESTAMPNS: struct timespec of the arrival, CLOCK_REALTIME
_TIMESPEC = struct.Struct("=qq")
_ANCILLARY = 128  # room for IP_PKTINFO and SCM_TIMESTAMPNS
_PKTINFO = struct.Struct("=I4s4s")  # ifindex, local address, destination address
MAX_DHCP = 1500
CHADDR = slice(28, 34)


class DhcpSocket:
    def __init__(self, ifname: str, server_ip: IPv4Address, server_mac: str,
                 port: int = dhcp.SERVER_PORT, stale_after: float = 0.25):
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.server_ip = server_ip
        self.server_mac = server_mac
        self.port = port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.udp.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.stale_after = stale_after
        try:
            self.udp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            self.stale_after = 0.0  # no arrival stamps: never cut
        try:
            self.udp.setsockopt(socket.SOL_SOCKET, SO_RCVMARK, 1)
        except OSError:
            pass  # an older kernel: no per-port accounting, the filter's rate limits remain
        # packet mark -> station port; the agent keeps it (``port_of``) as ports come and go
        self.port_of: Callable[[int], str | None] = lambda mark: None
        try:
            self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.udp.bind(("0.0.0.0", port))
        self.udp.setblocking(False)
        # protocol 0: a send-only packet socket, it receives nothing
        self.raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self.raw.bind((ifname, 0))
        self.sent = 0
        self.send_errors = 0
        self.stale = 0  # requests dropped unread after waiting longer than stale_after

    def fileno(self) -> int:
        return self.udp.fileno()

    def close(self) -> None:
        self.udp.close()
        self.raw.close()

    def recv_batch(self, limit: int = 256) -> list[tuple[bytes, Received]]:
        out = []
        oldest = time.time() - self.stale_after if self.stale_after > 0 else None
        for _ in range(limit):
            try:
                data, anc, _flags, (src_ip, src_port) = self.udp.recvmsg(MAX_DHCP + 1, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                break
            ifindex, dst, stale, mark = self.ifindex, None, False, 0
            for level, kind, value in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= _PKTINFO.size:
                    ifindex, _local, dst_raw = _PKTINFO.unpack_from(value)
                    dst = IPv4Address(dst_raw)
                elif (level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and oldest is not None
                      and len(value) >= _TIMESPEC.size):
                    sec, nsec = _TIMESPEC.unpack_from(value)
                    stale = sec + nsec * 1e-9 < oldest
                elif level == socket.SOL_SOCKET and kind == SO_MARK and len(value) >= 4:
                    mark = int.from_bytes(value[:4], sys.byteorder)
            if stale:
                self.stale += 1
                continue
            relayed = src_port == self.port
            if ifindex != self.ifindex and not relayed:
                continue  # a client on another interface: not ours to answer
            src_mac = mac_to_text(data[CHADDR]) if len(data) >= 34 else "00:00:00:00:00:00"
            out.append((data, Received(self.ifname, src_mac, IPv4Address(src_ip), src_port, dst,
                                       ingress=self._name(ifindex),
                                       port=self.port_of(mark) if mark else None)))
        return out

    def _name(self, ifindex: int) -> str | None:
        if ifindex == self.ifindex:
            return self.ifname
        try:
            return socket.if_indextoname(ifindex)
        except OSError:
            return None

    def send(self, reply: SendReply) -> None:
        try:
            if reply.dst_port == self.port:  # to a relay agent, routed as usual
                self.udp.sendto(reply.payload, (str(reply.dst_ip), reply.dst_port))
            else:
                frame = build_udp_frame(self.server_mac, reply.dst_mac, self.server_ip,
                                        reply.dst_ip, self.port, reply.dst_port, reply.payload)
                self.raw.send(frame)
            self.sent += 1
        except OSError as exc:
            self.send_errors += 1
            event(log, "dhcp_send_failed", level=logging.WARNING, dst=reply.dst_ip,
                  error=exc.strerror)
