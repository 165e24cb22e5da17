"""pcap files, read and written by hand (pure: bytes in, records out).

Reading: the classic pcap format (microsecond or nanosecond timestamps, either
byte order) with link types Ethernet (1), raw IP (101), Linux cooked v1
(113, ``tcpdump -i any`` before libpcap 1.10) and v2 (276).  Each frame is
decoded down to IPv4 and UDP/TCP ports; an IPv4 packet carried in SRv6
(IPv6, a routing header, then IPv4: l3roam's hand-off) is decoded to the inner
packet with ``srv6`` set.  A frame that cannot be decoded is counted, never
fatal.

Writing: Ethernet frames of IPv4/UDP datagrams (the RTP stream sipp plays).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_SLL = 113
LINK_SLL2 = 276
PKTTYPE_OUTGOING = 4
ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
IPPROTO_UDP = 17
IPPROTO_TCP = 6
IPPROTO_IPIP = 4
IPV6_ROUTING = 43


@dataclass(frozen=True)
class Packet:
    ts: float  # capture time, seconds since the epoch
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    payload: bytes  # after the UDP/TCP header, as far as captured
    outgoing: bool = False  # cooked captures: the host sent it (on this interface)
    ifindex: int = 0  # SLL2 only
    srv6: bool = False  # the IPv4 packet was inside an SRv6 encapsulation


@dataclass
class ReadResult:
    packets: list[Packet]
    undecoded: int = 0  # frames that were not IPv4 (or IPv4 in SRv6) or were cut short


def _ipv4(data: bytes, off: int) -> tuple[str, str, int, int] | None:
    """(src, dst, proto, offset of the transport header) or None."""
    if len(data) < off + 20 or data[off] >> 4 != 4:
        return None
    ihl = (data[off] & 0x0F) * 4
    proto = data[off + 9]
    src = str(ipaddress.IPv4Address(data[off + 12:off + 16]))
    dst = str(ipaddress.IPv4Address(data[off + 16:off + 20]))
    return src, dst, proto, off + ihl


def _inner_of_srv6(data: bytes, off: int) -> int | None:
    """Offset of the IPv4 packet inside an IPv6 + routing header encapsulation, or None."""
    if len(data) < off + 40 or data[off] >> 4 != 6 or data[off + 6] != IPV6_ROUTING:
        return None
    rh = off + 40
    if len(data) < rh + 8:
        return None
    if data[rh] != IPPROTO_IPIP:
        return None
    return rh + (data[rh + 1] + 1) * 8


def decode_ip(data: bytes, off: int, ts: float, outgoing: bool = False, ifindex: int = 0) -> Packet | None:
    srv6 = False
    if len(data) > off and data[off] >> 4 == 6:
        inner = _inner_of_srv6(data, off)
        if inner is None:
            return None
        off, srv6 = inner, True
    ip = _ipv4(data, off)
    if ip is None:
        return None
    src, dst, proto, t = ip
    if proto not in (IPPROTO_UDP, IPPROTO_TCP) or len(data) < t + 4:
        return Packet(ts, src, dst, proto, 0, 0, b"", outgoing, ifindex, srv6)
    sport, dport = struct.unpack_from("!HH", data, t)
    if proto == IPPROTO_UDP:
        body = t + 8
    else:
        body = t + ((data[t + 12] >> 4) * 4 if len(data) > t + 12 else 20)
    return Packet(ts, src, dst, proto, sport, dport, data[body:], outgoing, ifindex, srv6)


def _frame(link: int, data: bytes, ts: float) -> Packet | None:
    if link == LINK_ETHERNET:
        if len(data) < 14:
            return None
        etype = struct.unpack_from("!H", data, 12)[0]
        return decode_ip(data, 14, ts) if etype in (ETH_IPV4, ETH_IPV6) else None
    if link == LINK_RAW:
        return decode_ip(data, 0, ts)
    if link == LINK_SLL:
        if len(data) < 16:
            return None
        pkttype, = struct.unpack_from("!H", data, 0)
        etype, = struct.unpack_from("!H", data, 14)
        return decode_ip(data, 16, ts, pkttype == PKTTYPE_OUTGOING) if etype in (ETH_IPV4, ETH_IPV6) else None
    if link == LINK_SLL2:
        if len(data) < 20:
            return None
        etype, _, ifindex = struct.unpack_from("!HHI", data, 0)
        pkttype = data[10]
        return (decode_ip(data, 20, ts, pkttype == PKTTYPE_OUTGOING, ifindex)
                if etype in (ETH_IPV4, ETH_IPV6) else None)
    return None


def records(blob: bytes) -> Iterator[tuple[float, bytes]]:
    """(timestamp, frame) of every record; stops quietly at a truncated tail (a killed capture)."""
    if len(blob) < 24:
        return
    link, nano, endian = header(blob)
    off = 24
    scale = 1e-9 if nano else 1e-6
    while off + 16 <= len(blob):
        sec, frac, incl, _ = struct.unpack_from(endian + "IIII", blob, off)
        off += 16
        if off + incl > len(blob):
            return
        yield sec + frac * scale, blob[off:off + incl]
        off += incl


def header(blob: bytes) -> tuple[int, bool, str]:
    """(link type, nanosecond timestamps, struct byte order) of a pcap file."""
    for endian in ("<", ">"):
        magic, = struct.unpack_from(endian + "I", blob, 0)
        if magic in (MAGIC_US, MAGIC_NS):
            link, = struct.unpack_from(endian + "I", blob, 20)
            return link & 0x0FFFFFFF, magic == MAGIC_NS, endian
    raise ValueError("not a pcap file (bad magic)")


def read(blob: bytes) -> ReadResult:
    if not blob:
        return ReadResult([])
    link, _, _ = header(blob)
    out = ReadResult([])
    for ts, frame in records(blob):
        pkt = _frame(link, frame, ts)
        if pkt is None:
            out.undecoded += 1
        else:
            out.packets.append(pkt)
    return out


# ----------------------------------------------------------------------------- writing


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An Ethernet frame carrying one IPv4/UDP datagram (UDP checksum 0: none)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, IPPROTO_UDP, 0,
                               ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed))
    struct.pack_into("!H", ip, 10, _checksum(bytes(ip)))
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + struct.pack("!H", ETH_IPV4)
    return eth + bytes(ip) + udp


def write(frames: list[tuple[float, bytes]]) -> bytes:
    """A microsecond pcap file of Ethernet ``frames`` given as (time, bytes)."""
    out = [struct.pack("<IHHiIII", MAGIC_US, 2, 4, 0, 0, 65535, LINK_ETHERNET)]
    for ts, frame in frames:
        sec = int(ts)
        out.append(struct.pack("<IIII", sec, int(round((ts - sec) * 1e6)), len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)
