"""MasterClient retransmission timing: adaptive RTO (RFC 6298) and the timer heap.

The master address is a UDP port on loopback where nobody answers, so every
request times out unless the test feeds an answer's round trip itself.
"""

from __future__ import annotations

import socket

import pytest

from l3roam.master.client import MasterClient
from l3roam.proto.control import MessageType


@pytest.fixture
def client():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    c = MasterClient("n1", b"k" * 16, sink.getsockname(), retry_initial=0.05, retry_max=0.5,
                     deadline=2.0, clock=lambda: 0.0)
    yield c
    c.close()
    sink.close()


def test_first_retransmission_waits_for_the_estimated_rto(client):
    assert client.rto == 0.05  # no sample yet: retry_initial
    for _ in range(20):
        client._sample(0.2)  # a busy master answers in 200 ms
    assert 0.2 <= client.rto <= 0.5
    client.send(MessageType.HELLO, {}, lambda a: None, now=0.0)
    client.on_timer(0.1)
    assert client.retransmits == 0  # the old fixed 50 ms would have resent already
    client.on_timer(client.rto + 0.001)
    assert client.retransmits == 1


def test_rto_stays_within_its_bounds(client):
    client._sample(0.001)
    assert client.rto == 0.05
    client._sample(5.0)
    assert client.rto == 0.5


def test_deadline_reports_none_once_and_next_deadline_follows_the_heap(client):
    got = []
    client.send(MessageType.HELLO, {}, got.append, now=0.0)
    client.send(MessageType.HELLO, {}, got.append, now=1.0)
    assert client.next_deadline() == pytest.approx(0.05)
    t = 0.0
    while t < 2.5:
        t += 0.01
        client.on_timer(t)
    assert got == [None]  # the first one expired at 2.0, the second one not yet (3.0)
    assert len(client.outstanding) == 1 and client.next_deadline() <= 3.0
    client.on_timer(3.0)
    assert got == [None, None] and client.next_deadline() is None


def test_notices_are_known_by_move_not_by_request_id():
    """A restarted master may reuse request ids: a new move under an old id is still reported."""
    import time as _time

    from l3roam.proto.control import MASTER_ID, Codec, Field, Message
    from l3roam.proto.keys import NodeKey

    key = NodeKey("n1-a", b"k" * 16)
    got = []
    c = MasterClient("n1", key, ("127.0.0.1", 9), on_notice=got.append)
    master = Codec(key, MASTER_ID, 1)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        def moved(mac: str, seq: int) -> None:
            msg = Message(MessageType.MOVED, "", 1, {Field.MAC: mac, Field.NODE: "n2", Field.SEQ: seq})
            peer.sendto(master.encode(msg, int(_time.time() * 1000)), c.sock.getsockname())
            _time.sleep(0.05)
            c.on_readable(_time.time())

        moved("02:00:00:00:00:01", 2)
        moved("02:00:00:00:00:01", 2)  # a retransmission: acknowledged, reported once
        moved("02:00:00:00:00:02", 3)  # a new move under the same request id
        assert [(n.mac, n.seq) for n in got] == [("02:00:00:00:00:01", 2), ("02:00:00:00:00:02", 3)]
    finally:
        c.close()
        peer.close()
