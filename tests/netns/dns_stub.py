"""A stub upstream resolver for the DNS tests: answers every A query with one
fixed address, or stays silent (a resolver that is down)."""

from __future__ import annotations

import socket
import threading

from dnslib import QTYPE, RR, A, DNSRecord


class StubResolver:
    def __init__(self, bind: tuple[str, int] = ("127.0.0.1", 0), address: str = "192.0.2.7", silent: bool = False):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(bind)
        self.sock.settimeout(0.1)
        self.address = self.sock.getsockname()
        self.answer_with = address
        self.silent = silent
        self.queries: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            q = DNSRecord.parse(data)
            self.queries.append(str(q.q.qname))
            if self.silent:
                continue
            r = q.reply()
            r.add_answer(RR(q.q.qname, QTYPE.A, ttl=5, rdata=A(self.answer_with)))
            self.sock.sendto(r.pack(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
