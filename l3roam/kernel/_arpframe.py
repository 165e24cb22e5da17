"""A gratuitous ARP frame (private; the lead may replace it by l3roam.proto.arp).

Pure: builds bytes, touches no socket.

Ethernet + ARP for IPv4 over Ethernet (RFC 826), as an ARP Announcement
(RFC 5227 §3: an ARP Request whose sender and target protocol addresses are
both the announced address).  Linux treats it as gratuitous (``arp_is_garp``)
and overrides an existing cache entry even inside ``locktime``.

     0                   1                   2                   3
    +-------------------------------+-------------------------------+
    | destination MAC (6)                                           |
    | source MAC (6)                                                |
    | ethertype 0x0806 (2)          | htype 1 (2)                   |
    | ptype 0x0800 (2)              | hlen 6 | plen 4 | oper (2)    |
    | sender hardware address (6)   | sender protocol address (4)   |
    | target hardware address (6)   | target protocol address (4)   |
    +-------------------------------+-------------------------------+
"""

from __future__ import annotations

import struct
from enum import IntEnum
from ipaddress import IPv4Address

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
HTYPE_ETHERNET = 1


class Operation(IntEnum):
    """ARP opcodes, RFC 826."""

    REQUEST = 1
    REPLY = 2


def mac_bytes(mac: str) -> bytes:
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return raw


def gratuitous_arp(ip: IPv4Address, mac: str, dst_mac: str = "ff:ff:ff:ff:ff:ff",
                   op: Operation = Operation.REQUEST) -> bytes:
    """Ethernet frame announcing that ``ip`` is at ``mac``, sent to ``dst_mac``."""
    src = mac_bytes(mac)
    eth = mac_bytes(dst_mac) + src + struct.pack("!H", ETH_P_ARP)
    # RFC 5227 §3: target hardware address is ignored in an announcement; zero
    # for a request.  For a reply Linux wants it equal to the sender's.
    tha = src if op == Operation.REPLY else bytes(6)
    arp = struct.pack("!HHBBH", HTYPE_ETHERNET, ETH_P_IP, 6, 4, op) + src + ip.packed + tha + ip.packed
    return eth + arp
