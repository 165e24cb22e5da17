"""Which master is active: a leader key in etcd held by an etcd lease.

Every master campaigns: it creates ``<prefix>leader`` with its name only if the
key does not exist (a transaction comparing its creation revision with 0),
attached to an etcd lease it keeps alive.  The winner is active; the others
are standbys that look at the key every ``poll`` seconds and campaign again
when it is gone: when the active master resigns (deletes it at once), or when
its lease expires ``ttl`` seconds after its last keep-alive (etcd rounds the
TTL up to its own minimum and checks expiry every 500 ms, so this alone takes
0.75 to 1.5 s or more).

To take over sooner, the active master also writes ``<prefix>alive`` every
``heartbeat`` seconds.  A standby that has seen that key unchanged for
``takeover`` seconds of successful reads within one raft term of etcd revokes
the silent master's lease, which deletes the leader key, and campaigns.  Half
way through that count it reads the whole state already; if its campaign's
revision shows that nothing but the deletion and the campaign was written
since, the new master starts from that copy instead of reading it again.  This cannot cause two active
masters: the winner learns the leader key's creation revision and every write
it makes (``EtcdStore``, the heartbeat) compares it, so a master that lost the
key cannot write any more even before it notices.  A master that was only slow
loses its leadership and becomes a standby; nothing it acknowledged is lost.
It notices through ``lost``: set when a heartbeat or keep-alive is refused, or
when none got through for ``patience`` seconds.  An etcd leader election alone
(about half a second) does not cost the role: etcd renews every lease when a
new leader takes over, and the heartbeat is simply retried.
"""

from __future__ import annotations

import logging
import threading
import time

from l3roam.errors import StoreUnavailable
from l3roam.log import event
from l3roam.master.etcd_gateway import EtcdGateway
from l3roam.master.etcd_records import KeyValue, created_at, get, kv_of, put

log = logging.getLogger("l3roam.master")


def _first(response: dict) -> KeyValue | None:
    kvs = response.get("response_range", {}).get("kvs") or []
    return kv_of(kvs[0]) if kvs else None


class Leadership:
    def __init__(self, endpoints: list[tuple[str, int]], prefix: str, name: str, ttl: int = 1,
                 timeout: float = 1.0, poll: float = 0.1, heartbeat: float = 0.1,
                 takeover: float = 0.5, patience: float = 3.0):
        self.endpoints, self.prefix, self.name = endpoints, prefix, name
        self.key = prefix.encode() + b"leader"
        self.alive_key = prefix.encode() + b"alive"
        self.ttl, self.timeout, self.poll = ttl, timeout, poll
        self.heartbeat, self.takeover = heartbeat, takeover
        self.patience = patience  # no write got through this long: give up the role
        self.lease = 0
        self.granted_ttl = ttl
        self.revision = 0
        self.prefetched: list[KeyValue] | None = None  # the state, read before winning
        self._prefetch: tuple[tuple, int, list[KeyValue]] | None = None  # (mark, revision, kvs)
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _gateway(self, timeout: float | None = None) -> EtcdGateway:
        t = timeout or self.timeout
        return EtcdGateway(self.endpoints, timeout=t, deadline=t)

    def campaign(self, stop: threading.Event) -> int | None:
        """Block until this master holds the leader key; its creation revision (None: stopped)."""
        gw = self._gateway()
        holder: bytes | None = None
        seen: tuple[int, int, int] | None = None  # (leader's creation, heartbeat's revision, term)
        seen_since = 0.0
        unavailable_logged = 0.0
        try:
            while not stop.is_set():
                try:
                    _, res = gw.txn([], [get(self.key), get(self.alive_key)])
                    now = time.monotonic()
                    responses = res.get("responses") or []
                    if len(responses) != 2:
                        raise StoreUnavailable(f"unexpected answer to a read: {str(res)[:200]}")
                    leader, alive = (_first(r) for r in responses)
                    if leader is None:
                        if self._try_win(gw, holder):
                            return self.revision
                    else:
                        if leader.value != holder:
                            holder = leader.value
                            event(log, "master_standby", master=self.name,
                                  active=holder.decode(errors="replace"))
                        # an etcd election (new raft term) stalls every write for a
                        # moment: it restarts the count rather than adding to it
                        mark = (leader.create_revision, alive.mod_revision if alive else 0,
                                int(res.get("header", {}).get("raft_term", 0)))
                        if mark != seen:
                            seen, seen_since = mark, now
                            self._prefetch = None
                        elif now - seen_since >= self.takeover / 2 and self._prefetch is None:
                            # likely dead: read the state now, while the count runs on
                            rev, kvs = gw.range_at(self.prefix.encode())
                            self._prefetch = (mark, rev, kvs)
                        if mark == seen and now - seen_since >= self.takeover:
                            event(log, "master_takeover", level=logging.WARNING, master=self.name,
                                  silent=holder.decode(errors="replace"),
                                  ms=round((now - seen_since) * 1000))
                            try:
                                gw.revoke(leader.lease)  # deletes its leader key
                            except StoreUnavailable:
                                pass  # expired meanwhile, or etcd busy: the next read tells
                            seen = None
                            continue
                except StoreUnavailable as exc:
                    seen = None  # silence is only counted over successful reads
                    if time.monotonic() - unavailable_logged > 5:
                        unavailable_logged = time.monotonic()
                        event(log, "store_unavailable", level=logging.WARNING, detail=str(exc))
                stop.wait(self.poll)
            return None
        finally:
            gw.close()

    def _try_win(self, gw: EtcdGateway, holder: bytes | None) -> bool:
        lease, ttl = gw.grant(self.ttl)
        ok, res = gw.txn([created_at(self.key, 0)], [put(self.key, self.name.encode(), lease)])
        if not ok:
            try:
                gw.revoke(lease)
            except StoreUnavailable:
                pass  # it expires on its own
            return False
        self.lease, self.granted_ttl = lease, ttl
        self.revision = int(res.get("header", {}).get("revision", 0))
        if not self.revision:
            raise StoreUnavailable(f"no revision in the answer to the campaign: {str(res)[:200]}")
        # The prefetched state is current only if exactly two writes came after
        # it: the deletion of the old leader's keys (its lease revoked or
        # expired: one revision) and this campaign.  Anything else: load anew.
        pre = self._prefetch
        self.prefetched = pre[2] if pre is not None and self.revision == pre[1] + 2 else None
        self._prefetch = None
        self._start_keepalive()
        event(log, "master_active", master=self.name, revision=self.revision, ttl=ttl,
              previous=(holder or b"-").decode(errors="replace"),
              prefetched="yes" if self.prefetched is not None else "no")
        return True

    def _start_keepalive(self) -> None:
        self._thread = threading.Thread(target=self._keepalive, name="leader-keepalive", daemon=True)
        self._thread.start()

    def _keepalive(self) -> None:
        """Heartbeat (a fenced write) every ``heartbeat`` s; lease keep-alive every TTL/4.

        Each attempt waits at most two heartbeats: a member that holds a write
        while etcd elects a leader would otherwise keep the heartbeat silent
        for the whole request timeout after the election, and a standby would
        take that silence for a dead master.
        """
        gw = self._gateway(min(self.timeout, max(0.2, 2 * self.heartbeat)))
        fence = [created_at(self.key, self.revision)]
        beat = [put(self.alive_key, self.name.encode(), self.lease)]
        renew_every = max(self.heartbeat, self.granted_ttl / 4)
        last_ok = last_renew = time.monotonic()
        try:
            while not self._stop.wait(self.heartbeat):
                now = time.monotonic()
                left = max(self.patience, self.granted_ttl) - (now - last_ok)
                if left <= 0:
                    self._lose("no heartbeat got through for too long")
                    return
                try:
                    ok, _ = gw.txn(fence, beat, deadline=min(left, gw.timeout))
                    if not ok:
                        self._lose("the leader key is no longer ours")
                        return
                    if now - last_renew >= renew_every:
                        if gw.keepalive(self.lease, deadline=min(left, gw.timeout)) <= 0:
                            self._lose("the store says the lease has expired")
                            return
                        last_renew = now
                    last_ok = now
                except StoreUnavailable:
                    continue
        finally:
            gw.close()

    def _lose(self, why: str) -> None:
        event(log, "master_demoted", level=logging.WARNING, master=self.name, reason=why)
        self.lost.set()

    def resign(self) -> None:
        """Stop the keep-alives and delete the key now, so a standby need not wait for the TTL."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.lease and not self.lost.is_set():
            gw = self._gateway()
            try:
                gw.revoke(self.lease)
            except StoreUnavailable:
                pass  # the lease expires on its own
            finally:
                gw.close()
        self.lease = 0
