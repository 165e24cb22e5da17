"""ARP codec for Ethernet/IPv4 (RFC 826): requests, replies, gratuitous ARP.

Pure module: no sockets.  The node agent sends a gratuitous ARP for the
anycast gateway when a client arrives (RFC 5227 §3 announcement: an ARP
request whose sender and target protocol addresses are both the gateway) and
reads clients' requests to answer for the client prefix.

ARP packet after the Ethernet header (type 0x0806), 28 octets::

    +---------------+---------------+---------------+---------------+
    |  hardware type (2) = 1        |  protocol type (2) = 0x0800   |
    +---------------+---------------+---------------+---------------+
    | hlen (1) = 6  | plen (1) = 4  |  operation (2) 1=req 2=reply  |
    +---------------+---------------+---------------+---------------+
    |                    sender hardware address (6)                |
    +               +---------------+---------------+---------------+
    |               |     sender protocol address (4)               |
    +---------------+---------------+---------------+---------------+
    |                    target hardware address (6)                |
    +               +---------------+---------------+---------------+
    |               |     target protocol address (4)               |
    +---------------+---------------+---------------+---------------+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address

from l3roam.errors import MalformedPacket
from l3roam.proto.ethernet import (
    BROADCAST_MAC,
    ETH_HEADER,
    ETH_HEADER_LEN,
    ETH_P_ARP,
    ETH_P_IP,
    ZERO_MAC,
    mac_to_bytes,
)

_ARP = struct.Struct("!HHBBH6s4s6s4s")
ARP_LEN = 28
HTYPE_ETHERNET = 1


class ArpOp(IntEnum):
    """RFC 826 'ar$op'."""

    REQUEST = 1
    REPLY = 2


@dataclass(frozen=True, slots=True)
class ArpPacket:
    op: ArpOp
    sender_mac: str
    sender_ip: IPv4Address
    target_mac: str
    target_ip: IPv4Address

    @property
    def is_gratuitous(self) -> bool:
        """Sender and target protocol address equal (RFC 5227 §3 announcement)."""
        return self.sender_ip == self.target_ip

    @property
    def is_probe(self) -> bool:
        """Sender address 0.0.0.0 (RFC 5227 §2.1.1 probe)."""
        return int(self.sender_ip) == 0


def encode_arp(pkt: ArpPacket) -> bytes:
    """The 28-octet ARP body."""
    return _ARP.pack(
        HTYPE_ETHERNET,
        ETH_P_IP,
        6,
        4,
        int(pkt.op),
        mac_to_bytes(pkt.sender_mac),
        pkt.sender_ip.packed,
        mac_to_bytes(pkt.target_mac),
        pkt.target_ip.packed,
    )


def decode_arp(body: bytes) -> ArpPacket:
    """Parse an ARP body (after the Ethernet header)."""
    if len(body) < ARP_LEN:
        raise MalformedPacket(f"truncated ARP: {len(body)} octets", len(body))
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(body)
    if htype != HTYPE_ETHERNET or ptype != ETH_P_IP or hlen != 6 or plen != 4:
        raise MalformedPacket("ARP is not Ethernet/IPv4", 0)
    if op not in (1, 2):
        raise MalformedPacket(f"ARP operation {op}", 6)
    return ArpPacket(ArpOp(op), sha.hex(":"), IPv4Address(spa), tha.hex(":"), IPv4Address(tpa))


def encode_arp_frame(pkt: ArpPacket, src_mac: str, dst_mac: str) -> bytes:
    """ARP inside an Ethernet frame, padded to the 60-octet minimum."""
    frame = ETH_HEADER.pack(mac_to_bytes(dst_mac), mac_to_bytes(src_mac), ETH_P_ARP) + encode_arp(pkt)
    return frame + bytes(60 - len(frame))


def decode_arp_frame(frame: bytes) -> tuple[str, str, ArpPacket]:
    """Return (dst_mac, src_mac, packet) of an Ethernet frame carrying ARP."""
    if len(frame) < ETH_HEADER_LEN:
        raise MalformedPacket(f"truncated Ethernet header: {len(frame)} octets", len(frame))
    dst, src, ethertype = ETH_HEADER.unpack_from(frame)
    if ethertype != ETH_P_ARP:
        raise MalformedPacket(f"ethertype {ethertype:#06x} is not ARP", 12)
    return dst.hex(":"), src.hex(":"), decode_arp(frame[ETH_HEADER_LEN:])


def gratuitous_arp_frame(mac: str, ip: IPv4Address) -> bytes:
    """Broadcast announcement that ``ip`` is at ``mac`` (RFC 5227 §3)."""
    pkt = ArpPacket(ArpOp.REQUEST, mac, ip, ZERO_MAC, ip)
    return encode_arp_frame(pkt, mac, BROADCAST_MAC)


def arp_reply_frame(request: ArpPacket, mac: str) -> bytes:
    """Answer ``request`` (for ``request.target_ip``) with ``mac`` (RFC 826 'Packet Reception')."""
    reply = ArpPacket(ArpOp.REPLY, mac, request.target_ip, request.sender_mac, request.sender_ip)
    return encode_arp_frame(reply, mac, request.sender_mac)


def arp_request_frame(src_mac: str, src_ip: IPv4Address, target_ip: IPv4Address) -> bytes:
    """Broadcast who-has ``target_ip`` (also an ARP probe when src_ip is 0.0.0.0)."""
    pkt = ArpPacket(ArpOp.REQUEST, src_mac, src_ip, ZERO_MAC, target_ip)
    return encode_arp_frame(pkt, src_mac, BROADCAST_MAC)
