"""Ethernet + IPv4 + UDP framing, for DHCP replies to clients without an address.

Pure module: no sockets.  A DHCP server must sometimes send to a client that
has no IP address yet (RFC 2131 §4.1: unicast to 'chaddr' and 'yiaddr'), which
a UDP socket cannot do without touching the ARP table; the adapter sends the
frame built here on a raw packet socket instead.  ``parse_udp_frame`` reads the
frames such a socket receives.

IPv4 header (RFC 791 §3.1), 20 octets without options, then UDP (RFC 768)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-------+-------+---------------+-------------------------------+
    |Version|  IHL  |Type of Service|          Total Length         |
    +-------+-------+---------------+-----+-------------------------+
    |         Identification        |Flags|      Fragment Offset    |
    +---------------+---------------+-----+-------------------------+
    |  Time to Live |    Protocol   |         Header Checksum       |
    +---------------+---------------+-------------------------------+
    |                       Source Address                          |
    +---------------------------------------------------------------+
    |                    Destination Address                        |
    +-------------------------------+-------------------------------+
    |          Source Port          |       Destination Port        |
    +-------------------------------+-------------------------------+
    |            Length             |           Checksum            |
    +-------------------------------+-------------------------------+
    |                          payload ...                          |
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from ipaddress import IPv4Address

from l3roam.errors import MalformedPacket
from l3roam.proto.ethernet import ETH_HEADER, ETH_HEADER_LEN, ETH_P_IP, mac_to_bytes

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
IPPROTO_UDP = 17
DEFAULT_TTL = 64


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\x00"
    words = array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _udp_checksum(src: bytes, dst: bytes, udp: bytes) -> int:
    # RFC 768: the checksum covers a pseudo header of addresses, protocol and length.
    pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_UDP, len(udp))
    csum = internet_checksum(pseudo + udp)
    return csum or 0xFFFF  # 0 means "no checksum"; send all ones instead


@dataclass(frozen=True, slots=True)
class UdpFrame:
    dst_mac: str
    src_mac: str
    src_ip: IPv4Address
    dst_ip: IPv4Address
    sport: int
    dport: int
    payload: bytes


def build_udp_frame(
    src_mac: str,
    dst_mac: str,
    src_ip: IPv4Address,
    dst_ip: IPv4Address,
    sport: int,
    dport: int,
    payload: bytes,
    ttl: int = DEFAULT_TTL,
) -> bytes:
    """An Ethernet frame carrying ``payload`` in UDP/IPv4, both checksums filled in."""
    src, dst = src_ip.packed, dst_ip.packed
    udp_len = 8 + len(payload)
    udp = _UDP.pack(sport, dport, udp_len, 0) + payload
    udp = udp[:6] + struct.pack("!H", _udp_checksum(src, dst, udp)) + udp[8:]
    ip = _IPV4.pack(0x45, 0, 20 + udp_len, 0, 0, ttl, IPPROTO_UDP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return ETH_HEADER.pack(mac_to_bytes(dst_mac), mac_to_bytes(src_mac), ETH_P_IP) + ip + udp


def parse_udp_frame(frame: bytes, check_udp_checksum: bool = False) -> UdpFrame:
    """Read an Ethernet/IPv4/UDP frame; raise MalformedPacket for anything else.

    The IPv4 header checksum is always checked.  The UDP checksum only on
    request: a packet socket on a veth (or with checksum offload) sees frames
    sent through a local UDP socket with the checksum not yet filled in
    (CHECKSUM_PARTIAL), e.g. a client's unicast RENEW.
    """
    n = len(frame)
    if n < ETH_HEADER_LEN + 20 + 8:
        raise MalformedPacket(f"truncated frame: {n} octets", n)
    dst_mac, src_mac, ethertype = ETH_HEADER.unpack_from(frame)
    if ethertype != ETH_P_IP:
        raise MalformedPacket(f"ethertype {ethertype:#06x} is not IPv4", 12)
    o = ETH_HEADER_LEN
    ver_ihl, _tos, total, _ident, frag, _ttl, proto, _csum, src, dst = _IPV4.unpack_from(frame, o)
    if ver_ihl >> 4 != 4:
        raise MalformedPacket(f"IP version {ver_ihl >> 4}", o)
    ihl = (ver_ihl & 0x0F) * 4
    if ihl < 20 or o + ihl + 8 > n:
        raise MalformedPacket(f"bad IPv4 header length {ihl}", o)
    if total < ihl + 8 or o + total > n:
        raise MalformedPacket(f"IPv4 total length {total} does not fit the frame", o + 2)
    if internet_checksum(frame[o : o + ihl]) != 0:
        raise MalformedPacket("bad IPv4 header checksum", o + 10)
    if frag & 0x3FFF:  # MF flag or a fragment offset
        raise MalformedPacket("IPv4 fragment", o + 6)
    if proto != IPPROTO_UDP:
        raise MalformedPacket(f"IP protocol {proto} is not UDP", o + 9)
    u = o + ihl
    sport, dport, ulen, ucsum = _UDP.unpack_from(frame, u)
    if ulen < 8 or u + ulen > o + total:
        raise MalformedPacket(f"UDP length {ulen} does not fit the IPv4 packet", u + 4)
    udp = frame[u : u + ulen]
    if check_udp_checksum and ucsum:
        pseudo = src + dst + struct.pack("!BBH", 0, IPPROTO_UDP, ulen)
        if internet_checksum(pseudo + udp) != 0:
            raise MalformedPacket("bad UDP checksum", u + 6)
    return UdpFrame(
        dst_mac=dst_mac.hex(":"),
        src_mac=src_mac.hex(":"),
        src_ip=IPv4Address(src),
        dst_ip=IPv4Address(dst),
        sport=sport,
        dport=dport,
        payload=bytes(udp[8:]),
    )
