"""Node-side client of the master's control protocol.

Non-blocking and loop-agnostic: the node agent registers ``fileno()`` with its
own selector and calls ``on_readable(now)`` and ``on_timer(now)``; answers
arrive through callbacks (``None`` when the master did not answer before the
deadline).  Retransmissions reuse the request id, so the master answers a
repeated request from its cache instead of executing it twice, and back off
exponentially with jitter.  The first retransmission waits for the larger of
``retry_initial`` and an RTO estimated from answered requests (RFC 6298 §2,
Karn's rule: retransmitted requests give no sample), so a master that is
merely busy is not sent every request twice.  Timers sit in a heap, so
``on_timer`` and ``next_deadline`` do not walk every outstanding request.
``call`` is a blocking convenience for tools, tests and benchmarks.

Move notices (MOVED) from the master are acknowledged here at once and passed
to ``on_notice``; a repeated notice (same MAC, move number and new node) is
acknowledged again but reported once, whatever its request id.
"""

from __future__ import annotations

import heapq
import logging
import random
import selectors
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from typing import Callable

from l3roam.errors import AuthenticationError, MalformedPacket, MasterUnavailable
from l3roam.log import event
from l3roam.proto.control import (MASTER_ID, MAX_DATAGRAM, Codec, Field, LeaseOp, Message, MessageType,
                                  ReplayGuard, Status, decode)
from l3roam.proto.keys import KeyRing, NodeKey

log = logging.getLogger("l3roam.client")



@dataclass(frozen=True)
class Answer:
    ok: bool
    reason: str
    fields: dict

    @property
    def ip(self) -> IPv4Address | None:
        return self.fields.get(Field.IP)

    @property
    def lease_seconds(self) -> int:
        return int(self.fields.get(Field.LEASE_SECONDS, 0))

    @property
    def seq(self) -> int:
        return int(self.fields.get(Field.SEQ, 0))

    @property
    def node(self) -> str | None:
        return self.fields.get(Field.NODE)

    @property
    def prev_node(self) -> str | None:
        return self.fields.get(Field.PREV_NODE)

    @classmethod
    def of(cls, msg: Message) -> "Answer":
        ok = msg.get(Field.STATUS) == Status.OK
        return cls(ok, str(msg.get(Field.REASON, "")), msg.fields)


@dataclass(frozen=True)
class MoveNotice:
    mac: str
    ip: IPv4Address | None
    new_node: str
    seq: int
    handoff: IPv6Address | None


@dataclass
class _Outstanding:
    data_fields: dict
    mtype: MessageType
    callback: Callable[[Answer | None], None]
    next_try: float
    interval: float
    deadline: float
    sent_at: float
    retransmitted: bool = False

    @property
    def due(self) -> float:
        return min(self.next_try, self.deadline)


class MasterClient:
    def __init__(self, node_id: str, key: bytes | NodeKey, master: tuple[str, int] | list[tuple[str, int]], *,
                 bind: tuple[str, int] | None = None, retry_initial: float = 0.05,
                 retry_max: float = 0.5, deadline: float = 2.0, max_skew: float = 30.0,
                 on_notice: Callable[[MoveNotice], None] | None = None, clock=time.time):
        self.node_id = node_id
        # several masters share a replicated store; one is active at a time
        self.masters: list[tuple[str, int]] = list(master) if isinstance(master, list) else [master]
        self._current = 0
        master = self.masters[0]
        self.codec = Codec(key, node_id, time.time_ns())
        # the master answers with the key a request came with, and notifies with ours
        self._keys = KeyRing.shared(key) if isinstance(key, (bytes, bytearray)) else KeyRing([key])
        self.guard = ReplayGuard(max_skew)
        self.retry_initial, self.retry_max, self.deadline = retry_initial, retry_max, deadline
        self.on_notice = on_notice
        self.clock = clock
        family = socket.AF_INET6 if ":" in master[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(bind or (("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
        self.sock.setblocking(False)
        self._rid = random.getrandbits(48)
        self.outstanding: dict[int, _Outstanding] = {}
        self._timers: list[tuple[float, int]] = []  # (due, rid); stale once rid is gone or due moved
        self._srtt: float | None = None  # smoothed RTT and its variation (RFC 6298 §2)
        self._rttvar = 0.0
        self._notices_seen: OrderedDict[tuple[str, int, str], float] = OrderedDict()
        self.dropped = 0
        self.retransmits = 0

    @property
    def master(self) -> tuple[str, int]:
        """The master that answered last (the first one until then)."""
        return self.masters[self._current]

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    # ---- requests ------------------------------------------------------------
    def send(self, mtype: MessageType, fields: dict, callback: Callable[[Answer | None], None],
             now: float | None = None, deadline: float | None = None) -> int:
        """``deadline``: seconds until the callback gets None (default: the client's)."""
        now = self.clock() if now is None else now
        self._rid += 1
        rid = self._rid
        rto = self.rto
        o = _Outstanding(fields, mtype, callback, now + rto, rto,
                         now + (self.deadline if deadline is None else deadline), now)
        self.outstanding[rid] = o
        heapq.heappush(self._timers, (o.due, rid))
        self._transmit(rid, o, now)
        return rid

    @property
    def rto(self) -> float:
        """Wait before the first retransmission: retry_initial .. retry_max."""
        if self._srtt is None:
            return self.retry_initial
        return min(self.retry_max, max(self.retry_initial, self._srtt + 4 * self._rttvar))

    def _sample(self, rtt: float) -> None:
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:  # RFC 6298 §2.3, alpha 1/8, beta 1/4
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - rtt)
            self._srtt = 0.875 * self._srtt + 0.125 * rtt

    def _transmit(self, rid: int, o: _Outstanding, now: float) -> None:
        """The first copy goes to the master that answered last; a retransmission to all.

        Only the active master answers (a standby has no socket) and it answers
        a repeated request id from its cache, so the copies cost nothing more
        than the datagrams, and a failover costs no extra round of timeouts.
        """
        targets = self.masters if o.retransmitted else [self.master]
        for target in targets:
            data = self.codec.encode(Message(o.mtype, self.node_id, rid, o.data_fields),
                                     int(now * 1000))
            try:
                self.sock.sendto(data, target)
            except OSError as exc:
                event(log, "send_failed", level=logging.DEBUG, error=exc.strerror)

    def hello(self, callback, handoff: IPv6Address | None = None, now: float | None = None) -> int:
        return self.send(MessageType.HELLO, {Field.HANDOFF: handoff}, callback, now)

    def lease(self, op: LeaseOp, mac: str, callback, *, ip: IPv4Address | None = None,
              hostname: str | None = None, client_id: bytes | None = None,
              lease_seconds: int | None = None, now: float | None = None) -> int:
        fields = {Field.OP: int(op), Field.MAC: mac, Field.IP: ip, Field.HOSTNAME: hostname,
                  Field.CLIENT_ID: client_id, Field.LEASE_SECONDS: lease_seconds}
        return self.send(MessageType.LEASE, fields, callback, now)

    def claim(self, mac: str, seq: int, callback, now: float | None = None) -> int:
        return self.send(MessageType.CLAIM, {Field.MAC: mac, Field.SEQ: seq}, callback, now)

    def query(self, callback, *, mac: str | None = None, ip: IPv4Address | None = None,
              now: float | None = None, deadline: float | None = None) -> int:
        return self.send(MessageType.QUERY, {Field.MAC: mac, Field.IP: ip}, callback, now, deadline)

    # ---- events --------------------------------------------------------------
    def on_readable(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        while True:
            try:
                data, peer = self.sock.recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # ICMP errors surface here; the retry timer handles them
            try:
                msg = decode(data, self._keys)
                if msg.sender != MASTER_ID:
                    raise AuthenticationError("unknown_sender", msg.sender)
                self.guard.check(msg, int(now * 1000))
            except (MalformedPacket, AuthenticationError) as exc:
                self.dropped += 1
                event(log, "dropped", level=logging.DEBUG, peer=peer[0], detail=str(exc))
                continue
            if msg.response:
                o = self.outstanding.pop(msg.request_id, None)
                if o is not None and len(self.masters) > 1:
                    self._answered_by(peer)
                if o is not None:
                    if not o.retransmitted:
                        self._sample(now - o.sent_at)
                    o.callback(Answer.of(msg))
            elif msg.type is MessageType.MOVED:
                self._on_moved(msg, peer, now)

    def _answered_by(self, peer: tuple) -> None:
        for i, (host, port) in enumerate(self.masters):
            if port == peer[1] and host in (peer[0], peer[0].removeprefix("::ffff:")):
                if i != self._current:
                    event(log, "master_switched", master=f"{host}:{port}")
                    self._current = i
                return

    def _on_moved(self, msg: Message, peer: tuple, now: float) -> None:
        ack = Message(MessageType.REPLY, self.node_id, msg.request_id, {Field.STATUS: Status.OK},
                      response=True)
        try:
            self.sock.sendto(self.codec.encode(ack, int(now * 1000)), peer)
        except OSError:
            pass
        # one move is (MAC, move number, new node): that, not the request id,
        # says whether this notice was seen, so a notice from a restarted master
        # (whose ids may start again) is never taken for an old one
        key = (str(msg.get(Field.MAC)), int(msg.get(Field.SEQ, 0)), str(msg.get(Field.NODE)))  # type: ignore[arg-type]
        if key in self._notices_seen:
            return
        self._notices_seen[key] = now
        while len(self._notices_seen) > 4096:
            self._notices_seen.popitem(last=False)
        if self.on_notice is not None:
            self.on_notice(MoveNotice(str(msg.get(Field.MAC)), msg.get(Field.IP),  # type: ignore[arg-type]
                                      str(msg.get(Field.NODE)), int(msg.get(Field.SEQ, 0)),  # type: ignore[arg-type]
                                      msg.get(Field.HANDOFF)))  # type: ignore[arg-type]

    def on_timer(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, rid = heapq.heappop(timers)
            o = self.outstanding.get(rid)
            if o is None or o.due != due:
                continue  # answered, or rescheduled
            if o.deadline <= now:
                del self.outstanding[rid]
                o.callback(None)
            else:
                o.interval = min(o.interval * 2, self.retry_max)
                o.next_try = now + o.interval * random.uniform(0.9, 1.1)
                o.retransmitted = True
                self.retransmits += 1
                heapq.heappush(timers, (o.due, rid))
                self._transmit(rid, o, now)

    def next_deadline(self) -> float | None:
        timers = self._timers
        while timers:
            due, rid = timers[0]
            o = self.outstanding.get(rid)
            if o is not None and o.due == due:
                return due
            heapq.heappop(timers)
        return None

    # ---- blocking convenience ------------------------------------------------
    def wait(self, rids: set[int] | None = None, timeout: float | None = None) -> None:
        """Run the client's own loop until the given requests (or all) are answered."""
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while self.outstanding and (rids is None or rids & self.outstanding.keys()):
                nd = self.next_deadline()
                wait = 0.05 if nd is None else max(0.0, nd - self.clock())
                if end is not None:
                    wait = min(wait, max(0.0, end - time.monotonic()))
                    if time.monotonic() >= end:
                        return
                if sel.select(wait):
                    self.on_readable()
                self.on_timer()
        finally:
            sel.close()

    def call(self, mtype: MessageType, fields: dict) -> Answer:
        """Send one request and wait; raise MasterUnavailable after the deadline."""
        box: list[Answer | None] = []
        rid = self.send(mtype, fields, box.append)
        self.wait({rid})
        if not box or box[0] is None:
            raise MasterUnavailable(f"master {self.master[0]}:{self.master[1]} did not answer "
                                    f"within {self.deadline} s")
        return box[0]
