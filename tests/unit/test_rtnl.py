"""The bare RTM_NEWROUTE request and its ACK parser (l3roam/kernel/rtnl.py)."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

from l3roam.kernel.rtnl import ack_error, replace_route_request


def test_request_matches_the_kernel_layout():
    msg = replace_route_request(7, IPv4Address("10.96.0.5"), 3, 44, 254, 253, 1)
    # nlmsghdr: length, RTM_NEWROUTE, REQUEST|ACK|REPLACE|CREATE, seq 7, pid 0
    assert struct.unpack_from("=IHHII", msg) == (len(msg), 24, 0x505, 7, 0)
    # rtmsg: AF_INET, /32, table main, proto 44, scope link, unicast
    assert struct.unpack_from("=BBBBBBBBI", msg, 16) == (2, 32, 0, 0, 254, 44, 253, 1, 0)
    # RTA_DST 10.96.0.5, RTA_OIF 3, no priority
    assert msg[28:] == struct.pack("=HH4s", 8, 1, bytes([10, 96, 0, 5])) + struct.pack("=HHI", 8, 4, 3)


def test_request_with_metric_carries_rta_priority():
    msg = replace_route_request(1, IPv4Address("10.0.0.1"), 2, 44, 254, 253, 1, metric=50)
    assert msg.endswith(struct.pack("=HHI", 8, 6, 50))
    assert struct.unpack_from("=I", msg)[0] == len(msg) == 52


def _error(seq: int, err: int) -> bytes:
    return struct.pack("=IHHIIi", 36, 2, 0, seq, 0, err) + b"\0" * 16


def test_ack_error_finds_its_sequence_number():
    assert ack_error(_error(5, 0), 5) == 0
    assert ack_error(_error(5, -19), 5) == 19  # ENODEV
    assert ack_error(_error(4, 0) + _error(5, -17), 5) == 17
    assert ack_error(_error(4, 0), 5) is None
    assert ack_error(b"\x01\x00", 5) is None  # truncated: not an answer
