"""The lease master's request handling (pure: no sockets, no SQLite).

``MasterService.handle`` takes one authenticated, fresh message, the peer it
came from and ``now``, changes the in-memory state and returns the reply
fields.  The records it changed collect in ``batch`` and the move notices it
decided in ``pending``; the server commits the batch (durably) before it sends
any reply or notice, so nothing is acknowledged that a crash could lose.

Requests are idempotent: a repeated (sender, request id) gets the answer it
got the first time, without executing again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from ipaddress import IPv4Address

from l3roam.core.lease import Lease, LeaseState, LeaseTable, Refusal
from l3roam.core.location import ClaimAccepted, Location, decide_claim
from l3roam.log import event
from l3roam.master.store import Batch, NodeInfo, Notice, Snapshot
from l3roam.metrics import Registry
from l3roam.proto.control import Field, LeaseOp, Message, MessageType, Status

log = logging.getLogger("l3roam.master")

ANSWER_CACHE_SECONDS = 15.0
LIST_PAGE_MAX = 40
DEPARTED_MAX = 65536  # departure reports kept (a hint in memory, never stored)


@dataclass
class PendingNotice:
    notice: Notice
    request_id: int
    next_try: float
    interval: float
    deadline: float


def _refused(reason: str, **extra: object) -> dict[Field, object]:
    out: dict[Field, object] = {Field.STATUS: Status.REFUSED, Field.REASON: reason}
    out.update({Field[k.upper()]: v for k, v in extra.items()})
    return out


def lease_fields(lease: Lease) -> dict[Field, object]:
    return {
        Field.MAC: lease.mac, Field.IP: lease.ip, Field.STATE: int(lease.state),
        Field.EXPIRES: int(lease.expires * 1000), Field.HOSTNAME: lease.hostname,
        Field.CLIENT_ID: lease.client_id,
    }


class MasterService:
    def __init__(self, table: LeaseTable, snapshot: Snapshot, metrics: Registry,
                 retry_initial: float = 0.05, retry_max: float = 1.0, notice_timeout: float = 30.0,
                 first_notice_id: int = 1):
        self.table = table
        self.metrics = metrics
        self.retry_initial, self.retry_max, self.notice_timeout = retry_initial, retry_max, notice_timeout
        table.restore(snapshot.leases, snapshot.quarantine)
        self.locations: dict[str, Location] = {loc.mac: loc for loc in snapshot.locations}
        # MAC -> move number at which its serving node reported the station gone (a QUERY from it)
        self.departed: dict[str, int] = {}
        self.nodes: dict[str, NodeInfo] = {n.node: n for n in snapshot.nodes}
        self.batch = Batch()
        self.pending: dict[int, PendingNotice] = {}  # request id -> notice awaiting an ack
        self._answers: OrderedDict[tuple[str, int], tuple[float, dict[Field, object]]] = OrderedDict()
        # notice ids must not repeat across masters and restarts: the server
        # starts them from its clock in nanoseconds (nodes also know a notice
        # by MAC, move number and new node, not by its id)
        self._next_rid = first_notice_id
        self._handlers = {
            MessageType.HELLO: self._hello, MessageType.LEASE: self._lease,
            MessageType.CLAIM: self._claim, MessageType.QUERY: self._query,
            MessageType.LIST: self._list,
        }
        for n in snapshot.notices:
            self._queue_notice(n, n.created)
        for name, text in (
            ("requests_total", "control requests handled, by message type"),
            ("refusals_total", "requests answered with a refusal, by reason"),
            ("dropped_total", "datagrams dropped before handling, by reason"),
            ("duplicates_total", "retransmitted requests answered from the cache"),
            ("notices_total", "move notices, by outcome"),
        ):
            metrics.counter(name, text)

    # ---- entry -------------------------------------------------------------
    def handle(self, msg: Message, peer: tuple[str, int], now: float) -> dict[Field, object] | None:
        """Reply fields for a request, or None for a message that needs no reply."""
        if msg.response:
            self._on_ack(msg, now)
            return None
        key = (msg.sender, msg.request_id)
        cached = self._answers.get(key)
        if cached is not None:
            self.metrics.inc("duplicates_total")
            return cached[1]
        self.metrics.inc("requests_total", type=msg.type.name.lower())
        handler = self._handlers.get(msg.type)
        if handler is None:
            reply = _refused("unexpected_type")
        else:
            reply = handler(msg, peer, now)
        if reply.get(Field.STATUS) == Status.REFUSED:
            self.metrics.inc("refusals_total", reason=str(reply[Field.REASON]))
        if msg.type in (MessageType.HELLO, MessageType.LEASE, MessageType.CLAIM):
            # persisted with the state it changed: no replay of it after a restart
            prev = self.batch.senders.get(msg.sender, 0)
            self.batch.senders[msg.sender] = max(prev, msg.seq)
        self._answers[key] = (now, reply)
        return reply

    def take_batch(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        return batch

    def prune(self, now: float) -> None:
        while self._answers:
            k, (t, _) = next(iter(self._answers.items()))
            if now - t < ANSWER_CACHE_SECONDS:
                break
            del self._answers[k]

    # ---- handlers ----------------------------------------------------------
    def _hello(self, msg: Message, peer: tuple[str, int], now: float) -> dict[Field, object]:
        handoff = msg.get(Field.HANDOFF)
        info = NodeInfo(msg.sender, peer[0], peer[1], handoff, now)  # type: ignore[arg-type]
        old = self.nodes.get(msg.sender)
        self.nodes[msg.sender] = info
        self.batch.nodes[msg.sender] = info
        if old is None or (old.host, old.port, old.handoff) != (info.host, info.port, info.handoff):
            event(log, "node_registered", node=msg.sender, addr=f"{peer[0]}:{peer[1]}",
                  handoff=handoff or "-")
        return {Field.STATUS: Status.OK}

    def _put_lease(self, lease: Lease) -> None:
        self.batch.leases[lease.mac] = lease
        for gone in self.table.forgotten:
            self.batch.leases[gone.mac] = None
            event(log, "lease_forgotten", mac=gone.mac, ip=gone.ip, taken_by=lease.mac)
        self.table.forgotten = []

    def _lease(self, msg: Message, peer: tuple[str, int], now: float) -> dict[Field, object]:
        mac = msg.get(Field.MAC)
        op_raw = msg.get(Field.OP)
        if not isinstance(mac, str) or op_raw is None:
            return _refused("bad_request")
        try:
            op = LeaseOp(op_raw)
        except ValueError:
            return _refused("bad_request")
        ip = msg.get(Field.IP)
        hostname = msg.get(Field.HOSTNAME)
        client_id = msg.get(Field.CLIENT_ID)
        node = msg.sender
        if op is LeaseOp.OFFER:
            result = self.table.offer(mac, ip, now, hostname, client_id)  # type: ignore[arg-type]
        elif op is LeaseOp.BIND:
            result = self.table.bind(mac, ip, now, hostname, client_id,  # type: ignore[arg-type]
                                     msg.get(Field.LEASE_SECONDS))  # type: ignore[arg-type]
        elif op is LeaseOp.RELEASE:
            result = self.table.release(mac, ip, now)  # type: ignore[arg-type]
        elif op is LeaseOp.DECLINE:
            if not isinstance(ip, IPv4Address):
                return _refused("bad_request")
            result = self.table.decline(mac, ip, now)
            if isinstance(result, Lease):
                self.batch.quarantine[ip] = now + self.table.policy.quarantine_seconds
        else:  # INFORM: nothing changes; answer what is known
            lease = self.table.lease_of(mac)
            return {Field.STATUS: Status.OK, **(lease_fields(lease) if lease else {})}
        if isinstance(result, Refusal):
            event(log, "lease_refused", op=op.name.lower(), mac=mac, ip=ip or "-", node=node,
                  reason=result.reason)
            return _refused(result.reason)
        self._put_lease(result)
        event(log, f"lease_{op.name.lower()}", mac=mac, ip=result.ip, node=node,
              state=result.state.name.lower(), expires=round(result.expires, 3))
        reply = {Field.STATUS: Status.OK, **lease_fields(result),
                 Field.LEASE_SECONDS: max(0, int(result.expires - now))}
        if op is LeaseOp.OFFER:
            reply[Field.LEASE_SECONDS] = self.table.policy.lease_seconds
        if op is LeaseOp.BIND:
            # a bind is also the strongest evidence of where the client is
            claim = self._apply_claim(mac, node, 0, now, result.ip)
            if isinstance(claim, ClaimAccepted):
                reply[Field.SEQ] = claim.location.seq
                if claim.moved:
                    reply[Field.PREV_NODE] = claim.previous.node  # type: ignore[union-attr]
        return reply

    def _apply_claim(self, mac: str, node: str, seq: int, now: float,
                     ip: IPv4Address | None):
        decision = decide_claim(self.locations.get(mac), mac, node, seq, now, self.departed.get(mac))
        if isinstance(decision, ClaimAccepted):
            loc = decision.location
            if self.locations.get(mac) != loc:
                self.locations[mac] = loc
                self.batch.locations[mac] = loc
            if decision.moved:
                prev = decision.previous
                assert prev is not None
                event(log, "client_moved", mac=mac, ip=ip or "-", old=prev.node, new=node, seq=loc.seq)
                self._queue_notice(Notice(mac, ip, prev.node, node, loc.seq, now), now)
            elif decision.previous is None and loc.since == now:
                event(log, "client_located", mac=mac, ip=ip or "-", node=node, seq=loc.seq)
        return decision

    def _claim(self, msg: Message, peer: tuple[str, int], now: float) -> dict[Field, object]:
        mac = msg.get(Field.MAC)
        seq = msg.get(Field.SEQ, 0)
        if not isinstance(mac, str):
            return _refused("bad_request")
        lease = self.table.lease_of(mac)
        if lease is None or lease.state is not LeaseState.BOUND or lease.expires <= now:
            return _refused("no_lease")
        decision = self._apply_claim(mac, msg.sender, int(seq), now, lease.ip)  # type: ignore[arg-type]
        if not isinstance(decision, ClaimAccepted):
            cur = decision.current
            event(log, "claim_refused", mac=mac, node=msg.sender, seq=seq, current=cur.node,
                  current_seq=cur.seq)
            return _refused(decision.reason, node=cur.node, seq=cur.seq)
        reply = {Field.STATUS: Status.OK, **lease_fields(lease), Field.NODE: decision.location.node,
                 Field.SEQ: decision.location.seq,
                 Field.LEASE_SECONDS: max(0, int(lease.expires - now))}
        if decision.moved:
            reply[Field.PREV_NODE] = decision.previous.node  # type: ignore[union-attr]
        return reply

    def _query(self, msg: Message, peer: tuple[str, int], now: float) -> dict[Field, object]:
        mac = msg.get(Field.MAC)
        ip = msg.get(Field.IP)
        if mac is None and isinstance(ip, IPv4Address):
            mac = self.table.owner_of(ip)
        lease = self.table.lease_of(mac) if isinstance(mac, str) else None
        if lease is None:
            return _refused("not_found")
        loc = self.locations.get(lease.mac)
        if loc is not None and loc.node == msg.sender:
            # the serving node asks where its client went: the station left it (core/location.py)
            self.departed[lease.mac] = loc.seq
            while len(self.departed) > DEPARTED_MAX:
                del self.departed[next(iter(self.departed))]
        return {Field.STATUS: Status.OK, **self._entry(lease)}

    def _entry(self, lease: Lease) -> dict[Field, object]:
        out = lease_fields(lease)
        loc = self.locations.get(lease.mac)
        if loc is not None:
            out[Field.NODE] = loc.node
            out[Field.SEQ] = loc.seq
        return out

    def _list(self, msg: Message, peer: tuple[str, int], now: float) -> dict[Field, object]:
        offset = int(msg.get(Field.OFFSET, 0))  # type: ignore[arg-type]
        count = min(int(msg.get(Field.COUNT, LIST_PAGE_MAX)), LIST_PAGE_MAX)  # type: ignore[arg-type]
        macs = sorted(self.table.by_mac)
        entries = [self._entry(self.table.by_mac[m]) for m in macs[offset:offset + count]]
        return {Field.STATUS: Status.OK, Field.TOTAL: len(macs), Field.OFFSET: offset,
                Field.ENTRY: entries}

    # ---- move notices ------------------------------------------------------
    def _queue_notice(self, notice: Notice, now: float) -> None:
        for rid, p in list(self.pending.items()):
            if p.notice.key == notice.key:
                del self.pending[rid]  # a newer move supersedes the older notice
        rid = self._next_rid
        self._next_rid += 1
        p = PendingNotice(notice, rid, now, self.retry_initial, notice.created + self.notice_timeout)
        self.pending[rid] = p  # due at once: the server sends it after the commit
        self.batch.notices[notice.key] = notice

    def due_notices(self, now: float) -> list[PendingNotice]:
        """Notices to (re)send now; drops those past their deadline."""
        out = []
        for rid, p in list(self.pending.items()):
            if p.deadline <= now:
                del self.pending[rid]
                self.batch.notices[p.notice.key] = None
                self.metrics.inc("notices_total", outcome="timeout")
                event(log, "notice_timeout", mac=p.notice.mac, node=p.notice.old_node,
                      level=logging.WARNING)
            elif p.next_try <= now:
                out.append(p)
        for p in out:
            p.next_try = now + p.interval
            p.interval = min(p.interval * 2, self.retry_max)
        return out

    def next_notice_time(self) -> float | None:
        return min((min(p.next_try, p.deadline) for p in self.pending.values()), default=None)

    def notice_message(self, p: PendingNotice) -> tuple[Message, NodeInfo | None]:
        n = p.notice
        new = self.nodes.get(n.new_node)
        fields: dict[Field, object] = {Field.MAC: n.mac, Field.IP: n.ip, Field.NODE: n.new_node,
                                       Field.SEQ: n.seq}
        if new is not None and new.handoff is not None:
            fields[Field.HANDOFF] = new.handoff
        return Message(MessageType.MOVED, "", p.request_id, fields), self.nodes.get(n.old_node)

    def _on_ack(self, msg: Message, now: float) -> None:
        p = self.pending.get(msg.request_id)
        if p is None or p.notice.old_node != msg.sender:
            return
        del self.pending[msg.request_id]
        self.batch.notices[p.notice.key] = None
        self.metrics.inc("notices_total", outcome="acked")
        event(log, "notice_acked", mac=p.notice.mac, node=msg.sender,
              ms=round((now - p.notice.created) * 1000, 1))

    # ---- housekeeping ------------------------------------------------------
    def expire(self, now: float) -> None:
        for lease in self.table.expire(now):
            self.batch.leases[lease.mac] = lease
            event(log, "lease_expired", mac=lease.mac, ip=lease.ip)
        for ip in self.table.end_quarantine(now):
            self.batch.quarantine[ip] = None
