"""The node agent's DNS socket loop: thin I/O around ``DnsAnswerer``.

One UDP socket bound to the anycast gateway address (port 53 by default).
Each query goes to ``DnsAnswerer.answer``; an answer is sent back, a
``Forward`` goes to the first upstream resolver from a fresh socket (random
source port, RFC 5452 §9.2), then to the next one after ``timeout``; when
none answers the client gets SERVFAIL.  A bound on pending forwards sheds
load with SERVFAIL instead of queueing without limit.  Malformed datagrams
are dropped and counted by the answerer.

Blocking loop over ``select`` (``serve_forever`` in a thread of the agent),
or ``step(timeout)`` from the agent's own loop.  UDP only: no TCP fallback.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from dataclasses import dataclass

from l3roam.log import event
from l3roam.node.dns import DnsAnswerer, Forward

log = logging.getLogger(__name__)
MAX_DATAGRAM = 4096  # EDNS0 payloads above 512 (RFC 6891 §6.2.5)


@dataclass
class _Pending:
    client: tuple[str, int]
    query: bytes
    qid: int
    upstream: int  # index into upstreams
    deadline: float


class DnsServer:
    """Answers and forwards DNS queries on one UDP socket."""

    def __init__(self, answerer: DnsAnswerer, bind: tuple[str, int],
                 upstreams: list[tuple[str, int]] | tuple[tuple[str, int], ...] = (),
                 timeout: float = 1.0, max_pending: int = 256):
        self.answerer = answerer
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.max_pending = max_pending
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(bind)
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        self._pending: dict[socket.socket, _Pending] = {}
        self.servfails = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        for s in list(self._pending):
            s.close()
        self._pending.clear()
        self.sock.close()

    def serve_forever(self, stop: threading.Event, tick: float = 0.2) -> None:
        while not stop.is_set():
            self.step(tick)

    def step(self, timeout: float) -> None:
        """Wait up to ``timeout`` for traffic, handle it, expire forwards."""
        now = time.monotonic()
        if self._pending:
            timeout = max(0.0, min(timeout, min(p.deadline for p in self._pending.values()) - now))
        readable, _, _ = select.select([self.sock, *self._pending], [], [], timeout)
        for s in readable:
            if s is self.sock:
                self._from_client()
            else:
                self._from_upstream(s)
        self._expire(time.monotonic())

    def _from_client(self) -> None:
        while True:
            try:
                data, client = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable from an earlier reply
                event(log, "dns_recv_error", level=logging.DEBUG, error=exc.strerror)
                continue
            decision = self.answerer.answer(data)
            if decision is None:
                event(log, "dns_malformed", level=logging.DEBUG, client=client[0], size=len(data))
            elif isinstance(decision, Forward):
                self._forward(client, decision)
            else:
                self._send(decision, client)

    def _send(self, data: bytes, client: tuple[str, int]) -> None:
        try:
            self.sock.sendto(data, client)
        except OSError as exc:
            event(log, "dns_send_error", level=logging.DEBUG, client=client[0], error=exc.strerror)

    def _forward(self, client: tuple[str, int], fwd: Forward, index: int = 0) -> None:
        if index >= len(self.upstreams) or len(self._pending) >= self.max_pending:
            self._servfail(client, fwd.query)
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        try:
            s.connect(self.upstreams[index])
            s.send(fwd.query)
        except OSError as exc:
            s.close()
            event(log, "dns_upstream_error", level=logging.DEBUG, upstream=self.upstreams[index][0],
                  error=exc.strerror)
            self._forward(client, fwd, index + 1)
            return
        self._pending[s] = _Pending(client, fwd.query, fwd.qid, index, time.monotonic() + self.timeout)

    def _from_upstream(self, s: socket.socket) -> None:
        p = self._pending[s]
        try:
            data = s.recv(MAX_DATAGRAM)
        except BlockingIOError:
            return
        except OSError:  # refused: try the next one at once
            del self._pending[s]
            s.close()
            self._forward(p.client, Forward(p.query, p.qid), p.upstream + 1)
            return
        if len(data) < 2 or int.from_bytes(data[:2], "big") != p.qid:
            return  # not the answer to our query: keep waiting
        del self._pending[s]
        s.close()
        self._send(data, p.client)

    def _expire(self, now: float) -> None:
        for s, p in list(self._pending.items()):
            if p.deadline <= now:
                del self._pending[s]
                s.close()
                self._forward(p.client, Forward(p.query, p.qid), p.upstream + 1)

    def _servfail(self, client: tuple[str, int], query: bytes) -> None:
        reply = self.answerer.servfail(query)
        if reply is not None:
            self.servfails += 1
            self._send(reply, client)
