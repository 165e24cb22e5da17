"""MasterClient with several masters: retransmissions reach the one that answers.

Two UDP sockets on loopback: the first master is silent (dead or a standby),
the second answers like a master.  Real sockets, no fake.
"""

from __future__ import annotations

import socket
import threading
import time

from l3roam.master.client import MasterClient
from l3roam.proto.control import MASTER_ID, Codec, Field, Message, MessageType, Status, decode

KEY = b"f" * 16


def answering_master(sock: socket.socket, stop: threading.Event, seen: list) -> None:
    codec = Codec(KEY, MASTER_ID, time.time_ns())
    sock.settimeout(0.05)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(9000)
        except socket.timeout:
            continue
        msg = decode(data, KEY)
        seen.append(msg.request_id)
        reply = Message(MessageType.REPLY, MASTER_ID, msg.request_id, {Field.STATUS: Status.OK},
                        response=True)
        sock.sendto(codec.encode(reply, int(time.time() * 1000)), peer)


def test_client_fails_over_to_the_answering_master_and_sticks_to_it():
    dead, live = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    dead.bind(("127.0.0.1", 0))
    live.bind(("127.0.0.1", 0))
    stop, seen = threading.Event(), []
    t = threading.Thread(target=answering_master, args=(live, stop, seen), daemon=True)
    t.start()
    c = MasterClient("n1", KEY, [dead.getsockname(), live.getsockname()], retry_initial=0.05,
                     deadline=2.0)
    try:
        assert c.master == dead.getsockname()
        t0 = time.monotonic()
        assert c.call(MessageType.HELLO, {}).ok
        assert time.monotonic() - t0 < 0.5  # the first retransmission (50 ms) reached it
        assert c.master == live.getsockname()
        before = c.retransmits
        assert c.call(MessageType.HELLO, {}).ok
        assert c.retransmits == before  # straight to the live one now
        dead.settimeout(0.01)
        got = 0
        try:
            while True:
                dead.recv(9000)
                got += 1
        except socket.timeout:
            pass
        assert got == 2  # the first request: its first copy, and its retransmission to both
    finally:
        stop.set()
        t.join(2)
        c.close()
        dead.close()
        live.close()
