#!/usr/bin/env python3
"""Throughput of l3roam's struct DHCP codec against scapy, on the same packets.

    PYTHONPATH=. python3 bench/dhcp_codec.py [--seconds 1.0]

For each codec: parse the golden client messages (tests/data/*.bin) and build
an OFFER-like reply, one decode + one encode per operation; also the full
server path (decode, engine decision with an immediate master answer, reply
encode).  Prints operations per second and the ratio.
"""

from __future__ import annotations

import argparse
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from l3roam.core.dhcp_server import AskMaster, DhcpServer, DhcpServerSettings, MasterAnswer, Received
from l3roam.proto import dhcp
from l3roam.proto.dhcp import DhcpMessage, MessageType, Option

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
GOLDENS = [p.read_bytes() for p in sorted(DATA.glob("*.bin"))]
GW = IPv4Address("10.99.0.1")
YIADDR = IPv4Address("10.99.0.100")


def rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            fn()
        n += 100
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def l3roam_op(i=[0]) -> None:
    raw = GOLDENS[i[0] % len(GOLDENS)]
    i[0] += 1
    req = dhcp.decode(raw)
    reply = DhcpMessage(
        op=2,
        xid=req.xid,
        chaddr=req.chaddr,
        yiaddr=YIADDR,
        flags=req.flags,
        options={
            Option.DHCP_MESSAGE_TYPE: b"\x02",
            Option.SERVER_IDENTIFIER: GW.packed,
            Option.LEASE_TIME: dhcp.u32(600),
            Option.SUBNET_MASK: b"\xff\xff\x00\x00",
            Option.ROUTER: GW.packed,
            Option.DOMAIN_NAME_SERVER: GW.packed,
        },
    )
    dhcp.encode(reply)


def make_scapy_op():
    from scapy.layers.dhcp import BOOTP, DHCP

    def op(i=[0]) -> None:
        raw = GOLDENS[i[0] % len(GOLDENS)]
        i[0] += 1
        req = BOOTP(raw)
        reply = BOOTP(op=2, xid=req.xid, chaddr=req.chaddr, yiaddr=str(YIADDR), flags=req.flags) / DHCP(
            options=[
                ("message-type", "offer"),
                ("server_id", str(GW)),
                ("lease_time", 600),
                ("subnet_mask", "255.255.0.0"),
                ("router", str(GW)),
                ("name_server", str(GW)),
                "end",
            ]
        )
        bytes(reply)

    return op


def make_server_op():
    server = DhcpServer(DhcpServerSettings(server_id=GW, subnet=IPv4Network("10.99.0.0/16")))
    meta = Received("wlan0", "02:00:00:00:00:01")
    discover = DhcpMessage(op=1, xid=1, chaddr=b"", options={Option.DHCP_MESSAGE_TYPE: bytes((MessageType.DHCPDISCOVER,))})
    answer = MasterAnswer("ok", YIADDR, 600)
    payloads = []
    for k in range(1000):
        discover.chaddr = bytes.fromhex(f"0200{k:08x}")
        discover.xid = k
        payloads.append(dhcp.encode(discover))
    now = [0.0]

    def op(i=[0]) -> None:
        payload = payloads[i[0] % 1000]
        i[0] += 1
        now[0] += 0.0001
        for action in server.handle_bytes(payload, meta, now[0]):
            if isinstance(action, AskMaster):
                server.on_master_answer(action.token, answer, now[0])

    return op


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    ours = rate(l3roam_op, args.seconds)
    theirs = rate(make_scapy_op(), args.seconds)
    server = rate(make_server_op(), args.seconds)
    print(f"struct codec  decode+encode: {ours:10.0f} ops/s")
    print(f"scapy         parse+build:   {theirs:10.0f} ops/s")
    print(f"ratio struct/scapy:          {ours / theirs:10.0f}x")
    print(f"server path   decode+decide+encode (DISCOVER->OFFER): {server:10.0f} ops/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
