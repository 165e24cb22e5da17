"""DHCP server sockets of the node agent (the only DHCP code that does I/O).

Receiving: one UDP socket bound to ``0.0.0.0:67`` with ``IP_PKTINFO`` takes
broadcasts from clients, unicast renewals and relayed requests (giaddr) alike,
and tells on which interface and to which address each arrived.  The kernel
filters, so the agent never sees the clients' other traffic.

Sending (RFC 2131 §4.1): replies to a relay go over that UDP socket to
``giaddr:67``; replies to a client go as whole Ethernet frames on a packet
socket, because a client without an address cannot answer ARP: broadcast to
``ff:ff:ff:ff:ff:ff`` or unicast to its hardware address.
"""

from __future__ import annotations

import logging
import socket
import struct
from ipaddress import IPv4Address

from l3roam.core.dhcp_actions import Received, SendReply
from l3roam.log import event
from l3roam.proto import dhcp
from l3roam.proto.ethernet import mac_to_text
from l3roam.proto.udp_frame import build_udp_frame

log = logging.getLogger("l3roam.node.dhcp")

IP_PKTINFO = 8
_PKTINFO = struct.Struct("=I4s4s")  # ifindex, local address, destination address
MAX_DHCP = 1500
CHADDR = slice(28, 34)


class DhcpSocket:
    def __init__(self, ifname: str, server_ip: IPv4Address, server_mac: str,
                 port: int = dhcp.SERVER_PORT):
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.server_ip = server_ip
        self.server_mac = server_mac
        self.port = port
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self.udp.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
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

    def fileno(self) -> int:
        return self.udp.fileno()

    def close(self) -> None:
        self.udp.close()
        self.raw.close()

    def recv_batch(self, limit: int = 256) -> list[tuple[bytes, Received]]:
        out = []
        for _ in range(limit):
            try:
                data, anc, _flags, (src_ip, src_port) = self.udp.recvmsg(MAX_DHCP + 1, 64)
            except (BlockingIOError, InterruptedError):
                break
            ifindex, dst = self.ifindex, None
            for level, kind, value in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= _PKTINFO.size:
                    ifindex, _local, dst_raw = _PKTINFO.unpack_from(value)
                    dst = IPv4Address(dst_raw)
            relayed = src_port == self.port
            if ifindex != self.ifindex and not relayed:
                continue  # a client on another interface: not ours to answer
            src_mac = mac_to_text(data[CHADDR]) if len(data) >= 34 else "00:00:00:00:00:00"
            out.append((data, Received(self.ifname, src_mac, IPv4Address(src_ip), src_port, dst)))
        return out

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
