"""The node agent's DHCP socket cuts requests that waited too long, unread.

Under overload the receive queue would hold seconds of requests and every
answer would come too late; DhcpSocket drops datagrams whose kernel arrival
stamp (SO_TIMESTAMPNS) is older than ``stale_after`` and counts them.  Real
kernel, in a namespace of its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from ipaddress import IPv4Address

import pytest

from l3roam.kernel.nsthread import NamespaceThread
from l3roam.node.dhcp_io import DhcpSocket

pytestmark = [pytest.mark.netns]

PORT = 6767


@pytest.fixture
def ns():
    name = f"l3rt-pf-{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    thread = None
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        thread = NamespaceThread(name)
        yield thread
    finally:
        if thread is not None:
            thread.stop()
        subprocess.run(["ip", "netns", "delete", name], check=False)


def relayed(xid: int) -> bytes:
    # a BOOTREQUEST from a relay: op 1, htype 1, hlen 6, xid, giaddr 127.0.0.1
    head = bytes([1, 1, 6, 0]) + xid.to_bytes(4, "big") + bytes(16) + bytes([127, 0, 0, 1])
    return head + bytes.fromhex("020000000001") + bytes(202) + bytes([99, 130, 83, 99, 255])


def test_requests_older_than_stale_after_are_cut_and_counted(ns):
    dsock = ns.run(DhcpSocket, "lo", IPv4Address("127.0.0.1"), "00:00:00:00:00:00", PORT, 0.05)
    relay = ns.run(socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ns.run(relay.bind, ("127.0.0.1", PORT + 1))
        for xid in (1, 2, 3):
            relay.sendto(relayed(xid), ("127.0.0.1", PORT))
        time.sleep(0.15)  # these three now waited longer than 50 ms
        relay.sendto(relayed(4), ("127.0.0.1", PORT))
        got = dsock.recv_batch()
        assert [int.from_bytes(data[4:8], "big") for data, _ in got] == [4]
        assert dsock.stale == 3
        # nothing is cut when the agent keeps up
        dsock.stale_after = 5.0
        relay.sendto(relayed(5), ("127.0.0.1", PORT))
        assert len(dsock.recv_batch()) == 1 and dsock.stale == 3
    finally:
        relay.close()
        dsock.close()
