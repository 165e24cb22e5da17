"""Ethernet II header codec and MAC address text helpers.

Pure module: no sockets.  Shared by the ARP codec and the IPv4/UDP framing
that sends DHCP replies to clients without an address yet.

Ethernet II header (IEEE 802.3 §3.2, DIX framing), 14 octets::

    +-------------------------+-------------------------+-----------+
    | destination MAC (6)     | source MAC (6)          | type (2)  |
    +-------------------------+-------------------------+-----------+
"""

from __future__ import annotations

import struct

from l3roam.errors import MalformedPacket

ETH_HEADER = struct.Struct("!6s6sH")
ETH_HEADER_LEN = 14
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"


def mac_to_bytes(mac: str) -> bytes:
    """``aa:bb:cc:dd:ee:ff`` (or with dashes) to 6 octets."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


def mac_to_text(raw: bytes) -> str:
    return raw.hex(":")


def ethernet_header(dst_mac: str, src_mac: str, ethertype: int) -> bytes:
    return ETH_HEADER.pack(mac_to_bytes(dst_mac), mac_to_bytes(src_mac), ethertype)


def parse_ethernet(frame: bytes) -> tuple[str, str, int]:
    """Return (dst_mac, src_mac, ethertype); raise MalformedPacket if truncated."""
    if len(frame) < ETH_HEADER_LEN:
        raise MalformedPacket(f"truncated Ethernet header: {len(frame)} octets", len(frame))
    dst, src, ethertype = ETH_HEADER.unpack_from(frame)
    return dst.hex(":"), src.hex(":"), ethertype
