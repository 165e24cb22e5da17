"""The lease master's UDP server: one thread, a plain non-blocking loop.

Each turn of the loop drains every datagram that has arrived (up to a bound),
authenticates and handles them in memory, and adds their changes and encoded
replies to the current *group*.  A committer thread makes one group durable
in one transaction and only then sends its replies and move notices; while it
does (fsync), the loop goes on filling the next group.  So a burst costs one
fsync, groups commit in order, no answer is sent before the state it reports is
on disk, and latency degrades with load instead of collapsing.  Move notices to
old nodes are the exception: they go out at once (a hint, see docs/master.md).  Malformed, unauthenticated, stale and replayed datagrams are
dropped, counted by reason and logged (rate-limited); they never stop the loop.

``l3roam.metrics_http`` serves ``/metrics`` (Prometheus text) from a thread of its own.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import queue
import selectors
import socket
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from l3roam.core.lease import LeasePolicy, LeaseState, LeaseTable
from l3roam.errors import AuthenticationError, LeadershipLost, MalformedPacket
from l3roam.log import event
from l3roam.master.config import MasterConfig
from l3roam.master.service import MasterService
from l3roam.master.store import Batch, LeaseStore
from l3roam.metrics import Registry
from l3roam.metrics_http import MetricsServer
from l3roam.proto.control import MASTER_ID, MAX_DATAGRAM, Codec, Message, MessageType, ReplayGuard, decode
from l3roam.proto.keys import KeyRing, NodeKey

log = logging.getLogger("l3roam.master")

DRAIN_MAX = 2048
SWEEP_SECONDS = 1.0
SLOW_REPLY_SECONDS = 0.05  # a reply held longer than this is logged (event=slow_reply)


class _RateLimitedLog:
    def __init__(self, per_second: int = 5):
        self.per_second = per_second
        self._window = 0
        self._count: defaultdict[str, int] = defaultdict(int)

    def __call__(self, reason: str, **fields: object) -> None:
        sec = int(time.monotonic())
        if sec != self._window:
            self._window, self._count = sec, defaultdict(int)
        self._count[reason] += 1
        if self._count[reason] <= self.per_second:
            event(log, "dropped", level=logging.WARNING, reason=reason, **fields)


@dataclass
class _Group:
    """Changes and the datagrams that may go out once they are durable."""

    batch: Batch = field(default_factory=Batch)
    sends: list[tuple[bytes, tuple, float | None]] = field(default_factory=list)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class MasterServer:
    def __init__(self, cfg: MasterConfig, store: LeaseStore, keys: bytes | KeyRing, clock=time.time,
                 fenced=lambda: False):
        self.cfg = cfg
        self.fenced = fenced  # True once a replicated store's leadership is lost
        self.store = store
        self.clock = clock
        self.metrics = Registry("l3roam_master")
        policy = LeasePolicy(cfg.lease.lease_seconds, cfg.lease.offer_hold_seconds,
                             cfg.lease.grace_seconds, cfg.lease.quarantine_seconds)
        table = LeaseTable([p.prefix for p in cfg.pools], cfg.excluded(),
                           {str(m): ip for m, ip in cfg.reservations.items()}, policy)
        snapshot = store.load()
        now = clock()
        snapshot.quarantine = {ip: t for ip, t in snapshot.quarantine.items() if t > now}
        self.service = MasterService(table, snapshot, self.metrics,
                                     cfg.notify.retry_initial_ms / 1000, cfg.notify.retry_max_ms / 1000,
                                     cfg.notify.timeout_seconds, first_notice_id=time.time_ns())
        self.guard = ReplayGuard(cfg.max_skew_seconds, floor=snapshot.senders)
        # The lease table is many small acyclic objects: full collections of it
        # were the master's latency tail.  Move what was loaded out of the
        # collector's sight and collect the young generations less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 1000)
        self.keys = KeyRing.shared(keys) if isinstance(keys, (bytes, bytearray)) else keys
        self.codec = Codec(b"\0" * 16, MASTER_ID, time.time_ns())  # always signs with the peer's key
        self._node_keys: dict[str, NodeKey] = {}  # node -> the key it last spoke with (for notices)
        self._drop_log = _RateLimitedLog()
        self.latency = self.metrics.histogram("request_seconds",
                                              "from receipt to reply sent, after the durable commit")
        self.commit_time = self.metrics.histogram("commit_seconds", "durable store commit per batch")
        self.metrics.gauge("leases", "leases by state", self._lease_gauge)
        self.metrics.gauge("locations", "clients with a known node", lambda: len(self.service.locations))
        self.metrics.gauge("nodes", "registered nodes", lambda: len(self.service.nodes))
        self.metrics.gauge("pending_notices", "move notices awaiting an ack",
                           lambda: len(self.service.pending))
        host, port = cfg.listen.host, cfg.listen.port
        self.sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        except OSError:
            pass
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, "udp")
        self.http: MetricsServer | None = None
        if cfg.metrics_listen:
            self.http = MetricsServer(cfg.metrics_listen.host, cfg.metrics_listen.port,
                                      self.metrics, self.sel)
            self.metrics_address = self.http.address
        self._next_sweep = 0.0
        self.running = True
        self._group = _Group()
        self._committing = False
        self._commits: queue.Queue[_Group | None] = queue.Queue()
        self._commit_error: BaseException | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        # the committer wakes from fsync needing the GIL: let it in quickly
        sys.setswitchinterval(0.0005)
        self._committer = threading.Thread(target=self._commit_loop, name="committer", daemon=True)
        self._committer.start()
        event(log, "master_started", listen=f"{self.address[0]}:{self.address[1]}",
              leases=len(snapshot.leases), locations=len(snapshot.locations),
              nodes=len(snapshot.nodes), store=getattr(store, "path", "-"))

    def _lease_gauge(self) -> dict:
        counts: defaultdict[tuple, int] = defaultdict(int)
        for lease in list(self.service.table.by_mac.values()):
            counts[(("state", lease.state.name.lower()),)] += 1
        for s in LeaseState:
            counts.setdefault((("state", s.name.lower()),), 0)
        return counts

    # ---- loop --------------------------------------------------------------
    def serve_forever(self) -> None:
        try:
            while self.running:
                self.step()
        finally:
            self.close()

    def _timeout(self, now: float) -> float:
        t = self._next_sweep
        n = self.service.next_notice_time()
        if n is not None:
            t = min(t, n)
        return max(0.0, min(t - now, SWEEP_SECONDS))

    def step(self) -> None:
        now = self.clock()
        for key, _ in self.sel.select(self._timeout(now)):
            if isinstance(key.data, MetricsServer):
                key.data.on_readable(key.fileobj)
            elif key.data == "wake":
                try:
                    os.read(self._wake_r, 4096)
                except BlockingIOError:
                    pass
        if self._commit_error is not None:
            raise self._commit_error
        if self.fenced():
            raise LeadershipLost("the leader lease is gone: another master may be active")
        datagrams = self._drain()
        now = self.clock()
        now_ms = int(now * 1000)
        sends = self._group.sends
        for data, peer, t_recv in datagrams:
            msg = self._authenticate(data, peer, now_ms)
            if msg is None:
                continue
            try:
                fields = self.service.handle(msg, peer, now)
            except Exception:  # supervising loop: one bad request must not stop the master
                self.metrics.inc("dropped_total", reason="internal_error")
                log.exception("event=internal_error sender=%s type=%s", msg.sender, msg.type.name)
                continue
            if fields is not None:  # answered with the key the request came with
                reply = Message(MessageType.REPLY, MASTER_ID, msg.request_id, fields, response=True)
                sends.append((self.codec.encode(reply, now_ms, msg.key), peer, t_recv))
        if now >= self._next_sweep:
            self.service.expire(now)
            self.service.prune(now)
            self._next_sweep = now + SWEEP_SECONDS
        for p in self.service.due_notices(now):
            msg, node = self.service.notice_message(p)
            if node is None:
                continue  # the old node never said HELLO: nowhere to send it yet
            key = self._node_keys.get(node.node) or self.keys.for_node(node.node, now)
            if key is None:
                continue  # no key for that node (removed from the config): it cannot be told
            # at once, not after the group's commit: a notice is a hint to the old node,
            # which hands the client's packets on to where it is now, and it must not
            # wait for the store (docs/master.md, "What is durable before it is sent")
            self._send(self.codec.encode(msg, now_ms, key), (node.host, node.port))
            self.metrics.inc("notices_total", outcome="sent")
        self._group.batch.merge(self.service.take_batch())
        self._submit()

    def _submit(self) -> None:
        """Hand the current group to the committer when it is idle."""
        if self._committing and self._committer.is_alive():
            return
        group = self._group
        if not group.batch and not group.sends:
            return
        self._group = _Group()
        self._committing = True
        self._commits.put(group)

    def _commit_loop(self) -> None:
        while True:
            group = self._commits.get()
            if group is None:
                return
            try:
                t0 = time.perf_counter()
                if group.batch:
                    self.store.commit(group.batch)  # durable before anything is acknowledged
                    self.commit_time.observe(time.perf_counter() - t0)
                t1 = time.perf_counter()
                slowest = 0.0
                for data, peer, t_recv in group.sends:
                    self._send(data, peer)
                    if t_recv is not None:
                        self.latency.observe(time.perf_counter() - t_recv)
                        slowest = max(slowest, t1 - t_recv)
                if slowest > SLOW_REPLY_SECONDS:  # where a late answer waited: queue or commit
                    event(log, "slow_reply", level=logging.WARNING, waited_ms=round(slowest * 1000, 1),
                          commit_ms=round((t1 - t0) * 1000, 1), sends=len(group.sends))
            except BaseException as exc:  # the loop re-raises it: no ack without durability
                log.exception("event=store_failed")
                self._commit_error = exc
                return
            finally:
                self._committing = False
                try:
                    os.write(self._wake_w, b"x")
                except OSError:
                    pass

    def _drain(self) -> list[tuple[bytes, tuple, float]]:
        out = []
        for _ in range(DRAIN_MAX):
            try:
                data, peer = self.sock.recvfrom(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ICMP port unreachable reported on the socket
                if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    continue
                raise
            out.append((data, peer, time.perf_counter()))
        return out

    def _authenticate(self, data: bytes, peer: tuple, now_ms: int) -> Message | None:
        try:
            msg = decode(data, self.keys)
            assert msg.key is not None
            self.keys.admit(msg.key, msg.sender, now_ms / 1000)  # a node speaking as another: refused
            self.guard.check(msg, now_ms)
            self._node_keys[msg.sender] = msg.key
            return msg
        except MalformedPacket as exc:
            reason = "oversized" if "oversized" in exc.reason else "malformed"
            self.metrics.inc("dropped_total", reason=reason)
            self._drop_log(reason, peer=f"{peer[0]}:{peer[1]}", detail=str(exc))
        except AuthenticationError as exc:
            self.metrics.inc("dropped_total", reason=exc.reason)
            self._drop_log(exc.reason, peer=f"{peer[0]}:{peer[1]}", detail=str(exc))
        return None

    def _send(self, data: bytes, peer: tuple) -> None:
        try:
            self.sock.sendto(data, peer)
        except OSError as exc:
            self.metrics.inc("send_errors_total")
            event(log, "send_failed", level=logging.WARNING, peer=peer[0], error=exc.strerror)

    def close(self) -> None:
        self.running = False
        try:
            self._group.batch.merge(self.service.take_batch())
            if self._committer.is_alive():
                while self._committing and self._committer.is_alive():
                    time.sleep(0.001)
                self._submit()
                self._commits.put(None)
                self._committer.join(10)
        finally:
            if self.http is not None:
                self.http.close()
            for key in list(self.sel.get_map().values()):
                if isinstance(key.fileobj, int):
                    os.close(key.fileobj)
                else:
                    key.fileobj.close()  # type: ignore[union-attr]
            os.close(self._wake_w)
            self.sel.close()
            self.store.close()
            event(log, "master_stopped")
