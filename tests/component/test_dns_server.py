"""DnsServer over loopback: own names, forwarding with fallback, SERVFAIL."""

from __future__ import annotations

import socket
import sys
import threading
import time
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
from dnslib import RCODE, DNSRecord

from l3roam.node.dns import DnsAnswerer
from l3roam.node.dns_server import DnsServer

sys.path.insert(0, str(Path(__file__).parent.parent / "netns"))
from dns_stub import StubResolver  # noqa: E402


@pytest.fixture
def running():
    started: list = []

    def start(upstreams, timeout=0.3):
        answerer = DnsAnswerer("mesh", IPv4Network("10.99.0.0/16"))
        answerer.set_name("laptop", IPv4Address("10.99.0.5"))
        server = DnsServer(answerer, ("127.0.0.1", 0), upstreams, timeout=timeout)
        stop = threading.Event()
        t = threading.Thread(target=server.serve_forever, args=(stop, 0.05), daemon=True)
        t.start()
        started.append((server, stop, t))
        return server

    try:
        yield start
    finally:
        for server, stop, t in started:
            stop.set()
            t.join(timeout=2)
            server.close()


def query(server: DnsServer, name: str, qtype: str = "A", timeout: float = 3) -> DNSRecord:
    host, port = server.address
    return DNSRecord.parse(DNSRecord.question(name, qtype).send(host, port, timeout=timeout))


def test_own_name_and_forward_with_fallback(running):
    dead = StubResolver(silent=True)
    live = StubResolver(address="192.0.2.7")
    try:
        server = running([dead.address, live.address])
        assert [str(rr.rdata) for rr in query(server, "laptop.mesh").rr] == ["10.99.0.5"]
        t0 = time.monotonic()
        r = query(server, "example.org")
        took = time.monotonic() - t0
        assert [str(rr.rdata) for rr in r.rr] == ["192.0.2.7"]
        assert dead.queries == ["example.org."] and live.queries == ["example.org."]
        assert 0.25 <= took < 2.0  # waited for the silent one, then asked the next
    finally:
        dead.close()
        live.close()


def test_servfail_when_no_upstream_answers(running):
    dead = StubResolver(silent=True)
    try:
        server = running([dead.address])
        assert query(server, "example.org").header.rcode == RCODE.SERVFAIL
        assert running([]) and query(running([]), "example.org").header.rcode == RCODE.SERVFAIL
    finally:
        dead.close()


def test_malformed_datagram_is_dropped_and_server_keeps_going(running):
    server = running([])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\x00\x01garbage", server.address)
    s.close()
    assert [str(rr.rdata) for rr in query(server, "laptop.mesh").rr] == ["10.99.0.5"]
    assert server.answerer.counters.malformed == 1
